//! What a login does at either door (a candidate's dossier, a staff account): the
//! attempt counted before the password is looked at, the password checked against a
//! decoy when the account is unknown (the same time, the same answer), the failure
//! counted, an outdated hash renewed, and on success this client's failures on the
//! account forgiven. Each door keeps its own accounts and sessions.

use jiff::SignedDuration;

use crate::{
    Clock, Db, DbError,
    access::passwords::{PasswordError, Passwords},
    access::secrets::{new_token, token_hash},
    access::throttle,
};

/// A door's sessions: its table, and how long one lasts.
pub struct Sessions {
    /// `INSERT INTO … (token_hash, owner, created_at, expires_at) VALUES ($1, $2, $3, $4)`.
    pub insert: &'static str,
    /// `DELETE FROM … WHERE token_hash = $1`.
    pub delete: &'static str,
    pub lifetime: SignedDuration,
}

/// A fresh session for `owner`; the token goes in the cookie, its hash in the
/// database, so a new login never reuses an old identifier.
pub async fn open_session(
    db: &Db,
    clock: &dyn Clock,
    sessions: &Sessions,
    owner: &str,
) -> Result<String, sqlx::Error> {
    let token = new_token();
    let now = clock.now().as_millisecond();
    sqlx::query(sessions.insert)
        .bind(token_hash(&token))
        .bind(owner)
        .bind(now)
        .bind(now + sessions.lifetime.as_millis() as i64)
        .execute(db.pool())
        .await?;
    Ok(token)
}

/// Ends the session of this token, if it is one.
pub async fn close_session(db: &Db, sessions: &Sessions, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sessions.delete)
        .bind(token_hash(token))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Why a login is refused, whatever the door.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An unknown account or a wrong password: the same answer for both.
    #[error("unknown account or wrong password")]
    InvalidCredentials,
    /// Too many failures lately: not before this instant.
    #[error("too many attempts; retry after {retry_at_ms}")]
    TooManyAttempts { retry_at_ms: i64 },
}

/// A door's error type: what a refusal becomes, and how to find it again.
pub trait LoginError:
    From<Refusal> + From<DbError> + From<PasswordError> + From<sqlx::Error>
{
    /// The refusal this error is, if it is one.
    fn refusal(&self) -> Option<Refusal>;
    /// Every password check is busy: the candidate should try again in a moment.
    fn busy(&self) -> bool;
}

/// An account the login names, as its door stores it.
pub struct Found<T> {
    pub id: String,
    pub password_hash: String,
    pub account: T,
}

/// The door a login comes through.
pub struct Door<'a> {
    /// The attempts' realm: `"dossier"` or `"staff"`.
    pub realm: &'static str,
    /// The account as typed, normalised: unknown ones are counted too.
    pub account: &'a str,
    /// Renews an outdated hash: `UPDATE … SET password_hash = $1 WHERE id = $2`.
    pub rehash: &'static str,
}

/// Checks `password` for the account `find` looks up (after the attempt is counted),
/// at `door`, from `client`.
pub async fn check<T, E: LoginError>(
    db: &Db,
    passwords: &Passwords,
    clock: &dyn Clock,
    door: Door<'_>,
    client: &str,
    password: &str,
    find: impl Future<Output = Result<Option<Found<T>>, E>>,
) -> Result<T, E> {
    let now = clock.now().as_millisecond();
    let limits = throttle::login_limits(door.realm, door.account, client);
    let attempt = match throttle::attempt(db, &limits, now).await? {
        Ok(attempt) => attempt,
        Err(retry_at_ms) => return Err(Refusal::TooManyAttempts { retry_at_ms }.into()),
    };
    let found = find.await?;
    let verified = passwords
        .verify_login(password, found.as_ref().map(|f| f.password_hash.as_str()))
        .await?;
    let Some(found) = found.filter(|_| verified.ok) else {
        // The attempt stays counted, and now counts for this client too.
        throttle::failed(db, attempt, now).await?;
        tracing::info!(scope = %limits[0].scope, "login failed");
        return Err(Refusal::InvalidCredentials.into());
    };
    if let Some(rehash) = verified.rehash {
        sqlx::query(door.rehash)
            .bind(rehash)
            .bind(&found.id)
            .execute(db.pool())
            .await?;
    }
    // A success is no failure, and ends this client's failures on this account.
    throttle::forgive(db, attempt, &[&limits[0].scope]).await?;
    Ok(found.account)
}
