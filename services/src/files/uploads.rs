//! Resumable uploads (tus 1.0): a file sent in parts, over as many connections as the
//! candidate's network needs, to any server.
//!
//! Each upload is a row (dossier, pièce, announced length, bytes received) and each
//! PATCH's bytes one object in the shared store, recorded in `upload_parts` by the
//! same statement that moves `received`, only if no other PATCH moved it first: two
//! servers never both extend an upload. The bytes a cut connection delivered are kept.
//! The kind is decided on the first bytes as they arrive; when the last byte is in,
//! the parts are read back as one stream through [`attachments::upload`], with every
//! check of a form upload (size, count, dossier total, deadline and lock, JPEG
//! metadata, SHA-256), and the row and its parts go, whatever the outcome.

use bytes::Bytes;
use domain::{FileKind, antivirus::VirusScan, attachment};
use futures_util::{Stream, StreamExt, TryStreamExt};
use jiff::SignedDuration;
use sqlx::Row;

use crate::{
    Clock, Db,
    dossiers::Dossier,
    files::attachments::{self, Attachment, AttachmentError},
    files::storage::Storage,
};

/// An unfinished upload lasts this long after its last byte (tus `Upload-Expires`).
pub const LIFETIME: SignedDuration = SignedDuration::from_hours(24);
/// Unfinished uploads a dossier keeps: a new one past them (or past the dossier's
/// room, see [`create`]) replaces the oldest, so abandoned attempts (a closed tab)
/// never block a candidate, and one dossier cannot fill the store with parts.
pub const UNFINISHED_PER_DOSSIER: usize = 4;
/// Parts an upload may have: a 50 Mo file in the browser's parts of 512 KiB is 100,
/// and each cut adds one. Past this (a client sending bytes one at a time, each an
/// object in the store), the upload is ended.
pub const MAX_PARTS: i64 = 1000;
/// A part that does not end the upload brings at least this much (the browser sends
/// 512 KiB): each part is an object in the store and a row, so a client sending a
/// byte at a time, or cutting its connection after one, costs as much as a real one.
/// Fewer bytes are not kept (a cut phone sends them again: they are few).
pub const MIN_PART: usize = 64 * 1024;
/// Resumable uploads one dossier may start in an hour: a candidate with ten pièces,
/// retrying some, stays far under it; a script looping on creations does not.
pub const STARTS_PER_HOUR: i64 = 100;
/// How long one server may take to turn the parts into a file before another may.
const FINISHING: SignedDuration = SignedDuration::from_mins(5);

/// An upload under way, as its owner may see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub piece_code: String,
    pub file_name: String,
    pub length: u64,
    pub received: u64,
    pub expires_at: i64,
    head: Vec<u8>,
    /// Parts stored so far.
    parts: i64,
}

/// What a PATCH did: the offset now, and the file once the last byte made it one.
#[derive(Debug)]
pub struct Appended {
    pub received: u64,
    pub expires_at: i64,
    pub file: Option<Attachment>,
}

fn from_row(row: sqlx::any::AnyRow) -> Result<Upload, AttachmentError> {
    let length: i64 = row.try_get("length")?;
    let received: i64 = row.try_get("received")?;
    let head: String = row.try_get("head")?;
    Ok(Upload {
        id: row.try_get("id")?,
        piece_code: row.try_get("piece_code")?,
        file_name: row.try_get("file_name")?,
        length: length.max(0) as u64,
        received: received.max(0) as u64,
        expires_at: row.try_get("expires_at")?,
        head: hex::decode(head).unwrap_or_default(),
        parts: row.try_get("parts")?,
    })
}

