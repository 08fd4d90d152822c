//! The exam catalogue: exams imported from human-editable TOML files, and listed for the
//! public catalogue page.

use std::path::{Path, PathBuf};

use domain::{
    Condition, Deadline, ExamError, ExamKind, ExamSlug, ExamSpec, ExamSummary, FileKind,
    PieceRequirement, PieceSpec, RawExam, RawPiece, Voie,
};
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
    #[error("Un examen porte déjà l'identifiant « {0} » : choisissez-en un autre.")]
    AlreadyExists(String),
    #[error("Cet examen n'existe pas.")]
    UnknownExam,
    #[error("La pièce « {0} » a déjà des fichiers déposés : elle ne peut pas être retirée.")]
    PieceHasFiles(String),
    #[error(transparent)]
    Staff(#[from] crate::access::staff::StaffError),
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
    let mut tx = db.pool().begin().await?;
    upsert_in(&mut tx, exams, clock.now().as_millisecond()).await?;
    tx.commit().await?;
    Ok(())
}

async fn upsert_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    exams: &[ExamSpec],
    now: i64,
) -> Result<(), CatalogueError> {
    for exam in exams {
        sqlx::query(
            "INSERT INTO exams (slug, title, kind, session, voies, deadline_day, closes_at, instruction_cutoff, published, updated_at, retention_months)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (slug) DO UPDATE SET title = excluded.title, kind = excluded.kind,
                 session = excluded.session, voies = excluded.voies,
                 deadline_day = excluded.deadline_day, closes_at = excluded.closes_at,
                 instruction_cutoff = excluded.instruction_cutoff,
                 published = excluded.published, updated_at = excluded.updated_at,
                 retention_months = excluded.retention_months",
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
        .bind(i64::from(exam.retention_months))
        .execute(&mut **tx)
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
            .execute(&mut **tx)
            .await?;
        }
        // Pièces no longer in the file. Built per exam because the list varies in size.
        let keep: Vec<&str> = exam.pieces.iter().map(|p| p.code.as_str()).collect();
        let rows = sqlx::query("SELECT code FROM pieces WHERE exam_slug = $1")
            .bind(exam.summary.slug.as_str())
            .fetch_all(&mut **tx)
            .await?;
        for row in rows {
            let code: String = row.try_get("code")?;
            if !keep.contains(&code.as_str()) {
                sqlx::query("DELETE FROM pieces WHERE exam_slug = $1 AND code = $2")
                    .bind(exam.summary.slug.as_str())
                    .bind(&code)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Reads and imports the exam folder; what the server does at start-up.
/// An exam the service has edited in the browser is its own from then on: its file is
/// no longer imported (said in the log).
pub async fn import_dir(db: &Db, dir: &Path, clock: &dyn Clock) -> Result<usize, CatalogueError> {
    let mut exams = read_dir(dir, clock)?;
    let edited: Vec<String> = sqlx::query("SELECT slug FROM exams WHERE source = 'staff'")
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(|r| r.try_get("slug"))
        .collect::<Result<_, _>>()?;
    exams.retain(|e| {
        let keep = !edited.iter().any(|s| s == e.summary.slug.as_str());
        if !keep {
            tracing::warn!(exam = %e.summary.slug, "edited by the service concours: its file is not imported");
        }
        keep
    });
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

fn split<T>(s: &str, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
    s.split(',')
        .filter(|v| !v.is_empty())
        .filter_map(parse)
        .collect()
}

/// Every pièce of an exam as stored, in the exam's order.
pub async fn pieces(db: &Db, slug: &str) -> Result<Vec<PieceSpec>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT code, label, help, requirement, voies, condition, kinds, max_size_bytes, max_files
         FROM pieces WHERE exam_slug = $1 ORDER BY position",
    )
    .bind(slug)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|row| {
            let requirement: String = row.try_get("requirement")?;
            let voies: String = row.try_get("voies")?;
            let condition: Option<String> = row.try_get("condition")?;
            let kinds: String = row.try_get("kinds")?;
            let max_size: i64 = row.try_get("max_size_bytes")?;
            let max_files: i64 = row.try_get("max_files")?;
            Ok(PieceSpec {
                code: row.try_get("code")?,
                label: row.try_get("label")?,
                help: row.try_get("help")?,
                requirement: PieceRequirement::parse(&requirement)
                    .unwrap_or(PieceRequirement::Mandatory),
                voies: split(&voies, Voie::parse),
                when: condition.as_deref().and_then(Condition::parse),
                kinds: split(&kinds, FileKind::parse_code),
                max_size_bytes: max_size.max(0) as u64,
                max_files: max_files.clamp(0, u32::MAX as i64) as u32,
            })
        })
        .collect()
}

/// An exam as stored, in the form of its file: what the service's form edits.
pub async fn raw_exam(db: &Db, slug: &str) -> Result<Option<RawExam>, CatalogueError> {
    let Some(row) = sqlx::query(
        "SELECT slug, title, kind, session, voies, deadline_day, instruction_cutoff, published, retention_months FROM exams WHERE slug = $1",
    )
    .bind(slug)
    .fetch_optional(db.pool())
    .await?
    else {
        return Ok(None);
    };
    let corrupt = || CatalogueError::Corrupt(slug.to_string());
    let list = |s: String| -> Vec<String> {
        s.split(',')
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    };
    let voies = |s: String| -> Result<Vec<Voie>, CatalogueError> {
        list(s)
            .iter()
            .map(|v| Voie::parse(v).ok_or_else(corrupt))
            .collect()
    };
    let pieces = pieces(db, slug).await?.iter().map(RawPiece::from).collect();
    let kind: String = row.try_get("kind")?;
    Ok(Some(RawExam {
        slug: row.try_get("slug")?,
        title: row.try_get("title")?,
        kind: ExamKind::parse(&kind).ok_or_else(corrupt)?,
        session: row.try_get("session")?,
        voies: voies(row.try_get("voies")?)?,
        registration_deadline: row.try_get("deadline_day")?,
        instruction_cutoff: row.try_get("instruction_cutoff")?,
        published: row.try_get::<i64, _>("published")? == 1,
        pieces,
        retention_months: u32::try_from(row.try_get::<i64, _>("retention_months")?)
            .map_err(|_| corrupt())?,
    }))
}

/// Saves an exam from the service's form, in one transaction with its audit line:
/// a new exam must take a free identifier; an edited one keeps its identifier and its
/// pièces that already hold files. From then on its file, if any, is not imported.
pub async fn save_from_staff(
    db: &Db,
    clock: &dyn Clock,
    member: &crate::access::staff::Staff,
    exam: &ExamSpec,
    creating: bool,
) -> Result<(), CatalogueError> {
    let slug = exam.summary.slug.as_str();
    let mut tx = db.pool().begin().await?;
    let before = sqlx::query("SELECT published FROM exams WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get::<i64, _>("published"))
        .transpose()?;
    match (creating, before) {
        (true, Some(_)) => return Err(CatalogueError::AlreadyExists(slug.to_string())),
        (false, None) => return Err(CatalogueError::UnknownExam),
        _ => {}
    }
    let with_files = sqlx::query(
        "SELECT DISTINCT p.label, p.code FROM attachments a JOIN dossiers d ON d.id = a.dossier_id
         JOIN pieces p ON p.exam_slug = d.exam_slug AND p.code = a.piece_code WHERE d.exam_slug = $1",
    )
    .bind(slug)
    .fetch_all(&mut *tx)
    .await?;
    for row in with_files {
        let code: String = row.try_get("code")?;
        if !exam.pieces.iter().any(|p| p.code == code) {
            return Err(CatalogueError::PieceHasFiles(row.try_get("label")?));
        }
    }
    upsert_in(
        &mut tx,
        std::slice::from_ref(exam),
        clock.now().as_millisecond(),
    )
    .await?;
    sqlx::query("UPDATE exams SET source = 'staff' WHERE slug = $1")
        .bind(slug)
        .execute(&mut *tx)
        .await?;
    let action = match (creating, before.map(|p| p == 1), exam.published) {
        (true, _, _) => "examen créé",
        (false, Some(false), true) => "examen modifié et publié",
        (false, Some(true), false) => "examen modifié et dépublié",
        _ => "examen modifié",
    };
    let detail = format!("{slug} : clôture {}", exam.summary.deadline.to_french());
    crate::access::staff::audit(&mut *tx, clock, member, None, action, &detail).await?;
    tx.commit().await?;
    Ok(())
}

/// Keeps what a staff member typed in the exam form (`target`: the slug, or '' for a
/// new exam) with the message to show, until saved.
pub async fn save_draft(
    db: &Db,
    clock: &dyn Clock,
    staff_id: &str,
    target: &str,
    form: &domain::exam_form::ExamForm,
    message: Option<&str>,
) -> Result<(), CatalogueError> {
    let form = serde_json::to_string(form).map_err(|e| CatalogueError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO exam_drafts (staff_id, target, form, message, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (staff_id, target) DO UPDATE SET form = excluded.form, message = excluded.message,
             updated_at = excluded.updated_at",
    )
    .bind(staff_id)
    .bind(target)
    .bind(form)
    .bind(message)
    .bind(clock.now().as_millisecond())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The draft of this form, if any, with its message.
pub async fn draft(
    db: &Db,
    staff_id: &str,
    target: &str,
) -> Result<Option<(domain::exam_form::ExamForm, Option<String>)>, CatalogueError> {
    let Some(row) =
        sqlx::query("SELECT form, message FROM exam_drafts WHERE staff_id = $1 AND target = $2")
            .bind(staff_id)
            .bind(target)
            .fetch_optional(db.pool())
            .await?
    else {
        return Ok(None);
    };
    let form: String = row.try_get("form")?;
    let form = serde_json::from_str(&form).map_err(|e| CatalogueError::Corrupt(e.to_string()))?;
    Ok(Some((form, row.try_get("message")?)))
}

pub async fn clear_draft(db: &Db, staff_id: &str, target: &str) -> Result<(), CatalogueError> {
    sqlx::query("DELETE FROM exam_drafts WHERE staff_id = $1 AND target = $2")
        .bind(staff_id)
        .bind(target)
        .execute(db.pool())
        .await?;
    Ok(())
}
