//! Rules for an uploaded file (an attachment to a pièce): its kind, size and name, and
//! a streaming check of PDFs. The browser runs them before sending a byte; the server
//! runs them again on what actually arrives.

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
    #[error("« {name} » doit faire moins de {limit_mib} Mo.")]
    TooLarge { name: String, limit_mib: u64 },
    #[error(
        "« {name} » est protégé par un mot de passe : enregistrez-le sans protection puis déposez-le de nouveau."
    )]
    Encrypted { name: String },
    #[error("« {name} » est endommagé ou n'est pas un vrai PDF.")]
    Corrupt { name: String },
    #[error(
        "Cette pièce compte déjà {max} fichier(s), le maximum : supprimez-en un pour en ajouter un autre."
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

impl UploadError {
    /// The refusal of a file the dossier's total has no room for.
    pub fn dossier_full(name: &str) -> Self {
        Self::DossierFull {
            name: name.to_string(),
            limit_mib: MAX_DOSSIER_BYTES / MIB,
        }
    }
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
            limit_mib: max_size.div_ceil(MIB),
        });
    }
    let kind =
        FileKind::sniff(head).ok_or_else(|| UploadError::WrongKind { name: name.clone() })?;
    if !accepted.contains(&kind) {
        let expected = accepted
            .iter()
            .map(|k| k.label())
            .collect::<Vec<_>>()
            .join(" ou ");
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

/// Watches a PDF go by, chunk by chunk, without keeping it: whether it declares an
/// encryption dictionary, and whether it ends like a PDF (`%%EOF` in its last bytes).
#[derive(Default)]
pub struct PdfScan {
    /// The last bytes seen, so tokens split across chunks are still found.
    tail: Vec<u8>,
    encrypted: bool,
}

const TAIL: usize = 1024;

impl PdfScan {
    /// Reads a chunk without copying it: a token is looked for in the chunk, and in the
    /// seam between the previous chunk's end and this one's start.
    pub fn feed(&mut self, chunk: &[u8]) {
        const ENCRYPT: &[u8] = b"/Encrypt";
        if !self.encrypted {
            let keep = ENCRYPT.len() - 1;
            let mut seam = self.tail[self.tail.len().saturating_sub(keep)..].to_vec();
            seam.extend_from_slice(&chunk[..chunk.len().min(keep)]);
            self.encrypted = memchr::memmem::find(&seam, ENCRYPT).is_some()
                || memchr::memmem::find(chunk, ENCRYPT).is_some();
        }
        if chunk.len() >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - TAIL..]);
        } else {
            self.tail.extend_from_slice(chunk);
            let excess = self.tail.len().saturating_sub(TAIL);
            self.tail.drain(..excess);
        }
    }

    pub fn finish(self, name: &str) -> Result<(), UploadError> {
        if self.encrypted {
            return Err(UploadError::Encrypted {
                name: name.to_string(),
            });
        }
        if !contains(&self.tail, b"%%EOF") {
            return Err(UploadError::Corrupt {
                name: name.to_string(),
            });
        }
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
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
            "« gros.pdf » doit faire moins de 10 Mo."
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
    fn pdf_scan_finds_encryption_across_chunks() {
        let mut scan = PdfScan::default();
        scan.feed(b"%PDF-1.7\n1 0 obj << /Enc");
        scan.feed(b"rypt 5 0 R >>\n%%EOF\n");
        assert!(matches!(
            scan.finish("x.pdf"),
            Err(UploadError::Encrypted { .. })
        ));
        let mut scan = PdfScan::default();
        scan.feed(b"%PDF-1.7\n");
        scan.feed(&vec![b'x'; 5000]);
        scan.feed(b"\nstartxref\n123\n%%EOF\n");
        assert_eq!(scan.finish("x.pdf"), Ok(()));
        let mut truncated = PdfScan::default();
        truncated.feed(b"%PDF-1.7\n1 0 obj");
        assert!(matches!(
            truncated.finish("x.pdf"),
            Err(UploadError::Corrupt { .. })
        ));
    }

    proptest::proptest! {
        /// However the network cuts a PDF, an encryption dictionary is found, and a
        /// clean file passes.
        #[test]
        fn pdf_scan_does_not_depend_on_chunks(at in 0usize..3000, mut cuts in proptest::collection::vec(0usize..3100, 0..40)) {
            let mut body = b"%PDF-1.7\n".to_vec();
            body.extend(std::iter::repeat_n(b'x', 3000));
            body.extend(b"\nstartxref\n0\n%%EOF\n");
            let mut encrypted = body.clone();
            encrypted.splice(at..at, b"/Encrypt 5 0 R".iter().copied());
            cuts.sort();
            for (data, want_encrypted) in [(body, false), (encrypted, true)] {
                let mut scan = PdfScan::default();
                let mut from = 0;
                for &cut in cuts.iter().chain([data.len()].iter()) {
                    let cut = cut.clamp(from, data.len());
                    scan.feed(&data[from..cut]);
                    from = cut;
                }
                let result = scan.finish("x.pdf");
                proptest::prop_assert_eq!(matches!(result, Err(UploadError::Encrypted { .. })), want_encrypted);
                if !want_encrypted {
                    proptest::prop_assert_eq!(result, Ok(()));
                }
            }
        }

        #[test]
        fn cleaned_names_are_safe(raw in "\\PC{0,300}") {
            let name = sanitise_file_name(&raw);
            proptest::prop_assert!(!name.is_empty());
            proptest::prop_assert!(name.chars().count() <= 120);
            proptest::prop_assert!(!name.contains('/') && !name.contains('\\'));
            proptest::prop_assert!(!name.chars().any(|c| c.is_control() || "<>:\"|?*".contains(c)));
            proptest::prop_assert!(name != "." && name != "..");
        }

        #[test]
        fn chunking_does_not_change_the_pdf_verdict(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..3000),
            cut in 0usize..3000,
            encrypt in proptest::bool::ANY,
        ) {
            let mut file = b"%PDF-1.7\n".to_vec();
            file.extend(&body);
            if encrypt { file.extend(b"/Encrypt 3 0 R"); }
            file.extend(b"\n%%EOF\n");
            let cut = cut.min(file.len());
            let mut whole = PdfScan::default();
            whole.feed(&file);
            let mut split = PdfScan::default();
            split.feed(&file[..cut]);
            split.feed(&file[cut..]);
            proptest::prop_assert_eq!(whole.finish("f"), split.finish("f"));
        }
    }
}
