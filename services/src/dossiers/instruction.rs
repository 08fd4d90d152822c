//! What the service concours reads to instruct dossiers: each exam with its dossiers
//! counted by stage (`domain::instruction::Stage`: à vérifier, incomplet, correction
//! demandée or reçue…), an exam's dossiers listed (`list`, exported by `export`), and
//! the service's decisions (`decisions`).

pub mod checklist;
mod decisions;
mod list;
pub mod views;

pub use decisions::*;
pub use list::*;

use std::collections::HashMap;

use domain::{
    DossierNumber,
    instruction::{CorrectionNews, DossierState, Review, Stage},
};
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    dossiers::{self, Dossier, DossierError},
};

#[derive(Debug, thiserror::Error)]
pub enum InstructionError {
    #[error("no such exam")]
    UnknownExam,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Dossier(#[from] DossierError),
    #[error(transparent)]
    Attachment(#[from] crate::files::attachments::AttachmentError),
    #[error("corrupt exam row: {0}")]
    Corrupt(String),
    #[error("messages: {0}")]
    Messages(String),
}

impl From<sqlx::Error> for InstructionError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// One exam on the service's home page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExamCounts {
    pub slug: String,
    pub title: String,
    pub session: String,
    pub published: bool,
    /// The last day of registration, closing at midnight Paris time.
    pub deadline: domain::Deadline,
    /// Dossiers per stage, in [`Stage::ALL`]'s order.
    pub counts: Vec<(Stage, i64)>,
}

/// The latest file (ms) of each (dossier, pièce) among dossiers with corrections, of one
/// exam or of all: what says whether a correction came back.
pub(super) async fn latest_files(
    db: &Db,
    exam: Option<&str>,
) -> Result<HashMap<(String, String), i64>, InstructionError> {
    let rows = sqlx::query(
        "SELECT a.dossier_id, a.piece_code, MAX(a.created_at) AS last
         FROM attachments a JOIN dossiers d ON d.id = a.dossier_id
         WHERE d.corrections IS NOT NULL AND a.scan <> 'infected'
           AND ($1 = '' OR d.exam_slug = $1)
         GROUP BY a.dossier_id, a.piece_code",
    )
    .bind(exam.unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                (r.try_get("dossier_id")?, r.try_get("piece_code")?),
                r.try_get("last")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// What a dossier's correction requests say at `now`, its files read.
pub(super) fn correction_news(
    id: &str,
    corrections: &[dossiers::Correction],
    latest: &HashMap<(String, String), i64>,
    now: i64,
) -> CorrectionNews {
    CorrectionNews {
        running: corrections.iter().any(|c| now < c.until),
        received: corrections.iter().any(|c| {
            latest
                .get(&(id.to_string(), c.piece.clone()))
                .is_some_and(|&at| at > c.asked_at)
        }),
    }
}

/// Every exam, the latest deadline first, with its dossiers counted by stage.
pub async fn exams(db: &Db, clock: &dyn Clock) -> Result<Vec<ExamCounts>, InstructionError> {
    let now = clock.now().as_millisecond();
    let exams = sqlx::query(
        "SELECT slug, title, session, published, deadline_day FROM exams ORDER BY closes_at DESC, title",
    )
    .fetch_all(db.pool())
    .await?;
    // Without a correction, a dossier's stage is its state and review: counted by
    // the database, a row per exam, state and review rather than per dossier.
    let passed = "CAST(CASE WHEN e.closes_at <= $1 THEN 1 ELSE 0 END AS BIGINT)";
    let withdrawn = "CAST(CASE WHEN d.withdrawn_at IS NULL THEN 0 ELSE 1 END AS BIGINT)";
    let grouped = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT d.exam_slug, d.status, d.review, {passed} AS passed, {withdrawn} AS withdrawn,
                CAST(COUNT(*) AS BIGINT) AS n
         FROM dossiers d JOIN exams e ON e.slug = d.exam_slug
         WHERE d.corrections IS NULL
         GROUP BY d.exam_slug, d.status, d.review, {passed}, {withdrawn}"
    )))
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    // With one, it needs the corrections and the files sent since: one row each.
    let corrected = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT d.id, d.exam_slug, d.status, d.review, d.corrections,
                {passed} AS passed, {withdrawn} AS withdrawn, CAST(1 AS BIGINT) AS n
         FROM dossiers d JOIN exams e ON e.slug = d.exam_slug
         WHERE d.corrections IS NOT NULL"
    )))
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let latest = latest_files(db, None).await?;
    let mut tallies: HashMap<(String, Stage), i64> = HashMap::new();
    for r in grouped.iter().chain(&corrected) {
        let status: String = r.try_get("status")?;
        let passed: i64 = r.try_get("passed")?;
        let withdrawn: i64 = r.try_get("withdrawn")?;
        let Some(state) = DossierState::of(&status, passed == 1, withdrawn == 1) else {
            continue;
        };
        let review = r
            .try_get::<Option<String>, _>("review")?
            .as_deref()
            .and_then(Review::parse);
        let news = match r.try_get::<Option<String>, _>("corrections") {
            Ok(Some(json)) => {
                let corrections: Vec<dossiers::Correction> =
                    serde_json::from_str(&json).unwrap_or_default();
                correction_news(&r.try_get::<String, _>("id")?, &corrections, &latest, now)
            }
            // The grouped rows have no corrections (nor the column).
            _ => CorrectionNews::default(),
        };
        let stage = Stage::of(state, review, news);
        *tallies.entry((r.try_get("exam_slug")?, stage)).or_default() +=
            r.try_get::<i64, _>("n")?;
    }
    exams
        .into_iter()
        .map(|e| {
            let slug: String = e.try_get("slug")?;
            let counts = Stage::ALL
                .into_iter()
                .map(|stage| {
                    (
                        stage,
                        tallies.get(&(slug.clone(), stage)).copied().unwrap_or(0),
                    )
                })
                .collect();
            Ok(ExamCounts {
                title: e.try_get("title")?,
                session: e.try_get("session")?,
                published: e.try_get::<i64, _>("published")? == 1,
                deadline: deadline_of(&e.try_get::<String, _>("deadline_day")?, &slug)?,
                slug,
                counts,
            })
        })
        .collect()
}

