//! The accessibility audit the déclaration d'accessibilité is made from: one line per
//! RGAA 4.1 criterion (`accessibilite/grille.csv`: conforme, non conforme, non
//! applicable, the pages, a note) and what the declaration says of the audit
//! (`accessibilite/audit.toml`: date, method, tools, pages, exemptions). The rate and
//! the resulting « totalement / partiellement / non conforme » are computed here, as
//! the RGAA's method says: criteria met among the criteria that apply.

use serde::Deserialize;

/// The RGAA 4.1's criteria per theme, in order: 106 in all.
pub const CRITERIA_PER_THEME: [(u8, &str, u8); 13] = [
    (1, "Images", 9),
    (2, "Cadres", 2),
    (3, "Couleurs", 3),
    (4, "Multimédia", 13),
    (5, "Tableaux", 8),
    (6, "Liens", 2),
    (7, "Scripts", 5),
    (8, "Éléments obligatoires", 10),
    (9, "Structuration de l'information", 4),
    (10, "Présentation de l'information", 14),
    (11, "Formulaires", 13),
    (12, "Navigation", 11),
    (13, "Consultation", 12),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Met,
    NotMet,
    NotApplicable,
}

/// One criterion as the audit found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Criterion {
    /// « 11.10 ».
    pub id: String,
    pub status: Status,
    /// The addresses of the pages where it applies.
    pub pages: Vec<String>,
    pub note: String,
}

/// What the declaration says of the audit besides the grid.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFacts {
    /// The day of the evaluation, « 2026-12-06 ».
    pub date: String,
    /// Who carried it out.
    pub realise_par: String,
    pub methode: String,
    pub technologies: Vec<String>,
    pub environnement: Vec<String>,
    pub outils: Vec<String>,
    /// The pages evaluated: a name and an address.
    pub pages: Vec<(String, String)>,
    /// Exemptions for a disproportionate burden, each with its reason.
    pub derogations: Vec<String>,
    /// Contents the obligation does not cover.
    pub non_soumis: Vec<String>,
}

/// The grid and its facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audit {
    pub facts: AuditFacts,
    pub criteria: Vec<Criterion>,
}

/// The declaration's « état de conformité ».
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conformity {
    /// Every criterion that applies is met.
    Total,
    /// At least half of them.
    Partial,
    /// Fewer than half, or no audit.
    None,
}

impl Conformity {
    /// « totalement conforme », as the declaration and every page's footer say it.
    pub fn words(self) -> &'static str {
        match self {
            Self::Total => "totalement conforme",
            Self::Partial => "partiellement conforme",
            Self::None => "non conforme",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("criterion {0} is missing")]
    Missing(String),
}

impl Audit {
    /// The grid (`;`-separated, a header line, then one line per criterion, every
    /// criterion of the RGAA 4.1 exactly once and in order) and its facts.
    pub fn parse(grid: &str, facts: AuditFacts) -> Result<Self, AuditError> {
        let mut expected = CRITERIA_PER_THEME
            .iter()
            .flat_map(|&(theme, _, count)| (1..=count).map(move |n| format!("{theme}.{n}")));
        let mut criteria = Vec::new();
        for (index, text) in grid.lines().enumerate().skip(1) {
            let line = index + 1;
            if text.trim().is_empty() {
                continue;
            }
            let bad = |reason: &str| AuditError::Line {
                line,
                reason: reason.into(),
            };
            let fields: Vec<&str> = text.splitn(4, ';').map(str::trim).collect();
            let [id, status, pages, note] = fields[..] else {
                return Err(bad("four fields expected: critere;statut;pages;note"));
            };
            let Some(want) = expected.next() else {
                return Err(bad("more lines than the RGAA 4.1 has criteria"));
            };
            if id != want {
                return Err(bad(&format!("criterion {want} expected here, not {id}")));
            }
            let status = match status {
                "C" => Status::Met,
                "NC" => Status::NotMet,
                "NA" => Status::NotApplicable,
                _ => return Err(bad("the status is C, NC or NA")),
            };
            let pages: Vec<String> = pages.split_whitespace().map(str::to_string).collect();
            if status != Status::NotApplicable && pages.is_empty() {
                return Err(bad("a criterion that applies names its pages"));
            }
            if note.is_empty() {
                return Err(bad("every criterion has a note"));
            }
            criteria.push(Criterion {
                id: id.into(),
                status,
                pages,
                note: note.into(),
            });
        }
        if let Some(missing) = expected.next() {
            return Err(AuditError::Missing(missing));
        }
        Ok(Self { facts, criteria })
    }

