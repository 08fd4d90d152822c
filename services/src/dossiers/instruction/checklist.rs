//! The checklist of a dossier's pièces: each marked « conforme » or « à corriger » by
//! an agent as they look at its files; the last mark counts, the journal keeps each.

use std::collections::HashMap;

use domain::instruction::PieceCheck;
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    access::staff::{self, Staff, StaffError},
};

/// A pièce's mark: what, by whom, when (ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub check: PieceCheck,
    pub by: String,
    pub at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ChecklistError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Staff(#[from] StaffError),
}

impl From<sqlx::Error> for ChecklistError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// Marks the pièce (`label`, for the journal) of the dossier.
pub async fn mark(
    db: &Db,
    clock: &dyn Clock,
    member: &Staff,
    dossier_id: &str,
    (piece, label): (&str, &str),
    check: PieceCheck,
) -> Result<(), ChecklistError> {
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "INSERT INTO piece_checks (dossier_id, piece_code, verdict, staff_id, at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (dossier_id, piece_code)
         DO UPDATE SET verdict = $3, staff_id = $4, at = $5",
    )
    .bind(dossier_id)
    .bind(piece)
    .bind(check.code())
    .bind(&member.id)
    .bind(clock.now().as_millisecond())
    .execute(&mut *tx)
    .await?;
    staff::audit(
        &mut *tx,
        clock,
        member,
        Some(dossier_id),
        &format!("pièce {}", check.label()),
        label,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The dossier's marks, by pièce.
pub async fn of_dossier(
    db: &Db,
    dossier_id: &str,
) -> Result<HashMap<String, Mark>, ChecklistError> {
    let rows = sqlx::query(
        "SELECT c.piece_code, c.verdict, s.name, c.at FROM piece_checks c
         JOIN staff s ON s.id = c.staff_id WHERE c.dossier_id = $1",
    )
    .bind(dossier_id)
    .fetch_all(db.pool())
    .await?;
    let mut out = HashMap::new();
    for r in rows {
        let Some(check) = PieceCheck::from_code(&r.try_get::<String, _>("verdict")?) else {
            continue;
        };
        out.insert(
            r.try_get("piece_code")?,
            Mark {
                check,
                by: r.try_get("name")?,
                at: r.try_get("at")?,
            },
        );
    }
    Ok(out)
}
