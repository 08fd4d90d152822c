//! Export models: the columns an agent picked and ordered, saved under a name for the
//! next export (convocations, the tiers-temps planning, the admitted candidates).
//! Shared by the service: a model one agent made serves the team.

use sqlx::Row;

use super::Column;
use crate::{Clock, Db, DbError, access::staff::Staff};

/// The longest name of a model.
pub const NAME_MAX_CHARS: usize = 80;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("Donnez un nom au modèle (80 caractères au plus).")]
    Name,
    #[error("Choisissez au moins une colonne.")]
    NoColumn,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ModelError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

impl ModelError {
    /// A code for an address.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Name => "nom",
            Self::NoColumn => "colonnes",
            Self::Db(_) => "erreur",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    pub id: String,
    pub name: String,
    pub columns: Vec<Column>,
    /// Who saved it last.
    pub author: String,
}

/// The columns' codes, in order, as stored and as addresses carry them.
pub fn codes(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| c.code())
        .collect::<Vec<_>>()
        .join(",")
}

/// The known columns of `codes`, each once, in order.
pub fn parse_codes(codes: &str) -> Vec<Column> {
    let mut out: Vec<Column> = Vec::new();
    for column in codes.split(',').filter_map(|c| Column::from_code(c.trim())) {
        if !out.contains(&column) {
            out.push(column);
        }
    }
    out
}

fn model(r: &sqlx::any::AnyRow) -> Result<Model, sqlx::Error> {
    Ok(Model {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        columns: parse_codes(&r.try_get::<String, _>("columns")?),
        author: r.try_get("author")?,
    })
}

/// Every model, by name.
pub async fn all(db: &Db) -> Result<Vec<Model>, ModelError> {
    let rows = sqlx::query(
        "SELECT m.id, m.name, m.columns, s.name AS author FROM export_models m
         JOIN staff s ON s.id = m.staff_id ORDER BY m.name_key",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(model)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Model>, ModelError> {
    let row = sqlx::query(
        "SELECT m.id, m.name, m.columns, s.name AS author FROM export_models m
         JOIN staff s ON s.id = m.staff_id WHERE m.id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(model).transpose().map_err(Into::into)
}

/// Saves the columns under `name`: a new model, or the one of that name replaced.
pub async fn save(
    db: &Db,
    clock: &dyn Clock,
    member: &Staff,
    name: &str,
    columns: &[Column],
) -> Result<Model, ModelError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(ModelError::Name);
    }
    if columns.is_empty() {
        return Err(ModelError::NoColumn);
    }
    let key = name.to_lowercase();
    sqlx::query(
        "INSERT INTO export_models (id, name, name_key, columns, staff_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (name_key) DO UPDATE SET name = $2, columns = $4, staff_id = $5, updated_at = $6",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(name)
    .bind(&key)
    .bind(codes(columns))
    .bind(&member.id)
    .bind(clock.now().as_millisecond())
    .execute(db.pool())
    .await?;
    let id: String = sqlx::query_scalar("SELECT id FROM export_models WHERE name_key = $1")
        .bind(&key)
        .fetch_one(db.pool())
        .await?;
    Ok(by_id(db, &id).await?.expect("the model just saved"))
}

/// Deletes a model; says whether there was one.
pub async fn delete(db: &Db, id: &str) -> Result<bool, ModelError> {
    Ok(sqlx::query("DELETE FROM export_models WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?
        .rows_affected()
        == 1)
}
