//! What an agent typed in a form the server refused (a date already past, no pièce
//! ticked), kept for the page that says why, so the agent corrects rather than types
//! again. One per agent, dossier and form; an hour at most; gone once the form passes.

use crate::{Clock, Db, DbError, access::staff::Staff};

/// The correction request of a dossier's page.
pub const CORRECTION: &str = "correction";

/// How long a refused form is offered again (ms).
pub const KEPT_FOR_MS: i64 = 60 * 60 * 1000;

/// A form's fields, in order (a key may come several times: ticked boxes).
pub type Fields = Vec<(String, String)>;

/// Keeps the refused form's fields.
pub async fn keep(
    db: &Db,
    clock: &dyn Clock,
    member: &Staff,
    dossier_id: &str,
    form: &str,
    fields: &Fields,
) -> Result<(), DbError> {
    let json = serde_json::to_string(fields).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO kept_forms (staff_id, dossier_id, form, fields, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (staff_id, dossier_id, form) DO UPDATE SET fields = $4, at = $5",
    )
    .bind(&member.id)
    .bind(dossier_id)
    .bind(form)
    .bind(json)
    .bind(clock.now().as_millisecond())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The fields kept for this form, if refused within the hour.
pub async fn kept(
    db: &Db,
    clock: &dyn Clock,
    member: &Staff,
    dossier_id: &str,
    form: &str,
) -> Result<Option<Fields>, DbError> {
    let json: Option<String> = sqlx::query_scalar(
        "SELECT fields FROM kept_forms WHERE staff_id = $1 AND dossier_id = $2 AND form = $3 AND at > $4",
    )
    .bind(&member.id)
    .bind(dossier_id)
    .bind(form)
    .bind(clock.now().as_millisecond() - KEPT_FOR_MS)
    .fetch_optional(db.pool())
    .await?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

/// The form passed: nothing to offer again.
pub async fn forget(db: &Db, member: &Staff, dossier_id: &str, form: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM kept_forms WHERE staff_id = $1 AND dossier_id = $2 AND form = $3")
        .bind(&member.id)
        .bind(dossier_id)
        .bind(form)
        .execute(db.pool())
        .await?;
    Ok(())
}
