//! Saved views: an exam's list as an agent searched, filtered and sorted it, named,
//! for that agent only (« À vérifier, interne », « Tiers-temps »).

use sqlx::Row;

use crate::{Clock, Db, DbError, access::staff::Staff};

/// The longest name of a view.
pub const NAME_MAX_CHARS: usize = 80;
/// Views an agent keeps per exam at most.
pub const PER_EXAM: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("Donnez un nom à la vue (80 caractères au plus).")]
    Name,
    #[error("Vous avez déjà 30 vues pour ce concours : supprimez-en une.")]
    TooMany,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ViewError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

impl ViewError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Name => "nom",
            Self::TooMany => "trop",
            Self::Db(_) => "erreur",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "nom" => Some(Self::Name),
            "trop" => Some(Self::TooMany),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub id: String,
    pub name: String,
    /// The list's address (what `ListQuery::to_query` wrote).
    pub query: String,
}

/// The agent's views of the exam, by name.
pub async fn of(db: &Db, member: &Staff, exam: &str) -> Result<Vec<View>, ViewError> {
    let rows = sqlx::query(
        "SELECT id, name, query FROM saved_views WHERE staff_id = $1 AND exam_slug = $2
         ORDER BY name_key",
    )
    .bind(&member.id)
    .bind(exam)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(View {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                query: r.try_get("query")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Saves the list's address under `name` (the view of that name replaced).
pub async fn save(
    db: &Db,
    clock: &dyn Clock,
    member: &Staff,
    exam: &str,
    name: &str,
    query: &str,
) -> Result<(), ViewError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(ViewError::Name);
    }
    let key = name.to_lowercase();
    let mut tx = db.pool().begin().await?;
    let existing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM saved_views WHERE staff_id = $1 AND exam_slug = $2 AND name_key <> $3",
    )
    .bind(&member.id)
    .bind(exam)
    .bind(&key)
    .fetch_one(&mut *tx)
    .await?;
    if existing >= PER_EXAM {
        return Err(ViewError::TooMany);
    }
    sqlx::query(
        "INSERT INTO saved_views (id, staff_id, exam_slug, name, name_key, query, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (staff_id, exam_slug, name_key) DO UPDATE SET name = $4, query = $6",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&member.id)
    .bind(exam)
    .bind(name)
    .bind(&key)
    .bind(query)
    .bind(clock.now().as_millisecond())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes one of the agent's views (another agent's is left alone).
pub async fn delete(db: &Db, member: &Staff, id: &str) -> Result<bool, ViewError> {
    Ok(
        sqlx::query("DELETE FROM saved_views WHERE id = $1 AND staff_id = $2")
            .bind(id)
            .bind(&member.id)
            .execute(db.pool())
            .await?
            .rows_affected()
            == 1,
    )
}
