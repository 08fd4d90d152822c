//! An identity certified by FranceConnect (its « identité pivot »): what the
//! préinscription takes from it and locks, and how it is matched to a dossier typed by
//! hand (birth name, given names and birth date, as [`Registration::identity_key`]
//! compares people; never the e-mail address).
//!
//! [`Registration::identity_key`]: crate::registration::Registration::identity_key

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::{candidate::PersonName, registration::Answers};

/// The code of France in the Code officiel géographique, which FranceConnect gives as
/// `birthcountry`; a birthplace is a commune's code (« 75107 »), given only for people
/// born in France.
pub const FRANCE: &str = "99100";

/// The préinscription's fields an identity from FranceConnect fills and locks. The
/// commune of birth is not among them: FranceConnect gives its code, not its name,
/// which the candidate types (the code is kept beside it for staff).
pub const LOCKED_FIELDS: [&str; 5] = [
    "civilite",
    "nom_naissance",
    "prenoms",
    "date_naissance",
    "pays_naissance",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedIdentity {
    pub birth_name: PersonName,
    pub given_names: PersonName,
    pub birth_date: Date,
    /// `female` or `male`, as FranceConnect says it.
    pub gender: Option<String>,
    /// The commune's code (COG), for people born in France.
    pub birthplace: Option<String>,
    /// The country's code (COG): `99100` for France.
    pub birthcountry: Option<String>,
    pub email: Option<String>,
    /// The usage name (`preferred_username`), when there is one.
    pub usage_name: Option<String>,
}

/// Why claims are not an identity the service can take.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IncompleteIdentity {
    #[error("the identity has no usable {0}")]
    Missing(&'static str),
}

impl CertifiedIdentity {
    /// From the claims of the `identite_pivot` scope, as FranceConnect sends them:
    /// `family_name`, `given_name` (the given names, space-separated), `birthdate`
    /// (`YYYY-MM-DD`), `gender`, `birthplace`, `birthcountry`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_claims(
        family_name: Option<&str>,
        given_name: Option<&str>,
        birthdate: Option<&str>,
        gender: Option<&str>,
        birthplace: Option<&str>,
        birthcountry: Option<&str>,
        email: Option<&str>,
        preferred_username: Option<&str>,
    ) -> Result<Self, IncompleteIdentity> {
        let name = |v: Option<&str>, what| {
            filled(v)
                .and_then(|v| PersonName::parse(v).ok())
                .ok_or(IncompleteIdentity::Missing(what))
        };
        let birth_date = filled(birthdate)
            .and_then(|d| d.parse::<Date>().ok())
            .ok_or(IncompleteIdentity::Missing("birthdate"))?;
        Ok(Self {
            birth_name: name(family_name, "family_name")?,
            given_names: name(given_name, "given_name")?,
            birth_date,
            gender: filled(gender)
                .filter(|g| matches!(*g, "female" | "male"))
                .map(str::to_string),
            birthplace: filled(birthplace).map(str::to_string),
            birthcountry: filled(birthcountry).map(str::to_string),
            email: filled(email).map(str::to_string),
            usage_name: filled(preferred_username)
                .and_then(|n| PersonName::parse(n).ok())
                .map(|n| n.as_str().to_string()),
        })
    }

    /// The same key as a typed préinscription's: one person, whatever the case or the
    /// accents.
    pub fn identity_key(&self) -> String {
        crate::registration::identity_key(&self.birth_name, &self.given_names, self.birth_date)
    }

    /// The wizard's answers this identity fixes: each of [`LOCKED_FIELDS`] it has a value
    /// for (the country only when it is France, the one code we can name).
    pub fn locked_answers(&self) -> Answers {
        let mut answers = Answers::new();
        if let Some(civilite) = match self.gender.as_deref() {
            Some("female") => Some("madame"),
            Some("male") => Some("monsieur"),
            _ => None,
        } {
            answers.insert("civilite".into(), civilite.into());
        }
        answers.insert("nom_naissance".into(), self.birth_name.as_str().to_string());
        answers.insert("prenoms".into(), self.given_names.as_str().to_string());
        answers.insert(
            "date_naissance".into(),
            self.birth_date.strftime("%d/%m/%Y").to_string(),
        );
        if self.birthcountry.as_deref() == Some(FRANCE) {
            answers.insert("pays_naissance".into(), "France".into());
        }
        answers
    }

    /// Answers to start a préinscription with, beyond the locked ones: the usage name
    /// and the e-mail address, which the candidate may change.
    pub fn suggested_answers(&self) -> Answers {
        let mut answers = Answers::new();
        if let Some(name) = &self.usage_name
            && PersonName::key_of(name) != self.birth_name.key()
        {
            answers.insert("nom_usage".into(), name.clone());
        }
        if let Some(email) = &self.email {
            answers.insert("email".into(), email.clone());
        }
        answers
    }
}

