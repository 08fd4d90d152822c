//! The addresses the staff pages share: a list's (`ListQuery`: search, filters,
//! order, page), kept from the list to its dossiers and back, and a dossier's.

use services::dossiers::instruction::{self, DossierLine, Entry};

/// A list's address: what the search form and the pager carry, and what a dossier's
/// page links back to (read again from its own keys only, each checked, re-encoded: an
/// address never carries anything else into the page).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    pub q: String,
    /// A stage or a state (`ListFilter`'s code).
    pub etat: String,
    pub tri: String,
    pub page: usize,
    /// A voie's code.
    pub voie: String,
    /// Only the aménagements requested.
    pub amenagement: bool,
    /// A `FileFlag`'s code.
    pub fichiers: String,
    /// Only the messages waiting for an answer.
    pub messages: bool,
    /// Only « mes dossiers »: those the agent follows.
    pub suivi: bool,
}

impl ListQuery {
    /// A search's length at most, in characters: the field stops there, and an address
    /// carrying more is cut there.
    pub const SEARCH_LENGTH: usize = 200;

    /// The keys of a list's address.
    pub const KEYS: [&'static str; 9] = [
        "q",
        "etat",
        "tri",
        "page",
        "voie",
        "fichiers",
        "amenagement",
        "messages",
        "suivi",
    ];

    /// Its keys and values, for the hidden fields of a form that keeps the list.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.to_query()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), percent_decoded(v)))
            .collect()
    }

    pub fn to_query(&self) -> String {
        use crate::account::urlencode;
        let mut out = format!(
            "q={}&etat={}&tri={}&page={}",
            urlencode(&self.q),
            urlencode(&self.etat),
            urlencode(&self.tri),
            self.page.max(1)
        );
        for (key, value) in [("voie", &self.voie), ("fichiers", &self.fichiers)] {
            if !value.is_empty() {
                out.push_str(&format!("&{key}={}", urlencode(value)));
            }
        }
        for (key, on) in [
            ("amenagement", self.amenagement),
            ("messages", self.messages),
            ("suivi", self.suivi),
        ] {
            if on {
                out.push_str(&format!("&{key}=1"));
            }
        }
        out
    }

    /// From a `liste` value that a list put in a dossier's link.
    pub fn parse(text: &str) -> Self {
        Self::from_pairs(text.split('&').map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_string(), percent_decoded(value))
        }))
    }

    /// From an address's decoded keys and values; what is not a known code is dropped.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut list = Self {
            page: 1,
            ..Self::default()
        };
        for (key, value) in pairs {
            match key.as_str() {
                "q" => list.q = value.chars().take(Self::SEARCH_LENGTH).collect(),
                "etat" if domain::instruction::ListFilter::from_code(&value).is_some() => {
                    list.etat = value
                }
                "tri" if instruction::Sort::from_code(&value).is_some() => list.tri = value,
                "page" => list.page = value.parse().unwrap_or(1).max(1),
                "voie" if domain::exam::Voie::parse(&value).is_some() => list.voie = value,
                "fichiers" if instruction::FileFlag::from_code(&value).is_some() => {
                    list.fichiers = value
                }
                "amenagement" => list.amenagement = !value.is_empty(),
                "messages" => list.messages = !value.is_empty(),
                "suivi" => list.suivi = !value.is_empty(),
                _ => {}
            }
        }
        list
    }

    pub fn filter(&self) -> Option<domain::instruction::ListFilter> {
        domain::instruction::ListFilter::from_code(&self.etat)
    }

    pub fn sort(&self) -> instruction::Sort {
        instruction::Sort::from_code(&self.tri).unwrap_or_default()
    }

    /// What the list keeps, for the agent `member` (« mes dossiers »).
    pub fn criteria(
        &self,
        member: Option<&services::access::staff::Staff>,
    ) -> instruction::Criteria {
        instruction::Criteria {
            search: self.q.clone(),
            filter: self.filter(),
            voie: domain::exam::Voie::parse(&self.voie),
            accommodation: self.amenagement,
            files: instruction::FileFlag::from_code(&self.fichiers),
            unanswered: self.messages,
            // No agent, no dossier: never the whole list by mistake.
            followed_by: self
                .suivi
                .then(|| member.map_or_else(|| "-".to_string(), |m| m.id.clone())),
        }
    }

    /// The entries of the exam the list keeps, in its order (every page).
    pub async fn entries(
        &self,
        state: &crate::state::AppState,
        exam: &str,
        member: Option<&services::access::staff::Staff>,
    ) -> Result<Vec<Entry>, instruction::InstructionError> {
        let mut entries =
            instruction::entries(&state.db, &*state.clock, exam, &self.criteria(member)).await?;
        self.sort().apply(&mut entries);
        Ok(entries)
    }

    /// The page `page` of the list, `per_page` entries (cut by the database when it can).
    pub async fn page(
        &self,
        state: &crate::state::AppState,
        exam: &str,
        member: Option<&services::access::staff::Staff>,
        per_page: usize,
    ) -> Result<instruction::Paged, instruction::InstructionError> {
        instruction::page(
            &state.db,
            &*state.clock,
            exam,
            &self.criteria(member),
            self.sort(),
            self.page,
            per_page,
        )
        .await
    }

    /// The lines of the exam the list shows, in its order (every page), read whole.
    pub async fn lines(
        &self,
        state: &crate::state::AppState,
        exam: &str,
        member: Option<&services::access::staff::Staff>,
    ) -> Result<Vec<DossierLine>, instruction::InstructionError> {
        let entries = self.entries(state, exam, member).await?;
        instruction::lines(&state.db, exam, &entries).await
    }
}

/// `+` and `%XX` decoded (what `account::urlencode` wrote); a bad escape is kept as is.
pub(super) fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A dossier's page, still in the list it was opened from (`list`, a `ListQuery`'s
/// address, read back from its own keys only), ready for more keys: `…?liste=…&`.
pub(super) fn dossier_in_list(number: &str, list: &str) -> String {
    if list.is_empty() {
        return format!("{}?", dossier_path(number));
    }
    let list = ListQuery::parse(list).to_query();
    format!(
        "{}?liste={}&",
        dossier_path(number),
        crate::account::urlencode(&list)
    )
}

pub(super) fn dossier_path(number: &str) -> String {
    format!("/service/dossiers/{}", crate::account::urlencode(number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_s_address_comes_back_whole_and_only_with_its_own_keys() {
        let list = ListQuery {
            q: "Lefèvre & fils".into(),
            etat: "correction-recue".into(),
            tri: "nom".into(),
            page: 3,
            voie: "troisieme_concours".into(),
            amenagement: true,
            fichiers: "non-analyses".into(),
            messages: true,
            suivi: true,
        };
        assert_eq!(ListQuery::parse(&list.to_query()), list);
        let forged =
            ListQuery::parse("q=a&etat=%3Cscript%3E&tri=x&page=deux&autre=1&voie=x&fichiers=y");
        assert_eq!(
            forged,
            ListQuery {
                q: "a".into(),
                page: 1,
                ..ListQuery::default()
            }
        );
        assert_eq!(percent_decoded("%E2%82%AC+%zz%"), "€ %zz%");
    }

    #[test]
    fn a_search_longer_than_the_field_allows_is_cut_at_a_character() {
        let long = "é".repeat(ListQuery::SEARCH_LENGTH + 50);
        let list = ListQuery::parse(&format!("q={}", crate::account::urlencode(&long)));
        assert_eq!(list.q, "é".repeat(ListQuery::SEARCH_LENGTH));
    }
}
