//! The reminder two days before the deadline: one mail to each dossier still open,
//! promised once whichever server instance runs the pass. A dossier is claimed by a
//! conditional update (rows affected decides, as for closure), and its letter written
//! to the outbox in the same transaction; the outbox sends it, and tries again if the
//! relay fails.

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
    for id in due {
        let Some(dossier) = dossiers::by_id(db, &id).await? else {
            continue;
        };
        let mut tx = db.pool().begin().await?;
        let claimed = sqlx::query(
            "UPDATE dossiers SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL AND status = 'open'",
        )
        .bind(now)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            continue; // another instance has it, or the candidate just closed
        }
        let (subject, body) = reminder(&dossier, base_url);
        let letter = crate::letters::outbox::Letter::text(
            dossier.registration.email.as_str(),
            subject,
            body,
        )
        .about(&dossier.id);
        crate::letters::outbox::post(&mut *tx, now, &letter).await?;
        tx.commit().await?;
        sent += 1;
    }
    if sent > 0 {
        tracing::info!(sent, "deadline reminders promised");
    }
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
