//! The limits: the same upload requests sent to a bare handler that streams each body,
//! with its SHA-256, to local disk or to the product's store.

use std::{path::PathBuf, process::Command, sync::Arc, time::Duration};

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use services::files::storage::Storage;
use sha2::{Digest, Sha256};

use crate::harness::{Upload, client, cpu_seconds, round, round2, run_all, upload};

/// Where the bare handler puts bodies.
#[derive(Clone)]
pub(crate) enum BareStore {
    /// A local folder, each file fsynced before the answer.
    Disk(PathBuf),
    /// The product's store (an S3 bucket), written as the product writes: create,
    /// write, commit.
    Store(Storage),
}

impl BareStore {
    /// Streams one body to the store, hashing it on the way; its SHA-256 in hex.
    async fn save(&self, body: axum::body::Body) -> anyhow::Result<String> {
        let mut hasher = Sha256::new();
        let mut stream = body.into_data_stream();
        match self {
            Self::Disk(dir) => {
                let path = dir.join(uuid::Uuid::new_v4().to_string());
                let mut file = tokio::fs::File::create(&path).await?;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    hasher.update(&chunk);
                    tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
                }
                file.sync_data().await?;
            }
            Self::Store(storage) => {
                let mut file = storage.create().await?;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    hasher.update(&chunk);
                    file.write(chunk).await?;
                }
                file.commit().await?;
            }
        }
        Ok(format!("{:x}", hasher.finalize()))
    }
}

/// The limit: the same upload requests, streamed with their SHA-256 into `store` by a
/// bare handler (no parsing, no checks, no database).
/// The wall time, the errors, and the CPU time of this process (the clients and the
/// handler).
async fn bare(
    uploads: Vec<Upload>,
    concurrency: usize,
    store: BareStore,
) -> anyhow::Result<(Duration, usize, f64)> {
    use axum::{Router, body::Body, extract::State, http::StatusCode, routing::post};
    async fn save(State(store): State<BareStore>, body: Body) -> (StatusCode, String) {
        match store.save(body).await {
            Ok(sha256) => (StatusCode::CREATED, sha256),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
    let app = Router::new().route("/upload", post(save)).with_state(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/upload", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = client();
    let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cpu_before = cpu_seconds(std::process::id());
    let wall = run_all(uploads, concurrency, |u| {
        let (client, url, errors) = (client.clone(), url.clone(), errors.clone());
        async move {
            if !upload(&client, &url, "http://127.0.0.1", "", &u)
                .await
                .unwrap_or(false)
            {
                errors.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    })
    .await;
    let cpu = cpu_seconds(std::process::id()) - cpu_before;
    server.abort();
    Ok((wall, errors.load(std::sync::atomic::Ordering::SeqCst), cpu))
}

/// Writes what earlier phases left in the page cache to disk before a timed upload
/// phase: otherwise each phase pays for the one before it, and the product and its
/// limit are not measured alike.
pub(crate) fn settle() {
    let _ = Command::new("sync").status();
}

/// The bare handler three times on `store`: the median counts.
pub(crate) async fn bare_limit(
    uploads: &[Upload],
    concurrency: usize,
    store: BareStore,
) -> anyhow::Result<Value> {
    let mut walls = Vec::new();
    let mut errors = 0;
    for _ in 0..3 {
        settle();
        let (wall, e, cpu) = bare(uploads.to_vec(), concurrency, store.clone()).await?;
        walls.push((wall, cpu));
        errors += e;
    }
    walls.sort_by_key(|w| w.0);
    let (wall, cpu) = walls[1];
    let bytes: usize = uploads.iter().map(|u| u.body.len()).sum();
    Ok(json!({
        "uploads": uploads.len(),
        "megabytes": round(bytes as f64 / 1e6),
        "runs_seconds": walls.iter().map(|w| round2(w.0.as_secs_f64())).collect::<Vec<_>>(),
        "cpu_seconds": round2(cpu),
        "seconds": round2(wall.as_secs_f64()),
        "per_second": round(uploads.len() as f64 / wall.as_secs_f64()),
        "mb_per_second": round(bytes as f64 / 1e6 / wall.as_secs_f64()),
        "errors": errors,
    }))
}

/// Removes every file of `store`.
pub(crate) async fn remove_all(store: &Storage) -> anyhow::Result<()> {
    let keys = store.list().await?;
    stream::iter(keys)
        .map(|(key, _)| async move { store.delete(&key).await })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(())
}