/// Starts an upload of `length` bytes for this pièce: refused at once when the pièce is
/// not requested, no longer open, full, or when the file could never fit.
pub async fn create(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    dossier: &Dossier,
    piece_code: &str,
    file_name: &str,
    length: u64,
) -> Result<Upload, AttachmentError> {
    let name = attachment::sanitise_file_name(file_name);
    let (pieces, (count, total)) = tokio::try_join!(
        attachments::requested_pieces(db, dossier),
        attachments::usage(db, &dossier.id, piece_code)
    )?;
    let piece = pieces
        .into_iter()
        .find(|p| p.code == piece_code)
        .ok_or(AttachmentError::UnknownPiece)?;
    if !attachments::can_change(clock.now(), dossier, &piece) {
        return Err(AttachmentError::Locked);
    }
    if count >= i64::from(piece.max_files) {
        return Err(attachment::UploadError::TooManyFiles {
            max: piece.max_files,
        }
        .into());
    }
    // Empty, too large, or too short to be either kind: said before a byte is sent.
    if length == 0 {
        return Err(attachment::UploadError::Empty { name }.into());
    }
    if length > piece.max_size_bytes {
        return Err(attachment::UploadError::TooLarge {
            name,
            size: length,
            limit_mib: piece.max_size_bytes.div_ceil(domain::exam::MIB),
        }
        .into());
    }
    if length < FileKind::SNIFF_LEN as u64 {
        return Err(attachment::UploadError::WrongKind { name }.into());
    }
    attachment::check_dossier_total(&name, total, length)?;
    let started = crate::access::throttle::Limit::new(
        format!("upload-starts:{}", dossier.id),
        STARTS_PER_HOUR,
        SignedDuration::from_hours(1),
    );
    let now_ms = clock.now().as_millisecond();
    if let Err(again_at) = crate::access::throttle::attempt(db, &[started], now_ms)
        .await
        .map_err(AttachmentError::Db)?
    {
        let wait = (again_at - now_ms).max(1000) as u64;
        return Err(AttachmentError::TooManyUploads(wait.div_ceil(1000)));
    }

    // The dossier's files, its unfinished uploads and this one fit its 100 Mo, and it
    // keeps a few unfinished uploads at most: the newest stay, the oldest go first.
    let older: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, length FROM uploads WHERE dossier_id = $1 ORDER BY created_at DESC, id",
    )
    .bind(&dossier.id)
    .fetch_all(db.pool())
    .await?;
    let mut room = attachment::MAX_DOSSIER_BYTES - total - length;
    let mut kept = 1;
    for (id, pending) in older {
        let pending = pending.max(0) as u64;
        if kept < UNFINISHED_PER_DOSSIER && pending <= room {
            room -= pending;
            kept += 1;
        } else {
            abandon(db, storage, &id).await?;
        }
    }

    let now = clock.now();
    let upload = Upload {
        id: uuid::Uuid::new_v4().simple().to_string(),
        piece_code: piece.code,
        file_name: name,
        length,
        received: 0,
        expires_at: (now + LIFETIME).as_millisecond(),
        head: Vec::new(),
        parts: 0,
    };
    sqlx::query(
        "INSERT INTO uploads (id, dossier_id, piece_code, file_name, length, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&upload.id)
    .bind(&dossier.id)
    .bind(&upload.piece_code)
    .bind(&upload.file_name)
    .bind(length as i64)
    .bind(now.as_millisecond())
    .bind(upload.expires_at)
    .execute(db.pool())
    .await?;
    Ok(upload)
}

/// The dossier's own unfinished upload for this pièce; anyone else's, another
/// pièce's or an expired one is not found.
pub async fn find(
    db: &Db,
    clock: &dyn Clock,
    dossier: &Dossier,
    piece_code: &str,
    id: &str,
) -> Result<Upload, AttachmentError> {
    sqlx::query(
        "SELECT id, piece_code, file_name, length, received, head, expires_at,
                (SELECT COUNT(*) FROM upload_parts p WHERE p.upload_id = uploads.id) AS parts
         FROM uploads
         WHERE id = $1 AND dossier_id = $2 AND piece_code = $3 AND expires_at > $4",
    )
    .bind(id)
    .bind(&dossier.id)
    .bind(piece_code)
    .bind(clock.now().as_millisecond())
    .fetch_optional(db.pool())
    .await?
    .map(from_row)
    .transpose()?
    .ok_or(AttachmentError::NotFound)
}

