//! Personal data kept no longer than allowed: when an exam's retention period ends
//! (`retention_months` after its deadline, `Deadline::purges_at`), the periodic pass
//! erases its dossiers: their rows and everything hanging from them (files, messages,
//! sessions, mails, the staff's log of them), then their files in the store and the
//! PDFs kept for them. What remains is anonymous: counts for the exam's statistics
//! and the record of the purge (`exam_purges`), which staff see.
//!
//! Rows first, in batches, each in one transaction that also adds its counts; the
//! files after: a crash in between leaves files without a row, which the hourly sweep
//! removes, never a row without its file.

use std::collections::BTreeMap;

use domain::Deadline;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Clock, Db, DbError, files::storage::Storage};

/// Dossiers erased per transaction: a national concours's 50,000 go in 100 short ones.
const BATCH: i64 = 500;

/// What stays of an exam's erased dossiers: numbers, no one's name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub dossiers: u64,
    /// Closed by their candidate before the deadline.
    pub closed: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub withdrawn: u64,
    /// Per voie (`externe`…; `aucune` for an examen professionnel).
    pub voies: BTreeMap<String, u64>,
    /// Candidates who asked for an aménagement d'épreuves.
    pub accommodations: u64,
}

/// An exam's retention: when its dossiers go, and what the purge did if it ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    pub slug: String,
    pub months: u32,
    pub purges_at: Timestamp,
    pub purged: Option<Purge>,
}

/// The record of an exam's purge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purge {
    /// The last pass that erased dossiers of the exam (ms).
    pub at: i64,
    pub dossiers: u64,
    pub files: u64,
    pub counts: Counts,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("store: {0}")]
    Store(#[from] std::io::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for RetentionError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// Every exam's retention, by slug: when its dossiers go (staff see it beforehand).
pub async fn schedule(db: &Db) -> Result<BTreeMap<String, Retention>, RetentionError> {
    let rows = sqlx::query(
        "SELECT e.slug, e.deadline_day, e.retention_months, p.at, p.dossiers, p.files, p.counts
         FROM exams e LEFT JOIN exam_purges p ON p.exam_slug = e.slug",
    )
    .fetch_all(db.pool())
    .await?;
    let mut all = BTreeMap::new();
    for row in rows {
        let slug: String = row.try_get("slug")?;
        let corrupt = || RetentionError::Corrupt(slug.clone());
        let deadline = row
            .try_get::<String, _>("deadline_day")?
            .parse()
            .ok()
            .and_then(|day| Deadline::on(day).ok())
            .ok_or_else(corrupt)?;
        let months =
            u32::try_from(row.try_get::<i64, _>("retention_months")?).map_err(|_| corrupt())?;
        let purged = match row.try_get::<Option<i64>, _>("at")? {
            None => None,
            Some(at) => Some(Purge {
                at,
                dossiers: row.try_get::<i64, _>("dossiers")? as u64,
                files: row.try_get::<i64, _>("files")? as u64,
                counts: serde_json::from_str(&row.try_get::<String, _>("counts")?)
                    .map_err(|_| corrupt())?,
            }),
        };
        all.insert(
            slug.clone(),
            Retention {
                slug,
                months,
                purges_at: deadline.purges_at(months),
                purged,
            },
        );
    }
    Ok(all)
}

/// What a pass erased.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Erased {
    pub dossiers: u64,
    pub files: u64,
}

/// Erases the dossiers of every exam whose retention has ended at the clock's instant.
/// Each server may run it: a batch's rows are deleted once, by whichever transaction
/// gets them.
pub async fn purge_due(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
) -> Result<Erased, RetentionError> {
    let now = clock.now();
    let mut erased = Erased::default();
    for retention in schedule(db).await?.into_values() {
        if retention.purges_at > now {
            continue;
        }
        loop {
            let batch = purge_batch(db, &retention.slug, now.as_millisecond()).await?;
            if batch.dossiers.is_empty() {
                break;
            }
            // The rows are gone: now the bytes. A failure here leaves orphans that the
            // sweep removes within the hour.
            for key in &batch.files {
                storage.delete(key).await?;
            }
            for dossier in &batch.dossiers {
                storage.forget_printouts(dossier).await?;
            }
            erased.dossiers += batch.dossiers.len() as u64;
            erased.files += batch.files.len() as u64;
            tracing::info!(
                exam = %retention.slug,
                dossiers = batch.dossiers.len(),
                files = batch.files.len(),
                "retention ended: dossiers erased"
            );
        }
    }
    Ok(erased)
}

