//! Attempt counting, shared by the candidates' espace, the service concours and every
//! other endpoint a stranger can call many times (mails, drafts, new dossiers): a
//! scope (a dossier number and a client, a client, an email address) may be used so
//! many times within its window, then waits. Kept in the database, so every instance
//! agrees.
//!
//! An attempt is counted *before* it is evaluated: its rows are written, then the
//! scopes are counted. N attempts sent at once therefore see one another, and at most
//! `max` of them go on, on SQLite as on PostgreSQL (check-then-act let all of them
//! through). A refused attempt takes its rows back, so trying while refused does not
//! prolong the wait; an attempt that turns out not to be a failure (the right
//! password) is [`forgive`]n.

use jiff::SignedDuration;
use sqlx::Row;

use crate::{Db, DbError};

/// Failed logins are counted over this window.
pub const FAILURE_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// Rows older than this are of no limit's window any more.
pub const LONGEST_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// Login failures allowed per (account, client): the one who types wrongly waits.
pub const MAX_LOGIN_FAILURES_PER_ACCOUNT_AND_CLIENT: i64 = 5;
/// Per client (a shared school or office network may hold many candidates, hence more).
pub const MAX_LOGIN_FAILURES_PER_CLIENT: i64 = 30;
/// Per account and network (an IPv6 /48, an IPv4 address): high, and counted per
/// network, so that someone who knows a dossier number (it is printed on receipts)
/// cannot lock its owner out from elsewhere; its owner, from a network that has not
/// failed, still gets in.
pub const MAX_LOGIN_FAILURES_PER_ACCOUNT: i64 = 100;

/// At most `max` attempts in `scope` within `window`.
#[derive(Clone, Debug)]
pub struct Limit {
    pub scope: String,
    pub max: i64,
    pub window: SignedDuration,
    /// Counted only once the attempt [`failed`], not while it is in flight.
    pub on_failure: bool,
    /// The same limit on the wider networks of a client (see [`Limit::widened`]):
    /// their scopes and ceilings.
    pub wider: Vec<(String, i64)>,
}

impl Limit {
    pub fn new(scope: impl Into<String>, max: i64, window: SignedDuration) -> Self {
        Self {
            scope: scope.into(),
            max,
            window,
            on_failure: false,
            wider: Vec::new(),
        }
    }

    /// Counted also on `client`'s wider networks, under `prefix`, with higher ceilings
    /// (`clients::wider_networks`): one attacker holds a /48, 65,536 /64s, and each
    /// /64 is a client.
    pub fn widened(mut self, prefix: &str, client: &str) -> Self {
        self.wider = crate::access::clients::wider_networks(client)
            .into_iter()
            .map(|(network, times)| (format!("{prefix}:{network}"), self.max * times))
            .collect();
        self
    }

    /// This limit and its wider ones, each a limit of its own.
    fn each(&self) -> impl Iterator<Item = Limit> + '_ {
        std::iter::once((self.scope.clone(), self.max))
            .chain(self.wider.iter().cloned())
            .map(|(scope, max)| Limit {
                scope,
                max,
                window: self.window,
                on_failure: self.on_failure,
                wider: Vec::new(),
            })
    }

    /// A coarse ceiling counted on failures only: many honest attempts in flight at once
    /// from one address (a school, a mobile operator's shared address) are not refused
    /// for being in flight. Parallel failures may pass it by as many as are in flight;
    /// the narrow scopes, counted before, still bound each account.
    pub fn on_failure(mut self) -> Self {
        self.on_failure = true;
        self
    }
}

/// The limits of one login attempt on `account` (e.g. `dossier:12-ABCD-0001`, or
/// `staff:email`) from `client`.
pub fn login_limits(realm: &str, account: &str, client: &str) -> [Limit; 3] {
    let network = crate::access::clients::network_of(client);
    [
        Limit::new(
            format!("{realm}:{account}@{client}"),
            MAX_LOGIN_FAILURES_PER_ACCOUNT_AND_CLIENT,
            FAILURE_WINDOW,
        ),
        Limit::new(
            format!("{realm}-client:{client}"),
            MAX_LOGIN_FAILURES_PER_CLIENT,
            FAILURE_WINDOW,
        )
        .on_failure()
        .widened(&format!("{realm}-client"), client),
        Limit::new(
            format!("{realm}-network:{account}@{network}"),
            MAX_LOGIN_FAILURES_PER_ACCOUNT,
            FAILURE_WINDOW,
        ),
    ]
}

