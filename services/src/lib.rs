//! Persistence and services: the database (SQLite or PostgreSQL, one code path), the exam
//! catalogue, dossiers and the espace sécurisé, mail, the clock. Server-only; the UI
//! reaches it through thin server functions.

pub mod accounts;
pub mod antivirus;
pub mod attachments;
pub mod catalogue;
pub mod clients;
pub mod clock;
pub mod closure;
pub mod db;
pub mod demo;
pub mod dossiers;
pub mod export;
pub mod housekeeping;
pub mod instruction;
pub mod login;
pub mod mail;
pub mod messages;
pub mod outbox;
pub mod passwords;
pub mod printouts;
pub mod registrations;
pub mod reminders;
pub mod secrets;
pub mod staff;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
pub mod uploads;

pub use clock::{Clock, SharedClock, SystemClock};
pub use db::{Db, DbError, DbKind};