/// Appends a PATCH's body at `offset`, which must be the bytes received so far
/// ([`AttachmentError::Offset`] otherwise). Bytes a cut connection delivered are kept
/// (then [`AttachmentError::Interrupted`]); the first bytes decide the kind, and a
/// refused kind ends the upload; the last byte makes the file, in antivirus state
/// `scan`.
#[allow(clippy::too_many_arguments)]
pub async fn append<S, E>(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    dossier: &Dossier,
    (piece_code, id): (&str, &str),
    offset: u64,
    scan: VirusScan,
    mut body: S,
) -> Result<Appended, AttachmentError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let upload = find(db, clock, dossier, piece_code, id).await?;
    if offset != upload.received {
        return Err(AttachmentError::Offset(upload.received));
    }
    if upload.parts >= MAX_PARTS {
        abandon(db, storage, id).await?;
        return Err(AttachmentError::Interrupted(
            "too many parts: the upload starts again".into(),
        ));
    }
    let piece = attachments::requested_pieces(db, dossier)
        .await?
        .into_iter()
        .find(|p| p.code == upload.piece_code)
        .ok_or(AttachmentError::UnknownPiece)?;
    if !attachments::can_change(clock.now(), dossier, &piece) {
        abandon(db, storage, id).await?;
        return Err(AttachmentError::Locked);
    }

    let mut head = upload.head.clone();
    let mut part: Option<crate::files::storage::PendingFile> = None;
    // The first bytes, held until they make a part worth storing (MIN_PART).
    let mut held: Vec<u8> = Vec::new();
    let mut size: u64 = 0;
    let mut cut = None;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                cut = Some(e.to_string());
                break;
            }
        };
        if upload.received + size + chunk.len() as u64 > upload.length {
            return Err(AttachmentError::Interrupted(
                "more bytes than the upload's length".into(),
            ));
        }
        if head.len() < FileKind::SNIFF_LEN {
            let need = FileKind::SNIFF_LEN - head.len();
            head.extend_from_slice(&chunk[..chunk.len().min(need)]);
            if head.len() >= FileKind::SNIFF_LEN
                && let Err(refused) = attachment::check_start(
                    &upload.file_name,
                    &head,
                    upload.length,
                    &piece.kinds,
                    piece.max_size_bytes,
                )
            {
                // Nothing of a refused file stays, not even its first bytes.
                drop(part);
                abandon(db, storage, id).await?;
                return Err(refused.into());
            }
        }
        size += chunk.len() as u64;
        match part.as_mut() {
            Some(part) => part.write(chunk).await?,
            None => {
                held.extend_from_slice(&chunk);
                if held.len() >= MIN_PART || upload.received + size == upload.length {
                    let mut created = storage.create_part(id).await?;
                    created.write(std::mem::take(&mut held).into()).await?;
                    part = Some(created);
                }
            }
        }
    }
    // Too few bytes to be a part, and not the file's end: nothing is kept.
    if part.is_none() && !held.is_empty() {
        return Err(match cut {
            Some(why) => AttachmentError::Interrupted(why),
            None => AttachmentError::PartTooSmall,
        });
    }

    let now = clock.now();
    let expires_at = (now + LIFETIME).as_millisecond();
    let mut received = upload.received;
    if let Some(part) = part {
        let key = part.commit().await?;
        // Only if no other PATCH extended the upload meanwhile (another server, an
        // earlier connection the client gave up on).
        let mut tx = db.pool().begin().await?;
        let moved = sqlx::query(
            "UPDATE uploads SET received = received + $1, head = $2, expires_at = $3
             WHERE id = $4 AND received = $5",
        )
        .bind(size as i64)
        .bind(hex::encode(&head))
        .bind(expires_at)
        .bind(id)
        .bind(upload.received as i64)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 1 {
            sqlx::query(
                "INSERT INTO upload_parts (upload_id, start, size, storage_key) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(upload.received as i64)
            .bind(size as i64)
            .bind(&key)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            received += size;
        } else {
            tx.rollback().await?;
            storage.delete_part(id, &key).await?;
            let now_at = find(db, clock, dossier, piece_code, id).await?.received;
            return Err(AttachmentError::Offset(now_at));
        }
    }
    if let Some(why) = cut {
        return Err(AttachmentError::Interrupted(why));
    }
    let file = if received == upload.length {
        Some(finish(db, storage, clock, dossier, &upload, scan).await?)
    } else {
        None
    };
    Ok(Appended {
        received,
        expires_at,
        file,
    })
}