/// One exam's title, or `UnknownExam`.
pub async fn exam_title(db: &Db, slug: &str) -> Result<String, InstructionError> {
    sqlx::query("SELECT title FROM exams WHERE slug = $1")
        .bind(slug)
        .fetch_optional(db.pool())
        .await?
        .map(|r| r.try_get("title"))
        .transpose()?
        .ok_or(InstructionError::UnknownExam)
}

/// One exam's registration deadline, or `UnknownExam`.
pub(super) async fn exam_deadline(
    db: &Db,
    slug: &str,
) -> Result<domain::Deadline, InstructionError> {
    let day: String = sqlx::query("SELECT deadline_day FROM exams WHERE slug = $1")
        .bind(slug)
        .fetch_optional(db.pool())
        .await?
        .map(|r| r.try_get("deadline_day"))
        .transpose()?
        .ok_or(InstructionError::UnknownExam)?;
    deadline_of(&day, slug)
}

/// An exam row's `deadline_day`, read.
fn deadline_of(day: &str, slug: &str) -> Result<domain::Deadline, InstructionError> {
    day.parse()
        .ok()
        .and_then(|day| domain::Deadline::on(day).ok())
        .ok_or_else(|| InstructionError::Corrupt(slug.to_string()))
}

/// One dossier with its state, for its page (which lists its files itself).
pub async fn dossier(
    db: &Db,
    clock: &dyn Clock,
    number: &str,
) -> Result<Option<(Dossier, DossierState)>, InstructionError> {
    let Ok(number) = DossierNumber::parse(number) else {
        return Ok(None);
    };
    let now = clock.now();
    Ok(dossiers::by_number(db, &number)
        .await?
        .and_then(|d| state_at(&d, now).map(|state| (d, state))))
}

/// The dossier's state at `now`: « non clôturé » is read from the clock, not stored.
pub(crate) fn state_at(dossier: &Dossier, now: jiff::Timestamp) -> Option<DossierState> {
    DossierState::of(
        &dossier.status,
        !dossier.deadline.is_open_at(now),
        dossier.withdrawn_at.is_some(),
    )
}
