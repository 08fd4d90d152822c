//! Mails promised by what happened: written in the same transaction as what they
//! announce (a dossier created, a closure, a decision, a reset link), then sent by the
//! periodic pass, with retries. A server killed between the two loses nothing, a slow
//! relay never holds a request, and every answer takes the same time whether a mail
//! was promised or not.
//!
//! A letter is claimed by a conditional update (its `due_at` moved forward) before it
//! is sent, so several servers running the pass send it once; one that fails is due
//! again later, sooner first. Staff see on a dossier what was sent and what fails.

use jiff::SignedDuration;
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    letters::mail::{MailFile, Mailer},
};

/// While a server sends a letter, no other takes it; past this, it is due again (the
/// server died while sending).
pub const CLAIM: SignedDuration = SignedDuration::from_mins(2);
/// A send still going this long after its claim is given up (and tried again later),
/// so it is over before the claim lets another server take the letter: a slow relay
/// never gets the same letter twice.
pub const SEND_LIMIT: SignedDuration = SignedDuration::from_secs(90);
/// Letters sent per pass at most, so one pass stays short.
const PER_PASS: i64 = 100;

/// What the letter says: written now, or the accusé de réception made at sending time
/// from the closed dossier (it lists the files as the database holds them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Text {
        subject: String,
        body: String,
    },
    /// The préinscription's letter: its text, and the dossier d'inscription as a PDF
    /// made when sent.
    Registration {
        subject: String,
        body: String,
    },
    /// The accusé de réception, as text and as a PDF.
    Receipt,
}

/// One mail to send, about one dossier (or none).
#[derive(Clone, Debug)]
pub struct Letter {
    pub to: String,
    pub content: Content,
    pub dossier_id: Option<String>,
}

impl Letter {
    pub fn text(to: &str, subject: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            to: to.to_string(),
            content: Content::Text {
                subject: subject.into(),
                body: body.into(),
            },
            dossier_id: None,
        }
    }

    /// The same text, sent with the dossier d'inscription.
    pub fn with_dossier_sheet(mut self) -> Self {
        if let Content::Text { subject, body } = self.content {
            self.content = Content::Registration { subject, body };
        }
        self
    }

    pub fn about(mut self, dossier_id: &str) -> Self {
        self.dossier_id = Some(dossier_id.to_string());
        self
    }
}

/// Writes the letter with whatever else `executor` (a transaction) writes.
pub async fn post<'e, E>(executor: E, now_ms: i64, letter: &Letter) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    post_due(executor, now_ms, now_ms, letter).await
}

/// The same, held until `due_ms`: until then [`withdraw_held`] can take it back.
pub async fn post_due<'e, E>(
    executor: E,
    now_ms: i64,
    due_ms: i64,
    letter: &Letter,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (kind, subject, body) = match &letter.content {
        Content::Text { subject, body } => ("text", subject.as_str(), Some(body.as_str())),
        Content::Registration { subject, body } => {
            ("registration", subject.as_str(), Some(body.as_str()))
        }
        Content::Receipt => ("receipt", "", None),
    };
    sqlx::query(
        "INSERT INTO outbox (id, recipient, kind, subject, body, dossier_id, created_at, due_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&letter.to)
    .bind(kind)
    .bind(subject)
    .bind(body)
    .bind(letter.dossier_id.as_deref())
    .bind(now_ms)
    .bind(due_ms)
    .execute(executor)
    .await?;
    Ok(())
}

/// Deletes the dossier's letters still held at `now_ms` (never claimed, due later),
/// those whose subject starts with `subject` when given; says how many. A claimed
/// letter has been tried: it is not one of them.
pub async fn withdraw_held<'e, E>(
    executor: E,
    dossier_id: &str,
    now_ms: i64,
    subject: Option<&str>,
) -> Result<u64, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query(
        "DELETE FROM outbox WHERE dossier_id = $1 AND sent_at IS NULL AND attempts = 0
           AND due_at > $2
           AND (CAST($3 AS TEXT) = '' OR substr(subject, 1, length(CAST($3 AS TEXT))) = CAST($3 AS TEXT))",
    )
    .bind(dossier_id)
    .bind(now_ms)
    .bind(subject.unwrap_or(""))
    .execute(executor)
    .await?
    .rows_affected())
}

/// After `attempts` failures, the next try: 30 s, 1 min, 2 min… up to an hour.
fn retry_after(attempts: i64) -> SignedDuration {
    let seconds = 30i64.saturating_mul(1 << attempts.clamp(1, 8).saturating_sub(1));
    SignedDuration::from_secs(seconds.min(3600))
}

/// What a letter says once written for sending: its subject, its text, its PDF.
pub struct Written {
    pub subject: String,
    pub body: String,
    pub pdf: Option<MailFile>,
}

