//! Persistence and services: the database (SQLite or PostgreSQL, one code path), the exam
//! catalogue, dossiers and the espace sécurisé, files, letters, the clock. Server-only;
//! the UI reaches it through thin server functions.
//!
//! One folder per concern: `access` (who is asking, and may they), `catalogue` (the
//! exams), `dossiers` (a dossier's life from préinscription to decision), `files`
//! (attachments and where they are stored), `letters` (mails and PDFs), `platform`
//! (database, clock, periodic passes, demo data).

pub mod access;
pub mod catalogue;
pub mod dossiers;
pub mod files;
pub mod letters;
pub mod platform;
#[cfg(feature = "testing")]
pub mod testing;

pub use platform::clock::{Clock, SharedClock, SystemClock};
pub use platform::db::{Db, DbError, DbKind};
