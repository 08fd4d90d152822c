//! An exam's dossiers as the service lists them: searched (number, name, e-mail,
//! phone), filtered by stage, voie, aménagement, files, messages and who follows them,
//! and sorted.

use std::collections::{HashMap, HashSet};

use domain::{
    candidate::PersonName,
    exam::Voie,
    instruction::{DossierState, ListFilter, Stage},
};
use sqlx::Row;

use super::{InstructionError, correction_news, exam_title, latest_files, state_at};
use crate::{
    Clock, Db,
    dossiers::{self, Dossier},
};

/// Files worth a look before the dossier is: flagged in the list, and a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFlag {
    /// A file the antivirus found infected.
    Infected,
    /// A file without a verdict yet (waiting, or the analysis failed).
    Unscanned,
}

impl FileFlag {
    pub const ALL: [FileFlag; 2] = [Self::Infected, Self::Unscanned];

    pub fn code(self) -> &'static str {
        match self {
            Self::Infected => "infectes",
            Self::Unscanned => "non-analyses",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Infected => "Avec un fichier infecté",
            Self::Unscanned => "Avec un fichier non analysé",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// What a list keeps: every criterion given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Criteria {
    /// A number (any case, dashes or not), words of a name, an e-mail address or a
    /// phone number, in part.
    pub search: String,
    pub filter: Option<ListFilter>,
    pub voie: Option<Voie>,
    /// Only the dossiers whose candidate asked for an aménagement d'épreuves.
    pub accommodation: bool,
    pub files: Option<FileFlag>,
    /// Only the dossiers with a message waiting for the service.
    pub unanswered: bool,
    /// Only the dossiers this staff member follows (their id).
    pub followed_by: Option<String>,
}

impl Criteria {
    /// Everything of an exam, with this search and filter only.
    pub fn searched(search: &str, filter: Option<ListFilter>) -> Self {
        Self {
            search: search.to_string(),
            filter,
            ..Self::default()
        }
    }

    /// Whether the dossier's own answers match the search: its number, every word of
    /// its names (lowercase, no accents, as the identity key is built), its e-mail
    /// address, or the digits of its phone number.
    fn found(&self, d: &Dossier) -> bool {
        let search = self.search.trim();
        if search.is_empty() {
            return true;
        }
        let r = &d.registration;
        let number: String = search
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_uppercase();
        if number.len() >= 2 && d.number.as_str().replace('-', "").contains(&number) {
            return true;
        }
        // An address, or a part of one typed alone (« laposte.net »).
        let in_email = !search.contains(char::is_whitespace)
            && search.chars().count() >= 3
            && r.email
                .as_str()
                .to_lowercase()
                .contains(&search.to_lowercase());
        if in_email || search.contains('@') {
            return in_email;
        }
        let digits: String = search.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 6
            && digits.len() * 2 >= search.chars().filter(|c| !c.is_whitespace()).count()
        {
            // 06 12 34 56 78 finds +33612345678: compared without the country's 0 or 33.
            let national = |s: &str| {
                let s: String = s.chars().filter(char::is_ascii_digit).collect();
                s.strip_prefix("33")
                    .or_else(|| s.strip_prefix('0'))
                    .unwrap_or(&s)
                    .to_string()
            };
            return national(r.phone.as_str()).contains(&national(&digits));
        }
        let words: Vec<String> = search
            .split_whitespace()
            .map(PersonName::key_of)
            .filter(|w| !w.is_empty())
            .collect();
        let names = format!(
            "{} {}",
            r.identity_key(),
            r.usage_name.as_ref().map(|n| n.key()).unwrap_or_default()
        );
        !words.is_empty() && words.iter().all(|w| names.contains(w))
    }

    fn keeps(&self, line: &DossierLine, followed: &HashSet<String>) -> bool {
        let r = &line.dossier.registration;
        self.filter.is_none_or(|f| f.keeps(line.stage))
            && self.voie.is_none_or(|v| r.voie == Some(v))
            && (!self.accommodation || r.accommodation.is_some())
            && self.files.is_none_or(|f| match f {
                FileFlag::Infected => line.infected > 0,
                FileFlag::Unscanned => line.unscanned > 0,
            })
            && (!self.unanswered || line.unanswered)
            && (self.followed_by.is_none() || followed.contains(&line.dossier.id))
    }
}

/// A dossier in the service's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DossierLine {
    pub dossier: Dossier,
    pub state: DossierState,
    /// Where it stands in the service's work.
    pub stage: Stage,
    /// Until when the running correction request waits (ms), if one runs.
    pub correction_until: Option<i64>,
    /// Its files, but those the antivirus found infected.
    pub files: i64,
    /// Files the antivirus found infected: flagged to staff.
    pub infected: i64,
    /// Files without a verdict yet (waiting, or the analysis failed).
    pub unscanned: i64,
    /// The candidate's last message waits for the service's answer.
    pub unanswered: bool,
    /// The names of the agents who follow it.
    pub followers: Vec<String>,
}

