//! Dossiers: creation from a complete préinscription, and lookups; below, a
//! dossier's life: the préinscription's drafts (`registrations`), the clôture
//! (`closure`), the conversation with the service (`messages`), the reminder before
//! the deadline (`reminders`), the service's instruction and its exports, and its
//! end when the exam's retention period is over (`retention`).

pub mod bulk;
pub mod closure;
pub mod export;
pub mod following;
pub mod instruction;
pub mod messages;
pub mod my_data;
pub mod registrations;
pub mod reminders;
pub mod retention;
pub mod withdrawal;

use domain::{DossierNumber, ExamSlug, registration::Registration};
use rand::RngCore;
use sqlx::Row;

use crate::{Clock, Db, DbError};

#[derive(Debug, thiserror::Error)]
pub enum DossierError {
    #[error("the exam is unknown or its registration is closed")]
    RegistrationClosed,
    #[error("this person already has a dossier for this exam")]
    AlreadyRegistered,
    #[error("this dossier number is already taken")]
    NumberTaken,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("corrupt dossier row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for DossierError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// A dossier as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dossier {
    pub id: String,
    pub number: DossierNumber,
    pub exam_slug: ExamSlug,
    pub exam_title: String,
    pub status: String,
    pub registration: Registration,
    pub created_at: i64,
    /// When the candidate closed it (ms since the epoch), once closed.
    pub closed_at: Option<i64>,
    /// The exam's registration deadline.
    pub deadline: domain::Deadline,
    /// Until when pièces that may follow are still taken after closure.
    pub instruction_cutoff: domain::Deadline,
    /// The service's review of the pièces, and the missing items when incomplete.
    pub review: Option<domain::instruction::Review>,
    pub review_note: Option<String>,
    /// Why the dossier was rejected.
    pub decision_reason: Option<String>,
    /// Until when a closed dossier reopened by the service takes files (ms).
    pub reopened_until: Option<i64>,
    /// The pièces the service asked to correct, each until its date.
    pub corrections: Vec<Correction>,
    /// When the candidate withdrew (désistement), if they did (ms).
    pub withdrawn_at: Option<i64>,
    /// The identity FranceConnect certified, when the dossier was created with it or
    /// linked to it.
    pub certified: Option<Certification>,
}

/// How a dossier's identity came to be certified by FranceConnect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certification {
    /// `inscription` (pre-registered with FranceConnect) or `lien` (linked after).
    pub via: String,
    pub at: i64,
    pub identity: domain::certified::CertifiedIdentity,
}

/// A pièce of a closed dossier the service asked the candidate to correct: it takes
/// files again until `until` (ms since the epoch), for `reason`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Correction {
    pub piece: String,
    pub until: i64,
    pub reason: String,
    /// When the service asked (ms); a file of the pièce newer than this is its answer.
    #[serde(default)]
    pub asked_at: i64,
}

impl Dossier {
    /// What the candidate of an incomplete dossier can do at `now`, as the dossier page
    /// and the mail both say it: deposit while the service has reopened pièces, or wait
    /// for the service's word while they stay locked.
    pub fn incomplete_next_step(&self, now: jiff::Timestamp) -> String {
        let now_ms = now.as_millisecond();
        if let Some(until) = self.reopened_until.filter(|_| self.is_reopened_at(now)) {
            return format!(
                "Ce que vous pouvez faire : le service concours a rouvert votre dossier. Déposez les pièces manquantes ou corrigées dans votre espace sécurisé, au plus tard {}.",
                domain::french::deadline_ms(until)
            );
        }
        let running = self.corrections.iter().filter(|c| now_ms < c.until);
        if let Some(until) = running.map(|c| c.until).min() {
            return format!(
                "Ce que vous pouvez faire : le service concours a rouvert les pièces à corriger, signalées dans votre espace sécurisé. Déposez leurs nouveaux fichiers au plus tard {}.",
                domain::french::deadline_ms(until)
            );
        }
        "Ce que vous pouvez faire : pour l'instant, vos pièces restent verrouillées. Le service concours vous écrira pour vous dire quelles pièces il rouvre et jusqu'à quand ; vous n'avez rien à faire d'ici là. Pour toute question, écrivez-lui depuis « Messages » dans votre espace sécurisé.".to_string()
    }

