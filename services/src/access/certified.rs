//! What an identity certified by FranceConnect opens: the espace of the dossiers it
//! created or was linked to (one per exam; a choice when there are several), and the
//! link of a dossier typed by hand, once, when the identity pivot matches.

use domain::certified::CertifiedIdentity;
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    access::{
        accounts,
        franceconnect::{Certified, FLOW_LIFETIME_MS},
        secrets::{new_token, token_hash},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum CertifiedError {
    /// The dossier is already linked to a FranceConnect identity.
    #[error("already linked")]
    AlreadyLinked,
    /// The certified birth name, given names or birth date are not the dossier's.
    #[error("the identity is not the dossier's")]
    Mismatch,
    /// This identity already has another dossier for this exam.
    #[error("identity already linked to another dossier of this exam")]
    SubjectTaken,
    /// The dossier is gone (erased, or the session ended).
    #[error("unknown dossier")]
    UnknownDossier,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for CertifiedError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// A dossier an identity signs into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedDossier {
    pub id: String,
    pub number: String,
    pub exam_title: String,
}

/// The dossiers of this pairwise subject, the latest first.
pub async fn dossiers_of(db: &Db, subject: &str) -> Result<Vec<LinkedDossier>, CertifiedError> {
    let rows = sqlx::query(
        "SELECT d.id, d.number, e.title FROM dossiers d JOIN exams e ON e.slug = d.exam_slug
         WHERE d.franceconnect_sub = $1 ORDER BY d.created_at DESC, d.number",
    )
    .bind(subject)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LinkedDossier {
                id: r.try_get("id")?,
                number: r.try_get("number")?,
                exam_title: r.try_get("title")?,
            })
        })
        .collect()
}

/// A session on this dossier opened through FranceConnect: its id_token is kept for
/// the logout at the provider.
pub async fn open_session(
    db: &Db,
    clock: &dyn Clock,
    dossier_id: &str,
    id_token: &str,
) -> Result<String, CertifiedError> {
    let token = accounts::open_session(db, clock, dossier_id)
        .await
        .map_err(|e| CertifiedError::Corrupt(e.to_string()))?;
    keep_id_token(db, &token, id_token).await?;
    Ok(token)
}

/// Remembers the id_token of the provider's session on this espace session.
pub async fn keep_id_token(db: &Db, session: &str, id_token: &str) -> Result<(), CertifiedError> {
    sqlx::query("UPDATE sessions SET franceconnect_id_token = $1 WHERE token_hash = $2")
        .bind(id_token)
        .bind(token_hash(session))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The id_token of the provider's session this espace session came with, if any.
pub async fn id_token_of_session(db: &Db, session: &str) -> Result<Option<String>, CertifiedError> {
    Ok(
        sqlx::query("SELECT franceconnect_id_token FROM sessions WHERE token_hash = $1")
            .bind(token_hash(session))
            .fetch_optional(db.pool())
            .await?
            .map(|r| r.try_get::<Option<String>, _>("franceconnect_id_token"))
            .transpose()?
            .flatten(),
    )
}

/// A verified identity with several dossiers, waiting for its browser to choose one:
/// kept as a flow (`choix`) for ten minutes, bound to the browser's cookie. The answer
/// is the choice's token, for the page's address.
pub async fn await_choice(
    db: &Db,
    clock: &dyn Clock,
    browser: &str,
    certified: &Certified,
) -> Result<String, CertifiedError> {
    let choice = new_token();
    sqlx::query(
        "INSERT INTO franceconnect_flows (state_hash, browser_hash, nonce, purpose, subject, id_token, created_at)
         VALUES ($1, $2, '', 'choix', $3, $4, $5)",
    )
    .bind(token_hash(&choice))
    .bind(token_hash(browser))
    .bind(&certified.subject)
    .bind(&certified.id_token)
    .bind(clock.now().as_millisecond())
    .execute(db.pool())
    .await?;
    Ok(choice)
}

/// The subject and id_token of a choice of this browser still open.
async fn choice(
    db: &Db,
    clock: &dyn Clock,
    browser: &str,
    choice: &str,
) -> Result<Option<(String, String)>, CertifiedError> {
    let row = sqlx::query(
        "SELECT subject, id_token FROM franceconnect_flows
         WHERE state_hash = $1 AND browser_hash = $2 AND purpose = 'choix' AND created_at > $3",
    )
    .bind(token_hash(choice))
    .bind(token_hash(browser))
    .bind(clock.now().as_millisecond() - FLOW_LIFETIME_MS)
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        Some(r) => r
            .try_get::<Option<String>, _>("subject")?
            .zip(r.try_get::<Option<String>, _>("id_token")?),
        None => None,
    })
}

