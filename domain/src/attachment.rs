//! Rules for an uploaded file (an attachment to a pièce): its kind, size and name, and
//! a streaming check of PDFs. The browser runs them before sending a byte; the server
//! runs them again on what actually arrives.

use miniz_oxide::{
    DataFormat, MZFlush, MZStatus,
    inflate::stream::{InflateState, inflate},
};
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

/// Watches a PDF go by, chunk by chunk, without keeping it: whether it declares an
/// encryption dictionary, an action that launches a program, embedded files or
/// JavaScript, and whether it ends like a PDF (`%%EOF` in its last bytes).
///
/// Names may hide their letters as `#xx` escapes (`/Encr#79pt` is `/Encrypt`): they are
/// decoded before looking. Flate streams are inflated on the way (object streams keep
/// dictionaries compressed), up to 64 MiB of output per file.
pub struct PdfScan {
    /// The last raw bytes seen, for the end marker.
    tail: Vec<u8>,
    /// The file's own bytes, looked through for the tokens.
    raw: Tokens,
    /// Raw bytes kept to find the next stream's keyword and dictionary across chunks.
    before: Vec<u8>,
    /// The Flate stream being inflated (an object stream hides dictionaries), its
    /// tokens, and how much all streams gave so far.
    inflating: Option<(Box<InflateState>, Tokens)>,
    inflated: u64,
    found: [bool; TOKENS.len()],
}

impl Default for PdfScan {
    fn default() -> Self {
        Self {
            tail: Vec::new(),
            raw: Tokens::default(),
            before: Vec::new(),
            inflating: None,
            inflated: 0,
            found: [false; TOKENS.len()],
        }
    }
}

/// What a PDF that passes declares: staff are warned, and it is never shown inline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PdfFindings {
    pub javascript: bool,
}

const TAIL: usize = 1024;
const ENCRYPT: usize = 0;
const LAUNCH: usize = 1;
const EMBEDDED: usize = 2;
const JAVASCRIPT: usize = 3;
const TOKENS: [&[u8]; 4] = [b"/Encrypt", b"/Launch", b"/EmbeddedFile", b"/JavaScript"];
const LONGEST: usize = 13;
/// Inflated bytes looked through per file at most: a small file that inflates to
/// gigabytes (a « zip bomb ») costs no more than this.
const INFLATE_CAP: u64 = 64 * 1024 * 1024;
/// Raw bytes kept before a stream's keyword: its dictionary is in them.
const BEFORE: usize = 512;

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Finds the tokens in a run of bytes given chunk by chunk: `#xx` escapes decoded first
/// (`/Encr#79pt` is `/Encrypt`), tokens cut between chunks still found.
#[derive(Default)]
struct Tokens {
    /// The last decoded bytes, so tokens split across chunks are still found.
    seam: Vec<u8>,
    /// A `#` escape cut by the chunk's end: `#`, or `#` and one hex digit.
    escape: Vec<u8>,
}

impl Tokens {
    /// Decodes `#xx` escapes, carrying one cut by the chunk's end to the next chunk.
    fn decode<'a>(&mut self, chunk: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        if self.escape.is_empty() && !chunk.contains(&b'#') {
            return std::borrow::Cow::Borrowed(chunk);
        }
        let mut out = Vec::with_capacity(chunk.len() + 2);
        for &b in chunk {
            match self.escape.as_slice() {
                [] if b == b'#' => self.escape.push(b),
                [] => out.push(b),
                [_] if hex(b).is_some() => self.escape.push(b),
                [_, high] if hex(b).is_some() => {
                    out.push(hex(*high).unwrap_or(0) * 16 + hex(b).unwrap_or(0));
                    self.escape.clear();
                }
                _ => {
                    out.append(&mut self.escape);
                    if b == b'#' {
                        self.escape.push(b);
                    } else {
                        out.push(b);
                    }
                }
            }
        }
        std::borrow::Cow::Owned(out)
    }

    fn feed(&mut self, chunk: &[u8], found: &mut [bool; TOKENS.len()]) {
        let decoded = self.decode(chunk);
        let head = &decoded[..decoded.len().min(LONGEST - 1)];
        let mut seam = std::mem::take(&mut self.seam);
        seam.extend_from_slice(head);
        for (found, token) in found.iter_mut().zip(TOKENS) {
            *found = *found || contains(&seam, token) || contains(&decoded, token);
        }
        // The seam keeps the last bytes decoded, for the next chunk.
        if decoded.len() >= LONGEST - 1 {
            seam.clear();
            seam.extend_from_slice(&decoded[decoded.len() - (LONGEST - 1)..]);
        } else {
            let excess = seam.len().saturating_sub(LONGEST - 1);
            seam.drain(..excess);
        }
        self.seam = seam;
    }
}

