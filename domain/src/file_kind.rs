//! The kind of an uploaded file, decided by its first bytes, never by its name or the
//! type the browser declares.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Pdf,
    Jpeg,
}

impl FileKind {
    /// How many leading bytes [`FileKind::sniff`] needs.
    pub const SNIFF_LEN: usize = 5;

    /// The kind whose signature starts `head`: `%PDF-` or `FF D8 FF`.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else {
            None
        }
    }

    /// From its stored code.
    pub fn parse_code(code: &str) -> Option<Self> {
        match code {
            "pdf" => Some(Self::Pdf),
            "jpeg" => Some(Self::Jpeg),
            _ => None,
        }
    }

    /// The stored code, as in the exam files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Jpeg => "jpeg",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Jpeg => "image/jpeg",
        }
    }

    /// The extensions a file of this kind may have; the first is the one it is given.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Pdf => &["pdf"],
            Self::Jpeg => &["jpg", "jpeg"],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pdf => "PDF",
            Self::Jpeg => "JPEG",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    #[test]
    fn signatures() {
        assert_eq!(FileKind::sniff(b"%PDF-1.7\n"), Some(FileKind::Pdf));
        assert_eq!(
            FileKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(FileKind::Jpeg)
        );
        assert_eq!(FileKind::sniff(b"\x89PNG\r\n"), None);
        assert_eq!(FileKind::sniff(b"MZ\x90\x00"), None);
        assert_eq!(FileKind::sniff(b"%PDF"), None);
        assert_eq!(FileKind::sniff(b""), None);
    }

    proptest::proptest! {
        /// A signature followed by anything is still that kind, whatever the rest.
        #[test]
        fn the_first_bytes_decide(rest in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let pdf = [b"%PDF-".as_slice(), &rest].concat();
            let jpeg = [[0xFF, 0xD8, 0xFF].as_slice(), &rest].concat();
            proptest::prop_assert_eq!(FileKind::sniff(&pdf), Some(FileKind::Pdf));
            proptest::prop_assert_eq!(FileKind::sniff(&jpeg), Some(FileKind::Jpeg));
        }

        /// A file that starts with neither signature's first byte is never accepted.
        #[test]
        fn other_first_bytes_are_refused(
            first in proptest::num::u8::ANY.prop_filter("not a signature start", |b| *b != b'%' && *b != 0xFF),
            rest in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let head = [[first].as_slice(), &rest].concat();
            proptest::prop_assert_eq!(FileKind::sniff(&head), None);
        }
    }
}
