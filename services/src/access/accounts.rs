//! The espace sécurisé: login with the dossier number, sessions, rate limits, and
//! recovery of a forgotten password or dossier number.

use domain::{DossierNumber, candidate::Email};
use jiff::SignedDuration;
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    access::login,
    access::passwords::{PasswordError, Passwords},
    access::secrets::{new_token, token_hash},
    access::throttle,
    dossiers::{self, Dossier, DossierError},
    letters::mail::MailError,
    letters::outbox::Letter,
};

pub use throttle::FAILURE_WINDOW;

/// A session lasts 20 hours, so a candidate at work is never thrown out by its end
/// (RGAA 13.1 allows a time limit of 20 hours or more without a warning); logging out
/// or resetting the password ends it sooner.
pub const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(20);
/// A password-reset link is valid this long, once.
pub const RESET_LIFETIME: SignedDuration = SignedDuration::from_hours(1);

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Refused(#[from] login::Refusal),
    #[error("the link is unknown, used or expired")]
    InvalidResetLink,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Dossier(#[from] DossierError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Mail(#[from] MailError),
}

impl login::LoginError for AccountError {
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

impl From<sqlx::Error> for AccountError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// The candidates' sessions.
pub const SESSIONS: login::Sessions = login::Sessions {
    insert: "INSERT INTO sessions (token_hash, dossier_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    delete: "DELETE FROM sessions WHERE token_hash = $1",
    lifetime: SESSION_LIFETIME,
};

/// A fresh session for this dossier (`login::open_session`).
pub async fn open_session(
    db: &Db,
    clock: &dyn Clock,
    dossier_id: &str,
) -> Result<String, AccountError> {
    Ok(login::open_session(db, clock, &SESSIONS, dossier_id).await?)
}

/// The dossier of a live session.
pub async fn session_dossier(
    db: &Db,
    clock: &dyn Clock,
    token: &str,
) -> Result<Option<Dossier>, AccountError> {
    Ok(dossiers::of_session(db, &token_hash(token), clock.now().as_millisecond()).await?)
}

pub async fn close_session(db: &Db, token: &str) -> Result<(), AccountError> {
    Ok(login::close_session(db, &SESSIONS, token).await?)
}

/// Checks the number and password. The same answer for an unknown dossier and a wrong
/// password, in the same time (a decoy hash is checked when there is no dossier).
pub async fn login(
    db: &Db,
    passwords: &Passwords,
    clock: &dyn Clock,
    number: &str,
    password: &str,
    client: &str,
) -> Result<(Dossier, String), AccountError> {
    // Counted on what was typed, normalised, so unknown numbers are limited too.
    let number = DossierNumber::parse(number).ok();
    let account = number.as_ref().map(|n| n.as_str()).unwrap_or("?");
    let door = login::Door {
        realm: "dossier",
        account,
        rehash: "UPDATE dossiers SET password_hash = $1 WHERE id = $2",
    };
    let find = async {
        let Some(n) = &number else {
            return Ok::<_, AccountError>(None);
        };
        let row = sqlx::query("SELECT id, password_hash FROM dossiers WHERE number = $1")
            .bind(n.as_str())
            .fetch_optional(db.pool())
            .await?;
        let found = row.map(|r| -> Result<_, sqlx::Error> {
            let id: String = r.try_get("id")?;
            Ok(login::Found {
                password_hash: r.try_get("password_hash")?,
                account: id.clone(),
                id,
            })
        });
        Ok(found.transpose()?)
    };
    let id = login::check(db, passwords, clock, door, client, password, find).await?;
    let token = open_session(db, clock, &id).await?;
    tracing::info!(dossier = %account, "login");
    let dossier = dossiers::by_id(db, &id)
        .await?
        .ok_or(login::Refusal::InvalidCredentials)?;
    Ok((dossier, token))
}

/// Sends a single-use reset link when the number and email match a dossier; does the
/// same work and says the same thing otherwise.
pub async fn request_password_reset(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    number: &str,
    email: &str,
) -> Result<(), AccountError> {
    let (Ok(number), Ok(email)) = (DossierNumber::parse(number), Email::parse(email)) else {
        return Ok(());
    };
    let Some(dossier) = dossiers::by_number(db, &number).await? else {
        return Ok(());
    };
    if dossier.registration.email.key() != email.key() {
        return Ok(());
    }
    let now = clock.now().as_millisecond();
    if !may_mail(db, &email, now).await? {
        return Ok(());
    }
    let token = new_token();
    let body = format!(
        "Bonjour,\n\nVous avez demandé à choisir un nouveau mot de passe pour le dossier n° {number} ({exam}).\n\n\
         Ouvrez ce lien dans l'heure qui suit ; il ne sert qu'une fois :\n{base_url}/mot-de-passe/{token}\n\n\
         Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe actuel reste valable.\n\n\
         Le service concours\n",
        exam = dossier.exam_title,
    );
    // To the address the dossier holds, whatever case was typed just now.
    let letter = Letter::text(
        dossier.registration.email.as_str(),
        "Choisir un nouveau mot de passe",
        body,
    )
    .about(&dossier.id);
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "INSERT INTO password_resets (token_hash, dossier_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash(&token))
    .bind(&dossier.id)
    .bind(now + RESET_LIFETIME.as_millis() as i64)
    .execute(&mut *tx)
    .await?;
    crate::letters::outbox::post(&mut *tx, now, &letter).await?;
    tx.commit().await?;
    Ok(())
}

/// Mails asked for from the recovery pages, per address: a stranger who knows an
/// address cannot fill its mailbox.
pub const MAX_RECOVERY_MAILS_PER_ADDRESS: i64 = 3;
/// Recovery requests per client, whatever the address: a France Services room helping
/// candidates all evening fits; the answer never says whether an address is known.
pub const MAX_RECOVERY_REQUESTS_PER_CLIENT: i64 = 60;
const RECOVERY_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// One recovery request of this client, counted before anything is looked up.
pub fn recovery_limit(client: &str) -> throttle::Limit {
    throttle::Limit::new(
        format!("recovery-client:{client}"),
        MAX_RECOVERY_REQUESTS_PER_CLIENT,
        RECOVERY_WINDOW,
    )
    .widened("recovery-client", client)
}

/// Whether this address may get one more recovery mail this hour (and counts it).
async fn may_mail(db: &Db, email: &Email, now: i64) -> Result<bool, AccountError> {
    let limit = throttle::Limit::new(
        format!("recovery-mail:{}", email.key()),
        MAX_RECOVERY_MAILS_PER_ADDRESS,
        RECOVERY_WINDOW,
    );
    Ok(throttle::attempt(db, &[limit], now).await?.is_ok())
}

/// Whether a reset link can still be used (to show the form or an explanation).
pub async fn reset_link_is_valid(
    db: &Db,
    clock: &dyn Clock,
    token: &str,
) -> Result<bool, AccountError> {
    Ok(sqlx::query("SELECT 1 FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
        .bind(token_hash(token))
        .bind(clock.now().as_millisecond())
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

/// Uses the link once: one conditional update decides, so two clicks cannot both
/// succeed. Every session of the dossier ends with the old password.
pub async fn reset_password(
    db: &Db,
    clock: &dyn Clock,
    token: &str,
    new_password_hash: &str,
) -> Result<DossierNumber, AccountError> {
    let now = clock.now().as_millisecond();
    let mut tx = db.pool().begin().await?;
    let row = sqlx::query(
        "UPDATE password_resets SET used_at = $1
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
         RETURNING dossier_id",
    )
    .bind(now)
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AccountError::InvalidResetLink)?;
    let dossier_id: String = row.try_get("dossier_id")?;
    let number: String =
        sqlx::query("UPDATE dossiers SET password_hash = $1 WHERE id = $2 RETURNING number")
            .bind(new_password_hash)
            .bind(&dossier_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("number")?;
    sqlx::query("DELETE FROM sessions WHERE dossier_id = $1")
        .bind(&dossier_id)
        .execute(&mut *tx)
        .await?;
    // Any other link sent for this dossier ends with this one: a mailbox read later
    // by someone else opens nothing.
    sqlx::query(
        "UPDATE password_resets SET used_at = $1 WHERE dossier_id = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(&dossier_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    DossierNumber::parse(&number).map_err(|_| DossierError::Corrupt(number).into())
}

/// Emails the numbers of every dossier opened with this address, if any.
pub async fn send_dossier_numbers(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    email: &str,
) -> Result<(), AccountError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let numbers = dossiers::numbers_for_email(db, &email.key()).await?;
    // To the address the latest dossier holds, whatever case was typed just now.
    let Some((_, _, to)) = numbers.last() else {
        return Ok(());
    };
    let now = clock.now().as_millisecond();
    if !may_mail(db, &email, now).await? {
        return Ok(());
    }
    let list: String = numbers
        .iter()
        .map(|(number, exam, _)| format!("  - n° {number} : {exam}\n"))
        .collect();
    let body = format!(
        "Bonjour,\n\nVoici les numéros des dossiers ouverts avec cette adresse électronique :\n\n{list}\n\
         Connectez-vous à votre espace sécurisé avec l'un de ces numéros et votre mot de passe :\n{base_url}/connexion\n\n\
         Le service concours\n"
    );
    let letter = Letter::text(to, "Vos numéros de dossier", body);
    crate::letters::outbox::post(db.pool(), now, &letter).await?;
    Ok(())
}
