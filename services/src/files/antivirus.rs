//! The antivirus: each stored file is sent to ClamAV's daemon (clamd) through its
//! `INSTREAM` command, off the request path. A file waits « en attente d'analyse »
//! until clamd answers: when clamd is down it waits, and is never called « sain » by
//! mistake. An infected file's bytes are deleted at once; its row stays, so the
//! candidate reads why, and it no longer counts (closure, limits) nor is ever served.

use std::{path::PathBuf, time::Duration};

use domain::antivirus::VirusScan;
use futures_util::{StreamExt, stream};
use sqlx::Row;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Clock, Db, DbError, files::storage::Storage};

/// The clamd to ask: where it listens (`APP_CLAMD=unix:/run/clamav/clamd.ctl` or
/// `tcp://host:3310`), and the largest file it scans whole (`APP_CLAMD_MAX_FILE`, its
/// `MaxFileSize`): past it, clamd as distributions ship it (`AlertExceedsMax no`)
/// scans the beginning and answers « OK », which must never read « sain ».
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clamd {
    pub address: ClamdAddress,
    pub max_file: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClamdAddress {
    Unix(PathBuf),
    Tcp(String),
}

/// clamd's own default `MaxFileSize` (25 MB), as Debian ships it.
pub const DEFAULT_MAX_FILE: u64 = 25 * 1024 * 1024;

impl Clamd {
    pub fn parse(address: &str) -> Result<Self, String> {
        let address = if let Some(path) = address.strip_prefix("unix:") {
            ClamdAddress::Unix(PathBuf::from(path))
        } else if let Some(host) = address.strip_prefix("tcp://") {
            ClamdAddress::Tcp(host.trim_end_matches('/').to_string())
        } else {
            return Err(format!(
                "APP_CLAMD « {address} » : attendu unix:/chemin/du/socket ou tcp://hôte:port"
            ));
        };
        Ok(Self {
            address,
            max_file: DEFAULT_MAX_FILE,
        })
    }

    pub fn with_max_file(self, max_file: u64) -> Self {
        Self { max_file, ..self }
    }
}

/// What clamd said of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// With the signature's name.
    Infected(String),
    /// clamd refused to scan it (over `StreamMaxLength`, a damaged archive…).
    Failed(String),
}

/// How long clamd may take for one file before the scan is given up (and retried).
const SCAN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long reaching clamd may take: past it, clamd is down (every file waits).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Scans of one file that reached clamd without a verdict (a timeout, a lost answer):
/// past these, the file is « erreur d'analyse ».
pub const MAX_ATTEMPTS: i64 = 3;
/// How long one server keeps a file to itself while scanning it.
const CLAIM: Duration = Duration::from_secs(180);
/// Files scanned at once by one server: clamd's threads are shared by every server.
pub const AT_ONCE: usize = 2;
/// clamd's chunks: well under its default `StreamMaxLength` granularity.
const CHUNK: usize = 64 * 1024;

/// Why a scan gave no verdict.
#[derive(Debug, thiserror::Error)]
pub enum ScanFailure {
    /// clamd could not be reached: every file waits for it, none is to blame.
    #[error("clamd unreachable: {0}")]
    Unreachable(std::io::Error),
    /// clamd took the file but no verdict came back (a timeout, a lost answer): this
    /// file's attempt counts.
    #[error("no verdict from clamd: {0}")]
    Lost(std::io::Error),
}

/// Sends `bytes` to clamd and reads its verdict.
pub async fn scan(
    clamd: &Clamd,
    bytes: crate::files::storage::ByteStream,
) -> Result<Verdict, ScanFailure> {
    let unreachable = |e| ScanFailure::Unreachable(e);
    let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "clamd did not answer");
    let scanned = match &clamd.address {
        ClamdAddress::Unix(path) => {
            let conn = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(path))
                .await
                .map_err(|_| unreachable(timed_out()))?
                .map_err(unreachable)?;
            tokio::time::timeout(SCAN_TIMEOUT, instream(conn, bytes)).await
        }
        ClamdAddress::Tcp(host) => {
            let conn = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(host))
                .await
                .map_err(|_| unreachable(timed_out()))?
                .map_err(unreachable)?;
            tokio::time::timeout(SCAN_TIMEOUT, instream(conn, bytes)).await
        }
    };
    scanned
        .map_err(|_| ScanFailure::Lost(timed_out()))?
        .map_err(ScanFailure::Lost)
}

