//! A dossier's files: uploads checked as they stream (`attachments`), resumable
//! uploads (`uploads`, tus), the store they are kept in (`storage`), the antivirus.

pub mod antivirus;
pub mod attachments;
pub mod storage;
pub mod uploads;
