//! Failed-login counting, shared by the candidates' espace and the service concours:
//! a scope (a dossier number, an email, an IP address) may fail so many times within
//! [`FAILURE_WINDOW`], then waits. Kept in the database, so every instance agrees.

use jiff::SignedDuration;
use sqlx::Row;

use crate::{Db, DbError};

/// Failed logins are counted over this window.
pub const FAILURE_WINDOW: SignedDuration = SignedDuration::from_mins(15);

/// `Err(retry_at_ms)` when one of the scopes has used up its failures; otherwise each
/// scope's failures in the window, in order (a success then clears only what exists).
pub async fn check(
    db: &Db,
    scopes: &[(&str, i64)],
    now_ms: i64,
) -> Result<Result<Vec<i64>, i64>, DbError> {
    let since = now_ms - FAILURE_WINDOW.as_millis() as i64;
    let mut counts = Vec::with_capacity(scopes.len());
    for (scope, max) in scopes {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(at) AS first FROM login_failures WHERE scope = $1 AND at > $2",
        )
        .bind(*scope)
        .bind(since)
        .fetch_one(db.pool())
        .await?;
        let count: i64 = row.try_get("n")?;
        if count >= *max {
            let first: Option<i64> = row.try_get("first")?;
            tracing::warn!(scope = %scope, failures = count, "login refused: too many attempts");
            return Ok(Err(
                first.unwrap_or(now_ms) + FAILURE_WINDOW.as_millis() as i64
            ));
        }
        counts.push(count);
    }
    Ok(Ok(counts))
}

/// Counts one failure against each scope, and forgets those out of the window.
pub async fn record_failure(db: &Db, scopes: &[&str], now_ms: i64) -> Result<(), DbError> {
    for scope in scopes {
        sqlx::query("INSERT INTO login_failures (scope, at) VALUES ($1, $2)")
            .bind(*scope)
            .bind(now_ms)
            .execute(db.pool())
            .await?;
    }
    sqlx::query("DELETE FROM login_failures WHERE at <= $1")
        .bind(now_ms - FAILURE_WINDOW.as_millis() as i64)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A successful login wipes the scope's failures.
pub async fn clear(db: &Db, scope: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM login_failures WHERE scope = $1")
        .bind(scope)
        .execute(db.pool())
        .await?;
    Ok(())
}
