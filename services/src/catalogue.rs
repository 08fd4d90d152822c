//! The exam catalogue: exams imported from human-editable TOML files, and listed for the
//! public catalogue page.

use std::path::{Path, PathBuf};

use domain::{Deadline, ExamError, ExamKind, ExamSlug, ExamSpec, ExamSummary, RawExam, Voie};
use sqlx::Row;

use crate::{Clock, Db, DbError};

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: {source}")]
    Invalid { path: PathBuf, source: ExamError },
    #[error("{path}: exam « {slug} » is already defined by another file")]
    DuplicateSlug { path: PathBuf, slug: String },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("corrupt catalogue row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for CatalogueError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// Reads every `*.toml` exam in `dir`, all or nothing: one bad file stops the import
/// before anything is written, with the file and the reason.
pub fn read_dir(dir: &Path, clock: &dyn Clock) -> Result<Vec<ExamSpec>, CatalogueError> {
    let read_err = |source| CatalogueError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    paths.sort();
    let today = clock.today_in_paris();
    let mut exams: Vec<ExamSpec> = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| CatalogueError::Read {
            path: path.clone(),
            source,
        })?;
        let raw: RawExam = toml::from_str(&text).map_err(|e| CatalogueError::Toml {
            path: path.clone(),
            source: Box::new(e),
        })?;
        let exam = ExamSpec::parse(raw, today).map_err(|source| CatalogueError::Invalid {
            path: path.clone(),
            source,
        })?;
        if exams.iter().any(|e| e.summary.slug == exam.summary.slug) {
            return Err(CatalogueError::DuplicateSlug {
                path,
                slug: exam.summary.slug.to_string(),
            });
        }
        exams.push(exam);
    }
    Ok(exams)
}

fn join<T>(items: &[T], code: impl Fn(&T) -> &'static str) -> String {
    items.iter().map(code).collect::<Vec<_>>().join(",")
}

/// Creates or updates each exam and its pièces, in one transaction. Running it again with
/// the same files changes nothing; a pièce removed from a file is removed from the exam.
pub async fn upsert(db: &Db, exams: &[ExamSpec], clock: &dyn Clock) -> Result<(), CatalogueError> {
    let now = clock.now().as_millisecond();
    let mut tx = db.pool().begin().await?;
    for exam in exams {
        sqlx::query(
            "INSERT INTO exams (slug, title, kind, session, voies, deadline_day, closes_at, instruction_cutoff, published, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (slug) DO UPDATE SET title = excluded.title, kind = excluded.kind,
                 session = excluded.session, voies = excluded.voies,
                 deadline_day = excluded.deadline_day, closes_at = excluded.closes_at,
                 instruction_cutoff = excluded.instruction_cutoff,
                 published = excluded.published, updated_at = excluded.updated_at",
        )
        .bind(exam.summary.slug.as_str())
        .bind(&exam.summary.title)
        .bind(exam.summary.kind.as_str())
        .bind(&exam.summary.session)
        .bind(join(&exam.summary.voies, |v| v.as_str()))
        .bind(exam.summary.deadline.last_day().to_string())
        .bind(exam.summary.deadline.closes_at().as_millisecond())
        .bind(exam.instruction_cutoff.to_string())
        .bind(i64::from(exam.published))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (position, piece) in exam.pieces.iter().enumerate() {
            sqlx::query(
                "INSERT INTO pieces (exam_slug, code, position, label, help, requirement, voies, condition, kinds, max_size_bytes, max_files)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (exam_slug, code) DO UPDATE SET position = excluded.position,
                     label = excluded.label, help = excluded.help,
                     requirement = excluded.requirement, voies = excluded.voies,
                     condition = excluded.condition, kinds = excluded.kinds,
                     max_size_bytes = excluded.max_size_bytes, max_files = excluded.max_files",
            )
            .bind(exam.summary.slug.as_str())
            .bind(&piece.code)
            .bind(position as i64)
            .bind(&piece.label)
            .bind(&piece.help)
            .bind(piece.requirement.as_str())
            .bind(join(&piece.voies, |v| v.as_str()))
            .bind(piece.when.map(|c| c.as_str()))
            .bind(join(&piece.kinds, |k| k.as_str()))
            .bind(piece.max_size_bytes as i64)
            .bind(i64::from(piece.max_files))
            .execute(&mut *tx)
            .await?;
        }
        // Pièces no longer in the file. Built per exam because the list varies in size.
        let keep: Vec<&str> = exam.pieces.iter().map(|p| p.code.as_str()).collect();
        let rows = sqlx::query("SELECT code FROM pieces WHERE exam_slug = $1")
            .bind(exam.summary.slug.as_str())
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            let code: String = row.try_get("code")?;
            if !keep.contains(&code.as_str()) {
                sqlx::query("DELETE FROM pieces WHERE exam_slug = $1 AND code = $2")
                    .bind(exam.summary.slug.as_str())
                    .bind(&code)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Reads and imports the exam folder; what the server does at start-up.
pub async fn import_dir(db: &Db, dir: &Path, clock: &dyn Clock) -> Result<usize, CatalogueError> {
    let exams = read_dir(dir, clock)?;
    upsert(db, &exams, clock).await?;
    Ok(exams.len())
}

/// Published exams, those still open first (soonest deadline first), then the closed
/// ones (most recent first).
pub async fn list_published(
    db: &Db,
    clock: &dyn Clock,
) -> Result<Vec<ExamSummary>, CatalogueError> {
    let rows = sqlx::query(
        "SELECT slug, title, kind, session, voies, deadline_day FROM exams WHERE published = 1",
    )
    .fetch_all(db.pool())
    .await?;
    let mut entries = rows
        .into_iter()
        .map(|row| {
            let slug: String = row.try_get("slug")?;
            let kind: String = row.try_get("kind")?;
            let voies: String = row.try_get("voies")?;
            let day: String = row.try_get("deadline_day")?;
            let corrupt = || CatalogueError::Corrupt(slug.clone());
            Ok(ExamSummary {
                slug: ExamSlug::parse(&slug).map_err(|_| corrupt())?,
                title: row.try_get("title")?,
                kind: ExamKind::parse(&kind).ok_or_else(corrupt)?,
                session: row.try_get("session")?,
                voies: voies
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(|v| Voie::parse(v).ok_or_else(corrupt))
                    .collect::<Result<_, _>>()?,
                deadline: day
                    .parse()
                    .ok()
                    .and_then(|d| Deadline::on(d).ok())
                    .ok_or_else(corrupt)?,
            })
        })
        .collect::<Result<Vec<_>, CatalogueError>>()?;
    let now = clock.now();
    entries.sort_by_key(|e| {
        let open = e.deadline.is_open_at(now);
        let at = e.deadline.closes_at().as_millisecond();
        (!open, if open { at } else { -at })
    });
    Ok(entries)
}
