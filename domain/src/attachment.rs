//! Rules for an uploaded file (an attachment to a pièce): its kind, size and name, and
//! a streaming check of PDFs. The browser runs them before sending a byte; the server
//! runs them again on what actually arrives.

pub use crate::pdf_scan::{PdfFindings, PdfRefusal, PdfScan};
use serde::{Deserialize, Serialize};

use crate::{FileKind, exam::MIB};

/// Why a file is refused, as the candidate reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UploadError {
    #[error("« {name} » est vide.")]
    Empty { name: String },
    #[error("« {name} » doit être au format PDF ou JPEG.")]
    WrongKind { name: String },
    #[error("« {name} » doit être au format {expected}.")]
    KindNotAccepted { name: String, expected: String },
    /// `size` is 0 when the whole size is not known (a body cut at the limit).
    #[error("{}", too_large(name, *size, *limit_mib))]
    TooLarge {
        name: String,
        size: u64,
        limit_mib: u64,
    },
    #[error(
        "« {name} » est protégé par un mot de passe : enregistrez-le sans protection puis déposez-le de nouveau."
    )]
    Encrypted { name: String },
    #[error("« {name} » est incomplet ou endommagé : enregistrez-le de nouveau, puis déposez-le.")]
    Corrupt { name: String },
    #[error(
        "« {name} » contient une action automatique ou des fichiers joints, refusés par sécurité : enregistrez-le de nouveau avec « Imprimer en PDF », puis déposez-le."
    )]
    Active { name: String },
    #[error(
        "« {name} » n'a pas pu être vérifié : enregistrez-le de nouveau avec « Imprimer en PDF », puis déposez-le."
    )]
    Unverifiable { name: String },
    #[error(
        "Cette pièce compte déjà {}, le maximum : supprimez-en un pour en ajouter un autre.",
        crate::french::files_of(u64::from(*max), u64::from(*max))
    )]
    TooManyFiles { max: u32 },
    #[error(
        "« {name} » ne peut pas être ajouté : votre dossier dépasserait {limit_mib} Mo au total. Supprimez un fichier inutile, ou déposez une version plus légère (photo réduite, PDF compressé)."
    )]
    DossierFull { name: String, limit_mib: u64 },
}

/// What one dossier may hold in all, whatever its pièces allow each: thousands of
/// dossiers must fit the service's storage. A pièce's own limit applies first.
pub const MAX_DOSSIER_BYTES: u64 = 100 * MIB;

/// Whether a dossier already holding `stored` bytes takes `incoming` more.
pub fn check_dossier_total(name: &str, stored: u64, incoming: u64) -> Result<(), UploadError> {
    if stored.saturating_add(incoming) > MAX_DOSSIER_BYTES {
        return Err(UploadError::dossier_full(name));
    }
    Ok(())
}

impl PdfScan {
    /// The scan's verdict, worded for the candidate's file `name`.
    pub fn finish(self, name: &str) -> Result<PdfFindings, UploadError> {
        let name = name.to_string();
        self.verdict().map_err(|refusal| match refusal {
            PdfRefusal::Encrypted => UploadError::Encrypted { name },
            PdfRefusal::Active => UploadError::Active { name },
            PdfRefusal::Corrupt => UploadError::Corrupt { name },
            PdfRefusal::Unverifiable => UploadError::Unverifiable { name },
        })
    }
}

impl UploadError {
    /// The code a form's redirect carries (`?erreur=`): the page shows the fixed message
    /// of [`refusal_message`], never text taken from an address.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty { .. } => "vide",
            Self::WrongKind { .. } => "format",
            Self::KindNotAccepted { .. } => "format-piece",
            Self::TooLarge { .. } => "trop-gros",
            Self::Encrypted { .. } => "protege",
            Self::Corrupt { .. } => "endommage",
            Self::Active { .. } => "actif",
            Self::Unverifiable { .. } => "non-verifie",
            Self::TooManyFiles { .. } => "trop-de-fichiers",
            Self::DossierFull { .. } => "dossier-plein",
        }
    }

    /// The refusal of a file the dossier's total has no room for.
    pub fn dossier_full(name: &str) -> Self {
        Self::DossierFull {
            name: name.to_string(),
            limit_mib: MAX_DOSSIER_BYTES / MIB,
        }
    }
}