/// Sends the letters due at the clock's instant, each as `write` words it (`None`:
/// nothing to say any more, the dossier is gone); says how many went. The outbox only
/// stores, claims, sends and retries: what a letter says is `crate::letters`' part.
pub async fn deliver_due<W, F>(
    db: &Db,
    clock: &dyn Clock,
    mailer: &Mailer,
    write: W,
) -> Result<usize, DbError>
where
    W: Fn(Letter) -> F,
    F: Future<Output = Result<Option<Written>, String>>,
{
    let due = sqlx::query(
        "SELECT id, recipient, kind, subject, body, dossier_id, due_at, attempts FROM outbox
         WHERE sent_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT $2",
    )
    .bind(clock.now().as_millisecond())
    .bind(PER_PASS)
    .fetch_all(db.pool())
    .await?;
    let mut sent = 0;
    for row in due {
        let id: String = row.try_get("id")?;
        let due_at: i64 = row.try_get("due_at")?;
        let attempts: i64 = row.try_get("attempts")?;
        let letter = letter_of(&row)?;
        // Each letter's claim runs from when it is taken, not from the pass's start.
        let claimed_at = clock.now();
        let claim = (claimed_at + CLAIM).as_millisecond();
        let claimed = sqlx::query(
            "UPDATE outbox SET due_at = $1, attempts = attempts + 1
             WHERE id = $2 AND sent_at IS NULL AND due_at = $3",
        )
        .bind(claim)
        .bind(&id)
        .bind(due_at)
        .execute(db.pool())
        .await?;
        if claimed.rows_affected() != 1 {
            continue; // another server has it
        }
        let to = letter.to.clone();
        let sending = async {
            match write(letter).await {
                Ok(Some(written)) => mailer
                    .send(&to, &written.subject, written.body, written.pdf)
                    .await
                    .map_err(|e| e.to_string()),
                // Nothing to say any more (the dossier is gone): done with it.
                Ok(None) => Ok(()),
                Err(error) => Err(error),
            }
        };
        let result = tokio::select! {
            result = sending => result,
            () = clock.sleep_until(claimed_at + SEND_LIMIT) => {
                Err(format!("send given up after {} s", SEND_LIMIT.as_secs()))
            }
        };
        match result {
            Ok(()) => {
                sqlx::query("UPDATE outbox SET sent_at = $1, last_error = NULL WHERE id = $2")
                    .bind(clock.now().as_millisecond())
                    .bind(&id)
                    .execute(db.pool())
                    .await?;
                sent += 1;
            }
            Err(error) => {
                tracing::error!(%error, letter = %id, attempts = attempts + 1, "mail not sent, will retry");
                // Only while the claim is still this pass's.
                sqlx::query(
                    "UPDATE outbox SET due_at = $1, last_error = $2
                     WHERE id = $3 AND due_at = $4 AND sent_at IS NULL",
                )
                .bind((clock.now() + retry_after(attempts + 1)).as_millisecond())
                .bind(error)
                .bind(&id)
                .bind(claim)
                .execute(db.pool())
                .await?;
            }
        }
    }
    Ok(sent)
}

/// The letter as [`post`] wrote it.
fn letter_of(row: &sqlx::any::AnyRow) -> Result<Letter, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let subject: String = row.try_get("subject")?;
    let body: Option<String> = row.try_get("body")?;
    let body = body.unwrap_or_default();
    Ok(Letter {
        to: row.try_get("recipient")?,
        content: match kind.as_str() {
            "receipt" => Content::Receipt,
            "registration" => Content::Registration { subject, body },
            _ => Content::Text { subject, body },
        },
        dossier_id: row.try_get("dossier_id")?,
    })
}

/// One letter about a dossier, as staff see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub subject: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// The letters about this dossier, oldest first.
pub async fn of_dossier(db: &Db, dossier_id: &str) -> Result<Vec<Sent>, DbError> {
    let rows = sqlx::query(
        "SELECT kind, subject, created_at, sent_at, attempts, last_error FROM outbox
         WHERE dossier_id = $1 ORDER BY created_at, id",
    )
    .bind(dossier_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            let subject: String = row.try_get("subject")?;
            Ok(Sent {
                subject: if kind == "receipt" {
                    "Accusé de réception".into()
                } else {
                    subject
                },
                created_at: row.try_get("created_at")?,
                sent_at: row.try_get("sent_at")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Letters not sent yet: what operators watch.
pub async fn waiting(db: &Db) -> Result<i64, DbError> {
    Ok(
        sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")
            .fetch_one(db.pool())
            .await?
            .try_get("n")?,
    )
}

/// Forgets letters sent more than `keep` ago (the dossier's log keeps what happened).
pub async fn purge(db: &Db, clock: &dyn Clock, keep: SignedDuration) -> Result<u64, DbError> {
    let before = clock.now().as_millisecond() - keep.as_millis() as i64;
    Ok(
        sqlx::query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
            .bind(before)
            .execute(db.pool())
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_after(1), SignedDuration::from_secs(30));
        assert_eq!(retry_after(2), SignedDuration::from_secs(60));
        assert_eq!(retry_after(5), SignedDuration::from_secs(480));
        assert_eq!(retry_after(40), SignedDuration::from_secs(3600));
    }
}
