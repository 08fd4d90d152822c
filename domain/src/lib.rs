//! The registration rules as pure Rust, shared by the browser (Wasm) and the server.
//!
//! Nothing here does I/O or reads a clock: callers pass the current instant in, so the
//! same rule gives the same answer in the browser, on the server and in tests.

pub mod accessibility;
pub mod antivirus;
pub mod attachment;
pub mod candidate;
pub mod centre;
pub mod certified;
pub mod conversation;
pub mod deadline;
pub mod dossier;
pub mod exam;
pub mod exam_form;
pub mod file_kind;
pub mod french;
pub mod instruction;
pub mod jpeg;
pub mod paris;
pub mod pdf;
pub mod pdf_scan;
pub mod picture;
pub mod registration;
pub mod text;

pub use deadline::Deadline;
pub use dossier::DossierNumber;
pub use exam::{
    Condition, ExamError, ExamKind, ExamSlug, ExamSpec, ExamSummary, PieceRequirement, PieceSpec,
    RawExam, RawPiece, Voie,
};
pub use file_kind::FileKind;

/// What a request hears when the service is too busy to take it now (503 with
/// `Retry-After`): never an endless wait.
pub const BUSY_MESSAGE: &str = "Le service est très sollicité : réessayez dans quelques secondes.";