fn filled(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn angela() -> CertifiedIdentity {
        CertifiedIdentity::from_claims(
            Some("DUBOIS"),
            Some("Angela Claire Louise"),
            Some("1962-08-24"),
            Some("female"),
            Some("75107"),
            Some("99100"),
            Some("wossewodda-3728@yopmail.com"),
            Some(""),
        )
        .unwrap()
    }

    #[test]
    fn the_test_identity_fills_the_locked_fields() {
        let a = angela().locked_answers();
        assert_eq!(a["civilite"], "madame");
        assert_eq!(a["nom_naissance"], "DUBOIS");
        assert_eq!(a["prenoms"], "Angela Claire Louise");
        assert_eq!(a["date_naissance"], "24/08/1962");
        assert_eq!(a["pays_naissance"], "France");
        assert!(a.keys().all(|k| LOCKED_FIELDS.contains(&k.as_str())));
        assert_eq!(angela().suggested_answers().get("nom_usage"), None);
    }

    #[test]
    fn matching_ignores_case_and_accents_not_names_or_dates() {
        let typed = crate::registration::identity_key(
            &PersonName::parse("Dubois").unwrap(),
            &PersonName::parse("angéla claire louise").unwrap(),
            Date::constant(1962, 8, 24),
        );
        assert_eq!(angela().identity_key(), typed);
        let other_day = crate::registration::identity_key(
            &PersonName::parse("Dubois").unwrap(),
            &PersonName::parse("Angela Claire Louise").unwrap(),
            Date::constant(1962, 8, 25),
        );
        assert_ne!(angela().identity_key(), other_day);
        let one_name = crate::registration::identity_key(
            &PersonName::parse("Dubois").unwrap(),
            &PersonName::parse("Angela").unwrap(),
            Date::constant(1962, 8, 24),
        );
        assert_ne!(angela().identity_key(), one_name);
    }

    #[test]
    fn an_incomplete_or_foreign_identity() {
        let missing = CertifiedIdentity::from_claims(
            Some("DUBOIS"),
            None,
            Some("1962-08-24"),
            None,
            None,
            None,
            None,
            None,
        );
        assert_eq!(missing, Err(IncompleteIdentity::Missing("given_name")));
        let bad_date = CertifiedIdentity::from_claims(
            Some("DUBOIS"),
            Some("Angela"),
            Some("24/08/1962"),
            None,
            None,
            None,
            None,
            None,
        );
        assert_eq!(bad_date, Err(IncompleteIdentity::Missing("birthdate")));
        let abroad = CertifiedIdentity::from_claims(
            Some("MARTIN"),
            Some("Jean-Pierre"),
            Some("1990-03-14"),
            Some("male"),
            None,
            Some("99134"),
            None,
            Some("MARTIN-DURAND"),
        )
        .unwrap();
        let a = abroad.locked_answers();
        assert_eq!(a.get("pays_naissance"), None);
        assert_eq!(a["civilite"], "monsieur");
        assert_eq!(abroad.suggested_answers()["nom_usage"], "MARTIN-DURAND");
    }
}