/// The dossiers a choice offers (none when it is not this browser's, or too old).
pub async fn choices(
    db: &Db,
    clock: &dyn Clock,
    browser: &str,
    token: &str,
) -> Result<Vec<LinkedDossier>, CertifiedError> {
    match choice(db, clock, browser, token).await? {
        Some((subject, _)) => dossiers_of(db, &subject).await,
        None => Ok(Vec::new()),
    }
}

/// Opens the session of the dossier `number` chosen: only one of the identity's.
/// The choice is used up.
pub async fn choose(
    db: &Db,
    clock: &dyn Clock,
    browser: &str,
    token: &str,
    number: &str,
) -> Result<Option<String>, CertifiedError> {
    let Some((subject, id_token)) = choice(db, clock, browser, token).await? else {
        return Ok(None);
    };
    let Some(dossier) = dossiers_of(db, &subject)
        .await?
        .into_iter()
        .find(|d| d.number == number)
    else {
        return Ok(None);
    };
    sqlx::query("DELETE FROM franceconnect_flows WHERE state_hash = $1")
        .bind(token_hash(token))
        .execute(db.pool())
        .await?;
    open_session(db, clock, &dossier.id, &id_token)
        .await
        .map(Some)
}

/// Links a dossier typed by hand to a certified identity, once, when its birth name,
/// given names and birth date are the dossier's (case and accents aside); never on the
/// e-mail address. Logged in the dossier's journal.
pub async fn link(
    db: &Db,
    clock: &dyn Clock,
    dossier_id: &str,
    subject: &str,
    identity: &CertifiedIdentity,
) -> Result<(), CertifiedError> {
    let row = sqlx::query("SELECT identity_key, franceconnect_sub FROM dossiers WHERE id = $1")
        .bind(dossier_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(CertifiedError::UnknownDossier)?;
    if row
        .try_get::<Option<String>, _>("franceconnect_sub")?
        .is_some()
    {
        return Err(CertifiedError::AlreadyLinked);
    }
    if row.try_get::<String, _>("identity_key")? != identity.identity_key() {
        return Err(CertifiedError::Mismatch);
    }
    let certified =
        serde_json::to_string(identity).map_err(|e| CertifiedError::Corrupt(e.to_string()))?;
    let now = clock.now().as_millisecond();
    let mut tx = db.pool().begin().await?;
    let linked = sqlx::query(
        "UPDATE dossiers SET franceconnect_sub = $1, franceconnect_via = 'lien',
             franceconnect_at = $2, certified = $3
         WHERE id = $4 AND franceconnect_sub IS NULL",
    )
    .bind(subject)
    .bind(now)
    .bind(certified)
    .bind(dossier_id)
    .execute(&mut *tx)
    .await;
    match linked {
        Ok(done) if done.rows_affected() == 1 => {
            crate::access::staff::candidate_event(
                &mut *tx,
                now,
                dossier_id,
                "dossier lié à FranceConnect",
                "identité certifiée : nom de naissance, prénoms et date de naissance identiques",
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        Ok(_) => Err(CertifiedError::AlreadyLinked),
        // The unique index: this identity has a dossier of this exam already.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(CertifiedError::SubjectTaken)
        }
        Err(e) => Err(e.into()),
    }
}
