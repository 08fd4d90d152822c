//! The deadline-night benchmark (`make bench`). It seeds candidates on an exam whose
//! deadline is tomorrow, starts the release server on 127.0.0.1 with a fresh database
//! and storage, and drives the last evening in phases, each at the same concurrency:
//! every candidate logs in; uploads 3 files (PDF and JPEG, 200 KiB to 8 MiB); looks at
//! the dossier page and closes (twice at once, as a double click). Then 100 uploads of
//! 8 MiB in flight together (peak memory), and a login storm while another client loads
//! dossier pages (five rounds, each a window at rest then one of storm). Then the evening again for two fresh sets of candidates, side by side:
//! without, then with a patient attacker on four addresses (24 uploads just above the
//! slow-body floor from twelve dossiers, 200 half-open connections, a PDF asked for
//! from 24 connections in a loop, password guesses, bogus resets, new drafts); honest
//! p99s are reported as ratios. Runs: SQLite, PostgreSQL
//! (files on local disk, one server), and PostgreSQL with files in an S3 bucket served
//! by two servers at once (requests split round-robin between them). After each run,
//! the database and the store are checked: every dossier closed once, every row's file
//! in the store and every stored file with its row.
//!
//! The limits, in the same run: the same upload requests sent to a bare axum handler
//! that streams each body, with its SHA-256, to local disk (fsync) or to the S3 bucket
//! (through `services::files::storage`), with no checks; each run's throughput is reported as
//! a ratio of the limit of its own store. Without `TEST_S3_BUCKET` (and the `AWS_*`
//! variables; `scripts/with-s3.sh` sets them) the S3 run and limit are skipped.
//! Loopback only, bounded counts.
//!
//! Usage: bench [--candidates N] [--concurrency C] [--storm N] [--big N] [--out DIR]
//!              [--server PATH] [--site DIR] [--runs sqlite,postgres,s3,resume]
//!        bench --scale 1000,10000,50000 [--out DIR] [--server PATH] [--site DIR]
//!              (the service at volume instead: see `scale`)

mod attacker;
mod bare;
mod evening;
mod harness;
mod report;
mod resume;
mod scale;

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use services::files::storage::Storage;

use crate::{
    bare::{BareStore, bare_limit, remove_all},
    evening::product,
    harness::{Run, Upload, drop_pg_database, pg_database, round2, scenario_uploads},
    report::markdown,
    resume::resume,
};

struct Args {
    candidates: usize,
    concurrency: usize,
    storm: usize,
    /// Uploads of 8 MiB in flight at once in the memory phase.
    big: usize,
    out: PathBuf,
    server: PathBuf,
    site: PathBuf,
    /// Which runs: sqlite, postgres, s3 (all by default; fewer to try a change).
    runs: Vec<String>,
    /// Sizes (dossiers) for the volume runs instead of the evening (`make bench-scale`).
    scale: Vec<usize>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        candidates: 100,
        concurrency: 16,
        storm: 100,
        big: 100,
        out: "bench/results".into(),
        server: "target/release/server".into(),
        site: "target/site".into(),
        runs: vec![
            "sqlite".into(),
            "postgres".into(),
            "s3".into(),
            "resume".into(),
        ],
        scale: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--candidates" => a.candidates = value.parse()?,
            "--concurrency" => a.concurrency = value.parse()?,
            "--storm" => a.storm = value.parse()?,
            "--big" => a.big = value.parse()?,
            "--out" => a.out = value.into(),
            "--server" => a.server = value.into(),
            "--site" => a.site = value.into(),
            "--runs" => a.runs = value.split(',').map(str::to_string).collect(),
            "--scale" => a.scale = value.split(',').map(str::parse).collect::<Result<_, _>>()?,
            other => bail!("unknown option {other}"),
        }
    }
    if a.candidates == 0 || a.concurrency == 0 || a.big == 0 {
        bail!("--candidates, --concurrency and --big need at least 1");
    }
    Ok(a)
}

