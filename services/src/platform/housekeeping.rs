//! The periodic pass's cleaning: rows no one can use any more, and stored files no row
//! points to. Each statement stands alone, so every server may run it.

use jiff::SignedDuration;

use crate::{Clock, Db, DbError, access::throttle, files::storage::Storage, letters::outbox};

/// A draft untouched this long is abandoned (its cookie lasts as long).
pub const DRAFT_LIFETIME: SignedDuration = SignedDuration::from_hours(30 * 24);
/// Sent mails are kept this long for staff to see on the dossier.
pub const SENT_MAIL_KEPT: SignedDuration = SignedDuration::from_hours(180 * 24);
/// A refused préinscription, as long, from its last refusal.
pub const REFUSED_DUPLICATE_KEPT: SignedDuration = SENT_MAIL_KEPT;

/// How many rows each kind lost.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub resets: u64,
    pub drafts: u64,
    pub attempts: u64,
    pub mails: u64,
    pub refused_duplicates: u64,
}

/// Deletes expired sessions (candidates' and staff's), used or expired reset links,
/// abandoned drafts, throttle rows no window sees, old sent mails and refused
/// préinscriptions.
pub async fn purge(db: &Db, clock: &dyn Clock) -> Result<Purged, DbError> {
    let now = clock.now().as_millisecond();
    let run = |sql: &'static str, at: i64| async move {
        Ok::<u64, DbError>(
            sqlx::query(sql)
                .bind(at)
                .execute(db.pool())
                .await?
                .rows_affected(),
        )
    };
    let sessions = run("DELETE FROM sessions WHERE expires_at <= $1", now).await?
        + run("DELETE FROM staff_sessions WHERE expires_at <= $1", now).await?;
    let resets = run(
        "DELETE FROM password_resets WHERE expires_at <= $1 OR used_at IS NOT NULL",
        now,
    )
    .await?;
    let drafts = run(
        "DELETE FROM drafts WHERE updated_at <= $1",
        now - DRAFT_LIFETIME.as_millis() as i64,
    )
    .await?
        + run(
            "DELETE FROM kept_forms WHERE at <= $1",
            now - crate::access::kept_forms::KEPT_FOR_MS,
        )
        .await?
        + run(
            "DELETE FROM franceconnect_flows WHERE created_at <= $1",
            now - crate::access::franceconnect::FLOW_LIFETIME_MS,
        )
        .await?;
    let attempts = throttle::purge(db, now).await?;
    let mails = outbox::purge(db, clock, SENT_MAIL_KEPT).await?;
    let refused_duplicates = run(
        "DELETE FROM refused_duplicates WHERE at <= $1",
        now - REFUSED_DUPLICATE_KEPT.as_millis() as i64,
    )
    .await?;
    Ok(Purged {
        sessions,
        resets,
        drafts,
        attempts,
        mails,
        refused_duplicates,
    })
}

/// The pass: the rows, the dossiers whose retention has ended, then (when `sweep`: it
/// lists the whole store) the orphan files, the resumable uploads expired or left
/// without a row, and the PDFs kept for dossiers that are gone.
pub async fn run(db: &Db, clock: &dyn Clock, storage: &Storage, sweep: bool) {
    match purge(db, clock).await {
        Ok(purged) if purged != Purged::default() => tracing::info!(?purged, "purged"),
        Ok(_) => {}
        Err(error) => tracing::error!(%error, "purge failed"),
    }
    if let Err(error) = crate::dossiers::retention::purge_due(db, storage, clock).await {
        tracing::error!(%error, "retention purge failed");
    }
    if sweep {
        match crate::files::attachments::sweep(db, storage, crate::files::attachments::ORPHAN_AGE)
            .await
        {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "orphan files removed"),
            Err(error) => tracing::error!(%error, "orphan sweep failed"),
        }
        match crate::files::uploads::sweep(
            db,
            storage,
            clock,
            crate::files::attachments::ORPHAN_AGE,
        )
        .await
        {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "expired uploads removed"),
            Err(error) => tracing::error!(%error, "upload sweep failed"),
        }
        match crate::dossiers::retention::sweep_printouts(db, storage).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "PDFs of erased dossiers removed"),
            Err(error) => tracing::error!(%error, "printout sweep failed"),
        }
    }
}
