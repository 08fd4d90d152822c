//! The reminder two days before the deadline: one mail to each dossier still open,
//! promised once whichever server instance runs the pass. Dossiers are claimed by a
//! conditional update (the rows it returns decide, as rows affected do for closure), a
//! [`BATCH`] at a time, and their letters written to the outbox in the same
//! transaction; the outbox sends them, and tries again if the relay fails.

use jiff::SignedDuration;
use sqlx::Row;

use crate::{
    Clock, Db,
    dossiers::{self, Dossier, DossierError},
};

/// How long before the deadline the reminder goes.
pub const BEFORE_DEADLINE: SignedDuration = SignedDuration::from_hours(48);

/// Puts the reminders due at the clock's instant in the outbox; says how many.
///
/// Due: open dossiers of an exam that closes within [`BEFORE_DEADLINE`], created before
/// that window began (a candidate who registers on the last evening has just read the
/// deadline; the dossier page warns them at 24 h and 1 h).
pub async fn send_due(db: &Db, clock: &dyn Clock, base_url: &str) -> Result<usize, DossierError> {
    let now = clock.now().as_millisecond();
    let window = BEFORE_DEADLINE.as_millis() as i64;
    let due: Vec<String> = sqlx::query(
        "SELECT d.id FROM dossiers d JOIN exams e ON e.slug = d.exam_slug
         WHERE d.status = 'open' AND d.withdrawn_at IS NULL AND d.reminded_at IS NULL
           AND e.closes_at > $1 AND e.closes_at - $2 <= $1 AND d.created_at <= e.closes_at - $2",
    )
    .bind(now)
    .bind(window)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|row| row.try_get("id"))
    .collect::<Result<_, _>>()?;
    let mut sent = 0;
    for batch in due.chunks(BATCH) {
        sent += promise(db, now, base_url, batch).await?;
    }
    if sent > 0 {
        tracing::info!(sent, "deadline reminders promised");
    }
    Ok(sent)
}

/// Dossiers claimed and their letters written per transaction: one commit (one fsync
/// on SQLite) for a batch, rather than one for each of a national concours's dossiers.
pub const BATCH: usize = 200;

/// Claims what is still unclaimed among `ids` and writes their letters, in one
/// transaction; says how many.
async fn promise(db: &Db, now: i64, base_url: &str, ids: &[String]) -> Result<usize, DossierError> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let dossiers = dossiers::by_ids(db, &ids).await?;
    let marks: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
    let sql = format!(
        "UPDATE dossiers SET reminded_at = $1
         WHERE id IN ({}) AND reminded_at IS NULL AND status = 'open' RETURNING id",
        marks.join(", ")
    );
    let mut tx = db.pool().begin().await?;
    let mut claim = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
    for id in &ids {
        claim = claim.bind(*id);
    }
    // Another instance has the others, or their candidates just closed.
    let claimed: std::collections::HashSet<String> = claim
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
    let mut sent = 0;
    for dossier in dossiers.iter().filter(|d| claimed.contains(&d.id)) {
        let (subject, body) = reminder(dossier, base_url);
        let letter = crate::letters::outbox::Letter::text(
            dossier.registration.email.as_str(),
            subject,
            body,
        )
        .about(&dossier.id);
        crate::letters::outbox::post(&mut *tx, now, &letter).await?;
        sent += 1;
    }
    tx.commit().await?;
    Ok(sent)
}

fn reminder(dossier: &Dossier, base_url: &str) -> (String, String) {
    let subject = format!(
        "Rappel : votre inscription n'est pas clôturée (dossier n° {})",
        dossier.number
    );
    let body = format!(
        "Bonjour,\n\n\
         Votre dossier n° {number} ({exam}) n'est pas encore clôturé.\n\n\
         Date limite : {deadline}. Un dossier non clôturé à cette date n'est pas pris en compte.\n\n\
         Déposez les pièces demandées, puis cliquez sur « CLÔTURER MON INSCRIPTION » dans votre espace sécurisé : {base_url}/connexion\n\n\
         Le service concours\n",
        number = dossier.number,
        exam = dossier.exam_title,
        deadline = dossier.deadline.to_french(),
    );
    (subject, body)
}
