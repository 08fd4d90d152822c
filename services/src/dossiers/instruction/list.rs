//! An exam's dossiers as the service lists them: searched (number, name, e-mail,
//! phone), filtered by stage, voie, aménagement, files, messages and who follows them,
//! and sorted.

use std::collections::{HashMap, HashSet};

use domain::{
    candidate::PersonName,
    exam::Voie,
    instruction::{DossierState, ListFilter, Review, Stage},
};
use futures_util::TryStreamExt;
use sqlx::Row;

use super::{InstructionError, correction_news, exam_deadline, latest_files};

mod paging;
use crate::{
    Clock, Db,
    dossiers::{self, Dossier, ListKeys, national_digits},
};
pub use paging::{Paged, Place, page, place};

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
    fn found(&self, e: &Entry) -> bool {
        let search = self.search.trim();
        if search.is_empty() {
            return true;
        }
        let number: String = search
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_uppercase();
        if number.len() >= 2 && e.number.replace('-', "").contains(&number) {
            return true;
        }
        // An address, or a part of one typed alone (« laposte.net »).
        let in_email = !search.contains(char::is_whitespace)
            && search.chars().count() >= 3
            && e.email_key.contains(&search.to_lowercase());
        if in_email || search.contains('@') {
            return in_email;
        }
        let digits: String = search.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 6
            && digits.len() * 2 >= search.chars().filter(|c| !c.is_whitespace()).count()
        {
            // 06 12 34 56 78 finds +33612345678: compared without the country's 0 or 33.
            return e.keys.phone_key.contains(&national_digits(&digits));
        }
        let words: Vec<String> = search
            .split_whitespace()
            .map(PersonName::key_of)
            .filter(|w| !w.is_empty())
            .collect();
        let names = format!("{} {}", e.identity_key, e.keys.usage_key);
        !words.is_empty() && words.iter().all(|w| names.contains(w))
    }

    fn keeps(&self, e: &Entry, followed: &HashSet<String>) -> bool {
        self.filter.is_none_or(|f| f.keeps(e.stage))
            && self.voie.is_none_or(|v| e.keys.voie == Some(v.as_str()))
            && (!self.accommodation || e.keys.accommodation)
            && self.files.is_none_or(|f| match f {
                FileFlag::Infected => e.infected > 0,
                FileFlag::Unscanned => e.unscanned > 0,
            })
            && (!self.unanswered || e.unanswered)
            && (self.followed_by.is_none() || followed.contains(&e.id))
            && self.found(e)
    }
}

/// A dossier as a list keeps and orders it, read without its answers: a list of 50,000
/// parses none, and only the page shown becomes [`DossierLine`]s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub number: String,
    pub state: DossierState,
    pub stage: Stage,
    /// Until when the running correction request waits (ms), if one runs.
    pub correction_until: Option<i64>,
    pub closed_at: Option<i64>,
    /// Files the antivirus found infected, and files without a verdict yet.
    pub infected: i64,
    pub unscanned: i64,
    pub unanswered: bool,
    identity_key: String,
    email_key: String,
    keys: ListKeys,
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

/// What every entry of an exam is read with: the deadline, and the few rows of files,
/// messages, corrections and followers that refine a dossier's place in the list.
struct Context {
    passed: bool,
    now_ms: i64,
    flags: HashMap<String, (i64, i64)>,
    unanswered: HashSet<String>,
    latest: HashMap<(String, String), i64>,
    followed: HashSet<String>,
}

