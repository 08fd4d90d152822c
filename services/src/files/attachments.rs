//! Attachments: the files a candidate deposits for each requested pièce.
//!
//! An upload is streamed: the kind is decided on the first bytes, the size counted as
//! chunks arrive (and the upload stopped the moment it passes the limit), SHA-256 and
//! the PDF scan computed on the way, the file written to storage and committed, and only
//! then the row inserted, by a statement that re-checks the dossier and the file count.

use bytes::Bytes;
use domain::{
    FileKind, PieceRequirement, PieceSpec,
    antivirus::VirusScan,
    attachment::{self, UploadError, WholeFile},
};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Clock, Db, DbError, dossiers::Dossier, files::storage::Storage};

mod sweep;

pub(crate) use sweep::keys_in;
pub use sweep::{ORPHAN_AGE, sweep};

#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// The candidate's file is refused; the message says why.
    #[error(transparent)]
    Refused(#[from] UploadError),
    #[error("this pièce is not requested of this dossier")]
    UnknownPiece,
    #[error("the dossier no longer accepts changes to this pièce")]
    Locked,
    #[error("no such attachment for this dossier")]
    NotFound,
    /// A resumable upload's part sent at another offset than the bytes it holds.
    #[error("the upload holds {0} bytes")]
    Offset(u64),
    /// Another request is turning this resumable upload into a file.
    #[error("the upload is being finished")]
    Finishing,
    /// The connection dropped or the body could not be read.
    #[error("upload interrupted: {0}")]
    Interrupted(String),
    /// A resumable upload's part that does not end the file is under
    /// [`crate::files::uploads::MIN_PART`]: not kept.
    #[error("a part that does not end the upload must bring at least 64 KiB")]
    PartTooSmall,
    /// Too many resumable uploads started for this dossier lately; again in this many
    /// seconds.
    #[error("too many uploads started; again in {0} s")]
    TooManyUploads(u64),
    #[error("storage: {0}")]
    Storage(#[from] std::io::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AttachmentError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// One deposited file, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: String,
    pub piece_code: String,
    pub storage_key: String,
    pub name: String,
    pub kind: FileKind,
    pub size: u64,
    pub sha256: String,
    pub created_at: i64,
    /// A PDF that declares JavaScript: shown to staff with a warning, never inline.
    pub script: bool,
    pub scan: VirusScan,
}

/// The pièces the exam asks of this candidate, in the exam's order.
pub async fn requested_pieces(
    db: &Db,
    dossier: &Dossier,
) -> Result<Vec<PieceSpec>, AttachmentError> {
    let pieces = crate::catalogue::pieces(db, dossier.exam_slug.as_str()).await?;
    Ok(requested_among(&pieces, dossier))
}

/// Of its exam's `pieces`, those this dossier is asked for (its voie, its aménagement).
pub fn requested_among(pieces: &[PieceSpec], dossier: &Dossier) -> Vec<PieceSpec> {
    let voie = dossier.registration.voie;
    let accommodation = dossier.registration.accommodation.is_some();
    pieces
        .iter()
        .filter(|p| p.is_requested(voie, accommodation))
        .cloned()
        .collect()
}

/// Whether files of this pièce may be added or deleted at `now`: an open dossier before
/// the deadline, a pièce that « peut être transmise ultérieurement » of a closed
/// dossier until the instruction cut-off, or any pièce of a closed dossier the service
/// reopened, until the date it gave.
pub fn can_change(now: jiff::Timestamp, dossier: &Dossier, piece: &PieceSpec) -> bool {
    if piece.code == MESSAGE_PIECE {
        return true;
    }
    if dossier.withdrawn_at.is_some() {
        return false;
    }
    match dossier.status.as_str() {
        "open" => dossier.deadline.is_open_at(now),
        "closed" => reopened_piece(now, dossier, piece) || dossier.is_reopened_at(now),
        _ => false,
    }
}

/// A pièce of a closed dossier that takes files again: one that may follow, before the
/// exam's instruction cut-off, or one the service asked to correct, until its date.
fn reopened_piece(now: jiff::Timestamp, dossier: &Dossier, piece: &PieceSpec) -> bool {
    (piece.requirement == PieceRequirement::MayFollow && dossier.instruction_cutoff.is_open_at(now))
        || dossier.correction(&piece.code, now).is_some()
}

/// The pièce code of the files joined to messages (`services::dossiers::messages`): no exam's
/// pièce can have it (codes are lower-case letters, digits and dashes).
pub const MESSAGE_PIECE: &str = "_message";

/// What a message's file may be (`domain::conversation`'s limits).
pub fn message_piece() -> PieceSpec {
    PieceSpec {
        code: MESSAGE_PIECE.into(),
        label: "Pièce jointe à un message".into(),
        help: String::new(),
        requirement: PieceRequirement::Optional,
        voies: Vec::new(),
        when: None,
        kinds: vec![FileKind::Pdf, FileKind::Jpeg],
        max_size_bytes: domain::conversation::FILE_MAX_BYTES,
        max_files: domain::conversation::MAX_FILES,
    }
}

/// Opens the transaction of a change to this pièce's files by locking the dossier's row,
/// only if [`can_change`] still holds, decided again under the lock: a closure cannot
/// slip between the check and the change (see [`crate::dossiers::closure`]).
async fn begin_change(
    db: &Db,
    clock: &dyn Clock,
    dossier: &Dossier,
    piece: &PieceSpec,
) -> Result<Option<sqlx::Transaction<'static, sqlx::Any>>, AttachmentError> {
    let now = clock.now();
    // A message's file goes with its message, whatever the dossier's state; a pièce
    // that may follow or is being corrected, as the dossier read says (its dates only
    // move forward, so the status is what must be read again under the lock).
    let (always, reopened) = (
        piece.code == MESSAGE_PIECE,
        reopened_piece(now, dossier, piece),
    );
    let mut tx = db.pool().begin().await?;
    let locked = sqlx::query(
        "UPDATE dossiers SET status = status WHERE id = $1 AND ($4 = 1
            OR (withdrawn_at IS NULL AND status = 'open' AND EXISTS (SELECT 1 FROM exams e WHERE e.slug = dossiers.exam_slug AND e.closes_at > $2))
            OR (withdrawn_at IS NULL AND status = 'closed' AND ($3 = 1 OR reopened_until > $2)))",
    )
    .bind(&dossier.id)
    .bind(now.as_millisecond())
    .bind(i64::from(reopened))
    .bind(i64::from(always))
    .execute(&mut *tx)
    .await?;
    if locked.rows_affected() == 1 {
        Ok(Some(tx))
    } else {
        tx.rollback().await?;
        Ok(None)
    }
}

