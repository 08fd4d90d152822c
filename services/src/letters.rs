//! What a letter says when it is sent: the préinscription's with the dossier
//! d'inscription, the closure's accusé de réception with its PDF, made from the
//! dossier as the database holds it then. The parts that announce something post a
//! [`Letter`] to the outbox in their own transaction; the outbox claims, sends and
//! retries it; this module, above both, words it.

pub mod mail;
pub mod outbox;
pub mod printouts;

use std::sync::Arc;

use domain::centre::Centre;

use crate::{Clock, Db, DbError, files::storage::Storage};
use mail::{MailFile, Mailer};
use outbox::{Content, Letter, Written};

/// Who writes, and where the candidate answers: the Centre that issues the letters and
/// their PDFs (its name, address and contacts at their head), and the site's address.
#[derive(Clone, Debug)]
pub struct Letterhead {
    pub centre: Arc<Centre>,
    pub base_url: String,
}

/// Sends the letters due at the clock's instant; says how many went.
pub async fn deliver_due(
    db: &Db,
    clock: &dyn Clock,
    mailer: &Mailer,
    head: &Letterhead,
) -> Result<usize, DbError> {
    deliver_due_keeping(db, clock, mailer, head, None).await
}

/// The same, keeping the PDFs the letters carry in `storage` (`printouts::kept`):
/// the accusé de réception is made once, at closure, and the candidate is served
/// that copy.
pub async fn deliver_due_keeping(
    db: &Db,
    clock: &dyn Clock,
    mailer: &Mailer,
    head: &Letterhead,
    storage: Option<&Storage>,
) -> Result<usize, DbError> {
    outbox::deliver_due(db, clock, mailer, |letter| write(db, head, letter, storage)).await
}

/// The subject, body and PDF of a claimed letter; `None` for a receipt whose dossier
/// is gone.
async fn write(
    db: &Db,
    head: &Letterhead,
    letter: Letter,
    storage: Option<&Storage>,
) -> Result<Option<Written>, String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let made = |dossier_id: String, kind: &'static str, printout: printouts::Printout| async move {
        match storage {
            Some(storage) => printouts::kept_for_letter(storage, &dossier_id, kind, printout).await,
            None => printout.render_letter().await,
        }
    };
    let dossier = match (&letter.content, &letter.dossier_id) {
        (Content::Text { .. }, _) | (_, None) => None,
        (_, Some(id)) => crate::dossiers::by_id(db, id).await.map_err(|e| text(&e))?,
    };
    let (subject, body, registration) = match letter.content {
        Content::Text { subject, body } => (subject, body, false),
        Content::Registration { subject, body } => (subject, body, true),
        Content::Receipt => {
            let Some(dossier) = dossier else {
                return Ok(None);
            };
            let Some(receipt) = crate::dossiers::closure::receipt(db, &dossier)
                .await
                .map_err(|e| text(&e))?
            else {
                return Ok(None);
            };
            let pdf = MailFile {
                name: format!("accuse-de-reception-{}.pdf", receipt.number),
                bytes: made(
                    dossier.id.clone(),
                    "recu",
                    printouts::receipt(&receipt, head),
                )
                .await
                .map_err(|e| text(&e))?,
            };
            return Ok(Some(Written {
                subject: format!("Accusé de réception : dossier {} clôturé", receipt.number),
                body: receipt.to_text(&head.base_url),
                pdf: Some(pdf),
            }));
        }
    };
    let pdf = match dossier {
        Some(dossier) if registration => {
            let pieces = crate::files::attachments::requested_pieces(db, &dossier)
                .await
                .map_err(|e| text(&e))?;
            let sheet = printouts::dossier_sheet(&dossier, &pieces, head);
            Some(MailFile {
                name: format!("dossier-inscription-{}.pdf", dossier.number),
                bytes: made(dossier.id.clone(), "dossier", sheet)
                    .await
                    .map_err(|e| text(&e))?,
            })
        }
        _ => None,
    };
    Ok(Some(Written { subject, body, pdf }))
}
