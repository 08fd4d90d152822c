//! The service's decisions on a closed dossier (complet, incomplet, admis, rejeté) and
//! its reopening: each under the dossier's row lock, logged, and mailed.

use domain::{
    DossierNumber,
    instruction::{Decision, DossierState, Review},
};
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    access::staff::{self, Staff},
    dossiers::{self, Dossier, DossierError},
    letters::outbox,
};

/// A decision's mail waits this long (ms) before it goes: a decision taken back within
/// it sends nothing, and « complet » then « admis » send one mail.
pub const DECISION_HOLD_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// Not allowed in the dossier's state; the message says why.
    #[error(transparent)]
    Refused(#[from] domain::instruction::DecisionRefused),
    #[error("no such dossier")]
    UnknownDossier,
    #[error("La date de réouverture doit être postérieure à aujourd'hui.")]
    ReopenDate,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Staff(#[from] crate::access::staff::StaffError),
    #[error(transparent)]
    Dossier(#[from] DossierError),
}

impl From<sqlx::Error> for DecisionError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// Locks the dossier's row (as closure and uploads do) and reads its state there.
pub(crate) async fn lock_for_decision(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    now: jiff::Timestamp,
    number: &DossierNumber,
) -> Result<(String, DossierState, Option<Review>), DecisionError> {
    let locked = sqlx::query("UPDATE dossiers SET status = status WHERE number = $1")
        .bind(number.as_str())
        .execute(&mut **tx)
        .await?;
    if locked.rows_affected() != 1 {
        return Err(DecisionError::UnknownDossier);
    }
    let row = sqlx::query(
        "SELECT d.id, d.status, d.review, d.withdrawn_at, e.closes_at FROM dossiers d JOIN exams e ON e.slug = d.exam_slug
         WHERE d.number = $1",
    )
    .bind(number.as_str())
    .fetch_one(&mut **tx)
    .await?;
    let status: String = row.try_get("status")?;
    let closes_at: i64 = row.try_get("closes_at")?;
    let withdrawn = row.try_get::<Option<i64>, _>("withdrawn_at")?.is_some();
    let state = DossierState::of(&status, closes_at <= now.as_millisecond(), withdrawn)
        .ok_or(DecisionError::UnknownDossier)?;
    let review = row
        .try_get::<Option<String>, _>("review")?
        .as_deref()
        .and_then(Review::parse);
    Ok((row.try_get("id")?, state, review))
}

/// Records a decision on a closed dossier, with its audit line, in one transaction
/// under the dossier's row lock; then tells the candidate by email.
pub async fn decide(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    member: &Staff,
    number: &str,
    decision: Decision,
) -> Result<Dossier, DecisionError> {
    let number = DossierNumber::parse(number).map_err(|_| DecisionError::UnknownDossier)?;
    let now = clock.now();
    let mut tx = db.pool().begin().await?;
    let (id, state, review) = lock_for_decision(&mut tx, now, &number).await?;
    decision.check(state, review)?;
    let now_ms = now.as_millisecond();
    // Each statement binds exactly its own parameters, the dossier's id first.
    let (query, text, action) = match &decision {
        Decision::Complete => (
            sqlx::query("UPDATE dossiers SET review = 'complete', review_note = NULL, reopened_until = NULL, corrections = NULL WHERE id = $1")
                .bind(&id),
            None,
            "dossier complet",
        ),
        Decision::Incomplete { missing } => (
            sqlx::query("UPDATE dossiers SET review = 'incomplete', review_note = $2 WHERE id = $1")
                .bind(&id)
                .bind(missing.trim()),
            Some(missing.trim()),
            "dossier incomplet",
        ),
        Decision::Accept => (
            sqlx::query("UPDATE dossiers SET status = 'accepted', decided_at = $2, reopened_until = NULL, corrections = NULL WHERE id = $1")
                .bind(&id)
                .bind(now_ms),
            None,
            "admis à concourir",
        ),
        Decision::Reject { reason } => (
            sqlx::query("UPDATE dossiers SET status = 'rejected', decision_reason = $2, decided_at = $3, reopened_until = NULL, corrections = NULL WHERE id = $1")
                .bind(&id)
                .bind(reason.trim())
                .bind(now_ms),
            Some(reason.trim()),
            "dossier rejeté",
        ),
    };
    query.execute(&mut *tx).await?;
    staff::audit(
        &mut *tx,
        clock,
        member,
        Some(&id),
        action,
        text.unwrap_or(""),
    )
    .await?;
    let before = dossiers::by_id(db, &id)
        .await?
        .ok_or(DecisionError::UnknownDossier)?;
    let letter = decision_letter(base_url, &decision, &before, now);
    if decision == Decision::Accept {
        // « complet » then « admis » within the hold: the admission's mail says both.
        let complete = decision_mail(&Decision::Complete, &before, now).0;
        outbox::withdraw_held(&mut *tx, &id, now_ms, Some(&complete)).await?;
    }
    outbox::post_due(&mut *tx, now_ms, now_ms + DECISION_HOLD_MS, &letter).await?;
    tx.commit().await?;
    dossiers::by_id(db, &id)
        .await?
        .ok_or(DecisionError::UnknownDossier)
}

/// Takes back the dossier's decision (admis, rejeté, complet or incomplet), for
/// `reason`: the dossier is to check again, the journal says what was taken back and
/// why, and the candidate is told, unless the decision's mail was still held (then it
/// is not sent, and nothing is).
pub async fn take_back(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    member: &Staff,
    number: &str,
    reason: &str,
) -> Result<Dossier, DecisionError> {
    let number = DossierNumber::parse(number).map_err(|_| DecisionError::UnknownDossier)?;
    let now = clock.now();
    let now_ms = now.as_millisecond();
    let mut tx = db.pool().begin().await?;
    let (id, state, review) = lock_for_decision(&mut tx, now, &number).await?;
    let decision = domain::instruction::decision_to_take_back(state, review)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(domain::instruction::DecisionRefused::ReasonRequired.into());
    }
    sqlx::query(
        "UPDATE dossiers SET status = 'closed', review = NULL, review_note = NULL,
                decision_reason = NULL, decided_at = NULL WHERE id = $1",
    )
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    staff::audit(
        &mut *tx,
        clock,
        member,
        Some(&id),
        "décision annulée",
        &format!("{decision} : {reason}"),
    )
    .await?;
    let held = outbox::withdraw_held(&mut *tx, &id, now_ms, None).await?;
    if held == 0 {
        let dossier = dossiers::by_id(db, &id)
            .await?
            .ok_or(DecisionError::UnknownDossier)?;
        let letter = to_candidate(
            base_url,
            &dossier,
            &(
                "La décision sur votre dossier est annulée".to_string(),
                format!(
                    "Le service concours annule la décision annoncée sur votre dossier ({decision}).\n\nMotif : {reason}\n\nVotre dossier est de nouveau en cours d'instruction : une nouvelle décision vous sera communiquée.\n\n"
                ),
            ),
        );
        outbox::post(&mut *tx, now_ms, &letter).await?;
    }
    tx.commit().await?;
    dossiers::by_id(db, &id)
        .await?
        .ok_or(DecisionError::UnknownDossier)
}

/// Lets the candidate of a closed dossier add or replace files until the end of `day`
/// (midnight, Paris time), e.g. a missing pièce.
pub async fn reopen(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    member: &Staff,
    number: &str,
    day: jiff::civil::Date,
) -> Result<Dossier, DecisionError> {
    let number = DossierNumber::parse(number).map_err(|_| DecisionError::UnknownDossier)?;
    let until = domain::Deadline::on(day).map_err(|_| DecisionError::ReopenDate)?;
    let now = clock.now();
    if !until.is_open_at(now) {
        return Err(DecisionError::ReopenDate);
    }
    let mut tx = db.pool().begin().await?;
    let (id, state, _) = lock_for_decision(&mut tx, now, &number).await?;
    if state != DossierState::Closed {
        return Err(
            if matches!(state, DossierState::Accepted | DossierState::Rejected) {
                domain::instruction::DecisionRefused::AlreadyDecided
            } else {
                domain::instruction::DecisionRefused::NotClosed
            }
            .into(),
        );
    }
    sqlx::query("UPDATE dossiers SET reopened_until = $2 WHERE id = $1")
        .bind(&id)
        .bind(until.closes_at().as_millisecond())
        .execute(&mut *tx)
        .await?;
    let when = until.to_french();
    staff::audit(
        &mut *tx,
        clock,
        member,
        Some(&id),
        "dossier rouvert",
        &format!("au plus tard {when}"),
    )
    .await?;
    let dossier = dossiers::by_id(db, &id)
        .await?
        .ok_or(DecisionError::UnknownDossier)?;
    let note = dossier
        .review_note
        .as_deref()
        .map(|m| format!("Pièces demandées : {m}\n\n"))
        .unwrap_or_default();
    let body = format!(
        "Le service concours a rouvert votre dossier : vous pouvez y ajouter ou remplacer des fichiers, au plus tard {when}.\n\n{note}"
    );
    let letter = to_candidate(
        base_url,
        &dossier,
        &("Votre dossier est rouvert".to_string(), body),
    );
    outbox::post(&mut *tx, now.as_millisecond(), &letter).await?;
    tx.commit().await?;
    dossiers::by_id(db, &id)
        .await?
        .ok_or(DecisionError::UnknownDossier)
}

/// The mail a decision sends the candidate of `dossier`, as it will go: what the
/// decision writes, and what a bulk action's confirmation shows.
pub fn decision_letter(
    base_url: &str,
    decision: &Decision,
    dossier: &Dossier,
    now: jiff::Timestamp,
) -> crate::letters::outbox::Letter {
    to_candidate(base_url, dossier, &decision_mail(decision, dossier, now))
}

fn decision_mail(decision: &Decision, dossier: &Dossier, now: jiff::Timestamp) -> (String, String) {
    match decision {
        Decision::Complete => (
            "Votre dossier est complet".into(),
            "Le service concours a vérifié votre dossier : il est complet. La décision sur votre admission à concourir vous sera communiquée.\n\n".into(),
        ),
        Decision::Incomplete { missing } => (
            "Votre dossier est incomplet".into(),
            format!(
                "Le service concours a vérifié votre dossier : il est incomplet.\n\nPièces manquantes ou à corriger : {}\n\n{}\n\n",
                missing.trim(),
                dossier.incomplete_next_step(now)
            ),
        ),
        Decision::Accept => (
            "Vous êtes admis à concourir".into(),
            "Votre dossier est complet et recevable : vous êtes admis à concourir. Votre convocation vous sera adressée avant les épreuves.\n\n".into(),
        ),
        Decision::Reject { reason } => (
            "Votre dossier a été rejeté".into(),
            format!("Le service concours a rejeté votre dossier.\n\nMotif : {}\n\n", reason.trim()),
        ),
    }
}

/// The candidate learns of every decision by email (the dossier page says the same):
/// the letter goes in the decision's transaction, and the outbox sends it.
pub(crate) fn to_candidate(
    base_url: &str,
    dossier: &Dossier,
    (subject, text): &(String, String),
) -> crate::letters::outbox::Letter {
    let body = format!(
        "Bonjour,\n\nDossier n° {number} : {exam}.\n\n{text}Votre espace sécurisé : {base_url}/connexion\n\nLe service concours\n",
        number = dossier.number,
        exam = dossier.exam_title,
    );
    crate::letters::outbox::Letter::text(
        dossier.registration.email.as_str(),
        format!("{subject} (dossier n° {})", dossier.number),
        body,
    )
    .about(&dossier.id)
}