/// The fixed message of a refusal code on a pièce accepting `accepted` kinds up to
/// `max_size` bytes and `max_files` files: [`UploadError::code`]'s, and those of the
/// upload itself (sent, cut, busy…). `None` for a code no one sends.
pub fn refusal_message(
    code: &str,
    accepted: &[FileKind],
    max_size: u64,
    max_files: u32,
) -> Option<String> {
    let name = "Le fichier".to_string();
    let error = match code {
        "vide" => UploadError::Empty { name },
        "format" => UploadError::WrongKind { name },
        "format-piece" => UploadError::KindNotAccepted {
            name,
            expected: kinds_label(accepted),
        },
        "trop-gros" => UploadError::TooLarge {
            name,
            size: 0,
            limit_mib: max_size.div_ceil(MIB),
        },
        "protege" => UploadError::Encrypted { name },
        "endommage" => UploadError::Corrupt { name },
        "actif" => UploadError::Active { name },
        "non-verifie" => UploadError::Unverifiable { name },
        "trop-de-fichiers" => UploadError::TooManyFiles { max: max_files },
        "dossier-plein" => UploadError::dossier_full(&name),
        other => return upload_message(other).map(str::to_string),
    };
    // « « Le fichier » est vide. » reads badly: the generic name goes without quotes.
    Some(
        error
            .to_string()
            .replacen("« Le fichier »", "Le fichier", 1),
    )
}

/// « … fait 12,4 Mo : le maximum est 10 Mo », and what to do about it.
fn too_large(name: &str, size: u64, limit_mib: u64) -> String {
    let shown = crate::french::size(size);
    // « fait 10,0 Mo : le maximum est 10 Mo » would read as a contradiction.
    let what = if size > 0 && shown != format!("{limit_mib},0 Mo") {
        format!("« {name} » fait {shown} : le maximum est {limit_mib} Mo.")
    } else {
        format!("« {name} » fait plus de {limit_mib} Mo, le maximum.")
    };
    format!("{what} Photographiez le document avec « prendre une photo », ou réduisez-le.")
}

/// What the upload itself answers, beyond the file's own refusals.
fn upload_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "aucun-fichier" => "Choisissez un fichier avant de cliquer sur « ajouter le fichier ».",
        "interrompu" => "Le fichier n'a pas pu être envoyé en entier : réessayez.",
        "lent" => {
            "L'envoi était trop lent ou s'est arrêté : vérifiez votre connexion, puis déposez de nouveau le fichier."
        }
        "deux-envois" => {
            "Deux fichiers de votre dossier sont déjà en cours d'envoi : attendez qu'ils soient enregistrés, puis déposez celui-ci."
        }
        "occupe" => crate::BUSY_MESSAGE,
        "envois-ici" => {
            "Plusieurs envois partent déjà de votre connexion : attendez qu'ils soient enregistrés, puis déposez celui-ci."
        }
        "introuvable" => "Cette pièce ou ce fichier n'existe pas dans votre dossier.",
        "verrouille" => "Votre dossier n'accepte plus de modification pour cette pièce.",
        "erreur" => "Le fichier n'a pas pu être enregistré : réessayez dans quelques instants.",
        _ => return None,
    })
}

/// Refusal codes of the upload itself, as the server sends them.
pub mod upload_code {
    pub const NO_FILE: &str = "aucun-fichier";
    pub const INTERRUPTED: &str = "interrompu";
    pub const TOO_SLOW: &str = "lent";
    pub const TWO_AT_ONCE: &str = "deux-envois";
    pub const BUSY: &str = "occupe";
    /// The client (an address) already has its bodies being read.
    pub const MANY_HERE: &str = "envois-ici";
    pub const NOT_FOUND: &str = "introuvable";
    pub const LOCKED: &str = "verrouille";
    pub const FAILED: &str = "erreur";
}

/// The message of one of [`upload_code`]'s codes.
pub fn upload_code_message(code: &str) -> &'static str {
    upload_message(code)
        .unwrap_or("Le fichier n'a pas pu être enregistré : réessayez dans quelques instants.")
}

