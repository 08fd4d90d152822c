//! What every part stands on: the database, the clock, the periodic passes'
//! housekeeping, the demo data.

pub mod accessibility;
pub mod centre;
pub mod clock;
pub mod db;
pub mod demo;
pub mod housekeeping;
pub mod volume;