impl Context {
    async fn read(
        db: &Db,
        clock: &dyn Clock,
        exam: &str,
        criteria: &Criteria,
    ) -> Result<Self, InstructionError> {
        let deadline = exam_deadline(db, exam).await?;
        let now = clock.now();
        // Only flagged files: a few rows, not the exam's every file.
        let flags = sqlx::query(
            "SELECT a.dossier_id,
                    CAST(SUM(CASE WHEN a.scan = 'infected' THEN 1 ELSE 0 END) AS BIGINT) AS infected,
                    CAST(SUM(CASE WHEN a.scan IN ('pending', 'error') THEN 1 ELSE 0 END) AS BIGINT) AS unscanned
             FROM attachments a JOIN dossiers d ON d.id = a.dossier_id
             WHERE d.exam_slug = $1 AND a.scan IN ('infected', 'pending', 'error')
             GROUP BY a.dossier_id",
        )
        .bind(exam)
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(|r| {
            Ok((
                r.try_get("dossier_id")?,
                (r.try_get("infected")?, r.try_get("unscanned")?),
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let unanswered = crate::dossiers::messages::unanswered(db, exam)
            .await
            .map_err(|e| InstructionError::Messages(e.to_string()))?;
        let followed = match &criteria.followed_by {
            Some(member) => crate::dossiers::following::of_exam(db, exam)
                .await?
                .into_iter()
                .filter(|(_, staff)| staff.iter().any(|s| &s.id == member))
                .map(|(dossier, _)| dossier)
                .collect(),
            None => HashSet::new(),
        };
        Ok(Self {
            passed: !deadline.is_open_at(now),
            now_ms: now.as_millisecond(),
            flags,
            unanswered,
            latest: latest_files(db, Some(exam)).await?,
            followed,
        })
    }

    /// A row of [`ENTRY_COLUMNS`] as an entry; `None` for a status no list shows.
    fn entry(&self, r: &sqlx::any::AnyRow) -> Result<Option<Entry>, InstructionError> {
        let id: String = r.try_get("id")?;
        let status: String = r.try_get("status")?;
        let withdrawn = r.try_get::<Option<i64>, _>("withdrawn_at")?.is_some();
        let Some(state) = DossierState::of(&status, self.passed, withdrawn) else {
            return Ok(None);
        };
        let corrections: Vec<dossiers::Correction> = r
            .try_get::<Option<String>, _>("corrections")?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        let review = r
            .try_get::<Option<String>, _>("review")?
            .as_deref()
            .and_then(Review::parse);
        let news = correction_news(&id, &corrections, &self.latest, self.now_ms);
        let keys = match r.try_get::<Option<String>, _>("answers")? {
            Some(answers) => ListKeys::of(
                &serde_json::from_str(&answers)
                    .map_err(|e| InstructionError::Corrupt(format!("{id}: {e}")))?,
            ),
            None => ListKeys {
                usage_key: r.try_get("usage_key")?,
                phone_key: r.try_get("phone_key")?,
                voie: r
                    .try_get::<Option<String>, _>("voie")?
                    .as_deref()
                    .and_then(Voie::parse)
                    .map(Voie::as_str),
                accommodation: r.try_get::<i64, _>("accommodation")? != 0,
            },
        };
        let (infected, unscanned) = self.flags.get(&id).copied().unwrap_or((0, 0));
        Ok(Some(Entry {
            number: r.try_get("number")?,
            state,
            stage: Stage::of(state, review, news),
            correction_until: corrections
                .iter()
                .map(|c| c.until)
                .filter(|&until| self.now_ms < until)
                .max(),
            closed_at: r.try_get("closed_at")?,
            infected,
            unscanned,
            unanswered: self.unanswered.contains(&id),
            identity_key: r.try_get("identity_key")?,
            email_key: r.try_get("email_key")?,
            keys,
            id,
        }))
    }
}

/// The columns an [`Entry`] is read from (`d`, the dossiers), the answers only of rows
/// whose list columns are not filled yet (made before they existed, until
/// `fill_list_keys` has run); and the statuses a list shows.
const ENTRY_COLUMNS: &str =
    "d.id, d.number, d.status, d.review, d.corrections, d.closed_at, d.withdrawn_at,
     d.identity_key, d.email_key, d.usage_key, d.phone_key, d.voie, d.accommodation,
     CASE WHEN d.phone_key IS NULL THEN d.answers END AS answers";
const LISTED: &str = "d.exam_slug = $1 AND d.status IN ('open', 'closed', 'accepted', 'rejected')";

/// `%text%` for LIKE, its own `%`, `_` and `\` escaped (`ESCAPE '\'`).
fn containing(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Criteria {
    /// Every criterion that SQL can tell without the answers' JSON, as conditions on
    /// `d` that keep *at least* the dossiers [`Criteria::keeps`] keeps (never fewer):
    /// the database leaves out what cannot match, Rust still decides each row. Their
    /// values are pushed to `binds`, as `$2`, `$3`…
    fn narrowing(&self, binds: &mut Vec<String>) -> String {
        let mut bind = |value: String| {
            binds.push(value);
            format!("${}", binds.len() + 1)
        };
        let mut sql = String::new();
        // Rows made before the list columns: only Rust can read them.
        let unfilled = "d.phone_key IS NULL";
        if let Some(filter) = self.filter {
            let state = match filter {
                ListFilter::State(state) => state,
                ListFilter::Stage(stage) => stage.state(),
            };
            sql.push_str(match state {
                DossierState::Withdrawn => " AND d.withdrawn_at IS NOT NULL",
                DossierState::Open | DossierState::NotClosedAtDeadline => {
                    " AND d.status = 'open' AND d.withdrawn_at IS NULL"
                }
                DossierState::Closed => " AND d.status = 'closed' AND d.withdrawn_at IS NULL",
                DossierState::Accepted => " AND d.status = 'accepted' AND d.withdrawn_at IS NULL",
                DossierState::Rejected => " AND d.status = 'rejected' AND d.withdrawn_at IS NULL",
            });
            // A correction sent back or running comes before the review (`Stage::of`).
            if let ListFilter::Stage(stage) = filter {
                sql.push_str(match stage {
                    Stage::ToCheck => {
                        " AND (d.review IS NULL OR d.review NOT IN ('complete', 'incomplete') OR d.corrections IS NOT NULL)"
                    }
                    Stage::Incomplete => " AND (d.review = 'incomplete' OR d.corrections IS NOT NULL)",
                    Stage::Complete => " AND (d.review = 'complete' OR d.corrections IS NOT NULL)",
                    Stage::CorrectionAsked | Stage::CorrectionReceived => {
                        " AND d.corrections IS NOT NULL"
                    }
                    _ => "",
                });
            }
        }
        if let Some(voie) = self.voie {
            let v = bind(voie.as_str().to_string());
            sql.push_str(&format!(" AND (d.voie = {v} OR {unfilled})"));
        }
        if self.accommodation {
            sql.push_str(&format!(" AND (d.accommodation <> 0 OR {unfilled})"));
        }
        if self.files.is_some() {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM attachments a WHERE a.dossier_id = d.id
                              AND a.scan IN ('infected', 'pending', 'error'))",
            );
        }
        if self.unanswered {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM messages m WHERE m.dossier_id = d.id
                              AND m.author = 'candidate' AND m.handled_at IS NULL)",
            );
        }
        if let Some(member) = &self.followed_by {
            let m = bind(member.clone());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM dossier_followers f WHERE f.dossier_id = d.id AND f.staff_id = {m})"
            ));
        }
        let search = self.search.trim();
        if !search.is_empty() {
            // Each way `found` may match, any of them.
            let mut ways = vec![unfilled.to_string()];
            let number: String = search
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_uppercase();
            if number.len() >= 2 {
                let n = bind(containing(&number));
                ways.push(format!("REPLACE(d.number, '-', '') LIKE {n} ESCAPE '\\'"));
            }
            if !search.contains(char::is_whitespace) && search.chars().count() >= 3 {
                let e = bind(containing(&search.to_lowercase()));
                ways.push(format!("d.email_key LIKE {e} ESCAPE '\\'"));
            }
            let digits: String = search.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 6 {
                let p = bind(containing(&national_digits(&digits)));
                ways.push(format!("d.phone_key LIKE {p} ESCAPE '\\'"));
            }
            // The first words are enough to leave most rows out, and Rust judges every
            // word of what is read: a pasted page of text makes no endless statement.
            let words: Vec<String> = search
                .split_whitespace()
                .map(PersonName::key_of)
                .filter(|w| !w.is_empty())
                .take(NARROWING_WORDS)
                .collect();
            if !words.is_empty() {
                let all: Vec<String> = words
                    .iter()
                    .map(|w| {
                        let w = bind(containing(w));
                        format!("(d.identity_key LIKE {w} ESCAPE '\\' OR d.usage_key LIKE {w} ESCAPE '\\')")
                    })
                    .collect();
                ways.push(format!("({})", all.join(" AND ")));
            }
            sql.push_str(&format!(" AND ({})", ways.join(" OR ")));
        }
        sql
    }
}

