//! Bulk actions on a selection of an exam's dossiers (`domain::instruction::BulkAction`):
//! each dossier decided, or written to, on its own (its transaction, its journal line,
//! its mail), exactly as from its page; one refusal stops nothing else.

use domain::{
    DossierNumber,
    instruction::{BULK_MAX, BulkAction, DecisionRefused},
};

use crate::{
    Clock, Db,
    access::staff::Staff,
    dossiers::{
        self, Dossier, DossierError,
        instruction::{self, DecisionError},
        messages::{self, MessageError, Sender},
    },
    letters::outbox::Letter,
};

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error(transparent)]
    Decision(#[from] DecisionError),
    #[error(transparent)]
    Dossier(#[from] DossierError),
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// What became of one dossier of a bulk action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Not allowed in the dossier's state: nothing written for it.
    Refused(DecisionRefused),
    /// The message was refused (empty, too long): nothing written for it.
    MessageRefused(domain::conversation::Refusal),
    /// No dossier of this number in the exam.
    Unknown,
}

/// The selected dossiers of `exam`, in the order given, at most [`BULK_MAX`]; numbers
/// of no dossier of the exam are left out.
pub async fn selection(db: &Db, exam: &str, numbers: &[String]) -> Result<Vec<Dossier>, BulkError> {
    let mut out = Vec::new();
    for number in numbers.iter().take(BULK_MAX) {
        let Ok(number) = DossierNumber::parse(number) else {
            continue;
        };
        if let Some(d) = dossiers::by_number(db, &number).await?
            && d.exam_slug.as_str() == exam
            && !out.iter().any(|o: &Dossier| o.id == d.id)
        {
            out.push(d);
        }
    }
    Ok(out)
}

/// The mail the action sends the candidate of `dossier`, as it will go (`text`: the
/// reason of a rejection; a message is not copied into its mail).
pub fn letter(
    base_url: &str,
    action: BulkAction,
    dossier: &Dossier,
    text: &str,
    now: jiff::Timestamp,
) -> Letter {
    match action.decision(text) {
        Some(decision) => instruction::decision_letter(base_url, &decision, dossier, now),
        None => messages::service_message_letter(dossier, base_url),
    }
}

/// Whether the action may be taken on the dossier now, as the dossier's page would say.
pub fn check(
    action: BulkAction,
    dossier: &Dossier,
    now: jiff::Timestamp,
) -> Result<(), DecisionRefused> {
    let Some(decision) = action.decision("·") else {
        return Ok(());
    };
    let state = instruction::state_at(dossier, now).ok_or(DecisionRefused::NotClosed)?;
    decision.check(state, dossier.review)
}

/// Runs the action on each selected dossier of `exam`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    member: &Staff,
    exam: &str,
    numbers: &[String],
    action: BulkAction,
    text: &str,
) -> Result<Vec<(String, Outcome)>, BulkError> {
    let selected = selection(db, exam, numbers).await?;
    let mut out: Vec<(String, Outcome)> = numbers
        .iter()
        .take(BULK_MAX)
        .filter(|n| !selected.iter().any(|d| d.number.as_str() == n.as_str()))
        .map(|n| (n.clone(), Outcome::Unknown))
        .collect();
    for d in selected {
        let outcome = match action.decision(text) {
            Some(decision) => {
                match instruction::decide(db, clock, base_url, member, d.number.as_str(), decision)
                    .await
                {
                    Ok(_) => Outcome::Done,
                    Err(DecisionError::Refused(r)) => Outcome::Refused(r),
                    Err(DecisionError::UnknownDossier) => Outcome::Unknown,
                    Err(e) => return Err(e.into()),
                }
            }
            None => {
                match messages::send(db, clock, base_url, None, &d, Sender::Service(member), text)
                    .await
                {
                    Ok(_) => Outcome::Done,
                    Err(MessageError::Refused(r)) => Outcome::MessageRefused(r),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        out.push((d.number.to_string(), outcome));
    }
    Ok(out)
}