/// Where the data of the next stream starts in `buf` (searched from `from`), and
/// whether its dictionary asks for Flate; `None` when no whole keyword is there yet.
fn next_stream(buf: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut at = from;
    while let Some(found) = memchr::memmem::find(&buf[at..], b"stream") {
        let keyword = at + found;
        at = keyword + 6;
        if keyword >= 3 && &buf[keyword - 3..keyword] == b"end" {
            continue;
        }
        let data = match &buf[at..] {
            [b'\r', b'\n', ..] => at + 2,
            [b'\n', ..] => at + 1,
            [b'\r'] | [] => return None, // its end of line is in the next chunk
            _ => continue,
        };
        // The dictionary just before the keyword, since the previous object's end.
        let window = &buf[keyword.saturating_sub(BEFORE)..keyword];
        let own = ["endobj", "endstream"]
            .iter()
            .filter_map(|end| memchr::memmem::rfind(window, end.as_bytes()).map(|p| p + end.len()))
            .max()
            .unwrap_or(0);
        return Some((data, contains(&window[own..], b"FlateDecode")));
    }
    None
}

impl PdfScan {
    /// Reads a chunk: tokens are looked for in its decoded bytes (and across the seam
    /// with the previous chunk), and in what its Flate streams inflate to.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.raw.feed(chunk, &mut self.found);
        self.follow_streams(chunk);
        if chunk.len() >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - TAIL..]);
        } else {
            self.tail.extend_from_slice(chunk);
            let excess = self.tail.len().saturating_sub(TAIL);
            self.tail.drain(..excess);
        }
    }

    /// Inflates each Flate stream as it goes by (object streams hold dictionaries too,
    /// an action among them), up to [`INFLATE_CAP`] in all.
    fn follow_streams(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while !rest.is_empty() {
            if let Some((state, tokens)) = self.inflating.as_mut() {
                let mut out = [0u8; 16 * 1024];
                let result = inflate(state, rest, &mut out, MZFlush::None);
                tokens.feed(&out[..result.bytes_written], &mut self.found);
                self.inflated += result.bytes_written as u64;
                rest = &rest[result.bytes_consumed..];
                let going = matches!(result.status, Ok(MZStatus::Ok));
                if !going || self.inflated > INFLATE_CAP {
                    self.inflating = None;
                } else if result.bytes_consumed == 0 && result.bytes_written == 0 {
                    return; // waits for more input
                }
                continue;
            }
            if self.inflated > INFLATE_CAP {
                return;
            }
            let carried = self.before.len();
            self.before.extend_from_slice(rest);
            // A keyword cut by the previous chunk's end starts among the carried bytes.
            match next_stream(&self.before, carried.saturating_sub(8)) {
                Some((data, flate)) => {
                    let skip = data.saturating_sub(carried).min(rest.len());
                    rest = &rest[skip..];
                    self.before.clear();
                    if flate {
                        self.inflating =
                            Some((InflateState::new_boxed(DataFormat::Zlib), Tokens::default()));
                    }
                }
                None => {
                    let excess = self.before.len().saturating_sub(BEFORE + 8);
                    self.before.drain(..excess);
                    return;
                }
            }
        }
    }

    pub fn finish(self, name: &str) -> Result<PdfFindings, UploadError> {
        let name = name.to_string();
        if self.found[ENCRYPT] {
            return Err(UploadError::Encrypted { name });
        }
        if self.found[LAUNCH] || self.found[EMBEDDED] {
            return Err(UploadError::Active { name });
        }
        if !contains(&self.tail, b"%%EOF") {
            return Err(UploadError::Corrupt { name });
        }
        Ok(PdfFindings {
            javascript: self.found[JAVASCRIPT],
        })
    }
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

    fn scan(parts: &[&[u8]]) -> Result<PdfFindings, UploadError> {
        let mut scan = PdfScan::default();
        for part in parts {
            scan.feed(part);
        }
        scan.finish("x.pdf")
    }

    #[test]
    fn escaped_names_are_read_as_what_they_spell() {
        let end: &[u8] = b"\n%%EOF\n";
        assert!(matches!(
            scan(&[b"%PDF-1.7\n<< /Encr#79pt 5 0 R >>", end]),
            Err(UploadError::Encrypted { .. })
        ));
        // The escape cut between two chunks.
        assert!(matches!(
            scan(&[b"%PDF-1.7\n<< /Encr#7", b"9pt 5 0 R >>", end]),
            Err(UploadError::Encrypted { .. })
        ));
        assert!(matches!(
            scan(&[b"%PDF-1.7\n<< /S /#4Cau#6ech /F (cmd.exe) >>", end]),
            Err(UploadError::Active { .. })
        ));
        assert!(matches!(
            scan(&[b"%PDF-1.7\n<< /EmbeddedFiles 3 0 R >>", end]),
            Err(UploadError::Active { .. })
        ));
        assert_eq!(
            scan(&[b"%PDF-1.7\n<< /S /Java#53cript /JS (app.alert(1)) >>", end]),
            Ok(PdfFindings { javascript: true })
        );
        // A `#` that is no escape stays as it is.
        assert_eq!(
            scan(&[b"%PDF-1.7\n(page #1, 100#)", b"#", end]),
            Ok(PdfFindings::default())
        );
    }

    /// A PDF whose object stream (Flate) holds `hidden`, cut where the network likes.
    fn compressed(hidden: &[u8]) -> Vec<u8> {
        let mut objects = b"1 0 2 30 ".to_vec();
        objects.extend_from_slice(b"<< /Type /Catalog >> << ");
        // Enough repeated text that the stream is really compressed, not stored.
        objects.extend(b"/Kids [3 0 R] ".repeat(40));
        objects.extend_from_slice(hidden);
        objects.extend_from_slice(b" >>");
        let data = miniz_oxide::deflate::compress_to_vec_zlib(&objects, 6);
        let mut pdf =
            b"%PDF-1.7\n5 0 obj\n<< /Type /ObjStm /N 2 /First 9 /Filter /FlateDecode /Length "
                .to_vec();
        pdf.extend_from_slice(format!("{} >>\nstream\r\n", data.len()).as_bytes());
        pdf.extend_from_slice(&data);
        pdf.extend_from_slice(b"\r\nendstream\nendobj\nstartxref\n0\n%%EOF\n");
        pdf
    }

    #[test]
    fn what_hides_in_a_compressed_object_stream_is_seen_wherever_the_file_is_cut() {
        let launch = compressed(b"/S /Launch /F (cmd.exe)");
        let script = compressed(b"/S /JavaScript /JS (app.alert(1))");
        let plain = compressed(b"/Type /Page");
        // Nothing of it shows in the file's own bytes.
        assert!(!contains(&launch, b"/Launch") && !contains(&script, b"/JavaScript"));
        for cut in 0..launch.len() {
            assert!(
                matches!(
                    scan(&[&launch[..cut], &launch[cut..]]),
                    Err(UploadError::Active { .. })
                ),
                "cut at {cut}"
            );
        }
        for cut in (0..script.len()).step_by(3) {
            assert_eq!(
                scan(&[&script[..cut], &script[cut..]]),
                Ok(PdfFindings { javascript: true }),
                "cut at {cut}"
            );
        }
        assert_eq!(scan(&[plain.as_slice()]), Ok(PdfFindings::default()));
        // Streams that are not Flate (a scanned page's JPEG) are not inflated.
        let image = b"%PDF-1.7\n6 0 obj\n<< /Filter /DCTDecode /Length 4 >>\nstream\n\xFF\xD8\xFF\xD9\nendstream\nendobj\n%%EOF\n";
        assert_eq!(scan(&[&image[..]]), Ok(PdfFindings::default()));
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
        assert_eq!(scan.finish("x.pdf"), Ok(PdfFindings::default()));
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
                    proptest::prop_assert_eq!(result, Ok(PdfFindings::default()));
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