/// The most words of a search the database is asked to match: at most this many
/// bound values, whatever the length of the search.
const NARROWING_WORDS: usize = 10;

/// An exam's dossiers that every criterion given keeps, by number: only the columns a
/// list searches, filters and sorts on are read, and only of the rows the criteria
/// may keep ([`Criteria::narrowing`]).
pub async fn entries(
    db: &Db,
    clock: &dyn Clock,
    exam: &str,
    criteria: &Criteria,
) -> Result<Vec<Entry>, InstructionError> {
    entries_read(db, clock, exam, criteria, true).await
}

/// [`entries`] with every row of the exam read and judged by Rust alone: what the
/// narrowed read must give, for the tests.
#[cfg(feature = "testing")]
pub async fn entries_unnarrowed(
    db: &Db,
    clock: &dyn Clock,
    exam: &str,
    criteria: &Criteria,
) -> Result<Vec<Entry>, InstructionError> {
    entries_read(db, clock, exam, criteria, false).await
}

async fn entries_read(
    db: &Db,
    clock: &dyn Clock,
    exam: &str,
    criteria: &Criteria,
    narrow: bool,
) -> Result<Vec<Entry>, InstructionError> {
    let cx = Context::read(db, clock, exam, criteria).await?;
    let mut binds = Vec::new();
    let narrowing = if narrow {
        criteria.narrowing(&mut binds)
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM dossiers d WHERE {LISTED}{narrowing} ORDER BY d.number"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(exam);
    for value in &binds {
        query = query.bind(value.as_str());
    }
    // Row by row: 50,000 rows are never all held at once, only what is kept of them.
    let mut rows = query.fetch(db.pool());
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        if let Some(entry) = cx.entry(&r)?
            && criteria.keeps(&entry, &cx.followed)
        {
            out.push(entry);
        }
    }
    Ok(out)
}

