//! Désistement: a candidate withdraws their dossier themselves before the deadline
//! (`withdraw`), or asks the service by message, which records it (`record`). Under the
//! dossier's row lock, as every change of state; the candidate is told by mail. A
//! withdrawn dossier takes no file and no closure, is counted apart, and is erased
//! with the others when the exam's retention ends.

use domain::{
    DossierNumber,
    instruction::{WithdrawalRefused, candidate_may_withdraw, service_may_record_withdrawal},
};

use crate::{
    Clock, Db, DbError,
    access::staff::{self, Staff},
    dossiers::{
        self, Dossier,
        instruction::{DecisionError, lock_for_decision, to_candidate},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum WithdrawalError {
    #[error(transparent)]
    Refused(#[from] WithdrawalRefused),
    #[error("no such dossier")]
    UnknownDossier,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Staff(#[from] staff::StaffError),
    #[error(transparent)]
    Dossier(#[from] dossiers::DossierError),
}

impl From<sqlx::Error> for WithdrawalError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

impl From<DecisionError> for WithdrawalError {
    fn from(value: DecisionError) -> Self {
        match value {
            DecisionError::Db(e) => Self::Db(e),
            DecisionError::Staff(e) => Self::Staff(e),
            _ => Self::UnknownDossier,
        }
    }
}

/// Who records the désistement.
enum By<'a> {
    Candidate,
    Service(&'a Staff, &'a str),
}

/// The candidate withdraws their dossier: before the deadline, until the service has
/// decided. Checked on the server's clock, under the row lock.
pub async fn withdraw(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    number: &DossierNumber,
) -> Result<Dossier, WithdrawalError> {
    record_as(db, clock, base_url, number, By::Candidate).await
}

/// The service records the désistement a candidate asked for (by message, by mail),
/// at any time; `note` says how it was asked, in the dossier's log.
pub async fn record(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    member: &Staff,
    number: &str,
    note: &str,
) -> Result<Dossier, WithdrawalError> {
    let number = DossierNumber::parse(number).map_err(|_| WithdrawalError::UnknownDossier)?;
    record_as(db, clock, base_url, &number, By::Service(member, note)).await
}

async fn record_as(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    number: &DossierNumber,
    by: By<'_>,
) -> Result<Dossier, WithdrawalError> {
    let now = clock.now();
    let mut tx = db.pool().begin().await?;
    let (id, state, _) = lock_for_decision(&mut tx, now, number).await?;
    match by {
        By::Candidate => {
            let closes_at: i64 = sqlx::query_scalar(
                "SELECT e.closes_at FROM dossiers d JOIN exams e ON e.slug = d.exam_slug WHERE d.id = $1",
            )
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
            candidate_may_withdraw(state, closes_at <= now.as_millisecond())?
        }
        By::Service(..) => service_may_record_withdrawal(state)?,
    }
    sqlx::query("UPDATE dossiers SET withdrawn_at = $2 WHERE id = $1 AND withdrawn_at IS NULL")
        .bind(&id)
        .bind(now.as_millisecond())
        .execute(&mut *tx)
        .await?;
    if let By::Service(member, note) = by {
        staff::audit(
            &mut *tx,
            clock,
            member,
            Some(&id),
            "désistement enregistré",
            note.trim(),
        )
        .await?;
    }
    let dossier = dossiers::by_id(db, &id)
        .await?
        .ok_or(WithdrawalError::UnknownDossier)?;
    let mail = (
        "Désistement enregistré".to_string(),
        format!(
            "Votre désistement est enregistré le {} (heure de Paris) : votre inscription à ce concours est annulée. \
             Votre dossier sera effacé avec les autres à la fin de sa durée de conservation.\n\n",
            domain::french::paris_date_time(now)
        ),
    );
    crate::letters::outbox::post(
        &mut *tx,
        now.as_millisecond(),
        &to_candidate(base_url, &dossier, &mail),
    )
    .await?;
    tx.commit().await?;
    dossiers::by_id(db, &id)
        .await?
        .ok_or(WithdrawalError::UnknownDossier)
}
