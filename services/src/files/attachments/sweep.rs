//! The orphan sweep: stored files no row names, removed once they are old enough that
//! no upload can still be committing its row.

use super::{AttachmentError, Db, Storage};

/// The storage keys a query lists: what the sweeps must not remove.
pub(crate) async fn keys_in(
    db: &Db,
    query: &'static str,
) -> Result<std::collections::HashSet<String>, AttachmentError> {
    Ok(sqlx::query_scalar(query)
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .collect())
}

/// A file without a row is only an orphan once it is this old: between an object's
/// completion and its row's commit (milliseconds), another server's sweep must not
/// take it for one.
pub const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes stored files no row points to, and unfinished uploads, once `min_age` old
/// ([`ORPHAN_AGE`] but in tests). Returns how many files went.
pub async fn sweep(
    db: &Db,
    storage: &Storage,
    min_age: std::time::Duration,
) -> Result<usize, AttachmentError> {
    let old: Vec<String> = storage
        .list()
        .await?
        .into_iter()
        .filter(|(_, age)| *age >= min_age.as_secs())
        .map(|(key, _)| key)
        .collect();
    let mut removed = 0;
    if !old.is_empty() {
        // One query for the lot, listed after the store: a file an hour old has its
        // row already, or never will.
        // An infected file's row keeps its key: its bytes are no file of the dossier.
        let known = keys_in(
            db,
            "SELECT storage_key FROM attachments WHERE scan <> 'infected'",
        )
        .await?;
        for key in old.iter().filter(|key| !known.contains(*key)) {
            storage.delete(key).await?;
            removed += 1;
        }
    }
    removed += storage.sweep_unfinished(min_age).await?;
    Ok(removed)
}