fn from_row(row: sqlx::any::AnyRow) -> Result<Attachment, AttachmentError> {
    let kind: String = row.try_get("kind")?;
    let size: i64 = row.try_get("size")?;
    Ok(Attachment {
        id: row.try_get("id")?,
        piece_code: row.try_get("piece_code")?,
        storage_key: row.try_get("storage_key")?,
        name: row.try_get("original_name")?,
        kind: if kind == "pdf" {
            FileKind::Pdf
        } else {
            FileKind::Jpeg
        },
        size: size.max(0) as u64,
        sha256: row.try_get("sha256")?,
        created_at: row.try_get("created_at")?,
        script: row.try_get::<i64, _>("script")? != 0,
        scan: VirusScan::from_code(&row.try_get::<String, _>("scan")?).unwrap_or(VirusScan::Failed),
    })
}

/// The columns [`from_row`] reads.
const COLUMNS: &str =
    "id, piece_code, storage_key, original_name, kind, size, sha256, created_at, script, scan";

/// Every file of the dossier's pièces (not those of its messages), oldest first.
pub async fn list(db: &Db, dossier_id: &str) -> Result<Vec<Attachment>, AttachmentError> {
    of_dossier(db, dossier_id, "<>").await
}

/// The files of these dossiers' pièces, by dossier, oldest first: one query for a
/// chunk of an exam's ZIP rather than one a dossier.
pub async fn of_dossiers(
    db: &Db,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<Attachment>>, AttachmentError> {
    let mut out: std::collections::HashMap<String, Vec<Attachment>> = Default::default();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT dossier_id, {COLUMNS} FROM attachments WHERE dossier_id IN ({}) AND piece_code <> '{MESSAGE_PIECE}' ORDER BY created_at, id",
            marks.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(db.pool()).await? {
            let dossier: String = row.try_get("dossier_id")?;
            out.entry(dossier).or_default().push(from_row(row)?);
        }
    }
    Ok(out)
}

/// The files joined to the dossier's messages, oldest first.
pub async fn message_files(db: &Db, dossier_id: &str) -> Result<Vec<Attachment>, AttachmentError> {
    of_dossier(db, dossier_id, "=").await
}

