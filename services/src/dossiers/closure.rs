//! « CLÔTURER MON INSCRIPTION »: the dossier leaves `open` for `closed` exactly once,
//! before the deadline by the server's clock, with every mandatory pièce deposited;
//! then the accusé de réception.
//!
//! The transaction starts by locking the dossier's row (an update that changes
//! nothing), as uploads and deletions do: the files counted are then the files the
//! closure leaves, and a file cannot be added or deleted between the count and the
//! state change, on SQLite (one writer) as on PostgreSQL (the row lock).

use domain::{PieceRequirement, PieceSpec};
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    dossiers::Dossier,
    files::attachments::{self, AttachmentError},
};

#[derive(Debug, thiserror::Error)]
pub enum ClosureError {
    /// The deadline instant has passed by the server's clock: the dossier stays open.
    #[error("the registration deadline has passed")]
    DeadlinePassed,
    /// These mandatory pièces have no file yet.
    #[error("mandatory pièces missing: {0:?}")]
    MissingPieces(Vec<PieceSpec>),
    /// The candidate withdrew: nothing to close.
    #[error("the candidate withdrew")]
    Withdrawn,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Attachments(#[from] AttachmentError),
}

impl From<sqlx::Error> for ClosureError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// The closed state every caller gets back, whoever made the transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed {
    /// When the dossier was closed (ms since the epoch).
    pub at: i64,
    /// True only for the one request that made the transition.
    pub by_this_request: bool,
}

/// The mandatory pièces of `pieces` that none of `deposited` (pièce codes) covers.
pub fn missing_pieces(pieces: &[PieceSpec], deposited: &[String]) -> Vec<PieceSpec> {
    pieces
        .iter()
        .filter(|p| p.requirement == PieceRequirement::Mandatory)
        .filter(|p| !deposited.contains(&p.code))
        .cloned()
        .collect()
}

/// Closes the dossier. A double click, a retry after a lost answer or a thousand
/// concurrent requests make one transition, and all get [`Closed`] back.
pub async fn close(db: &Db, clock: &dyn Clock, dossier: &Dossier) -> Result<Closed, ClosureError> {
    let pieces = attachments::requested_pieces(db, dossier).await?;
    let mut tx = db.pool().begin().await?;
    // The lock: a write first, so SQLite takes its write lock at once (no upgrade from a
    // read snapshot that could fail) and PostgreSQL the row lock.
    sqlx::query("UPDATE dossiers SET status = status WHERE id = $1")
        .bind(&dossier.id)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query("SELECT status, closed_at, withdrawn_at FROM dossiers WHERE id = $1")
        .bind(&dossier.id)
        .fetch_one(&mut *tx)
        .await?;
    let status: String = row.try_get("status")?;
    if row.try_get::<Option<i64>, _>("withdrawn_at")?.is_some() {
        tx.rollback().await?;
        return Err(ClosureError::Withdrawn);
    }
    if status != "open" {
        tx.rollback().await?;
        let at: Option<i64> = row.try_get("closed_at")?;
        return Ok(Closed {
            at: at.unwrap_or_default(),
            by_this_request: false,
        });
    }
    let deposited: Vec<String> = sqlx::query(
        "SELECT DISTINCT piece_code FROM attachments WHERE dossier_id = $1 AND scan <> 'infected'",
    )
    .bind(&dossier.id)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| r.try_get("piece_code"))
    .collect::<Result<_, _>>()?;
    let missing = missing_pieces(&pieces, &deposited);
    if !missing.is_empty() {
        tx.rollback().await?;
        return Err(ClosureError::MissingPieces(missing));
    }
    // Read inside the transaction, after the lock: a request that waited past the
    // deadline is refused.
    let now = clock.now().as_millisecond();
    let done = sqlx::query(
        "UPDATE dossiers SET status = 'closed', closed_at = $2
         WHERE id = $1 AND status = 'open'
           AND EXISTS (SELECT 1 FROM exams e WHERE e.slug = dossiers.exam_slug AND e.closes_at > $2)",
    )
    .bind(&dossier.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Err(ClosureError::DeadlinePassed);
    }
    // The accusé de réception is promised with the closure, and made when sent.
    let receipt = crate::letters::outbox::Letter {
        to: dossier.registration.email.as_str().to_string(),
        content: crate::letters::outbox::Content::Receipt,
        dossier_id: Some(dossier.id.clone()),
    };
    crate::letters::outbox::post(&mut *tx, now, &receipt).await?;
    tx.commit().await?;
    tracing::info!(dossier = %dossier.number, "dossier closed");
    Ok(Closed {
        at: now,
        by_this_request: true,
    })
}

