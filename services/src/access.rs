//! Who is asking, and may they: candidates' and staff's accounts and sessions, the
//! login both doors share, passwords, the limits counted per client.

pub mod accounts;
pub mod certified;
pub mod clients;
pub mod franceconnect;
pub mod kept_forms;
pub mod login;
pub mod passwords;
pub mod secrets;
pub mod staff;
pub mod throttle;