/// The dossier's files whose pièce is (`=`) or is not (`<>`) the messages'.
async fn of_dossier(
    db: &Db,
    dossier_id: &str,
    messages: &'static str,
) -> Result<Vec<Attachment>, AttachmentError> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM attachments WHERE dossier_id = $1 AND piece_code {messages} '{MESSAGE_PIECE}' ORDER BY created_at, id"
    )))
    .bind(dossier_id)
    .fetch_all(db.pool())
    .await?
    .into_iter()
    .map(from_row)
    .collect()
}

/// One file, only if it belongs to this dossier: anyone else's id is "not found".
pub async fn get(db: &Db, dossier_id: &str, id: &str) -> Result<Attachment, AttachmentError> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM attachments WHERE dossier_id = $1 AND id = $2"
    )))
    .bind(dossier_id)
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .map(from_row)
    .transpose()?
    .ok_or(AttachmentError::NotFound)
}

/// Any dossier's file with its dossier's id: for the service concours only.
pub async fn for_staff(db: &Db, id: &str) -> Result<(String, Attachment), AttachmentError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT dossier_id, {COLUMNS} FROM attachments WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(AttachmentError::NotFound)?;
    let dossier_id: String = row.try_get("dossier_id")?;
    Ok((dossier_id, from_row(row)?))
}

/// Streams one upload into storage and records it, its antivirus state `scan`
/// (pending when an antivirus will scan it).
#[allow(clippy::too_many_arguments)]
pub async fn upload<S, E>(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    dossier: &Dossier,
    piece_code: &str,
    file_name: &str,
    scan: VirusScan,
    body: S,
) -> Result<Attachment, AttachmentError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    // Both asked at once: on the deadline night each round trip waits its turn.
    let (pieces, usage) = tokio::try_join!(
        requested_pieces(db, dossier),
        usage(db, &dossier.id, piece_code)
    )?;
    let piece = pieces
        .into_iter()
        .find(|p| p.code == piece_code)
        .ok_or(AttachmentError::UnknownPiece)?;
    store(
        db, storage, clock, dossier, piece, usage, file_name, scan, body,
    )
    .await
}

/// Streams the file joined to a message into storage and records it, under the
/// dossier's lock as a pièce's file is, whatever the dossier's state.
pub async fn upload_for_message<S, E>(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    dossier: &Dossier,
    file_name: &str,
    scan: VirusScan,
    body: S,
) -> Result<Attachment, AttachmentError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let usage = usage(db, &dossier.id, MESSAGE_PIECE).await?;
    store(
        db,
        storage,
        clock,
        dossier,
        message_piece(),
        usage,
        file_name,
        scan,
        body,
    )
    .await
}