    /// Criteria met and not met (the ones that apply).
    pub fn counts(&self) -> (usize, usize) {
        let count = |s| self.criteria.iter().filter(|c| c.status == s).count();
        (count(Status::Met), count(Status::NotMet))
    }

    /// The share of the criteria that apply that are met, in percent, rounded down
    /// (a declaration never claims more than was measured).
    pub fn rate(&self) -> u32 {
        let (met, not_met) = self.counts();
        match met + not_met {
            0 => 0,
            applicable => (met * 100 / applicable) as u32,
        }
    }

    pub fn conformity(&self) -> Conformity {
        let (met, not_met) = self.counts();
        if met + not_met == 0 {
            Conformity::None
        } else if not_met == 0 {
            Conformity::Total
        } else if met * 2 >= met + not_met {
            Conformity::Partial
        } else {
            Conformity::None
        }
    }

    /// The criteria not met, for the declaration's list of non-accessible content.
    pub fn not_met(&self) -> impl Iterator<Item = &Criterion> {
        self.criteria.iter().filter(|c| c.status == Status::NotMet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS_TOML: &str = r#"
date = "2026-12-06"
realise_par = "L'équipe"
methode = "Auto-évaluation"
technologies = ["HTML"]
environnement = ["Chromium"]
outils = ["axe-core"]
pages = [["Accueil", "/"]]
derogations = []
non_soumis = []
"#;

    fn facts() -> AuditFacts {
        toml::from_str(FACTS_TOML).unwrap()
    }

    /// A grid with every criterion, `status` for each but the ones given.
    fn grid(status: &str, except: &[(&str, &str)]) -> String {
        let mut text = String::from("critere;statut;pages;note\n");
        for (theme, _, count) in CRITERIA_PER_THEME {
            for n in 1..=count {
                let id = format!("{theme}.{n}");
                let s = except
                    .iter()
                    .find(|(e, _)| *e == id)
                    .map_or(status, |(_, s)| s);
                let pages = if s == "NA" { "" } else { "/" };
                text.push_str(&format!("{id};{s};{pages};Vérifié.\n"));
            }
        }
        text
    }

    #[test]
    fn the_rgaa_has_106_criteria() {
        let all: u32 = CRITERIA_PER_THEME.iter().map(|t| u32::from(t.2)).sum();
        assert_eq!(all, 106);
    }

    #[test]
    fn the_rate_counts_only_the_criteria_that_apply() {
        let audit = Audit::parse(
            &grid("NA", &[("1.1", "C"), ("3.2", "C"), ("13.1", "NC")]),
            facts(),
        )
        .unwrap();
        assert_eq!(audit.counts(), (2, 1));
        assert_eq!(audit.rate(), 66, "2 of 3, rounded down");
        assert_eq!(audit.conformity(), Conformity::Partial);
        assert_eq!(
            audit.not_met().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["13.1"]
        );

        let all_met = Audit::parse(&grid("C", &[("4.1", "NA")]), facts()).unwrap();
        assert_eq!(
            (all_met.rate(), all_met.conformity()),
            (100, Conformity::Total)
        );
        let mostly_not = Audit::parse(&grid("NC", &[("1.1", "C")]), facts()).unwrap();
        assert_eq!(mostly_not.conformity(), Conformity::None);
        assert_eq!(mostly_not.conformity().words(), "non conforme");
        let half = Audit::parse(&grid("NA", &[("1.1", "C"), ("1.2", "NC")]), facts()).unwrap();
        assert_eq!(half.conformity(), Conformity::Partial, "50 % is partial");
    }

    #[test]
    fn a_grid_that_skips_repeats_or_misstates_a_criterion_is_refused() {
        let full = grid("C", &[]);
        let without = full.replace("7.3;C;/;Vérifié.\n", "");
        assert!(matches!(
            Audit::parse(&without, facts()),
            Err(AuditError::Line { reason, .. }) if reason.contains("7.3 expected")
        ));
        let truncated: String = full.lines().take(50).map(|l| format!("{l}\n")).collect();
        assert!(matches!(
            Audit::parse(&truncated, facts()),
            Err(AuditError::Missing(_))
        ));
        let wrong = full.replace("2.1;C;", "2.1;OK;");
        assert!(Audit::parse(&wrong, facts()).is_err());
        let no_pages = full.replace("2.1;C;/;", "2.1;C;;");
        assert!(Audit::parse(&no_pages, facts()).is_err());
        assert!(toml::from_str::<AuditFacts>("date = 1").is_err());
    }
}