/// One file on the accusé de réception.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptFile {
    pub piece: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub deposited_at: i64,
}

/// The accusé de réception of a closed dossier: what was received, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub number: String,
    pub exam_title: String,
    pub candidate: String,
    pub closed_at: i64,
    pub files: Vec<ReceiptFile>,
}

/// The receipt of a closed dossier, as of now (files that may follow appear once
/// deposited); `None` while the dossier is open.
pub async fn receipt(db: &Db, dossier: &Dossier) -> Result<Option<Receipt>, ClosureError> {
    let Some(closed_at) = dossier.closed_at else {
        return Ok(None);
    };
    let pieces = attachments::requested_pieces(db, dossier).await?;
    let label = |code: &str| {
        pieces
            .iter()
            .find(|p| p.code == code)
            .map(|p| p.label.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let mut deposited = attachments::list(db, &dossier.id).await?;
    // A file the antivirus found infected is gone: it was never received.
    deposited.retain(|a| a.scan.counts());
    // In the exam's order of pièces, then by deposit.
    deposited.sort_by_key(|a| {
        (
            pieces.iter().position(|p| p.code == a.piece_code),
            a.created_at,
        )
    });
    let files = deposited
        .into_iter()
        .map(|a| ReceiptFile {
            piece: label(&a.piece_code),
            name: a.name,
            size: a.size,
            sha256: a.sha256,
            deposited_at: a.created_at,
        })
        .collect();
    Ok(Some(Receipt {
        number: dossier.number.to_string(),
        exam_title: dossier.exam_title.clone(),
        candidate: dossier.registration.display_name(),
        closed_at,
        files,
    }))
}

impl Receipt {
    /// The receipt's own SHA-256: of its number, exam, candidate, closure instant and
    /// each file's pièce, name, size, deposit instant and SHA-256, one per line in that
    /// order. Printed on it, so the service can tell a receipt it issued, unchanged,
    /// from one retyped.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut canonical = format!(
            "{}\n{}\n{}\n{}\n",
            self.number, self.exam_title, self.candidate, self.closed_at
        );
        for f in &self.files {
            canonical.push_str(&format!(
                "{}\n{}\n{}\n{}\n{}\n",
                f.piece, f.name, f.size, f.deposited_at, f.sha256
            ));
        }
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The receipt as plain text, for the email.
    pub fn to_text(&self, base_url: &str) -> String {
        let closed = jiff::Timestamp::from_millisecond(self.closed_at)
            .map(domain::french::paris_date_time)
            .unwrap_or_default();
        let mut text = format!(
            "Accusé de réception\n\n\
             N° de dossier : {}\n\
             Concours : {}\n\
             Candidat : {}\n\
             Inscription clôturée le {} (heure de Paris).\n\n\
             Votre dossier est clôturé, il est en cours d'instruction.\n\n\
             Fichiers reçus ({}) :\n",
            self.number,
            self.exam_title,
            self.candidate,
            closed,
            self.files.len()
        );
        for f in &self.files {
            text.push_str(&format!(
                "- {} : {} ({} octets)\n  SHA-256 {}\n",
                f.piece, f.name, f.size, f.sha256
            ));
        }
        text.push_str(&format!(
            "\nEmpreinte de cet accusé de réception (SHA-256) : {}\n",
            self.fingerprint()
        ));
        text.push_str(&format!(
            "\nCet accusé de réception (PDF joint) reste consultable et imprimable dans votre espace sécurisé : {base_url}/espace/accuse-de-reception\n"
        ));
        text
    }
}
