//! What the service concours reads to instruct dossiers: each exam with its dossiers
//! counted by stage (`domain::instruction::Stage`: à vérifier, incomplet, correction
//! demandée or reçue…), an exam's dossiers searched and filtered (exported by
//! `export`).

use std::collections::HashMap;

use domain::{
    DossierNumber,
    candidate::PersonName,
    instruction::{CorrectionNews, Decision, DossierState, ListFilter, Review, Stage},
};
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    access::staff::{self, Staff},
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
async fn latest_files(
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
fn correction_news(
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
    // One short row a dossier: its stage needs the review and the corrections.
    let rows = sqlx::query(
        "SELECT d.id, d.exam_slug, d.status, d.review, d.corrections,
                CAST(CASE WHEN e.closes_at <= $1 THEN 1 ELSE 0 END AS BIGINT) AS passed,
                CAST(CASE WHEN d.withdrawn_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS withdrawn
         FROM dossiers d JOIN exams e ON e.slug = d.exam_slug",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let latest = latest_files(db, None).await?;
    let mut tallies: HashMap<(String, Stage), i64> = HashMap::new();
    for r in rows {
        let id: String = r.try_get("id")?;
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
        let corrections: Vec<dossiers::Correction> = r
            .try_get::<Option<String>, _>("corrections")?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        let stage = Stage::of(
            state,
            review,
            correction_news(&id, &corrections, &latest, now),
        );
        *tallies.entry((r.try_get("exam_slug")?, stage)).or_default() += 1;
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
                deadline: e
                    .try_get::<String, _>("deadline_day")?
                    .parse()
                    .ok()
                    .and_then(|day| domain::Deadline::on(day).ok())
                    .ok_or_else(|| InstructionError::Corrupt(slug.clone()))?,
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
    /// The candidate's last message waits for the service's answer.
    pub unanswered: bool,
}

impl DossierLine {
    fn of(
        dossier: Dossier,
        now: jiff::Timestamp,
        (files, infected): (i64, i64),
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
            unanswered,
        })
    }
}

/// An exam's dossiers, by number, whose number or name contains `search` (any case,
/// any accents), kept by `filter` if one is given.
pub async fn dossiers(
    db: &Db,
    clock: &dyn Clock,
    exam: &str,
    search: &str,
    filter: Option<ListFilter>,
) -> Result<Vec<DossierLine>, InstructionError> {
    exam_title(db, exam).await?;
    let now = clock.now();
    // Names are matched like the identity key is built (lowercase, no accents), every
    // word typed; numbers like a candidate types them (any case, with or without dashes).
    let words: Vec<String> = search
        .split_whitespace()
        .map(PersonName::key_of)
        .filter(|w| !w.is_empty())
        .collect();
    let number: String = search
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_uppercase();
    let files: HashMap<String, (i64, i64)> = sqlx::query(
        "SELECT a.dossier_id,
                CAST(SUM(CASE WHEN a.scan = 'infected' OR a.piece_code = '_message' THEN 0 ELSE 1 END) AS BIGINT) AS n,
                CAST(SUM(CASE WHEN a.scan = 'infected' THEN 1 ELSE 0 END) AS BIGINT) AS infected
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
            (r.try_get("n")?, r.try_get("infected")?),
        ))
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let unanswered = crate::dossiers::messages::unanswered(db, exam)
        .await
        .map_err(|e| InstructionError::Messages(e.to_string()))?;
    let latest = latest_files(db, Some(exam)).await?;
    Ok(dossiers::of_exam(db, exam)
        .await?
        .into_iter()
        .filter(|d| {
            let r = &d.registration;
            let names = format!(
                "{} {}",
                r.identity_key(),
                r.usage_name.as_ref().map(|n| n.key()).unwrap_or_default()
            );
            search.trim().is_empty()
                || (number.len() >= 2 && d.number.as_str().replace('-', "").contains(&number))
                || (!words.is_empty() && words.iter().all(|w| names.contains(w)))
        })
        .filter_map(|d| {
            let counts = files.get(&d.id).copied().unwrap_or((0, 0));
            let waiting = unanswered.contains(&d.id);
            DossierLine::of(d, now, counts, waiting, &latest)
        })
        .filter(|line| filter.is_none_or(|f| f.keeps(line.stage)))
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
fn state_at(dossier: &Dossier, now: jiff::Timestamp) -> Option<DossierState> {
    DossierState::of(
        &dossier.status,
        !dossier.deadline.is_open_at(now),
        dossier.withdrawn_at.is_some(),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// Not allowed in the dossier's state; the message says why.
    #[error(transparent)]
    Refused(#[from] domain::instruction::DecisionRefused),
    #[error("no such dossier")]
    UnknownDossier,
    #[error("La date de réouverture doit être postérieure à aujourd'hui.")]
    ReopenDate,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Staff(#[from] crate::access::staff::StaffError),
    #[error(transparent)]
    Dossier(#[from] DossierError),
}

impl From<sqlx::Error> for DecisionError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// Locks the dossier's row (as closure and uploads do) and reads its state there.
pub(crate) async fn lock_for_decision(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    now: jiff::Timestamp,
    number: &DossierNumber,
) -> Result<(String, DossierState, Option<Review>), DecisionError> {
    let locked = sqlx::query("UPDATE dossiers SET status = status WHERE number = $1")
        .bind(number.as_str())
        .execute(&mut **tx)
        .await?;
    if locked.rows_affected() != 1 {
        return Err(DecisionError::UnknownDossier);
    }
    let row = sqlx::query(
        "SELECT d.id, d.status, d.review, d.withdrawn_at, e.closes_at FROM dossiers d JOIN exams e ON e.slug = d.exam_slug
         WHERE d.number = $1",
    )
    .bind(number.as_str())
    .fetch_one(&mut **tx)
    .await?;
    let status: String = row.try_get("status")?;
    let closes_at: i64 = row.try_get("closes_at")?;
    let withdrawn = row.try_get::<Option<i64>, _>("withdrawn_at")?.is_some();
    let state = DossierState::of(&status, closes_at <= now.as_millisecond(), withdrawn)
        .ok_or(DecisionError::UnknownDossier)?;
    let review = row
        .try_get::<Option<String>, _>("review")?
        .as_deref()
        .and_then(Review::parse);
    Ok((row.try_get("id")?, state, review))
}

/// Records a decision on a closed dossier, with its audit line, in one transaction
/// under the dossier's row lock; then tells the candidate by email.
pub async fn decide(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    member: &Staff,
    number: &str,
    decision: Decision,
) -> Result<Dossier, DecisionError> {
    let number = DossierNumber::parse(number).map_err(|_| DecisionError::UnknownDossier)?;
    let now = clock.now();
    let mut tx = db.pool().begin().await?;
    let (id, state, review) = lock_for_decision(&mut tx, now, &number).await?;
    decision.check(state, review)?;
    let now_ms = now.as_millisecond();
    // Each statement binds exactly its own parameters, the dossier's id first.
    let (query, text, action) = match &decision {
        Decision::Complete => (
            sqlx::query("UPDATE dossiers SET review = 'complete', review_note = NULL, reopened_until = NULL, corrections = NULL WHERE id = $1")
                .bind(&id),
            None,
            "dossier complet",
        ),
        Decision::Incomplete { missing } => (
            sqlx::query("UPDATE dossiers SET review = 'incomplete', review_note = $2 WHERE id = $1")
                .bind(&id)
                .bind(missing.trim()),
            Some(missing.trim()),
            "dossier incomplet",
        ),
        Decision::Accept => (
            sqlx::query("UPDATE dossiers SET status = 'accepted', decided_at = $2, reopened_until = NULL, corrections = NULL WHERE id = $1")
                .bind(&id)
                .bind(now_ms),
            None,
            "admis à concourir",
        ),
        Decision::Reject { reason } => (
            sqlx::query("UPDATE dossiers SET status = 'rejected', decision_reason = $2, decided_at = $3, reopened_until = NULL, corrections = NULL WHERE id = $1")
                .bind(&id)
                .bind(reason.trim())
                .bind(now_ms),
            Some(reason.trim()),
            "dossier rejeté",
        ),
    };
    query.execute(&mut *tx).await?;
    staff::audit(
        &mut *tx,
        clock,
        member,
        Some(&id),
        action,
        text.unwrap_or(""),
    )
    .await?;
    let before = dossiers::by_id(db, &id)
        .await?
        .ok_or(DecisionError::UnknownDossier)?;
    let letter = to_candidate(base_url, &before, &decision_mail(&decision, &before, now));
    crate::letters::outbox::post(&mut *tx, now_ms, &letter).await?;
    tx.commit().await?;
    dossiers::by_id(db, &id)
        .await?
        .ok_or(DecisionError::UnknownDossier)
}

/// Lets the candidate of a closed dossier add or replace files until the end of `day`
/// (midnight, Paris time), e.g. a missing pièce.
pub async fn reopen(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    member: &Staff,
    number: &str,
    day: jiff::civil::Date,
) -> Result<Dossier, DecisionError> {
    let number = DossierNumber::parse(number).map_err(|_| DecisionError::UnknownDossier)?;
    let until = domain::Deadline::on(day).map_err(|_| DecisionError::ReopenDate)?;
    let now = clock.now();
    if !until.is_open_at(now) {
        return Err(DecisionError::ReopenDate);
    }
    let mut tx = db.pool().begin().await?;
    let (id, state, _) = lock_for_decision(&mut tx, now, &number).await?;
    if state != DossierState::Closed {
        return Err(
            if matches!(state, DossierState::Accepted | DossierState::Rejected) {
                domain::instruction::DecisionRefused::AlreadyDecided
            } else {
                domain::instruction::DecisionRefused::NotClosed
            }
            .into(),
        );
    }
    sqlx::query("UPDATE dossiers SET reopened_until = $2 WHERE id = $1")
        .bind(&id)
        .bind(until.closes_at().as_millisecond())
        .execute(&mut *tx)
        .await?;
    let when = until.to_french();
    staff::audit(
        &mut *tx,
        clock,
        member,
        Some(&id),
        "dossier rouvert",
        &format!("au plus tard {when}"),
    )
    .await?;
    let dossier = dossiers::by_id(db, &id)
        .await?
        .ok_or(DecisionError::UnknownDossier)?;
    let note = dossier
        .review_note
        .as_deref()
        .map(|m| format!("Pièces demandées : {m}\n\n"))
        .unwrap_or_default();
    let body = format!(
        "Le service concours a rouvert votre dossier : vous pouvez y ajouter ou remplacer des fichiers, au plus tard {when}.\n\n{note}"
    );
    let letter = to_candidate(
        base_url,
        &dossier,
        &("Votre dossier est rouvert".to_string(), body),
    );
    crate::letters::outbox::post(&mut *tx, now.as_millisecond(), &letter).await?;
    tx.commit().await?;
    dossiers::by_id(db, &id)
        .await?
        .ok_or(DecisionError::UnknownDossier)
}

fn decision_mail(decision: &Decision, dossier: &Dossier, now: jiff::Timestamp) -> (String, String) {
    match decision {
        Decision::Complete => (
            "Votre dossier est complet".into(),
            "Le service concours a vérifié votre dossier : il est complet. La décision sur votre admission à concourir vous sera communiquée.\n\n".into(),
        ),
        Decision::Incomplete { missing } => (
            "Votre dossier est incomplet".into(),
            format!(
                "Le service concours a vérifié votre dossier : il est incomplet.\n\nPièces manquantes ou à corriger : {}\n\n{}\n\n",
                missing.trim(),
                dossier.incomplete_next_step(now)
            ),
        ),
        Decision::Accept => (
            "Vous êtes admis à concourir".into(),
            "Votre dossier est complet et recevable : vous êtes admis à concourir. Votre convocation vous sera adressée avant les épreuves.\n\n".into(),
        ),
        Decision::Reject { reason } => (
            "Votre dossier a été rejeté".into(),
            format!("Le service concours a rejeté votre dossier.\n\nMotif : {}\n\n", reason.trim()),
        ),
    }
}

/// The candidate learns of every decision by email (the dossier page says the same):
/// the letter goes in the decision's transaction, and the outbox sends it.
pub(crate) fn to_candidate(
    base_url: &str,
    dossier: &Dossier,
    (subject, text): &(String, String),
) -> crate::letters::outbox::Letter {
    let body = format!(
        "Bonjour,\n\nDossier n° {number} : {exam}.\n\n{text}Votre espace sécurisé : {base_url}/connexion\n\nLe service concours\n",
        number = dossier.number,
        exam = dossier.exam_title,
    );
    crate::letters::outbox::Letter::text(
        dossier.registration.email.as_str(),
        format!("{subject} (dossier n° {})", dossier.number),
        body,
    )
    .about(&dossier.id)
}