/// The upload itself, for `piece`, of which the dossier holds `count` files and
/// `dossier_total` bytes in all.
#[allow(clippy::too_many_arguments)]
async fn store<S, E>(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    dossier: &Dossier,
    piece: PieceSpec,
    (count, dossier_total): (i64, u64),
    file_name: &str,
    scan: VirusScan,
    mut body: S,
) -> Result<Attachment, AttachmentError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let name = attachment::sanitise_file_name(file_name);
    if !can_change(clock.now(), dossier, &piece) {
        return Err(AttachmentError::Locked);
    }
    if count >= i64::from(piece.max_files) {
        return Err(UploadError::TooManyFiles {
            max: piece.max_files,
        }
        .into());
    }

    let mut pending = storage.create().await?;
    let mut head: Vec<u8> = Vec::with_capacity(FileKind::SNIFF_LEN);
    let mut kind = None;
    let mut size: u64 = 0;
    let mut hasher = Sha256::new();
    let mut whole = WholeFile::default();
    // Phone photos lose their location and other metadata on the way to storage; the
    // stored bytes (and so the SHA-256 on the receipt) are the cleaned ones.
    let mut stripper = domain::jpeg::MetadataStripper::new();
    let mut stored: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| AttachmentError::Interrupted(e.to_string()))?;
        size += chunk.len() as u64;
        if size > piece.max_size_bytes {
            // Stop reading now: the rest of the body is never stored.
            return Err(UploadError::TooLarge {
                name,
                size: 0,
                limit_mib: piece.max_size_bytes.div_ceil(domain::exam::MIB),
            }
            .into());
        }
        attachment::check_dossier_total(&name, dossier_total, size)?;
        if kind.is_none() {
            let need = FileKind::SNIFF_LEN - head.len();
            head.extend_from_slice(&chunk[..chunk.len().min(need)]);
            if head.len() >= FileKind::SNIFF_LEN {
                kind = Some(attachment::check_start(
                    &name,
                    &head,
                    size,
                    &piece.kinds,
                    piece.max_size_bytes,
                )?);
            }
        }
        let cleaned = match stripper.feed(&chunk) {
            // Past a photo's header: the chunk itself, handed on without a copy.
            std::borrow::Cow::Borrowed(_) => chunk,
            std::borrow::Cow::Owned(cleaned) => cleaned.into(),
        };
        stored += keep(cleaned, kind, &mut whole, &mut hasher, &mut pending).await?;
    }
    let rest = stripper.finish();
    stored += keep(rest.into(), kind, &mut whole, &mut hasher, &mut pending).await?;
    let kind = match kind {
        Some(kind) => kind,
        // Fewer bytes than a signature: empty, or too short to be either kind.
        None => attachment::check_start(&name, &head, size, &piece.kinds, piece.max_size_bytes)?,
    };
    let script = whole.finish(&name, kind)?.javascript;
    let name = attachment::stored_file_name(&name, kind);
    let sha256 = hex::encode(hasher.finalize());
    let key = pending.commit().await?;

    let id = uuid::Uuid::new_v4().to_string();
    let Some(mut tx) = begin_change(db, clock, dossier, &piece).await? else {
        // Closed, or past the deadline, while the file was on its way.
        storage.delete(&key).await?;
        return Err(AttachmentError::Locked);
    };
    let now = clock.now().as_millisecond();
    // The count and the dossier's total are checked again in the insert itself: two
    // uploads racing for the last place (or the last megabytes) cannot both get it.
    let inserted = sqlx::query(
        "INSERT INTO attachments (id, dossier_id, piece_code, storage_key, original_name, kind, size, sha256, created_at, script, scan)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $12, $13
         WHERE (SELECT COUNT(*) FROM attachments WHERE dossier_id = $2 AND piece_code = $3 AND scan <> 'infected') < $10
           AND (SELECT COALESCE(SUM(size), 0) FROM attachments WHERE dossier_id = $2 AND scan <> 'infected') + $7 <= $11",
    )
    .bind(&id)
    .bind(&dossier.id)
    .bind(&piece.code)
    .bind(&key)
    .bind(&name)
    .bind(kind.as_str())
    .bind(stored as i64)
    .bind(&sha256)
    .bind(now)
    .bind(i64::from(piece.max_files))
    .bind(attachment::MAX_DOSSIER_BYTES as i64)
    .bind(i64::from(script))
    .bind(scan.code())
    .execute(&mut *tx)
    .await;
    let inserted = match inserted {
        // The file that replaces them takes the place of the pièce's infected files
        // (their bytes are already gone, the candidate was told): a dossier that keeps
        // sending infected files keeps no more rows than its pièces take.
        Ok(done) if done.rows_affected() == 1 => {
            let journal = file_event(&piece, dossier, clock.now(), &name, stored, &sha256);
            async {
                sqlx::query(
                    "DELETE FROM attachments WHERE dossier_id = $1 AND piece_code = $2 AND scan = 'infected'",
                )
                .bind(&dossier.id)
                .bind(&piece.code)
                .execute(&mut *tx)
                .await?;
                if let Some(detail) = journal {
                    crate::access::staff::candidate_event(
                        &mut *tx,
                        now,
                        &dossier.id,
                        "fichier déposé",
                        &detail,
                    )
                    .await?;
                }
                Ok(done)
            }
            .await
        }
        other => other,
    };
    let inserted = match inserted {
        Ok(done) => tx.commit().await.map(|_| done),
        Err(e) => Err(e),
    };
    match inserted {
        Ok(done) if done.rows_affected() == 1 => {}
        Ok(_) => {
            storage.delete(&key).await?;
            // Which limit the race lost: the pièce's count, or the dossier's total.
            let (count, _) = usage(db, &dossier.id, &piece.code).await?;
            return Err(if count >= i64::from(piece.max_files) {
                UploadError::TooManyFiles {
                    max: piece.max_files,
                }
            } else {
                UploadError::dossier_full(&name)
            }
            .into());
        }
        Err(e) => {
            // The object stays: a commit that failed on the way back may have committed
            // its row, and a file the dossier lists must not lose its bytes. The sweep
            // takes it once it is ORPHAN_AGE old, only if no row names it.
            tracing::warn!(
                dossier = %dossier.number, %key, error = %e,
                "attachment row not written; file left to the sweep"
            );
            return Err(e.into());
        }
    }
    tracing::info!(dossier = %dossier.number, piece = %piece.code, size, "attachment stored");
    Ok(Attachment {
        id,
        piece_code: piece.code,
        storage_key: key,
        name,
        kind,
        size: stored,
        sha256,
        created_at: now,
        script,
        scan,
    })
}

