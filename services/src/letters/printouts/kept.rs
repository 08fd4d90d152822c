//! The PDFs made for a dossier, kept in the store while what they show is the same.

use super::{Busy, MAKING_WAIT, Printout};

/// The dossiers whose PDF is being made now, each behind its own lock.
static DOSSIERS: std::sync::Mutex<
    std::collections::BTreeMap<String, std::sync::Weak<tokio::sync::Mutex<()>>>,
> = std::sync::Mutex::new(std::collections::BTreeMap::new());

/// `dossier_id`'s lock for making its PDFs: one at a time per dossier.
fn dossier_lock(dossier_id: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    let mut locks = DOSSIERS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(lock) = locks.get(dossier_id).and_then(std::sync::Weak::upgrade) {
        return lock;
    }
    locks.retain(|_, lock| lock.strong_count() > 0);
    let lock = std::sync::Arc::new(tokio::sync::Mutex::new(()));
    locks.insert(dossier_id.to_string(), std::sync::Arc::downgrade(&lock));
    lock
}

/// The PDF `kind` (`recu`, `dossier`) of a dossier for its candidate: the copy kept
/// in the store while what it shows has not changed (an accusé de réception never
/// does); else made, one at a time per dossier, and kept. A candidate asking for it
/// in a loop costs a read of the store, not a PDF each time. A store that fails is
/// no reason to refuse it: the PDF made is served all the same.
pub async fn kept(
    storage: &crate::files::storage::Storage,
    dossier_id: &str,
    kind: &str,
    printout: Printout,
) -> Result<Vec<u8>, Busy> {
    kept_by(storage, (dossier_id, kind), printout, false).await
}

/// The same for a letter of the outbox, made on its own slot: the accusé de réception
/// the closure's mail carries is the copy the candidate is then served.
pub async fn kept_for_letter(
    storage: &crate::files::storage::Storage,
    dossier_id: &str,
    kind: &str,
    printout: Printout,
) -> Result<Vec<u8>, Busy> {
    kept_by(storage, (dossier_id, kind), printout, true).await
}

async fn kept_by(
    storage: &crate::files::storage::Storage,
    (dossier_id, kind): (&str, &str),
    printout: Printout,
    letter: bool,
) -> Result<Vec<u8>, Busy> {
    let name = format!("{kind}-{}", printout.fingerprint());
    if let Ok(bytes) = storage.read_printout(dossier_id, &name).await {
        return Ok(bytes);
    }
    let lock = dossier_lock(dossier_id);
    let _mine = tokio::time::timeout(MAKING_WAIT, lock.lock())
        .await
        .map_err(|_| Busy)?;
    // Made meanwhile by the request ahead in line.
    if let Ok(bytes) = storage.read_printout(dossier_id, &name).await {
        return Ok(bytes);
    }
    let bytes = if letter {
        printout.render_letter().await?
    } else {
        printout.render().await?
    };
    if let Err(error) = storage
        .keep_printout(dossier_id, (kind, &name), bytes.clone())
        .await
    {
        tracing::warn!(%error, "a PDF made could not be kept");
    }
    Ok(bytes)
}