    /// Whether the service has reopened this closed dossier at `now`.
    pub fn is_reopened_at(&self, now: jiff::Timestamp) -> bool {
        self.status == "closed"
            && self
                .reopened_until
                .is_some_and(|t| now.as_millisecond() < t)
    }

    /// The correction asked for this pièce, while it runs.
    pub fn correction(&self, piece: &str, now: jiff::Timestamp) -> Option<&Correction> {
        if self.status != "closed" {
            return None;
        }
        self.corrections
            .iter()
            .find(|c| c.piece == piece && now.as_millisecond() < c.until)
    }
}

fn new_number(clock: &dyn Clock) -> DossierNumber {
    let mut random = [0u8; 5];
    rand::rng().fill_bytes(&mut random);
    DossierNumber::generate(clock.today_in_paris().year(), random)
}

/// Creates the dossier if the exam's registration is still open by the server's clock,
/// checked in the same statement as the insert.
pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    exam: &ExamSlug,
    registration: &Registration,
    password_hash: &str,
    announce: Option<&Announce<'_>>,
) -> Result<DossierNumber, DossierError> {
    // 40 random bits: a collision is rare, and the unique index catches it; try again.
    for _ in 0..5 {
        match insert(
            db,
            clock,
            exam,
            registration,
            password_hash,
            new_number(clock),
            announce,
        )
        .await
        {
            Err(DossierError::NumberTaken) => continue,
            other => return other,
        }
    }
    Err(DossierError::Corrupt(
        "no free dossier number after 5 tries".into(),
    ))
}

/// The mail announcing a new dossier, written with it (its number is known only then).
pub type Announce<'a> = dyn Fn(&DossierNumber) -> crate::letters::outbox::Letter + Sync + 'a;