struct Batch {
    dossiers: Vec<String>,
    /// The storage keys of their files.
    files: Vec<String>,
}

async fn purge_batch(db: &Db, exam: &str, now: i64) -> Result<Batch, RetentionError> {
    let mut tx = db.pool().begin().await?;
    let rows = sqlx::query(
        "SELECT id, status, closed_at, withdrawn_at, answers FROM dossiers
         WHERE exam_slug = $1 ORDER BY id LIMIT $2",
    )
    .bind(exam)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(Batch {
            dossiers: Vec::new(),
            files: Vec::new(),
        });
    }
    let mut counts = Counts::default();
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("id")?;
        let status: String = row.try_get("status")?;
        counts.dossiers += 1;
        counts.closed += u64::from(row.try_get::<Option<i64>, _>("closed_at")?.is_some());
        counts.accepted += u64::from(status == "accepted");
        counts.rejected += u64::from(status == "rejected");
        counts.withdrawn += u64::from(row.try_get::<Option<i64>, _>("withdrawn_at")?.is_some());
        // The answers only as far as the statistics need them.
        let answers: serde_json::Value =
            serde_json::from_str(&row.try_get::<String, _>("answers")?)
                .map_err(|_| RetentionError::Corrupt(id.clone()))?;
        let voie = answers["voie"].as_str().unwrap_or("aucune").to_string();
        *counts.voies.entry(voie).or_default() += 1;
        counts.accommodations += u64::from(
            answers["accommodation"]
                .as_str()
                .is_some_and(|a| !a.trim().is_empty()),
        );
        ids.push(id);
    }
    // Built from our own ids (hex), never from input.
    let list = ids
        .iter()
        .map(|id| format!("'{}'", id.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(", ");
    let files: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT storage_key FROM attachments WHERE dossier_id IN ({list})"
    )))
    .fetch_all(&mut *tx)
    .await?;
    // Mails about them, sent or not (a mail to an erased dossier says nothing true).
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM outbox WHERE dossier_id IN ({list})"
    )))
    .execute(&mut *tx)
    .await?;
    // The rest hangs from the dossier's row (ON DELETE CASCADE): sessions, reset links,
    // files' rows, resumable uploads, messages, the staff's log of the dossier.
    let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM dossiers WHERE id IN ({list})"
    )))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if deleted != ids.len() as u64 {
        // Another server took some of them meanwhile: let it; this one counts nothing.
        tx.rollback().await?;
        return Ok(Batch {
            dossiers: Vec::new(),
            files: Vec::new(),
        });
    }
    let previous: Option<String> =
        sqlx::query_scalar("SELECT counts FROM exam_purges WHERE exam_slug = $1")
            .bind(exam)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(previous) = previous
        && let Ok(before) = serde_json::from_str::<Counts>(&previous)
    {
        counts.add(&before);
    }
    sqlx::query(
        "INSERT INTO exam_purges (exam_slug, at, dossiers, files, counts) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (exam_slug) DO UPDATE SET at = excluded.at,
             dossiers = exam_purges.dossiers + excluded.dossiers,
             files = exam_purges.files + excluded.files, counts = excluded.counts",
    )
    .bind(exam)
    .bind(now)
    .bind(ids.len() as i64)
    .bind(files.len() as i64)
    .bind(serde_json::to_string(&counts).map_err(|e| RetentionError::Corrupt(e.to_string()))?)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Batch {
        dossiers: ids,
        files,
    })
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.dossiers += other.dossiers;
        self.closed += other.closed;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.withdrawn += other.withdrawn;
        self.accommodations += other.accommodations;
        for (voie, n) in &other.voies {
            *self.voies.entry(voie.clone()).or_default() += n;
        }
    }
}

/// Forgets the PDFs kept for dossiers that no longer exist (a purge cut between its
/// rows and its files); says how many dossiers' PDFs went.
pub async fn sweep_printouts(db: &Db, storage: &Storage) -> Result<usize, RetentionError> {
    let kept = storage.printout_dossiers().await?;
    if kept.is_empty() {
        return Ok(0);
    }
    let known: std::collections::HashSet<String> = sqlx::query_scalar("SELECT id FROM dossiers")
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .collect();
    let mut removed = 0;
    for dossier in kept.iter().filter(|d| !known.contains(*d)) {
        storage.forget_printouts(dossier).await?;
        removed += 1;
    }
    Ok(removed)
}