/// The parts, read back in order as one file through the form upload's pipeline.
async fn finish(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    dossier: &Dossier,
    upload: &Upload,
    scan: VirusScan,
) -> Result<Attachment, AttachmentError> {
    let now = clock.now();
    let claimed = sqlx::query(
        "UPDATE uploads SET finishing_until = $1 WHERE id = $2 AND received = length AND finishing_until < $3",
    )
    .bind((now + FINISHING).as_millisecond())
    .bind(&upload.id)
    .bind(now.as_millisecond())
    .execute(db.pool())
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(AttachmentError::Finishing);
    }
    let parts: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT storage_key, start, size FROM upload_parts WHERE upload_id = $1 ORDER BY start",
    )
    .bind(&upload.id)
    .fetch_all(db.pool())
    .await?;
    // The parts must tile the file exactly; the statement that records them makes it so.
    let contiguous = parts.iter().try_fold(0i64, |at, (_, start, size)| {
        (*start == at).then_some(at + size)
    }) == Some(upload.length as i64);
    if !contiguous {
        abandon(db, storage, &upload.id).await?;
        return Err(AttachmentError::Interrupted("parts missing".into()));
    }
    let upload_id = upload.id.clone();
    let reader = storage.clone();
    let bytes = futures_util::stream::iter(parts.into_iter().map(|(key, _, _)| key))
        .then(move |key| {
            let (reader, upload_id) = (reader.clone(), upload_id.clone());
            async move { reader.read_part(&upload_id, &key).await }
        })
        .try_flatten()
        .boxed();
    let stored = attachments::upload(
        db,
        storage,
        clock,
        dossier,
        &upload.piece_code,
        &upload.file_name,
        scan,
        bytes,
    )
    .await;
    match &stored {
        // The store or the database failed: the parts stay, and the next PATCH (the
        // client retries) tries again.
        Err(AttachmentError::Storage(_) | AttachmentError::Db(_)) => {
            sqlx::query("UPDATE uploads SET finishing_until = 0 WHERE id = $1")
                .bind(&upload.id)
                .execute(db.pool())
                .await?;
        }
        _ => abandon(db, storage, &upload.id).await?,
    }
    stored
}

/// Ends an upload: its row, then its parts (a part left by a failure is swept).
pub async fn abandon(db: &Db, storage: &Storage, id: &str) -> Result<(), AttachmentError> {
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT storage_key FROM upload_parts WHERE upload_id = $1")
            .bind(id)
            .fetch_all(db.pool())
            .await?;
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM uploads WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    for key in keys {
        storage.delete_part(id, &key).await?;
    }
    Ok(())
}

/// The candidate's « annuler »: their own upload only.
pub async fn cancel(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    dossier: &Dossier,
    (piece_code, id): (&str, &str),
) -> Result<(), AttachmentError> {
    let upload = find(db, clock, dossier, piece_code, id).await?;
    abandon(db, storage, &upload.id).await
}

/// Ends expired uploads, and removes parts no upload row knows once they are
/// `min_age` old (a server that died between a part and its row). Returns how many
/// uploads and parts went.
pub async fn sweep(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    min_age: std::time::Duration,
) -> Result<usize, AttachmentError> {
    let expired: Vec<String> = sqlx::query_scalar("SELECT id FROM uploads WHERE expires_at <= $1")
        .bind(clock.now().as_millisecond())
        .fetch_all(db.pool())
        .await?;
    for id in &expired {
        abandon(db, storage, id).await?;
    }
    let mut removed = expired.len();
    let old: Vec<(String, String)> = storage
        .list_parts()
        .await?
        .into_iter()
        .filter(|(_, _, age)| *age >= min_age.as_secs())
        .map(|(upload, key, _)| (upload, key))
        .collect();
    if !old.is_empty() {
        let known = attachments::keys_in(db, "SELECT storage_key FROM upload_parts").await?;
        for (upload, key) in old.iter().filter(|(_, key)| !known.contains(key)) {
            storage.delete_part(upload, key).await?;
            removed += 1;
        }
    }
    Ok(removed)
}
