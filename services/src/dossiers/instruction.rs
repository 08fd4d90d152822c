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
        "SELECT slug, title, session, published, deadline_day, closes_at FROM exams ORDER BY closes_at DESC, title",
    )
    .fetch_all(db.pool())
    .await?;
    let passed: HashMap<String, bool> = exams
        .iter()
        .map(|e| Ok((e.try_get("slug")?, e.try_get::<i64, _>("closes_at")? <= now)))
        .collect::<Result<_, sqlx::Error>>()?;
    // Without a correction, a dossier's stage is its state and review: counted by
    // the database in the order of `dossiers_stage_counts` (read alone, no hashing),
    // a row per exam, state and review, its withdrawn dossiers counted apart.
    let grouped = sqlx::query(
        "SELECT exam_slug, status, review, CAST(COUNT(*) AS BIGINT) AS n,
                CAST(COUNT(withdrawn_at) AS BIGINT) AS withdrawn
         FROM dossiers WHERE corrections IS NULL
         GROUP BY exam_slug, status, review",
    )
    .fetch_all(db.pool())
    .await?;
    // With one, it needs the corrections and the files sent since: one row each.
    let corrected = sqlx::query(
        "SELECT id, exam_slug, status, review, corrections,
                CAST(CASE WHEN withdrawn_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS withdrawn
         FROM dossiers WHERE corrections IS NOT NULL",
    )
    .fetch_all(db.pool())
    .await?;
    let latest = latest_files(db, None).await?;
    let mut tallies: HashMap<(String, Stage), i64> = HashMap::new();
    let mut tally = |slug: String,
                     status: &str,
                     review: Option<String>,
                     withdrawn: bool,
                     news: CorrectionNews,
                     n: i64| {
        let passed = passed.get(&slug).copied().unwrap_or(false);
        let Some(state) = DossierState::of(status, passed, withdrawn) else {
            return;
        };
        let review = review.as_deref().and_then(Review::parse);
        *tallies
            .entry((slug, Stage::of(state, review, news)))
            .or_default() += n;
    };
    for r in &grouped {
        let (slug, status, review): (String, String, Option<String>) = (
            r.try_get("exam_slug")?,
            r.try_get("status")?,
            r.try_get("review")?,
        );
        let (n, withdrawn): (i64, i64) = (r.try_get("n")?, r.try_get("withdrawn")?);
        let none = CorrectionNews::default;
        tally(
            slug.clone(),
            &status,
            review.clone(),
            false,
            none(),
            n - withdrawn,
        );
        tally(slug, &status, review, true, none(), withdrawn);
    }
    for r in &corrected {
        let corrections: Vec<dossiers::Correction> =
            serde_json::from_str(&r.try_get::<String, _>("corrections")?).unwrap_or_default();
        let news = correction_news(&r.try_get::<String, _>("id")?, &corrections, &latest, now);
        tally(
            r.try_get("exam_slug")?,
            &r.try_get::<String, _>("status")?,
            r.try_get("review")?,
            r.try_get::<i64, _>("withdrawn")? == 1,
            news,
            1,
        );
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
