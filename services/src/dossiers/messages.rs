//! Each dossier's conversation between its candidate and the service concours, and the
//! service's correction requests.
//!
//! A message is written with the mail that announces it (to the candidate, or to the
//! service's address), in one transaction; the mail never holds the message's text
//! (personal data stays in the espace), only a link. A message may carry one file,
//! stored after its text as a pièce's file is (`attachments::upload_for_message`: same
//! checks, limits, antivirus, serving), so a refused file never costs the text typed.
//!
//! A correction request is the service's message naming pièces of a closed dossier and
//! a day: those pièces take files again until that day's midnight (Paris), the others
//! stay closed; it is kept on the dossier's row (`Dossier::corrections`), so deciding
//! whether a file may change costs no query more.

use std::collections::HashSet;

use bytes::Bytes;
use domain::antivirus::VirusScan;
use futures_util::Stream;
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    access::staff::{self, Staff, StaffError},
    dossiers::{self, Correction, Dossier},
    files::attachments::{self, Attachment, AttachmentError},
    files::storage::Storage,
    letters::outbox::{self, Letter},
};

use domain::conversation::{CANDIDATE_PER_DAY, MAX_CHARS, Refusal};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    Candidate,
    Service,
}

impl Author {
    fn code(self) -> &'static str {
        match self {
            Author::Candidate => "candidate",
            Author::Service => "service",
        }
    }
}

/// Who sends a message.
#[derive(Clone, Copy, Debug)]
pub enum Sender<'a> {
    Candidate,
    Service(&'a Staff),
}