/// Inserts a dossier under a chosen number (the demo candidate's is fixed), and its
/// announcement in the same transaction.
pub async fn insert(
    db: &Db,
    clock: &dyn Clock,
    exam: &ExamSlug,
    registration: &Registration,
    password_hash: &str,
    number: DossierNumber,
    announce: Option<&Announce<'_>>,
) -> Result<DossierNumber, DossierError> {
    let answers =
        serde_json::to_string(registration).map_err(|e| DossierError::Corrupt(e.to_string()))?;
    let keys = ListKeys::of(registration);
    let now = clock.now().as_millisecond();
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = db.pool().begin().await?;
    let result = sqlx::query(
        "INSERT INTO dossiers (id, number, exam_slug, identity_key, email, email_key, answers, password_hash, created_at,
                               usage_key, phone_key, voie, accommodation)
         SELECT $1, $2, slug, $3, $4, $5, $6, $7, $8, $10, $11, $12, $13 FROM exams
         WHERE slug = $9 AND published = 1 AND closes_at > $8",
    )
    .bind(&id)
    .bind(number.as_str())
    .bind(registration.identity_key())
    .bind(registration.email.as_str())
    .bind(registration.email.key())
    .bind(&answers)
    .bind(password_hash)
    .bind(now)
    .bind(exam.as_str())
    .bind(&keys.usage_key)
    .bind(&keys.phone_key)
    .bind(keys.voie)
    .bind(i64::from(keys.accommodation))
    .execute(&mut *tx)
    .await;
    match result {
        Ok(done) if done.rows_affected() == 1 => {
            if let Some(announce) = announce {
                crate::letters::outbox::post(&mut *tx, now, &announce(&number).about(&id)).await?;
            }
            tx.commit().await?;
            Ok(number)
        }
        Ok(_) => Err(DossierError::RegistrationClosed),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            tx.rollback().await?;
            if identity_taken(db, exam, &registration.identity_key()).await? {
                Err(DossierError::AlreadyRegistered)
            } else {
                Err(DossierError::NumberTaken)
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// What the service's list searches and filters on besides the number, the names'
/// identity key and the e-mail (columns already): kept in columns of their own so a
/// list of 50,000 dossiers reads no answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListKeys {
    /// The usage name's key (lowercase, no accents), empty without one.
    pub usage_key: String,
    /// The phone's digits without the country's 0 or 33 (`national_digits`).
    pub phone_key: String,
    pub voie: Option<&'static str>,
    /// An aménagement d'épreuves was asked for.
    pub accommodation: bool,
}

impl ListKeys {
    pub fn of(r: &Registration) -> Self {
        Self {
            usage_key: r.usage_name.as_ref().map(|n| n.key()).unwrap_or_default(),
            phone_key: national_digits(r.phone.as_str()),
            voie: r.voie.map(|v| v.as_str()),
            accommodation: r.accommodation.is_some(),
        }
    }
}

/// A phone number's digits, without the country's 0 or 33: 06 12 34 56 78 and
/// +33 6 12 34 56 78 give the same.
pub fn national_digits(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    digits
        .strip_prefix("33")
        .or_else(|| digits.strip_prefix('0'))
        .unwrap_or(&digits)
        .to_string()
}

/// Fills the list's columns of dossiers made before they existed, a batch at a time
/// (idempotent: several servers starting at once write the same values). Returns how
/// many were filled.
pub async fn fill_list_keys(db: &Db) -> Result<usize, DossierError> {
    let mut filled = 0;
    loop {
        let rows =
            sqlx::query("SELECT id, answers FROM dossiers WHERE phone_key IS NULL LIMIT 500")
                .fetch_all(db.pool())
                .await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        let mut tx = db.pool().begin().await?;
        for row in &rows {
            let id: String = row.try_get("id")?;
            let answers: String = row.try_get("answers")?;
            let registration: Registration = serde_json::from_str(&answers)
                .map_err(|e| DossierError::Corrupt(format!("{id}: {e}")))?;
            let keys = ListKeys::of(&registration);
            sqlx::query(
                "UPDATE dossiers SET usage_key = $1, phone_key = $2, voie = $3, accommodation = $4
                 WHERE id = $5 AND phone_key IS NULL",
            )
            .bind(&keys.usage_key)
            .bind(&keys.phone_key)
            .bind(keys.voie)
            .bind(i64::from(keys.accommodation))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        filled += rows.len();
    }
}

/// The dossiers of these ids (in no particular order).
pub async fn by_ids(db: &Db, ids: &[&str]) -> Result<Vec<Dossier>, DossierError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("{SELECT} WHERE d.id IN ({})", marks.join(", "));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(db.pool()).await? {
            out.push(from_row(row)?);
        }
    }
    Ok(out)
}

async fn identity_taken(db: &Db, exam: &ExamSlug, key: &str) -> Result<bool, DossierError> {
    Ok(
        sqlx::query("SELECT 1 FROM dossiers WHERE exam_slug = $1 AND identity_key = $2")
            .bind(exam.as_str())
            .bind(key)
            .fetch_optional(db.pool())
            .await?
            .is_some(),
    )
}

const SELECT: &str =
    "SELECT d.id, d.number, d.exam_slug, e.title, d.status, d.answers, d.created_at,
            d.closed_at, e.deadline_day, e.instruction_cutoff, d.review, d.review_note,
            d.decision_reason, d.reopened_until, d.corrections, d.withdrawn_at,
            d.franceconnect_via, d.franceconnect_at, d.certified
     FROM dossiers d JOIN exams e ON e.slug = d.exam_slug";