/// `zINSTREAM`: chunks each preceded by their length (4 bytes, big-endian), a zero
/// length to end; the answer ends with a NUL.
async fn instream<C: AsyncRead + AsyncWrite + Unpin>(
    mut conn: C,
    mut bytes: crate::files::storage::ByteStream,
) -> std::io::Result<Verdict> {
    conn.write_all(b"zINSTREAM\0").await?;
    // Past its limit clamd answers and closes: a write that fails then is no outage,
    // the answer says why.
    let mut refused_early = false;
    'send: while let Some(chunk) = bytes.next().await {
        for part in chunk?.chunks(CHUNK) {
            let length = (part.len() as u32).to_be_bytes();
            if conn.write_all(&length).await.is_err() || conn.write_all(part).await.is_err() {
                refused_early = true;
                break 'send;
            }
        }
    }
    if !refused_early {
        let _ = conn.write_all(&0u32.to_be_bytes()).await;
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(n) => n,
            // Over TCP its answer may be lost with the connection it reset: a file it
            // stopped reading is an « erreur d'analyse » (never sain), not an outage
            // to wait out for ever.
            Err(_) if refused_early => {
                return Ok(Verdict::Failed("clamd stopped reading the file".into()));
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.contains(&0) || answer.len() > 4096 {
            break;
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    let answer = answer.trim_end_matches(['\0', '\n']).trim();
    if answer.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "clamd closed without an answer",
        ));
    }
    Ok(verdict(answer))
}

/// clamd's answer, e.g. `stream: OK`, `stream: Eicar-Signature FOUND`, `INSTREAM size
/// limit exceeded. ERROR`.
fn verdict(answer: &str) -> Verdict {
    let text = answer.strip_prefix("stream: ").unwrap_or(answer);
    if text == "OK" {
        Verdict::Clean
    } else if let Some(name) = text.strip_suffix(" FOUND") {
        // With `AlertExceedsMax yes`, a file past one of clamd's limits is « found » as
        // `Heuristics.Limits.Exceeded.*`: not scanned whole, so neither sain nor a virus.
        if name.starts_with("Heuristics.Limits.Exceeded") {
            Verdict::Failed(format!("clamd limits exceeded: {name}"))
        } else {
            Verdict::Infected(name.to_string())
        }
    } else {
        Verdict::Failed(text.to_string())
    }
}

/// Scans the files waiting for it, oldest first, [`AT_ONCE`] at a time, each claimed so
/// that another server leaves it. Returns how many got their verdict; stops at the
/// first file clamd could not be reached for (they all wait for it to come back).
pub async fn pass(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    clamd: &Clamd,
    limit: i64,
) -> Result<usize, DbError> {
    let now = clock.now().as_millisecond();
    // Files that never failed first: one clamd cannot finish waits behind the others.
    let waiting: Vec<Waiting> = sqlx::query(
        "SELECT id, storage_key, size, scan_attempts FROM attachments
         WHERE scan = 'pending' AND scan_claimed_until < $1
         ORDER BY scan_attempts, created_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.pool())
    .await?
    .into_iter()
    .map(|r| {
        Ok(Waiting {
            id: r.try_get("id")?,
            key: r.try_get("storage_key")?,
            size: r.try_get::<i64, _>("size")?.max(0) as u64,
            attempts: r.try_get("scan_attempts")?,
        })
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let scanned = stream::iter(waiting)
        .map(|file| async move { scan_one(db, storage, clock, clamd, &file).await })
        .buffer_unordered(AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    let mut done = 0;
    for result in scanned {
        match result {
            Ok(true) => done += 1,
            Ok(false) => {}
            Err(ScanError::Db(e)) => return Err(e),
            Err(ScanError::Clamd(error)) => {
                tracing::warn!(%error, "clamd unreachable: files wait for it");
            }
        }
    }
    Ok(done)
}

enum ScanError {
    Db(DbError),
    Clamd(std::io::Error),
}

/// A file waiting for its verdict.
struct Waiting {
    id: String,
    key: String,
    size: u64,
    attempts: i64,
}

impl From<sqlx::Error> for ScanError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e.into())
    }
}