/// Passes cleaned bytes on to the checks, the hash and the storage: for a JPEG only
/// those up to its end marker. Returns how many were stored.
async fn keep(
    bytes: Bytes,
    kind: Option<FileKind>,
    whole: &mut WholeFile,
    hasher: &mut Sha256,
    pending: &mut crate::files::storage::PendingFile,
) -> Result<u64, AttachmentError> {
    let kept = if kind == Some(FileKind::Jpeg) {
        whole.feed(&bytes, kind)
    } else {
        // A PDF's checks read its bytes here, as the hash does; inflating its object
        // streams goes to a blocking thread, so a hostile file never holds an async
        // worker other requests need.
        let read = whole.feed_until_inflating(&bytes);
        if read < bytes.len() {
            let (mut owned, rest) = (std::mem::take(whole), bytes.slice(read..));
            *whole = tokio::task::spawn_blocking(move || {
                owned.feed(&rest, kind);
                owned
            })
            .await
            .map_err(|e| AttachmentError::Interrupted(e.to_string()))?;
        }
        bytes.len()
    };
    let bytes = bytes.slice(..kept);
    hasher.update(&bytes);
    let length = bytes.len() as u64;
    pending.write(bytes).await?;
    Ok(length)
}

/// The files of this pièce, and the bytes the whole dossier holds.
pub(crate) async fn usage(
    db: &Db,
    dossier_id: &str,
    piece_code: &str,
) -> Result<(i64, u64), AttachmentError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM attachments WHERE dossier_id = $1 AND piece_code = $2 AND scan <> 'infected') AS n,
                CAST(COALESCE((SELECT SUM(size) FROM attachments WHERE dossier_id = $1 AND scan <> 'infected'), 0) AS BIGINT) AS total",
    )
    .bind(dossier_id)
    .bind(piece_code)
    .fetch_one(db.pool())
    .await?;
    let total: i64 = row.try_get("total")?;
    Ok((row.try_get("n")?, total.max(0) as u64))
}

/// Deletes one of the dossier's files: the row first (the candidate sees it gone at
/// once), then the stored file; a failure in between leaves an orphan for the sweep.
pub async fn delete(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    dossier: &Dossier,
    id: &str,
) -> Result<(), AttachmentError> {
    let attachment = get(db, &dossier.id, id).await?;
    let piece = requested_pieces(db, dossier)
        .await?
        .into_iter()
        .find(|p| p.code == attachment.piece_code)
        .ok_or(AttachmentError::UnknownPiece)?;
    let Some(mut tx) = begin_change(db, clock, dossier, &piece).await? else {
        return Err(AttachmentError::Locked);
    };
    sqlx::query("DELETE FROM attachments WHERE id = $1 AND dossier_id = $2")
        .bind(id)
        .bind(&dossier.id)
        .execute(&mut *tx)
        .await?;
    let now = clock.now();
    if let Some(detail) = file_event(
        &piece,
        dossier,
        now,
        &attachment.name,
        attachment.size,
        &attachment.sha256,
    ) {
        crate::access::staff::candidate_event(
            &mut *tx,
            now.as_millisecond(),
            &dossier.id,
            "fichier supprimé",
            &detail,
        )
        .await?;
    }
    tx.commit().await?;
    storage.delete(&attachment.storage_key).await?;
    Ok(())
}

/// What the dossier's journal says of a file the candidate deposited or deleted (its
/// name and SHA-256 stay there once it is gone); none for a message's file, which the
/// conversation shows.
fn file_event(
    piece: &PieceSpec,
    dossier: &Dossier,
    now: jiff::Timestamp,
    name: &str,
    size: u64,
    sha256: &str,
) -> Option<String> {
    (piece.code != MESSAGE_PIECE).then(|| {
        let during = if dossier.correction(&piece.code, now).is_some() {
            " (correction demandée)"
        } else {
            ""
        };
        format!(
            "{} : « {name} », {size} octets, SHA-256 {sha256}{during}",
            piece.label
        )
    })
}