/// The formats a pièce accepts, as the candidate reads them: « PDF ou JPEG ».
pub fn kinds_label(accepted: &[FileKind]) -> String {
    accepted
        .iter()
        .map(|k| k.label())
        .collect::<Vec<_>>()
        .join(" ou ")
}

/// Checks what is known before the body: the first bytes, the size announced.
pub fn check_start(
    name: &str,
    head: &[u8],
    size: u64,
    accepted: &[FileKind],
    max_size: u64,
) -> Result<FileKind, UploadError> {
    let name = name.to_string();
    if size == 0 || head.is_empty() {
        return Err(UploadError::Empty { name });
    }
    if size > max_size {
        return Err(UploadError::TooLarge {
            name,
            size,
            limit_mib: max_size.div_ceil(MIB),
        });
    }
    let kind =
        FileKind::sniff(head).ok_or_else(|| UploadError::WrongKind { name: name.clone() })?;
    if !accepted.contains(&kind) {
        let expected = kinds_label(accepted);
        return Err(UploadError::KindNotAccepted { name, expected });
    }
    Ok(kind)
}

/// Cleans an original file name for display and `Content-Disposition`: the last path
/// component only, no control or reserved characters, at most 120 characters with the
/// extension kept. The stored file never uses it.
pub fn sanitise_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|&c| !is_format_character(c))
        .map(|c| {
            if c.is_control() || "<>:\"|?*".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let cleaned = cleaned
        .trim_matches(|c: char| c == '.' || c == ' ')
        .to_string();
    if cleaned.is_empty() {
        return "document".to_string();
    }
    const MAX: usize = 120;
    if cleaned.chars().count() <= MAX {
        return cleaned;
    }
    let (stem, ext) = match cleaned.rsplit_once('.') {
        Some((stem, ext)) if ext.chars().count() <= 10 && !stem.is_empty() => (stem, Some(ext)),
        _ => (cleaned.as_str(), None),
    };
    let keep = MAX - ext.map_or(0, |e| e.chars().count() + 1);
    let stem: String = stem.chars().take(keep).collect();
    match ext {
        Some(ext) => format!("{}.{ext}", stem.trim_end()),
        None => stem,
    }
}

/// Invisible characters that change how a name is shown: bidirectional overrides and
/// isolates (`diplome\u{202E}fdp.hta` shows as `diplomeath.pdf`), zero-width ones.
fn is_format_character(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The name a stored file goes by: cleaned, and ending with its kind's extension,
/// whatever extension the candidate's name had (`scan.pdf.bat` is saved as
/// `scan.pdf`, `photo.png` holding a JPEG as `photo.jpg`): what staff download or unzip
/// opens as what it is.
pub fn stored_file_name(raw: &str, kind: FileKind) -> String {
    let cleaned = sanitise_file_name(raw);
    let own = |ext: &str| {
        kind.extensions()
            .iter()
            .any(|e| e.eq_ignore_ascii_case(ext))
    };
    let mut stem = cleaned.as_str();
    if let Some((before, ext)) = stem.rsplit_once('.')
        && !before.trim().is_empty()
    {
        if own(ext) {
            return cleaned;
        }
        if ext.len() <= 5 && ext.chars().all(|c| c.is_ascii_alphanumeric()) {
            stem = before;
        }
    }
    // `scan.pdf.bat` leaves `scan.pdf`, already right.
    if let Some((before, ext)) = stem.rsplit_once('.')
        && own(ext)
        && !before.trim().is_empty()
    {
        return stem.to_string();
    }
    let stem = stem.trim_end_matches(['.', ' ']);
    let stem = if stem.is_empty() { "document" } else { stem };
    let extension = kind.extensions()[0];
    let stem: String = stem.chars().take(120 - 1 - extension.len()).collect();
    format!("{}.{extension}", stem.trim_end())
}

/// What only the whole file tells: a PDF's scan, a JPEG's structure and where the
/// picture ends. The browser runs it over the chosen file before sending a byte; the
/// server over what arrives, storing only the picture's bytes.
#[derive(Default)]
pub struct WholeFile {
    pdf: PdfScan,
    jpeg: crate::jpeg::JpegEnd,
}

impl WholeFile {
    /// Reads the next bytes; returns how many of them belong to the file (a JPEG ends
    /// at its end marker). Until the kind is known (five bytes in), all of them.
    pub fn feed(&mut self, bytes: &[u8], kind: Option<FileKind>) -> usize {
        // Both watch from the first byte: the kind may be known only a few bytes in.
        let picture = self.jpeg.feed(bytes);
        if kind == Some(FileKind::Jpeg) {
            picture
        } else {
            self.pdf.feed(bytes);
            bytes.len()
        }
    }

    /// For a file not known to be a JPEG: reads the bytes as [`feed`](Self::feed) does
    /// up to the first one a PDF's checks must inflate, and returns how many it read;
    /// the rest is for `feed`, on a thread that no other request waits for.
    pub fn feed_until_inflating(&mut self, bytes: &[u8]) -> usize {
        let read = self.pdf.feed_until_inflating(bytes);
        self.jpeg.feed(&bytes[..read]);
        read
    }

    /// The verdict once every byte went by: a JPEG must be a whole picture, a PDF pass
    /// its scan (whose findings are kept).
    pub fn finish(self, name: &str, kind: FileKind) -> Result<PdfFindings, UploadError> {
        match kind {
            FileKind::Pdf => self.pdf.finish(name),
            FileKind::Jpeg if self.jpeg.is_whole() => Ok(PdfFindings::default()),
            FileKind::Jpeg => Err(UploadError::Corrupt {
                name: name.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [FileKind; 2] = [FileKind::Pdf, FileKind::Jpeg];

    #[test]
    fn a_dossier_takes_files_up_to_its_total_and_not_a_byte_more() {
        assert_eq!(check_dossier_total("a.pdf", 0, MAX_DOSSIER_BYTES), Ok(()));
        assert_eq!(
            check_dossier_total("a.pdf", MAX_DOSSIER_BYTES - 10, 10),
            Ok(())
        );
        let full = check_dossier_total("scan.pdf", MAX_DOSSIER_BYTES - 10, 11).unwrap_err();
        assert_eq!(
            full.to_string(),
            "« scan.pdf » ne peut pas être ajouté : votre dossier dépasserait 100 Mo au total. Supprimez un fichier inutile, ou déposez une version plus légère (photo réduite, PDF compressé)."
        );
        assert!(check_dossier_total("a.pdf", u64::MAX, 1).is_err());
    }

    #[test]
    fn the_first_bytes_and_the_size_decide() {
        assert_eq!(
            check_start("a.pdf", b"%PDF-1.7", 100, &BOTH, MIB),
            Ok(FileKind::Pdf)
        );
        assert_eq!(
            check_start("photo.JPG", &[0xFF, 0xD8, 0xFF, 0xE1], 100, &BOTH, MIB),
            Ok(FileKind::Jpeg)
        );
        assert_eq!(
            check_start("image.pdf", b"\x89PNG\r\n", 100, &BOTH, MIB)
                .unwrap_err()
                .to_string(),
            "« image.pdf » doit être au format PDF ou JPEG."
        );
        assert_eq!(
            check_start("gros.pdf", b"%PDF-1.7", 10 * MIB + 1, &BOTH, 10 * MIB)
                .unwrap_err()
                .to_string(),
            "« gros.pdf » fait plus de 10 Mo, le maximum. Photographiez le document avec « prendre une photo », ou réduisez-le."
        );
        assert_eq!(
            check_start("vide.pdf", b"", 0, &BOTH, MIB)
                .unwrap_err()
                .to_string(),
            "« vide.pdf » est vide."
        );
        assert_eq!(
            check_start("a.jpg", &[0xFF, 0xD8, 0xFF], 10, &[FileKind::Pdf], MIB)
                .unwrap_err()
                .to_string(),
            "« a.jpg » doit être au format PDF."
        );
    }

    #[test]
    fn hostile_names_are_cleaned() {
        assert_eq!(sanitise_file_name("../../etc/passwd"), "passwd");
        assert_eq!(
            sanitise_file_name("C:\\Users\\moi\\Diplôme 2012.PDF"),
            "Diplôme 2012.PDF"
        );
        assert_eq!(sanitise_file_name("a\u{0}b\r\nc.pdf"), "a b c.pdf");
        assert_eq!(sanitise_file_name("..."), "document");
        assert_eq!(sanitise_file_name(""), "document");
        assert_eq!(sanitise_file_name("<script>.pdf"), "script .pdf");
        let long = format!("{}.pdf", "é".repeat(300));
        let cleaned = sanitise_file_name(&long);
        assert_eq!(cleaned.chars().count(), 120);
        assert!(cleaned.ends_with(".pdf"));
    }

    #[test]
    fn a_stored_name_ends_with_its_kinds_extension() {
        let pdf = FileKind::Pdf;
        assert_eq!(
            stored_file_name("diplome\u{202E}fdp.hta", pdf),
            "diplomefdp.pdf"
        );
        assert_eq!(stored_file_name("scan.pdf.bat", pdf), "scan.pdf");
        assert_eq!(
            stored_file_name("Diplôme 2012.PDF", pdf),
            "Diplôme 2012.PDF"
        );
        assert_eq!(stored_file_name("Diplôme 2012", pdf), "Diplôme 2012.pdf");
        assert_eq!(stored_file_name("photo.png", FileKind::Jpeg), "photo.jpg");
        assert_eq!(
            stored_file_name("IMG_0001.JPEG", FileKind::Jpeg),
            "IMG_0001.JPEG"
        );
        assert_eq!(stored_file_name("a\u{200B}b\u{FEFF}.pdf", pdf), "ab.pdf");
        assert_eq!(stored_file_name(".pdf", pdf), "pdf.pdf");
        assert_eq!(stored_file_name("", pdf), "document.pdf");
        let long = stored_file_name(&format!("{}.exe", "é".repeat(300)), pdf);
        assert_eq!(long.chars().count(), 120);
        assert!(long.ends_with("é.pdf"));
    }

    #[test]
    fn every_refusal_code_has_its_fixed_message_and_nothing_else_does() {
        let refusals = [
            UploadError::Empty { name: "x".into() },
            UploadError::WrongKind { name: "x".into() },
            UploadError::KindNotAccepted {
                name: "x".into(),
                expected: "PDF".into(),
            },
            UploadError::TooLarge {
                name: "x".into(),
                size: 0,
                limit_mib: 10,
            },
            UploadError::Encrypted { name: "x".into() },
            UploadError::Corrupt { name: "x".into() },
            UploadError::Active { name: "x".into() },
            UploadError::Unverifiable { name: "x".into() },
            UploadError::TooManyFiles { max: 2 },
            UploadError::dossier_full("x"),
        ];
        for refusal in refusals {
            let message = refusal_message(refusal.code(), &[FileKind::Pdf], 10 * MIB, 2).unwrap();
            assert!(
                !message.contains('«')
                    || message.contains("Imprimer")
                    || message.contains("prendre une photo"),
                "{message}"
            );
        }
        assert_eq!(
            refusal_message("trop-gros", &[FileKind::Pdf], 10 * MIB, 2).unwrap(),
            "Le fichier fait plus de 10 Mo, le maximum. Photographiez le document avec « prendre une photo », ou réduisez-le."
        );
        assert_eq!(
            UploadError::TooLarge {
                name: "scan.pdf".into(),
                size: 13_002_342,
                limit_mib: 10
            }
            .to_string(),
            "« scan.pdf » fait 12,4 Mo : le maximum est 10 Mo. Photographiez le document avec « prendre une photo », ou réduisez-le."
        );
        for code in [
            upload_code::TOO_SLOW,
            upload_code::BUSY,
            upload_code::TWO_AT_ONCE,
            upload_code::MANY_HERE,
        ] {
            assert!(refusal_message(code, &[], 0, 0).is_some(), "{code}");
        }
        assert_eq!(refusal_message("Appelez le 08 99 …", &[], 0, 0), None);
    }

    proptest::proptest! {
        #[test]
        fn cleaned_names_are_safe(raw in "\\PC{0,300}") {
            let name = sanitise_file_name(&raw);
            proptest::prop_assert!(!name.is_empty());
            proptest::prop_assert!(name.chars().count() <= 120);
            proptest::prop_assert!(!name.contains('/') && !name.contains('\\'));
            proptest::prop_assert!(!name.chars().any(|c| c.is_control() || "<>:\"|?*".contains(c)));
            proptest::prop_assert!(name != "." && name != "..");
        }
    }
}