/// One message of a dossier's conversation.
#[derive(Clone, Debug)]
pub struct Message {
    pub id: String,
    pub author: Author,
    /// For staff: which of them wrote it.
    pub staff_name: Option<String>,
    pub body: String,
    pub file: Option<Attachment>,
    /// A correction request: the pièces' codes, and until when (ms).
    pub correction: Option<(Vec<String>, i64)>,
    pub created_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The message or request is refused; the sentence says why.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    File(#[from] AttachmentError),
    #[error(transparent)]
    Staff(#[from] StaffError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("corrupt dossier: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for MessageError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

impl From<dossiers::DossierError> for MessageError {
    fn from(value: dossiers::DossierError) -> Self {
        match value {
            dossiers::DossierError::Db(e) => Self::Db(e),
            other => Self::Corrupt(other.to_string()),
        }
    }
}

/// The text as kept: line ends made `\n`, blank edges dropped, within [`MAX_CHARS`].
fn checked_text(text: &str) -> Result<String, MessageError> {
    let text = text.replace("\r\n", "\n").trim().to_string();
    if text.is_empty() {
        return Err(Refusal::Empty.into());
    }
    if text.chars().count() > MAX_CHARS {
        return Err(Refusal::TooLong.into());
    }
    Ok(text)
}

/// Writes a message on the dossier and promises its mail: to the candidate when the
/// service writes; to `service_email`, when there is one, when the candidate does (at
/// most [`CANDIDATE_PER_DAY`] a day). Returns the message's id, for its file.
pub async fn send(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    service_email: Option<&str>,
    dossier: &Dossier,
    sender: Sender<'_>,
    text: &str,
) -> Result<String, MessageError> {
    let text = checked_text(text)?;
    let now = clock.now().as_millisecond();
    let id = uuid::Uuid::now_v7().to_string();
    let (author, staff_id) = match sender {
        Sender::Candidate => (Author::Candidate, None),
        Sender::Service(member) => (Author::Service, Some(member.id.as_str())),
    };
    let mut tx = db.pool().begin().await?;
    // The dossier's row lock first: parallel posts of one candidate count one another
    // (on PostgreSQL, two inserts could otherwise both see the 19th).
    sqlx::query("UPDATE dossiers SET status = status WHERE id = $1")
        .bind(&dossier.id)
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO messages (id, dossier_id, author, staff_id, body, created_at)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE $3 <> 'candidate' OR (SELECT COUNT(*) FROM messages
             WHERE dossier_id = $2 AND author = 'candidate' AND created_at > $7) < $8",
    )
    .bind(&id)
    .bind(&dossier.id)
    .bind(author.code())
    .bind(staff_id)
    .bind(&text)
    .bind(now)
    .bind(now - 24 * 3600 * 1000)
    .bind(CANDIDATE_PER_DAY)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() != 1 {
        return Err(Refusal::TooMany.into());
    }
    // The service's letter is not one of the dossier's letters to its candidate (the
    // staff page lists those), so it names no dossier.
    let letter = match sender {
        Sender::Candidate => service_email.map(|to| {
            Letter::text(
                to,
                format!("Message d'un candidat : dossier {}", dossier.number),
                format!(
                    "Le candidat du dossier {number} ({exam}) a écrit au service concours.\n\n\
                     Lisez son message sur la page du dossier :\n{base_url}/service/dossiers/{number}\n",
                    number = dossier.number,
                    exam = dossier.exam_title,
                ),
            )
        }),
        Sender::Service(member) => {
            staff::audit(
                &mut *tx,
                clock,
                member,
                Some(&dossier.id),
                "message envoyé au candidat",
                "",
            )
            .await?;
            Some(service_message_letter(dossier, base_url))
        }
    };
    if let Some(letter) = letter {
        outbox::post(&mut *tx, now, &letter).await?;
    }
    tx.commit().await?;
    // After the commit (SQLite has one writer): the message stands even if this fails.
    if matches!(sender, Sender::Candidate) {
        let told = crate::dossiers::following::notify(
            db,
            clock,
            base_url,
            dossier,
            crate::dossiers::following::News::Message,
        )
        .await;
        if let Err(error) = told {
            tracing::error!(%error, "the dossier's followers could not be told of a message");
        }
    }
    Ok(id)
}

/// The mail a message of the service sends its candidate (a bulk message's
/// confirmation shows it).
pub fn service_message_letter(dossier: &Dossier, base_url: &str) -> Letter {
    to_candidate(
        dossier,
        format!("Message du service concours : dossier {}", dossier.number),
        "Le service concours vous a écrit au sujet de votre dossier.",
        base_url,
    )
    .about(&dossier.id)
}

/// The mail that tells the candidate to read the espace, without the message itself.
fn to_candidate(dossier: &Dossier, subject: String, what: &str, base_url: &str) -> Letter {
    Letter::text(
        dossier.registration.email.as_str(),
        subject,
        format!(
            "Bonjour {name},\n\n{what}\n\nDossier {number} : {exam}\n\n\
             Lisez-le dans votre espace sécurisé :\n{base_url}/espace/messages\n\n\
             Pour protéger vos données, le message n'est pas recopié dans ce courriel.\n\n\
             Le service concours\n",
            name = dossier.registration.display_name(),
            number = dossier.number,
            exam = dossier.exam_title,
        ),
    )
}

/// Stores the file sent with a message (see [`attachments::upload_for_message`]) and
/// joins it to that message, which must be the dossier's and have none yet.
#[allow(clippy::too_many_arguments)]
pub async fn attach<S, E>(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    dossier: &Dossier,
    message_id: &str,
    file_name: &str,
    scan: VirusScan,
    body: S,
) -> Result<Attachment, MessageError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let file =
        attachments::upload_for_message(db, storage, clock, dossier, file_name, scan, body).await?;
    sqlx::query(
        "UPDATE messages SET attachment_id = $1
         WHERE id = $2 AND dossier_id = $3 AND attachment_id IS NULL",
    )
    .bind(&file.id)
    .bind(message_id)
    .bind(&dossier.id)
    .execute(db.pool())
    .await?;
    Ok(file)
}

/// The dossier's messages, oldest first, each with its file.
pub async fn history(db: &Db, dossier_id: &str) -> Result<Vec<Message>, MessageError> {
    let rows = sqlx::query(
        "SELECT m.id, m.author, s.name, m.body, m.attachment_id, m.pieces, m.until_at, m.created_at
         FROM messages m LEFT JOIN staff s ON s.id = m.staff_id
         WHERE m.dossier_id = $1 ORDER BY m.created_at, m.id",
    )
    .bind(dossier_id)
    .fetch_all(db.pool())
    .await?;
    let files = attachments::message_files(db, dossier_id).await?;
    rows.into_iter()
        .map(|row| {
            let author: String = row.try_get("author")?;
            let attachment: Option<String> = row.try_get("attachment_id")?;
            let pieces: Option<String> = row.try_get("pieces")?;
            let until: Option<i64> = row.try_get("until_at")?;
            Ok(Message {
                id: row.try_get("id")?,
                author: if author == "service" {
                    Author::Service
                } else {
                    Author::Candidate
                },
                staff_name: row.try_get("name")?,
                body: row.try_get("body")?,
                file: attachment.and_then(|id| files.iter().find(|f| f.id == id).cloned()),
                correction: pieces.zip(until).map(|(pieces, until)| {
                    (pieces.split(',').map(str::to_string).collect(), until)
                }),
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(MessageError::from)
}

/// How many messages the dossier's conversation holds, and when the service last wrote.
pub async fn summary(db: &Db, dossier_id: &str) -> Result<(i64, Option<i64>), MessageError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n,
                MAX(CASE WHEN author = 'service' THEN created_at END) AS service_at
         FROM messages WHERE dossier_id = $1",
    )
    .bind(dossier_id)
    .fetch_one(db.pool())
    .await?;
    Ok((row.try_get("n")?, row.try_get("service_at")?))
}

/// The dossiers of an exam whose last message is the candidate's: waiting for the
/// service's answer.
pub async fn unanswered(db: &Db, exam: &str) -> Result<HashSet<String>, MessageError> {
    waiting(db, exam, "").await
}

/// Whether this dossier has a message waiting for the service.
pub async fn is_unanswered(db: &Db, dossier_id: &str) -> Result<bool, MessageError> {
    Ok(!waiting(db, "", dossier_id).await?.is_empty())
}

/// The dossiers (of an exam, or this one) whose candidate wrote last, unanswered and
/// not marked as handled.
async fn waiting(db: &Db, exam: &str, dossier_id: &str) -> Result<HashSet<String>, MessageError> {
    let rows = sqlx::query(
        "SELECT m.dossier_id FROM messages m JOIN dossiers d ON d.id = m.dossier_id
         WHERE ($1 = '' OR d.exam_slug = $1) AND ($2 = '' OR m.dossier_id = $2)
           AND m.author = 'candidate' AND m.handled_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM messages later WHERE later.dossier_id = m.dossier_id
                           AND later.author = 'service' AND later.created_at >= m.created_at)",
    )
    .bind(exam)
    .bind(dossier_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| r.try_get("dossier_id"))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(MessageError::from)
}

/// A file just stored for `piece`: when it is the first answer to a correction the
/// service asked for, the service's address hears of it (one mail per request, not
/// one per file). Says whether a mail was promised.
pub async fn correction_answered(
    db: &Db,
    clock: &dyn Clock,
    dossier: &Dossier,
    piece: &str,
    service_email: Option<&str>,
    base_url: &str,
) -> Result<bool, MessageError> {
    let now = clock.now();
    let (Some(to), Some(correction)) = (service_email, dossier.correction(piece, now)) else {
        return Ok(false);
    };
    let answers: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM attachments WHERE dossier_id = $1 AND piece_code = $2 AND created_at > $3",
    )
    .bind(&dossier.id)
    .bind(piece)
    .bind(correction.asked_at)
    .fetch_one(db.pool())
    .await?;
    if answers != 1 {
        return Ok(false);
    }
    let letter = Letter::text(
        to,
        format!("Correction reçue : dossier {}", dossier.number),
        format!(
            "Le candidat du dossier {number} ({exam}) a déposé un fichier pour une pièce dont le service avait demandé la correction.\n\n\
             Le dossier, et son journal :\n{base_url}/service/dossiers/{number}\n",
            number = dossier.number,
            exam = dossier.exam_title,
        ),
    );
    outbox::post(db.pool(), now.as_millisecond(), &letter).await?;
    Ok(true)
}

/// A closed dossier's corrections, read under its row lock (taken here); `None` when
/// the dossier is not closed.
async fn locked_corrections(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    dossier_id: &str,
) -> Result<Option<Vec<Correction>>, MessageError> {
    let locked =
        sqlx::query("UPDATE dossiers SET status = status WHERE id = $1 AND status = 'closed'")
            .bind(dossier_id)
            .execute(&mut **tx)
            .await?;
    if locked.rows_affected() != 1 {
        return Ok(None);
    }
    let current: Option<String> =
        sqlx::query_scalar("SELECT corrections FROM dossiers WHERE id = $1")
            .bind(dossier_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(Some(
        current
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default(),
    ))
}

async fn write_corrections(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    dossier_id: &str,
    corrections: &[Correction],
) -> Result<(), MessageError> {
    let json =
        serde_json::to_string(corrections).map_err(|e| MessageError::Corrupt(e.to_string()))?;
    sqlx::query("UPDATE dossiers SET corrections = $2 WHERE id = $1")
        .bind(dossier_id)
        .bind(&json)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// « J'ai terminé ma correction »: the candidate ends the running correction requests
/// before their date; the pièces close again, the journal says so, and an updated
/// accusé de réception is mailed (made when sent, with the files as they are then).
/// `false` when no request runs.
pub async fn finish_correction(
    db: &Db,
    clock: &dyn Clock,
    dossier: &Dossier,
) -> Result<bool, MessageError> {
    let now = clock.now().as_millisecond();
    let mut tx = db.pool().begin().await?;
    let Some(mut corrections) = locked_corrections(&mut tx, &dossier.id).await? else {
        return Ok(false);
    };
    let mut ended = Vec::new();
    for c in corrections.iter_mut().filter(|c| now < c.until) {
        c.until = now;
        ended.push(c.piece.clone());
    }
    if ended.is_empty() {
        return Ok(false);
    }
    write_corrections(&mut tx, &dossier.id, &corrections).await?;
    let pieces = attachments::requested_pieces(db, dossier).await?;
    let labels: Vec<String> = ended
        .iter()
        .map(|code| {
            pieces
                .iter()
                .find(|p| &p.code == code)
                .map_or_else(|| code.clone(), |p| p.label.clone())
        })
        .collect();
    staff::candidate_event(
        &mut *tx,
        now,
        &dossier.id,
        "correction terminée",
        &labels.join(", "),
    )
    .await?;
    let receipt = Letter {
        to: dossier.registration.email.as_str().to_string(),
        content: crate::letters::outbox::Content::Receipt,
        dossier_id: Some(dossier.id.clone()),
    };
    outbox::post(&mut *tx, now, &receipt).await?;
    tx.commit().await?;
    Ok(true)
}

/// The candidate's messages waiting for the service are read and need no answer
/// (« marquer comme traité »): they leave the « sans réponse » flag, and the log says
/// who decided so. Says how many.
pub async fn mark_handled(
    db: &Db,
    clock: &dyn Clock,
    member: &Staff,
    dossier_id: &str,
) -> Result<u64, MessageError> {
    let now = clock.now().as_millisecond();
    let mut tx = db.pool().begin().await?;
    let handled = sqlx::query(
        "UPDATE messages SET handled_at = $2
         WHERE dossier_id = $1 AND author = 'candidate' AND handled_at IS NULL",
    )
    .bind(dossier_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if handled > 0 {
        staff::audit(
            &mut *tx,
            clock,
            member,
            Some(dossier_id),
            "message marqué comme traité",
            "sans réponse",
        )
        .await?;
    }
    tx.commit().await?;
    Ok(handled)
}

/// Asks the candidate of a closed dossier to correct `pieces` (codes of pièces the
/// dossier is asked for) until the end of `day`, for `reason`: those pièces take files
/// again until then, the others stay closed. Under the dossier's row lock, with its
/// audit line, its message and its mail; a pièce asked again gets the new date.
#[allow(clippy::too_many_arguments)]
pub async fn request_correction(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    member: &Staff,
    dossier: &Dossier,
    pieces: &[String],
    reason: &str,
    day: jiff::civil::Date,
) -> Result<Dossier, MessageError> {
    let reason = checked_text(reason)?;
    let now = clock.now();
    let until = domain::Deadline::on(day).map_err(|_| Refusal::Date)?;
    if !until.is_open_at(now) {
        return Err(Refusal::Date.into());
    }
    let requested = attachments::requested_pieces(db, dossier).await?;
    let chosen: Vec<&domain::PieceSpec> = requested
        .iter()
        .filter(|p| pieces.contains(&p.code))
        .collect();
    if chosen.is_empty() || chosen.len() != pieces.iter().collect::<HashSet<_>>().len() {
        return Err(Refusal::NoPiece.into());
    }
    let mut tx = db.pool().begin().await?;
    // Read again under the lock: another request may have asked for others meanwhile.
    let Some(mut corrections) = locked_corrections(&mut tx, &dossier.id).await? else {
        return Err(Refusal::NotClosed.into());
    };
    let until_ms = until.closes_at().as_millisecond();
    corrections
        .retain(|c| c.until > now.as_millisecond() && !chosen.iter().any(|p| p.code == c.piece));
    corrections.extend(chosen.iter().map(|p| Correction {
        piece: p.code.clone(),
        until: until_ms,
        reason: reason.clone(),
        asked_at: now.as_millisecond(),
    }));
    write_corrections(&mut tx, &dossier.id, &corrections).await?;
    let codes: Vec<&str> = chosen.iter().map(|p| p.code.as_str()).collect();
    sqlx::query(
        "INSERT INTO messages (id, dossier_id, author, staff_id, body, pieces, until_at, created_at)
         VALUES ($1, $2, 'service', $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&dossier.id)
    .bind(&member.id)
    .bind(&reason)
    .bind(codes.join(","))
    .bind(until_ms)
    .bind(now.as_millisecond())
    .execute(&mut *tx)
    .await?;
    let labels: Vec<&str> = chosen.iter().map(|p| p.label.as_str()).collect();
    let when = until.to_french();
    staff::audit(
        &mut *tx,
        clock,
        member,
        Some(&dossier.id),
        "correction demandée",
        &format!(
            "{} ; au plus tard {when} ; motif : {reason}",
            labels.join(", ")
        ),
    )
    .await?;
    let letter = to_candidate(
        dossier,
        format!("Correction demandée : dossier {}", dossier.number),
        &format!(
            "Le service concours vous demande de corriger des pièces de votre dossier, au plus tard {when}. Connectez-vous à votre espace sécurisé pour voir lesquelles et déposer leurs nouveaux fichiers."
        ),
        base_url,
    );
    outbox::post(&mut *tx, now.as_millisecond(), &letter.about(&dossier.id)).await?;
    tx.commit().await?;
    Ok(dossiers::by_id(db, &dossier.id)
        .await?
        .ok_or(Refusal::NotClosed)?)
}
