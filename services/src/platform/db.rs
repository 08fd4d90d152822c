//! One database handle for SQLite and PostgreSQL, chosen by the URL alone.
//!
//! We use sqlx's `Any` driver with runtime queries, so every query is written once and
//! the same tests run on both. The SQL sticks to what both accept: `$1` placeholders,
//! TEXT and BIGINT columns, `ON CONFLICT`, `RETURNING`.

use std::{str::FromStr, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::Migrator,
    sqlite::SqliteConnectOptions,
};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL (expected sqlite:… or postgres://…)")]
    UnsupportedUrl,
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    kind: DbKind,
}

impl Db {
    /// Connects, creating the SQLite file (and its folder) if it does not exist yet.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        install_default_drivers();
        let kind = if url.starts_with("sqlite:") {
            DbKind::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DbKind::Postgres
        } else {
            return Err(DbError::UnsupportedUrl);
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if kind == DbKind::Sqlite {
            let sqlite = SqliteConnectOptions::from_str(url)?;
            if let Some(dir) = sqlite.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)?;
            }
            // SQLite serialises writers; a few connections are plenty and WAL lets
            // readers go on while one writes. An embedded database's connection cannot
            // go stale: no ping before each use (a round trip to its thread per query).
            options = options
                .max_connections(8)
                .test_before_acquire(false)
                .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;")
                        .await?;
                    Ok(())
                })
            });
        }
        if kind == DbKind::Postgres {
            // Nothing waits for ever: a statement stuck behind a lock fails in seconds
            // (the request answers, the log names it) instead of holding a candidate's
            // request and a connection all night; a transaction left idle is ended.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "SET lock_timeout = '10s'; SET statement_timeout = '60s'; SET idle_in_transaction_session_timeout = '60s';",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let url = if kind == DbKind::Sqlite && !url.contains("mode=") {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        } else {
            url.to_string()
        };
        let pool = options.connect(&url).await?;
        if kind == DbKind::Sqlite {
            pool.execute("PRAGMA journal_mode = WAL;").await?;
        }
        Ok(Self { pool, kind })
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// A round trip to the database, for `/healthz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