impl DossierLine {
    fn of(
        dossier: Dossier,
        now: jiff::Timestamp,
        (files, infected, unscanned): (i64, i64, i64),
        unanswered: bool,
        latest: &HashMap<(String, String), i64>,
    ) -> Option<Self> {
        let state = state_at(&dossier, now)?;
        let now_ms = now.as_millisecond();
        let news = correction_news(&dossier.id, &dossier.corrections, latest, now_ms);
        let stage = Stage::of(state, dossier.review, news);
        let correction_until = dossier
            .corrections
            .iter()
            .map(|c| c.until)
            .filter(|&until| now_ms < until)
            .max();
        Some(Self {
            dossier,
            state,
            stage,
            correction_until,
            files,
            infected,
            unscanned,
            unanswered,
            followers: Vec::new(),
        })
    }
}

/// An exam's dossiers, by number, that every criterion given keeps.
pub async fn dossiers(
    db: &Db,
    clock: &dyn Clock,
    exam: &str,
    criteria: &Criteria,
) -> Result<Vec<DossierLine>, InstructionError> {
    exam_title(db, exam).await?;
    let now = clock.now();
    let files: HashMap<String, (i64, i64, i64)> = sqlx::query(
        "SELECT a.dossier_id,
                CAST(SUM(CASE WHEN a.scan = 'infected' OR a.piece_code = '_message' THEN 0 ELSE 1 END) AS BIGINT) AS n,
                CAST(SUM(CASE WHEN a.scan = 'infected' THEN 1 ELSE 0 END) AS BIGINT) AS infected,
                CAST(SUM(CASE WHEN a.scan IN ('pending', 'error') THEN 1 ELSE 0 END) AS BIGINT) AS unscanned
         FROM attachments a JOIN dossiers d ON d.id = a.dossier_id
         WHERE d.exam_slug = $1 GROUP BY a.dossier_id",
    )
    .bind(exam)
    .fetch_all(db.pool())
    .await?
    .into_iter()
    .map(|r| {
        Ok((
            r.try_get("dossier_id")?,
            (r.try_get("n")?, r.try_get("infected")?, r.try_get("unscanned")?),
        ))
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let unanswered = crate::dossiers::messages::unanswered(db, exam)
        .await
        .map_err(|e| InstructionError::Messages(e.to_string()))?;
    let latest = latest_files(db, Some(exam)).await?;
    let mut followers = crate::dossiers::following::of_exam(db, exam).await?;
    let followed: HashSet<String> = match &criteria.followed_by {
        Some(member) => followers
            .iter()
            .filter(|(_, staff)| staff.iter().any(|s| &s.id == member))
            .map(|(dossier, _)| dossier.clone())
            .collect(),
        None => HashSet::new(),
    };
    Ok(dossiers::of_exam(db, exam)
        .await?
        .into_iter()
        .filter(|d| criteria.found(d))
        .filter_map(|d| {
            let counts = files.get(&d.id).copied().unwrap_or((0, 0, 0));
            let waiting = unanswered.contains(&d.id);
            let follow = followers.remove(&d.id).unwrap_or_default();
            DossierLine::of(d, now, counts, waiting, &latest).map(|line| DossierLine {
                followers: follow.into_iter().map(|s| s.name).collect(),
                ..line
            })
        })
        .filter(|line| criteria.keeps(line, &followed))
        .collect())
}

/// How a list of dossiers is ordered (`tri` in its address).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// By number (the default): stable, as staff quote them.
    #[default]
    Number,
    /// By birth name, then first names.
    Name,
    /// The earliest closure first; the dossiers not closed last.
    Closure,
    /// In the order of the stages (à vérifier before complet…), then by number.
    Stage,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Self::Number, Self::Name, Self::Closure, Self::Stage];

    pub fn code(self) -> &'static str {
        match self {
            Self::Number => "numero",
            Self::Name => "nom",
            Self::Closure => "cloture",
            Self::Stage => "etat",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Number => "N° de dossier",
            Self::Name => "Nom",
            Self::Closure => "Date de clôture",
            Self::Stage => "État",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Orders `lines` (a stable sort: equal keys keep the number order).
    pub fn apply(self, lines: &mut [DossierLine]) {
        lines.sort_by(|a, b| a.dossier.number.as_str().cmp(b.dossier.number.as_str()));
        match self {
            Self::Number => {}
            Self::Name => lines.sort_by_cached_key(|l| l.dossier.registration.identity_key()),
            Self::Closure => lines.sort_by_key(|l| l.dossier.closed_at.unwrap_or(i64::MAX)),
            Self::Stage => lines.sort_by_key(|l| Stage::ALL.iter().position(|s| *s == l.stage)),
        }
    }
}