/// One file: claimed, read from the store, sent to clamd, its verdict recorded (and
/// an infected file's bytes deleted). `Ok(false)`: another server has it, or its row
/// went meanwhile.
async fn scan_one(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    clamd: &Clamd,
    file: &Waiting,
) -> Result<bool, ScanError> {
    let (id, key) = (file.id.as_str(), file.key.as_str());
    let now = clock.now().as_millisecond();
    let claimed = sqlx::query(
        "UPDATE attachments SET scan_claimed_until = $1 WHERE id = $2 AND scan = 'pending' AND scan_claimed_until < $3",
    )
    .bind(now + CLAIM.as_millis() as i64)
    .bind(id)
    .bind(now)
    .execute(db.pool())
    .await?;
    if claimed.rows_affected() == 0 {
        return Ok(false);
    }
    let release = || async {
        sqlx::query("UPDATE attachments SET scan_claimed_until = 0 WHERE id = $1")
            .bind(id)
            .execute(db.pool())
            .await
    };
    // clamd would scan its beginning only and answer « OK »: not sent, never sain.
    if file.size > clamd.max_file {
        let why = format!(
            "larger than what clamd scans whole ({} > {} bytes, its MaxFileSize)",
            file.size, clamd.max_file
        );
        return record(db, clock, storage, id, key, &Verdict::Failed(why)).await;
    }
    let bytes = match storage.read(key).await {
        Ok(bytes) => bytes,
        // Deleted meanwhile (its row goes with it), or the store is down: later.
        Err(error) => {
            tracing::warn!(%error, "file to scan unreadable");
            release().await?;
            return Ok(false);
        }
    };
    let verdict = match scan(clamd, bytes).await {
        Ok(verdict) => verdict,
        Err(ScanFailure::Unreachable(error)) => {
            release().await?;
            return Err(ScanError::Clamd(error));
        }
        Err(ScanFailure::Lost(error)) if file.attempts + 1 >= MAX_ATTEMPTS => {
            Verdict::Failed(format!("no verdict after {MAX_ATTEMPTS} attempts: {error}"))
        }
        Err(ScanFailure::Lost(error)) => {
            tracing::warn!(%error, attachment = %id, "no verdict from clamd: tried again later");
            sqlx::query(
                "UPDATE attachments SET scan_attempts = scan_attempts + 1, scan_claimed_until = 0
                 WHERE id = $1",
            )
            .bind(id)
            .execute(db.pool())
            .await?;
            return Ok(false);
        }
    };
    record(db, clock, storage, id, key, &verdict).await
}

/// Writes a verdict (and deletes an infected file's bytes).
async fn record(
    db: &Db,
    clock: &dyn Clock,
    storage: &Storage,
    id: &str,
    key: &str,
    verdict: &Verdict,
) -> Result<bool, ScanError> {
    let (state, detail) = match verdict {
        Verdict::Clean => (VirusScan::Clean, None),
        Verdict::Infected(name) => (VirusScan::Infected, Some(name.as_str())),
        Verdict::Failed(why) => (VirusScan::Failed, Some(why.as_str())),
    };
    let recorded = sqlx::query(
        "UPDATE attachments SET scan = $1, scan_detail = $2, scanned_at = $3, scan_claimed_until = 0
         WHERE id = $4 AND scan = 'pending'",
    )
    .bind(state.code())
    .bind(detail)
    .bind(clock.now().as_millisecond())
    .bind(id)
    .execute(db.pool())
    .await?;
    if state == VirusScan::Infected {
        tracing::warn!(attachment = %id, virus = ?detail, "infected file deleted");
        if let Err(error) = storage.delete(key).await {
            // The row says infected: it is never served, and the orphan sweep takes
            // the bytes as it takes those of no row.
            tracing::error!(%error, "infected file could not be deleted");
        }
    } else if state == VirusScan::Failed {
        tracing::warn!(attachment = %id, why = ?detail, "file could not be scanned");
    }
    Ok(recorded.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_answers_read_as_verdicts() {
        assert_eq!(verdict("stream: OK"), Verdict::Clean);
        assert_eq!(
            verdict("stream: Eicar-Test-Signature.UNOFFICIAL FOUND"),
            Verdict::Infected("Eicar-Test-Signature.UNOFFICIAL".into())
        );
        assert_eq!(
            verdict("INSTREAM size limit exceeded. ERROR"),
            Verdict::Failed("INSTREAM size limit exceeded. ERROR".into())
        );
        // AlertExceedsMax's answer: not scanned whole, not a virus.
        assert!(matches!(
            verdict("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND"),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn addresses_are_a_socket_or_a_host() {
        assert_eq!(
            Clamd::parse("unix:/run/clamav/clamd.ctl").map(|c| c.address),
            Ok(ClamdAddress::Unix("/run/clamav/clamd.ctl".into()))
        );
        assert_eq!(
            Clamd::parse("tcp://127.0.0.1:3310").map(|c| c.address),
            Ok(ClamdAddress::Tcp("127.0.0.1:3310".into()))
        );
        assert!(Clamd::parse("127.0.0.1:3310").is_err());
    }
}
