//! The words of a dossier's conversation with the service concours: its limits, and
//! each refusal as a code (what an address carries) and its French sentence (what a
//! page shows). The server (`services::dossiers::messages`) and the pages share them.

/// The longest message, in characters.
pub const MAX_CHARS: usize = 5000;
/// Messages a candidate may send in 24 hours: each one mails the service.
pub const CANDIDATE_PER_DAY: i64 = 20;
/// A message's file: a PDF or a JPEG of 10 Mo at most…
pub const FILE_MAX_BYTES: u64 = 10 * crate::exam::MIB;
/// …and at most this many in a dossier (within its 100 Mo).
pub const MAX_FILES: u32 = 20;

/// Why a message or a correction request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    TooLong,
    TooMany,
    NoPiece,
    Date,
    NotClosed,
}

impl Refusal {
    const ALL: [Refusal; 6] = [
        Refusal::Empty,
        Refusal::TooLong,
        Refusal::TooMany,
        Refusal::NoPiece,
        Refusal::Date,
        Refusal::NotClosed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Refusal::Empty => "vide",
            Refusal::TooLong => "long",
            Refusal::TooMany => "trop",
            Refusal::NoPiece => "pieces",
            Refusal::Date => "date",
            Refusal::NotClosed => "etat",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn text(self) -> &'static str {
        match self {
            Refusal::Empty => "Écrivez votre message.",
            Refusal::TooLong => {
                "Votre message dépasse 5 000 caractères : raccourcissez-le, ou joignez un fichier."
            }
            Refusal::TooMany => {
                "Vous avez envoyé 20 messages en 24 heures : le service concours va les lire. Vous pourrez écrire de nouveau demain."
            }
            Refusal::NoPiece => "Cochez au moins une pièce à corriger.",
            Refusal::Date => "La date de fin de correction doit être aujourd'hui ou plus tard.",
            Refusal::NotClosed => {
                "Une correction se demande sur un dossier clôturé, avant la décision."
            }
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_and_only_those() {
        for r in Refusal::ALL {
            assert_eq!(Refusal::from_code(r.code()), Some(r));
        }
        assert_eq!(Refusal::from_code("<script>"), None);
        assert!(Refusal::TooLong.text().contains("5 000"));
        assert_eq!(MAX_CHARS, 5000);
        assert!(
            Refusal::TooMany
                .text()
                .contains(&CANDIDATE_PER_DAY.to_string())
        );
    }
}