fn from_row(row: sqlx::any::AnyRow) -> Result<Dossier, DossierError> {
    let id: String = row.try_get("id")?;
    let corrupt = |what: &str| DossierError::Corrupt(format!("{id}: {what}"));
    let number: String = row.try_get("number")?;
    let slug: String = row.try_get("exam_slug")?;
    let answers: String = row.try_get("answers")?;
    let day = |column: &str| -> Result<domain::Deadline, DossierError> {
        let text: String = row.try_get(column)?;
        text.parse()
            .ok()
            .and_then(|day| domain::Deadline::on(day).ok())
            .ok_or_else(|| corrupt(column))
    };
    Ok(Dossier {
        deadline: day("deadline_day")?,
        instruction_cutoff: day("instruction_cutoff")?,
        number: DossierNumber::parse(&number).map_err(|_| corrupt("number"))?,
        exam_slug: ExamSlug::parse(&slug).map_err(|_| corrupt("exam"))?,
        exam_title: row.try_get("title")?,
        status: row.try_get("status")?,
        registration: serde_json::from_str(&answers).map_err(|_| corrupt("answers"))?,
        created_at: row.try_get("created_at")?,
        closed_at: row.try_get("closed_at")?,
        review: row
            .try_get::<Option<String>, _>("review")?
            .as_deref()
            .and_then(domain::instruction::Review::parse),
        review_note: row.try_get("review_note")?,
        decision_reason: row.try_get("decision_reason")?,
        reopened_until: row.try_get("reopened_until")?,
        withdrawn_at: row.try_get("withdrawn_at")?,
        corrections: match row.try_get::<Option<String>, _>("corrections")? {
            Some(json) => serde_json::from_str(&json).map_err(|_| corrupt("corrections"))?,
            None => Vec::new(),
        },
        certified: match (
            row.try_get::<Option<String>, _>("franceconnect_via")?,
            row.try_get::<Option<i64>, _>("franceconnect_at")?,
            row.try_get::<Option<String>, _>("certified")?,
        ) {
            (Some(via), Some(at), Some(json)) => Some(Certification {
                via,
                at,
                identity: serde_json::from_str(&json).map_err(|_| corrupt("certified"))?,
            }),
            _ => None,
        },
        id,
    })
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Dossier>, DossierError> {
    let sql = format!("{SELECT} WHERE d.id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .map(from_row)
        .transpose()
}

/// The dossier of a live session (by its token's hash), in one round trip: asked on
/// every request of the espace sécurisé.
pub async fn of_session(
    db: &Db,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<Dossier>, DossierError> {
    let sql = format!(
        "{SELECT} JOIN sessions s ON s.dossier_id = d.id WHERE s.token_hash = $1 AND s.expires_at > $2"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(db.pool())
        .await?
        .map(from_row)
        .transpose()
}

/// Every dossier of an exam, by number.
pub async fn of_exam(db: &Db, exam: &str) -> Result<Vec<Dossier>, DossierError> {
    let sql = format!("{SELECT} WHERE d.exam_slug = $1 ORDER BY d.number");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(exam)
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

pub async fn by_number(db: &Db, number: &DossierNumber) -> Result<Option<Dossier>, DossierError> {
    let sql = format!("{SELECT} WHERE d.number = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(number.as_str())
        .fetch_optional(db.pool())
        .await?
        .map(from_row)
        .transpose()
}

/// The number, exam and stored address of every dossier opened with this email
/// address, whatever its case.
pub async fn numbers_for_email(
    db: &Db,
    email_key: &str,
) -> Result<Vec<(String, String, String)>, DossierError> {
    let rows = sqlx::query(
        "SELECT d.number, e.title, d.email FROM dossiers d JOIN exams e ON e.slug = d.exam_slug
         WHERE d.email_key = $1 ORDER BY d.created_at",
    )
    .bind(email_key)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.try_get("number")?,
                r.try_get("title")?,
                r.try_get("email")?,
            ))
        })
        .collect()
}

/// How many dossiers are in each status (`closed` counts the closures), for `/metrics`.
pub async fn count_by_status(db: &Db) -> Result<Vec<(String, i64)>, DbError> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM dossiers GROUP BY status")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
        .collect()
}