/// These entries of one exam as lines (their dossiers read whole, their files counted,
/// their followers named), in the same order.
pub async fn lines(
    db: &Db,
    exam: &str,
    entries: &[Entry],
) -> Result<Vec<DossierLine>, InstructionError> {
    let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    let mut dossiers: HashMap<String, Dossier> = dossiers::by_ids(db, &ids)
        .await?
        .into_iter()
        .map(|d| (d.id.clone(), d))
        .collect();
    let mut files: HashMap<String, i64> = HashMap::new();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT dossier_id,
                    CAST(SUM(CASE WHEN scan = 'infected' OR piece_code = '_message' THEN 0 ELSE 1 END) AS BIGINT) AS n
             FROM attachments WHERE dossier_id IN ({}) GROUP BY dossier_id",
            marks.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(db.pool()).await? {
            files.insert(r.try_get("dossier_id")?, r.try_get("n")?);
        }
    }
    let mut followers = crate::dossiers::following::of_exam(db, exam).await?;
    Ok(entries
        .iter()
        .filter_map(|e| {
            let dossier = dossiers.remove(&e.id)?;
            Some(DossierLine {
                dossier,
                state: e.state,
                stage: e.stage,
                correction_until: e.correction_until,
                files: files.get(&e.id).copied().unwrap_or(0),
                infected: e.infected,
                unscanned: e.unscanned,
                unanswered: e.unanswered,
                followers: followers
                    .remove(&e.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| s.name)
                    .collect(),
            })
        })
        .collect())
}

/// An exam's dossiers, by number, that every criterion given keeps, read whole.
pub async fn dossiers(
    db: &Db,
    clock: &dyn Clock,
    exam: &str,
    criteria: &Criteria,
) -> Result<Vec<DossierLine>, InstructionError> {
    let kept = entries(db, clock, exam, criteria).await?;
    lines(db, exam, &kept).await
}

/// What a list is ordered by: its entries, or its lines.
pub trait Listed {
    fn number(&self) -> &str;
    fn name_key(&self) -> String;
    fn closed_at(&self) -> Option<i64>;
    fn stage(&self) -> Stage;
}

impl Listed for Entry {
    fn number(&self) -> &str {
        &self.number
    }
    fn name_key(&self) -> String {
        self.identity_key.clone()
    }
    fn closed_at(&self) -> Option<i64> {
        self.closed_at
    }
    fn stage(&self) -> Stage {
        self.stage
    }
}

impl Listed for DossierLine {
    fn number(&self) -> &str {
        self.dossier.number.as_str()
    }
    fn name_key(&self) -> String {
        self.dossier.registration.identity_key()
    }
    fn closed_at(&self) -> Option<i64> {
        self.dossier.closed_at
    }
    fn stage(&self) -> Stage {
        self.stage
    }
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

    /// Orders `items` (a stable sort: equal keys keep the number order).
    pub fn apply<T: Listed>(self, items: &mut [T]) {
        items.sort_by(|a, b| a.number().cmp(b.number()));
        match self {
            Self::Number => {}
            Self::Name => items.sort_by_cached_key(|l| l.name_key()),
            Self::Closure => items.sort_by_key(|l| l.closed_at().unwrap_or(i64::MAX)),
            Self::Stage => items.sort_by_key(|l| Stage::ALL.iter().position(|s| *s == l.stage())),
        }
    }
}
