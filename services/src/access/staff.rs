//! The service concours' accounts: created by the server's CLI, never by a web page;
//! login by email and password (argon2id), with the candidates' protections: the same
//! refusal for an unknown address and a wrong password, failures counted per address
//! and per IP, sessions of their own (a candidate's session is never a staff session).
//! Every change staff make to a dossier, and every file they download, is audited.

use domain::candidate::{Email, Password};
use jiff::SignedDuration;
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    access::login,
    access::passwords::{PasswordError, Passwords},
    access::secrets::token_hash,
};

/// A working day; logging out ends it sooner.
pub const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(10);

/// The staff's sessions, apart from the candidates'.
pub const SESSIONS: login::Sessions = login::Sessions {
    insert: "INSERT INTO staff_sessions (token_hash, staff_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    delete: "DELETE FROM staff_sessions WHERE token_hash = $1",
    lifetime: SESSION_LIFETIME,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staff {
    pub id: String,
    pub email: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("{0}")]
    Invalid(String),
    #[error("a staff account with this email already exists")]
    AlreadyExists,
    #[error(transparent)]
    Refused(#[from] login::Refusal),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

impl login::LoginError for StaffError {
    fn refusal(&self) -> Option<login::Refusal> {
        match self {
            Self::Refused(refusal) => Some(*refusal),
            _ => None,
        }
    }
    fn busy(&self) -> bool {
        matches!(self, Self::Password(PasswordError::Busy))
    }
}

impl From<sqlx::Error> for StaffError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// Creates an account; the password follows the candidates' rules.
pub async fn create(
    db: &Db,
    passwords: &Passwords,
    clock: &dyn Clock,
    email: &str,
    name: &str,
    password: &str,
) -> Result<Staff, StaffError> {
    let email = Email::parse(email).map_err(|e| StaffError::Invalid(e.0))?;
    let name = domain::candidate::required_text(name, 120).map_err(|e| StaffError::Invalid(e.0))?;
    let password = Password::parse(password, &[&name, email.as_str()])
        .map_err(|e| StaffError::Invalid(e.0))?;
    let hash = passwords.hash(password.expose()).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query(
        "INSERT INTO staff (id, email, email_key, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(email.as_str())
    .bind(email.key())
    .bind(&name)
    .bind(hash)
    .bind(clock.now().as_millisecond())
    .execute(db.pool())
    .await;
    match inserted {
        Ok(_) => Ok(Staff {
            id,
            email: email.as_str().to_string(),
            name,
        }),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StaffError::AlreadyExists),
        Err(e) => Err(e.into()),
    }
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Staff, sqlx::Error> {
    Ok(Staff {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
    })
}

/// Checks the address and password, and opens a session.
pub async fn login(
    db: &Db,
    passwords: &Passwords,
    clock: &dyn Clock,
    email: &str,
    password: &str,
    client: &str,
) -> Result<(Staff, String), StaffError> {
    let key = Email::parse(email).map(|e| e.key()).unwrap_or_default();
    let door = login::Door {
        realm: "staff",
        account: &key,
        rehash: "UPDATE staff SET password_hash = $1 WHERE id = $2",
    };
    let find = async {
        // A disabled account answers as an unknown address does.
        let row = sqlx::query("SELECT id, email, name, password_hash FROM staff WHERE email_key = $1 AND disabled_at IS NULL")
            .bind(&key)
            .fetch_optional(db.pool())
            .await?;
        let found = row.map(|r| -> Result<_, StaffError> {
            let staff = from_row(&r)?;
            Ok(login::Found {
                id: staff.id.clone(),
                password_hash: r.try_get("password_hash")?,
                account: staff,
            })
        });
        found.transpose()
    };
    let staff = login::check(db, passwords, clock, door, client, password, find).await?;
    let token = login::open_session(db, clock, &SESSIONS, &staff.id).await?;
    tracing::info!(staff = %staff.email, "staff login");
    Ok((staff, token))
}

/// The staff member of a live staff session.
pub async fn session_staff(
    db: &Db,
    clock: &dyn Clock,
    token: &str,
) -> Result<Option<Staff>, StaffError> {
    Ok(sqlx::query(
        "SELECT s.id, s.email, s.name FROM staff_sessions t JOIN staff s ON s.id = t.staff_id
         WHERE t.token_hash = $1 AND t.expires_at > $2 AND s.disabled_at IS NULL",
    )
    .bind(token_hash(token))
    .bind(clock.now().as_millisecond())
    .fetch_optional(db.pool())
    .await?
    .map(|r| from_row(&r))
    .transpose()?)
}

pub async fn close_session(db: &Db, token: &str) -> Result<(), StaffError> {
    Ok(login::close_session(db, &SESSIONS, token).await?)
}

/// Ends a staff member's access at once (someone who leaves the service): no more
/// login, and every open session ends. The account stays, so the audit log keeps naming
/// who did what. `false` when no active account has this address.
pub async fn disable(db: &Db, clock: &dyn Clock, email: &str) -> Result<bool, StaffError> {
    let key = Email::parse(email)
        .map_err(|e| StaffError::Invalid(e.0))?
        .key();
    let mut tx = db.pool().begin().await?;
    let disabled = sqlx::query(
        "UPDATE staff SET disabled_at = $1 WHERE email_key = $2 AND disabled_at IS NULL",
    )
    .bind(clock.now().as_millisecond())
    .bind(&key)
    .execute(&mut *tx)
    .await?;
    if disabled.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query(
        "DELETE FROM staff_sessions WHERE staff_id IN (SELECT id FROM staff WHERE email_key = $1)",
    )
    .bind(&key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(staff = %key, "staff account disabled");
    Ok(true)
}

/// Gives a disabled account its access back, with a new password: the old one may be
/// known to whoever used the account before. `false` when no disabled account has
/// this address.
pub async fn enable(
    db: &Db,
    passwords: &Passwords,
    email: &str,
    password: &str,
) -> Result<bool, StaffError> {
    let email = Email::parse(email).map_err(|e| StaffError::Invalid(e.0))?;
    let Some(row) =
        sqlx::query("SELECT name FROM staff WHERE email_key = $1 AND disabled_at IS NOT NULL")
            .bind(email.key())
            .fetch_optional(db.pool())
            .await?
    else {
        return Ok(false);
    };
    let name: String = row.try_get("name")?;
    let password = Password::parse(password, &[&name, email.as_str()])
        .map_err(|e| StaffError::Invalid(e.0))?;
    let hash = passwords.hash(password.expose()).await?;
    let enabled = sqlx::query(
        "UPDATE staff SET password_hash = $1, disabled_at = NULL WHERE email_key = $2 AND disabled_at IS NOT NULL",
    )
    .bind(hash)
    .bind(email.key())
    .execute(db.pool())
    .await?;
    Ok(enabled.rows_affected() == 1)
}

/// One line of a dossier's audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    pub staff_name: String,
    pub action: String,
    pub detail: String,
}

/// The longest private note on a dossier.
pub const NOTE_MAX_CHARS: usize = 2000;

/// A private note on a dossier, for the service only: a line of the dossier's journal.
/// `None` when the note is empty or longer than [`NOTE_MAX_CHARS`].
pub async fn note(
    db: &Db,
    clock: &dyn Clock,
    staff: &Staff,
    dossier_id: &str,
    text: &str,
) -> Result<Option<()>, StaffError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > NOTE_MAX_CHARS {
        return Ok(None);
    }
    audit(
        db.pool(),
        clock,
        staff,
        Some(dossier_id),
        "note interne",
        text,
    )
    .await?;
    Ok(Some(()))
}

/// Records what a staff member did; `dossier_id` is `None` for what concerns a whole
/// exam (an export).
pub async fn audit<'e, E>(
    executor: E,
    clock: &dyn Clock,
    staff: &Staff,
    dossier_id: Option<&str>,
    action: &str,
    detail: &str,
) -> Result<(), StaffError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO audit_log (id, at, staff_id, dossier_id, action, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    // Time-ordered (UUID v7, monotonic in the process): two lines of the same
    // millisecond keep the order they were written in.
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(clock.now().as_millisecond())
    .bind(&staff.id)
    .bind(dossier_id)
    .bind(action)
    .bind(detail)
    .execute(executor)
    .await?;
    Ok(())
}

/// Who the journal names for what the candidate did.
pub const CANDIDATE: &str = "Le candidat";

/// Records what the candidate did to the dossier's files, in its journal (with what
/// the same transaction writes).
pub async fn candidate_event<'e, E>(
    executor: E,
    at_ms: i64,
    dossier_id: &str,
    action: &str,
    detail: &str,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO dossier_events (id, dossier_id, at, action, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(dossier_id)
    .bind(at_ms)
    .bind(action)
    .bind(detail)
    .execute(executor)
    .await?;
    Ok(())
}

/// A dossier's journal, oldest first: what the service did (`audit_log`) and what the
/// candidate did to its files (`dossier_events`, named [`CANDIDATE`]).
pub async fn audit_of_dossier(db: &Db, dossier_id: &str) -> Result<Vec<AuditEntry>, StaffError> {
    let rows = sqlx::query(
        "SELECT at, name, action, detail, id FROM (
             SELECT a.at, s.name, a.action, a.detail, a.id FROM audit_log a JOIN staff s ON s.id = a.staff_id
             WHERE a.dossier_id = $1
             UNION ALL
             SELECT e.at, CAST($2 AS TEXT) AS name, e.action, e.detail, e.id FROM dossier_events e
             WHERE e.dossier_id = $1
         ) journal ORDER BY at, id",
    )
    .bind(dossier_id)
    .bind(CANDIDATE)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(AuditEntry {
                at: r.try_get("at")?,
                staff_name: r.try_get("name")?,
                action: r.try_get("action")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

/// The demo staff member of the embedded set-up (`APP_DEMO=true`).
pub const DEMO_EMAIL: &str = "service.concours@exemple.fr";
pub const DEMO_PASSWORD: &str = "essai du service concours";

/// Creates the demo staff account if it does not exist yet.
/// The active staff member of this address (any case).
pub async fn active_by_email(db: &Db, email: &str) -> Result<Option<Staff>, StaffError> {
    Ok(sqlx::query_as::<_, (String, String, String)>(
        "SELECT id, email, name FROM staff WHERE email_key = $1 AND disabled_at IS NULL",
    )
    .bind(email.trim().to_lowercase())
    .fetch_optional(db.pool())
    .await?
    .map(|(id, email, name)| Staff { id, email, name }))
}

pub async fn seed_demo(
    db: &Db,
    passwords: &Passwords,
    clock: &dyn Clock,
) -> Result<(), StaffError> {
    match create(
        db,
        passwords,
        clock,
        DEMO_EMAIL,
        "Service concours (démo)",
        DEMO_PASSWORD,
    )
    .await
    {
        Ok(_) => Ok(()),
        // Disabled by a run without the demo: enabled again with its public password.
        Err(StaffError::AlreadyExists) => enable(db, passwords, DEMO_EMAIL, DEMO_PASSWORD)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    }
}
