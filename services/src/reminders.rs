//! The reminder two days before the deadline: one mail to each dossier still open, sent
//! once whichever server instance runs the pass. A dossier is claimed by a conditional
//! update (rows affected decides, as for closure) before its mail is sent; a mail that
//! cannot be sent gives its claim back, so a later pass tries again.

use jiff::SignedDuration;
use sqlx::Row;

use crate::{
    Clock, Db,
    dossiers::{self, Dossier, DossierError},
    mail::Mailer,
};

/// How long before the deadline the reminder goes.
pub const BEFORE_DEADLINE: SignedDuration = SignedDuration::from_hours(48);

/// Mails the reminders due at the clock's instant, and says how many went.
///
/// Due: open dossiers of an exam that closes within [`BEFORE_DEADLINE`], created before
/// that window began (a candidate who registers on the last evening has just read the
/// deadline; the dossier page warns them at 24 h and 1 h).
pub async fn send_due(
    db: &Db,
    clock: &dyn Clock,
    mailer: &Mailer,
    base_url: &str,
) -> Result<usize, DossierError> {
    let now = clock.now().as_millisecond();
    let window = BEFORE_DEADLINE.as_millis() as i64;
    let due: Vec<String> = sqlx::query(
        "SELECT d.id FROM dossiers d JOIN exams e ON e.slug = d.exam_slug
         WHERE d.status = 'open' AND d.reminded_at IS NULL
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
        let claimed = sqlx::query(
            "UPDATE dossiers SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL AND status = 'open'",
        )
        .bind(now)
        .bind(&id)
        .execute(db.pool())
        .await?;
        if claimed.rows_affected() != 1 {
            continue; // another instance has it, or the candidate just closed
        }
        let Some(dossier) = dossiers::by_id(db, &id).await? else {
            continue;
        };
        let (subject, body) = reminder(&dossier, base_url);
        match mailer
            .send(dossier.registration.email.as_str(), &subject, body)
            .await
        {
            Ok(()) => sent += 1,
            Err(error) => {
                tracing::error!(%error, dossier = %dossier.number, "reminder not sent; retried at the next pass");
                sqlx::query("UPDATE dossiers SET reminded_at = NULL WHERE id = $1")
                    .bind(&id)
                    .execute(db.pool())
                    .await?;
            }
        }
    }
    if sent > 0 {
        tracing::info!(sent, "deadline reminders sent");
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
