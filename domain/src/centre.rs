//! The Centre de gestion that runs the site: its name and contacts, on every page's
//! header and footer. Read from `centre.toml` (keys in French, as the Centre fills it
//! in) and checked once, at start-up: a site that names no one, or a wrong address,
//! must not go online.

use serde::{Deserialize, Serialize};

use crate::candidate::Email;

/// The Centre, as `centre.toml` describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Centre {
    /// « Centre de gestion de la fonction publique territoriale de … ».
    pub nom: String,
    /// The postal address, one line.
    pub adresse: String,
    pub email: String,
    pub telephone: String,
    /// The Centre's own website (`https://…`).
    pub site: String,
    /// The data protection officer's address (`dpo@…`).
    pub delegue_protection_donnees: String,
    /// Where candidates report an accessibility problem.
    pub contact_accessibilite: String,
    /// The publication director (usually the Centre's president).
    pub directeur_publication: String,
    pub hebergeur: Host,
}

/// Who hosts the site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub nom: String,
    pub adresse: String,
}

/// What is wrong with a Centre's description, naming the key to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CentreError {
    #[error("`{0}` is empty")]
    Empty(&'static str),
    #[error("`{0}` is not an e-mail address")]
    NotAnEmail(&'static str),
    #[error("`{0}` is not an https:// or http:// address")]
    NotAWebsite(&'static str),
}

impl Centre {
    /// Every field filled in, the e-mail addresses and the website well formed.
    pub fn check(&self) -> Result<(), CentreError> {
        let filled = [
            ("nom", &self.nom),
            ("adresse", &self.adresse),
            ("email", &self.email),
            ("telephone", &self.telephone),
            ("site", &self.site),
            (
                "delegue_protection_donnees",
                &self.delegue_protection_donnees,
            ),
            ("contact_accessibilite", &self.contact_accessibilite),
            ("directeur_publication", &self.directeur_publication),
            ("hebergeur.nom", &self.hebergeur.nom),
            ("hebergeur.adresse", &self.hebergeur.adresse),
        ];
        if let Some((key, _)) = filled.iter().find(|(_, v)| v.trim().is_empty()) {
            return Err(CentreError::Empty(key));
        }
        for (key, value) in [
            ("email", &self.email),
            (
                "delegue_protection_donnees",
                &self.delegue_protection_donnees,
            ),
            ("contact_accessibilite", &self.contact_accessibilite),
        ] {
            if Email::parse(value).is_err() {
                return Err(CentreError::NotAnEmail(key));
            }
        }
        if !(self.site.starts_with("https://") || self.site.starts_with("http://")) {
            return Err(CentreError::NotAWebsite("site"));
        }
        Ok(())
    }

    /// The signature under every mail: who writes, and how to answer.
    pub fn signature(&self) -> String {
        format!(
            "{}\nService concours\n{}\n{} · {}\n{}",
            self.nom, self.adresse, self.email, self.telephone, self.site
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Centre {
        toml::from_str(include_str!("../../centre.toml")).expect("the shipped example parses")
    }

    #[test]
    fn the_shipped_example_is_a_complete_centre() {
        assert_eq!(example().check(), Ok(()));
    }

    #[test]
    fn an_empty_field_or_a_wrong_address_is_named() {
        let mut centre = example();
        centre.hebergeur.adresse = "  ".into();
        assert_eq!(centre.check(), Err(CentreError::Empty("hebergeur.adresse")));
        let mut centre = example();
        centre.delegue_protection_donnees = "le DPO".into();
        assert_eq!(
            centre.check(),
            Err(CentreError::NotAnEmail("delegue_protection_donnees"))
        );
        let mut centre = example();
        centre.site = "cdg-exemple.fr".into();
        assert_eq!(centre.check(), Err(CentreError::NotAWebsite("site")));
    }

    #[test]
    fn a_missing_or_unknown_key_is_refused_by_name() {
        let text = include_str!("../../centre.toml").replace("telephone =", "telephon =");
        let error = toml::from_str::<Centre>(&text).unwrap_err().to_string();
        assert!(error.contains("telephon"), "{error}");
    }
}