/// The ratio of a run's throughput to the limit of its store.
const BUDGET_RATIO: f64 = 0.85;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    std::fs::create_dir_all(&args.out)?;
    if !args.scale.is_empty() {
        let results = scale::scale(&args, &args.scale).await?;
        std::fs::write(
            args.out.join("scale.json"),
            serde_json::to_string_pretty(&results)?,
        )?;
        std::fs::write(args.out.join("scale.svg"), scale::svg(&results))?;
        let md = scale::markdown(&results);
        std::fs::write(args.out.join("scale.md"), &md)?;
        println!("{md}");
        return Ok(());
    }
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    let bucket = std::env::var("TEST_S3_BUCKET")
        .ok()
        .filter(|b| !b.is_empty());
    if bucket.is_none() {
        let note = "TEST_S3_BUCKET is not set (scripts/with-s3.sh sets it): the S3 run and the S3 bare handler are skipped";
        eprintln!("{note}");
        notes.push(note.to_string());
    }

    let wanted = |run: &str| args.runs.iter().any(|r| r == run);
    let sqlite = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite://{}", sqlite.path().join("bench.db").display());
    if wanted("sqlite") {
        eprintln!("== SQLite");
        let run = Run {
            label: "sqlite",
            database: "sqlite",
            database_url: &sqlite_url,
            ports: &[3300],
            storage_url: None,
        };
        runs.push(product(&args, &run).await?);
    }
    let uploads: Vec<Upload> = scenario_uploads(args.candidates)
        .into_iter()
        .map(|(_, u)| u)
        .collect();

    eprintln!(
        "== bare handler with SHA-256, local disk (the limit), three times: the median counts"
    );
    let local_dir = tempfile::tempdir()?;
    let local_limit = bare_limit(
        &uploads,
        args.concurrency,
        BareStore::Disk(local_dir.path().to_path_buf()),
    )
    .await?;
    drop(local_dir);
    let s3_limit = match &bucket {
        Some(bucket) => {
            eprintln!(
                "== bare handler with SHA-256, S3 (the limit), three times: the median counts"
            );
            let url = format!("s3://{bucket}/bench-bare-{}", uuid::Uuid::new_v4().simple());
            let spool = tempfile::tempdir()?;
            let store = Storage::from_url(&url, spool.path()).await?;
            let limit =
                bare_limit(&uploads, args.concurrency, BareStore::Store(store.clone())).await?;
            // The bucket may be shared: what the limit wrote goes.
            remove_all(&store).await?;
            limit
        }
        None => Value::Null,
    };

    let pg = std::env::var("DATABASE_URL_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    if wanted("postgres") {
        match pg_database(&pg).await {
            Ok((url, name)) => {
                eprintln!("== PostgreSQL");
                let run = product(
                    &args,
                    &Run {
                        label: "postgres",
                        database: "postgres",
                        database_url: &url,
                        ports: &[3301],
                        storage_url: None,
                    },
                )
                .await;
                drop_pg_database(&pg, &name).await;
                runs.push(run?);
            }
            Err(e) => {
                eprintln!("PostgreSQL skipped: {e}");
                notes.push(format!("PostgreSQL skipped: {e}"));
            }
        }
    }
    if let Some(bucket) = bucket.as_ref().filter(|_| wanted("s3")) {
        match pg_database(&pg).await {
            Ok((url, name)) => {
                eprintln!("== PostgreSQL and S3, two servers");
                let storage_url = format!("s3://{bucket}/bench-{}", uuid::Uuid::new_v4().simple());
                let run = product(
                    &args,
                    &Run {
                        label: "postgres+s3, 2 servers",
                        database: "postgres",
                        database_url: &url,
                        ports: &[3302, 3303],
                        storage_url: Some(&storage_url),
                    },
                )
                .await;
                drop_pg_database(&pg, &name).await;
                runs.push(run?);
            }
            Err(e) => {
                eprintln!("PostgreSQL and S3 skipped: {e}");
                notes.push(format!("PostgreSQL and S3 skipped: {e}"));
            }
        }
    }

    let resumed = if wanted("resume") {
        eprintln!("== a phone's connection cut in the middle of an 8 MiB file, then resumed");
        resume(&args).await?
    } else {
        Value::Null
    };

    for run in &mut runs {
        let limit = if run["store"] == "s3" {
            &s3_limit
        } else {
            &local_limit
        };
        let ratio = run["uploads"]["mb_per_second"].as_f64().unwrap_or(0.0)
            / limit["mb_per_second"].as_f64().unwrap_or(f64::MAX);
        run["uploads"]["ratio_to_bare_handler"] = json!(round2(ratio));
        run["uploads"]["bare_handler_mb_per_second"] = limit["mb_per_second"].clone();
    }
    let results = json!({
        "when": jiff::Timestamp::now().to_string(),
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) },
        "bare_handler": { "local": local_limit, "s3": s3_limit },
        "budget_ratio_to_bare_handler": BUDGET_RATIO,
        "runs": runs,
        "resumed": resumed,
        "notes": notes,
    });
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    std::fs::write(args.out.join("results.md"), markdown(&results))?;
    println!("{}", markdown(&results));
    Ok(())
}
