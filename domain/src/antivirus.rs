//! Where a stored file stands with the antivirus (ClamAV, through clamd), as the
//! service's dossier platform words it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VirusScan {
    /// No antivirus is configured: « non analysé ».
    NotScanned,
    /// Waiting for its scan (or for clamd to come back): « en attente d'analyse ».
    Pending,
    /// « sain ».
    Clean,
    /// « infecté »: the stored file is deleted, never served, and does not count.
    Infected,
    /// clamd refused it (over its limits, an error): « erreur d'analyse », never
    /// « sain »; staff look at it.
    Failed,
}

impl VirusScan {
    pub const ALL: [Self; 5] = [
        Self::NotScanned,
        Self::Pending,
        Self::Clean,
        Self::Infected,
        Self::Failed,
    ];

    /// The database's word.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotScanned => "none",
            Self::Pending => "pending",
            Self::Clean => "clean",
            Self::Infected => "infected",
            Self::Failed => "error",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// As the service's pages name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotScanned => "non analysé",
            Self::Pending => "en attente d'analyse",
            Self::Clean => "sain",
            Self::Infected => "infecté",
            Self::Failed => "erreur d'analyse",
        }
    }

    /// What the candidate reads beside the file, if anything.
    pub fn for_candidate(self) -> Option<&'static str> {
        match self {
            Self::NotScanned | Self::Clean => None,
            Self::Pending => Some("Analyse antivirus en cours…"),
            Self::Infected => {
                Some("Virus détecté : ce fichier a été supprimé, merci d'en envoyer un autre.")
            }
            Self::Failed => Some(
                "Ce fichier n'a pas pu être analysé par l'antivirus : le service concours le vérifiera.",
            ),
        }
    }

    /// Whether the file is still there, and counts (for the closure, the limits).
    pub fn counts(self) -> bool {
        self != Self::Infected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_and_only_an_infected_file_stops_counting() {
        for scan in VirusScan::ALL {
            assert_eq!(VirusScan::from_code(scan.code()), Some(scan));
            assert_eq!(scan.counts(), scan != VirusScan::Infected);
        }
        assert_eq!(VirusScan::from_code("sain"), None);
    }
}