/// A counted attempt.
#[derive(Debug)]
#[must_use = "an attempt is counted until forgiven"]
pub struct Attempt {
    id: String,
    /// Scopes counted only if the attempt fails.
    on_failure: Vec<String>,
}

/// Counts one attempt against each limit's scope, then checks them all. `Err(retry_at_ms)`
/// when a scope is over its limit (this attempt then does not count); the attempt
/// otherwise, which stays counted unless [`forgive`]n.
pub async fn attempt(
    db: &Db,
    limits: &[Limit],
    now_ms: i64,
) -> Result<Result<Attempt, i64>, DbError> {
    let limits: Vec<Limit> = limits.iter().flat_map(Limit::each).collect();
    let limits = limits.as_slice();
    // A client already over a limit is refused on a read: hammering a closed door
    // writes nothing, so it does not hold the database's writer from honest requests.
    if let Some(retry_at) = over(db, limits, now_ms, 0).await? {
        return Ok(Err(retry_at));
    }
    let id = uuid::Uuid::new_v4().to_string();
    // One transaction: one commit (one fsync on SQLite) for all the scopes.
    let mut tx = db.pool().begin().await?;
    for limit in limits.iter().filter(|l| !l.on_failure) {
        sqlx::query("INSERT INTO attempts (id, scope, at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(&limit.scope)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    // Counted again with this attempt's rows: attempts sent at once see one another.
    if let Some(retry_at) = over(db, limits, now_ms, 1).await? {
        take_back(db, &id).await?;
        return Ok(Err(retry_at));
    }
    let on_failure = limits
        .iter()
        .filter(|l| l.on_failure)
        .map(|l| l.scope.clone())
        .collect();
    Ok(Ok(Attempt { id, on_failure }))
}

/// The attempt failed: the scopes counted on failure count it now.
pub async fn failed(db: &Db, attempt: Attempt, now_ms: i64) -> Result<(), DbError> {
    let mut tx = db.pool().begin().await?;
    for scope in &attempt.on_failure {
        sqlx::query("INSERT INTO attempts (id, scope, at) VALUES ($1, $2, $3)")
            .bind(&attempt.id)
            .bind(scope)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The instant the first scope over its limit opens again, if one is; `mine` is 1 when
/// this attempt's rows are already counted in the scopes counted before, 0 otherwise.
async fn over(db: &Db, limits: &[Limit], now_ms: i64, mine: i64) -> Result<Option<i64>, DbError> {
    // One query per window length (a login's limits share one): few round trips when
    // a hundred candidates log in at once.
    let mut counts: std::collections::HashMap<&str, (i64, Option<i64>)> = Default::default();
    let mut windows: Vec<SignedDuration> = limits.iter().map(|l| l.window).collect();
    windows.sort();
    windows.dedup();
    for window in windows {
        let these: Vec<&Limit> = limits.iter().filter(|l| l.window == window).collect();
        let placeholders = (0..these.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        // Only placeholders are formatted in: the scopes are bound.
        let sql = format!(
            "SELECT scope, COUNT(*) AS n, MIN(at) AS first FROM attempts
             WHERE at > $1 AND scope IN ({placeholders}) GROUP BY scope"
        );
        let mut query =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now_ms - window.as_millis() as i64);
        for limit in &these {
            query = query.bind(&limit.scope);
        }
        for row in query.fetch_all(db.pool()).await? {
            let scope: String = row.try_get("scope")?;
            if let Some(limit) = these.iter().find(|l| l.scope == scope) {
                counts.insert(&limit.scope, (row.try_get("n")?, row.try_get("first")?));
            }
        }
    }
    for limit in limits {
        let (count, first) = counts
            .get(limit.scope.as_str())
            .copied()
            .unwrap_or((0, None));
        // With this attempt: among the rows of a scope counted before (when written),
        // not yet among those counted on failure.
        let with_this = if limit.on_failure || mine == 0 {
            count + 1
        } else {
            count
        };
        if with_this > limit.max {
            // A race lost is news; every knock on a door already closed is not.
            if mine == 1 {
                tracing::warn!(scope = %limit.scope, attempts = count, "refused: too many attempts");
            } else {
                tracing::debug!(scope = %limit.scope, attempts = count, "refused: too many attempts");
            }
            return Ok(Some(
                first.unwrap_or(now_ms) + limit.window.as_millis() as i64,
            ));
        }
    }
    Ok(None)
}

async fn take_back(db: &Db, id: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM attempts WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The attempt was not a failure: it no longer counts anywhere, and the failures
/// counted in `clear` (e.g. this account from this client) are forgotten.
pub async fn forgive(db: &Db, attempt: Attempt, clear: &[&str]) -> Result<(), DbError> {
    // One statement: the attempt's rows, and the scopes it clears ('' keeps the list
    // valid when there is none).
    let placeholders: String = (0..clear.len()).map(|i| format!(", ${}", i + 2)).collect();
    let sql = format!("DELETE FROM attempts WHERE id = $1 OR scope IN (''{placeholders})");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&attempt.id);
    for scope in clear {
        query = query.bind(*scope);
    }
    query.execute(db.pool()).await?;
    Ok(())
}

/// Forgets the rows no window can see any more; run by the periodic pass.
pub async fn purge(db: &Db, now_ms: i64) -> Result<u64, DbError> {
    Ok(sqlx::query("DELETE FROM attempts WHERE at <= $1")
        .bind(now_ms - LONGEST_WINDOW.as_millis() as i64)
        .execute(db.pool())
        .await?
        .rows_affected())
}

/// New passwords hashed per client (wizard's password step, reset form) within the
/// failure window: forty candidates behind one address choosing theirs in the same
/// quarter of an hour, with typos, fit; a script still cannot feed the hashing threads
/// (whose queue is bounded for all clients anyway).
pub const MAX_HASHES_PER_CLIENT: i64 = 80;

/// New passwords hashed for one client.
pub fn hashing_limit(client: &str) -> Limit {
    Limit::new(
        format!("hash-client:{client}"),
        MAX_HASHES_PER_CLIENT,
        FAILURE_WINDOW,
    )
    .widened("hash-client", client)
}

/// New préinscription drafts one client may open in an hour: a training room, a lycée
/// or a mobile operator's shared address may hold forty candidates on the last
/// evening, each starting again on another browser or two; a script filling the
/// drafts table may not.
pub const MAX_DRAFTS_PER_CLIENT: i64 = 150;
/// FranceConnect sign-ins one client may start in an hour: each writes a flow row kept
/// ten minutes; forty candidates behind one address starting two or three each fit,
/// a script filling the table does not.
pub const MAX_FRANCECONNECT_STARTS_PER_CLIENT: i64 = 150;
/// New dossiers one client may create in an hour: forty candidates behind one address
/// fit, with room; and in a day.
pub const MAX_DOSSIERS_PER_CLIENT: i64 = 60;
pub const MAX_DOSSIERS_PER_CLIENT_PER_DAY: i64 = 200;
/// New dossiers given one e-mail address in a day: a family sharing an address fits;
/// nobody can fill a stranger's mailbox with préinscription mails.
pub const MAX_DOSSIERS_PER_EMAIL_PER_DAY: i64 = 5;
const HOUR: SignedDuration = SignedDuration::from_hours(1);
const DAY: SignedDuration = SignedDuration::from_hours(24);

pub fn new_draft_limit(client: &str) -> Limit {
    Limit::new(
        format!("draft-client:{client}"),
        MAX_DRAFTS_PER_CLIENT,
        HOUR,
    )
    .widened("draft-client", client)
}

pub fn franceconnect_start_limit(client: &str) -> Limit {
    Limit::new(
        format!("franceconnect-client:{client}"),
        MAX_FRANCECONNECT_STARTS_PER_CLIENT,
        HOUR,
    )
    .widened("franceconnect-client", client)
}

/// New dossiers from one client, in the hour and in the day.
pub fn new_dossier_limits(client: &str) -> [Limit; 2] {
    [
        Limit::new(
            format!("dossier-client:{client}"),
            MAX_DOSSIERS_PER_CLIENT,
            HOUR,
        )
        .widened("dossier-client", client),
        Limit::new(
            format!("dossier-client-day:{client}"),
            MAX_DOSSIERS_PER_CLIENT_PER_DAY,
            DAY,
        )
        .widened("dossier-client-day", client),
    ]
}

/// New dossiers given one e-mail address (as stored: lower case).
pub fn new_dossier_email_limit(email: &str) -> Limit {
    Limit::new(
        format!("dossier-email:{}", email.to_lowercase()),
        MAX_DOSSIERS_PER_EMAIL_PER_DAY,
        DAY,
    )
}
