//! « Suivi par »: an agent follows a dossier, or a colleague assigns it to them. Each
//! change is a line of the dossier's journal; the followers hear by mail when the
//! candidate writes or sends a file (`notify`).

use std::collections::HashMap;

use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    access::staff::{self, Staff, StaffError},
    dossiers::Dossier,
    letters::outbox::{self, Letter},
};

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The agent to assign is unknown or disabled.
    #[error("no such active staff member")]
    UnknownStaff,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Staff(#[from] StaffError),
}

impl From<sqlx::Error> for FollowError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// An agent who can follow dossiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// The agents not disabled, by name: those a dossier can be assigned to.
pub async fn agents(db: &Db) -> Result<Vec<Agent>, FollowError> {
    let rows = sqlx::query(
        "SELECT id, name, email FROM staff WHERE disabled_at IS NULL ORDER BY name, email",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(agent)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

fn agent(r: &sqlx::any::AnyRow) -> Result<Agent, sqlx::Error> {
    Ok(Agent {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
    })
}

/// Who follows the dossier, by name.
pub async fn followers(db: &Db, dossier_id: &str) -> Result<Vec<Agent>, FollowError> {
    let rows = sqlx::query(
        "SELECT s.id, s.name, s.email FROM dossier_followers f JOIN staff s ON s.id = f.staff_id
         WHERE f.dossier_id = $1 ORDER BY s.name, s.email",
    )
    .bind(dossier_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(agent)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

/// The followers of each followed dossier of an exam.
pub async fn of_exam(db: &Db, exam: &str) -> Result<HashMap<String, Vec<Agent>>, DbError> {
    let rows = sqlx::query(
        "SELECT f.dossier_id, s.id, s.name, s.email
         FROM dossier_followers f JOIN dossiers d ON d.id = f.dossier_id JOIN staff s ON s.id = f.staff_id
         WHERE d.exam_slug = $1 ORDER BY s.name, s.email",
    )
    .bind(exam)
    .fetch_all(db.pool())
    .await?;
    let mut out: HashMap<String, Vec<Agent>> = HashMap::new();
    for r in &rows {
        out.entry(r.try_get("dossier_id")?)
            .or_default()
            .push(agent(r)?);
    }
    Ok(out)
}

/// `member` follows the dossier, or assigns it to the agent `who` (another id). Says
/// whether anything changed (following twice changes nothing and logs nothing).
pub async fn follow(
    db: &Db,
    clock: &dyn Clock,
    member: &Staff,
    dossier_id: &str,
    who: &str,
) -> Result<bool, FollowError> {
    let agents = agents(db).await?;
    let agent = agents
        .iter()
        .find(|a| a.id == who)
        .ok_or(FollowError::UnknownStaff)?;
    let mut tx = db.pool().begin().await?;
    let added = sqlx::query(
        "INSERT INTO dossier_followers (dossier_id, staff_id, since) VALUES ($1, $2, $3)
         ON CONFLICT (dossier_id, staff_id) DO NOTHING",
    )
    .bind(dossier_id)
    .bind(&agent.id)
    .bind(clock.now().as_millisecond())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if added {
        let (action, detail) = if agent.id == member.id {
            ("suit le dossier", String::new())
        } else {
            ("dossier confié", format!("à {}", agent.name))
        };
        staff::audit(&mut *tx, clock, member, Some(dossier_id), action, &detail).await?;
    }
    tx.commit().await?;
    Ok(added)
}

/// The agent `who` no longer follows the dossier (`member` asks: themselves, or a
/// colleague taking a dossier back).
pub async fn unfollow(
    db: &Db,
    clock: &dyn Clock,
    member: &Staff,
    dossier_id: &str,
    who: &str,
) -> Result<bool, FollowError> {
    let mut tx = db.pool().begin().await?;
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM staff WHERE id = $1")
        .bind(who)
        .fetch_optional(&mut *tx)
        .await?;
    let removed =
        sqlx::query("DELETE FROM dossier_followers WHERE dossier_id = $1 AND staff_id = $2")
            .bind(dossier_id)
            .bind(who)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    if removed {
        let detail = if who == member.id {
            String::new()
        } else {
            format!("par {}", name.unwrap_or_default())
        };
        staff::audit(
            &mut *tx,
            clock,
            member,
            Some(dossier_id),
            "ne suit plus le dossier",
            &detail,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(removed)
}

/// What the candidate did, for the followers' mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum News {
    Message,
    File,
}

/// At most one mail about files per follower and dossier in this time (ms): a
/// candidate sending five pièces in a row makes one mail, not five.
pub const FILE_NEWS_EVERY_MS: i64 = 30 * 60 * 1000;

/// Tells the dossier's followers (but not disabled agents) what its candidate did:
/// a link, never the message or the file. Says how many mails were promised.
pub async fn notify(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    dossier: &Dossier,
    news: News,
) -> Result<usize, FollowError> {
    let now = clock.now().as_millisecond();
    let (subject, what) = match news {
        News::Message => (
            format!("Message du candidat : dossier suivi {}", dossier.number),
            "a écrit au service concours",
        ),
        News::File => (
            format!("Nouveau fichier : dossier suivi {}", dossier.number),
            "a déposé un fichier",
        ),
    };
    let mut promised = 0;
    // Active followers only, in one query: this runs on each file the dossier takes.
    let active = sqlx::query(
        "SELECT s.id, s.name, s.email FROM dossier_followers f JOIN staff s ON s.id = f.staff_id
         WHERE f.dossier_id = $1 AND s.disabled_at IS NULL",
    )
    .bind(&dossier.id)
    .fetch_all(db.pool())
    .await?;
    for agent in active.iter().map(agent).collect::<Result<Vec<_>, _>>()? {
        if news == News::File {
            let recent: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND subject = $2 AND created_at > $3",
            )
            .bind(&agent.email)
            .bind(&subject)
            .bind(now - FILE_NEWS_EVERY_MS)
            .fetch_one(db.pool())
            .await?;
            if recent > 0 {
                continue;
            }
        }
        let letter = Letter::text(
            &agent.email,
            subject.clone(),
            format!(
                "Bonjour {name},\n\nLe candidat du dossier {number} ({exam}), que vous suivez, {what}.\n\n\
                 Le dossier, et son journal :\n{base_url}/service/dossiers/{number}\n",
                name = agent.name,
                number = dossier.number,
                exam = dossier.exam_title,
            ),
        );
        outbox::post(db.pool(), now, &letter).await?;
        promised += 1;
    }
    Ok(promised)
}
