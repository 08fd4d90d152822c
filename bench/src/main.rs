//! The deadline-night benchmark (`make bench`). It seeds candidates on an exam whose
//! deadline is tomorrow, starts the release server on 127.0.0.1 with a fresh database
//! and storage, and drives the last evening in phases, each at the same concurrency:
//! every candidate logs in; uploads 3 files (PDF and JPEG, 200 KiB to 8 MiB); looks at
//! the dossier page and closes (twice at once, as a double click). Then 100 uploads of
//! 8 MiB in flight together (peak memory), and a login storm while another client loads
//! dossier pages. Then the evening again for two fresh sets of candidates, side by side:
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
//! (through `services::storage`), with no checks; each run's throughput is reported as
//! a ratio of the limit of its own store. Without `TEST_S3_BUCKET` (and the `AWS_*`
//! variables; `scripts/with-s3.sh` sets them) the S3 run and limit are skipped.
//! Loopback only, bounded counts.
//!
//! Usage: bench [--candidates N] [--concurrency C] [--storm N] [--big N] [--out DIR]
//!              [--server PATH] [--site DIR] [--runs sqlite,postgres,s3,resume]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use services::storage::Storage;
use sha2::{Digest, Sha256};
use sqlx::Row;

const PASSWORD: &str = "soirée de clôture au concours";
const EXAM: &str = "bench-derniere-soiree";
const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

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
            other => bail!("unknown option {other}"),
        }
    }
    if a.candidates == 0 || a.concurrency == 0 || a.big == 0 {
        bail!("--candidates, --concurrency and --big need at least 1");
    }
    Ok(a)
}

/// The scenario's uploads in the order they are sent, each with its candidate: file by
/// file across candidates, as phones send them.
fn scenario_uploads(n: usize) -> Vec<(usize, Upload)> {
    let per_candidate: Vec<Vec<Upload>> = (0..n).map(uploads_for).collect();
    (0..3)
        .flat_map(|k| (0..n).map(move |i| (i, k)))
        .filter_map(|(i, k)| per_candidate[i].get(k).map(|u| (i, u.clone())))
        .collect()
}

/// One file to upload: which pièce, its name, and a valid body of its kind.
#[derive(Clone)]
struct Upload {
    piece: &'static str,
    name: String,
    mime: &'static str,
    body: Bytes,
}

fn pdf(size: usize) -> Bytes {
    let mut f = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    let tail = b"\nstartxref\n0\n%%EOF\n";
    f.resize(size - tail.len(), b' ');
    f.extend_from_slice(tail);
    f.into()
}

/// A JPEG as a phone writes it: JFIF, EXIF with an orientation and a position, then
/// picture data.
fn jpeg(size: usize) -> Bytes {
    let mut f = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
    f.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    let mut exif = b"Exif\0\0MM\0\x2A\0\0\0\x08".to_vec();
    exif.extend([0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
    exif.extend_from_slice(b"GPS 48.0686 N 0.7694 W");
    f.extend([0xFF, 0xE1]);
    f.extend(((exif.len() + 2) as u16).to_be_bytes());
    f.extend(exif);
    // A frame header (16 × 16, one component): the server refuses pictures without one.
    f.extend([0xFF, 0xC0, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x11, 0]);
    f.extend([0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0]);
    let mut x: u32 = 0x9E37_79B9;
    while f.len() < size - 2 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        // No 0xFF in the data: no accidental marker.
        f.push((x as u8) & 0x7F);
    }
    f.extend([0xFF, 0xD9]);
    f.into()
}

/// Three files per candidate: identity card recto (JPEG) and verso (PDF), diploma
/// (PDF or JPEG), sizes cycling from 200 KiB to 8 MiB.
fn uploads_for(i: usize) -> Vec<Upload> {
    const SIZES: [usize; 5] = [200 * KIB, 600 * KIB, 1536 * KIB, 3 * MIB, 8 * MIB];
    let size = |k: usize| SIZES[(i * 3 + k) % SIZES.len()];
    let diploma_is_photo = i.is_multiple_of(2);
    vec![
        Upload {
            piece: "piece-identite",
            name: format!("IMG_{i:04}_recto.jpg"),
            mime: "image/jpeg",
            body: jpeg(size(0)),
        },
        Upload {
            piece: "piece-identite",
            name: format!("verso {i}.pdf"),
            mime: "application/pdf",
            body: pdf(size(1)),
        },
        if diploma_is_photo {
            Upload {
                piece: "diplome",
                name: format!("diplôme {i}.JPG"),
                mime: "image/jpeg",
                body: jpeg(size(2)),
            }
        } else {
            Upload {
                piece: "diplome",
                name: format!("Diplôme {i}.PDF"),
                mime: "application/pdf",
                body: pdf(size(2)),
            }
        },
    ]
}

/// Latencies of one kind of request.
#[derive(Default)]
struct Samples {
    ms: Vec<f64>,
    errors: usize,
}

impl Samples {
    fn push(&mut self, started: Instant, ok: bool) {
        self.ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if !ok {
            self.errors += 1;
        }
    }

    fn quantile(&self, q: f64) -> f64 {
        if self.ms.is_empty() {
            return 0.0;
        }
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }

    fn summary(&self) -> Value {
        json!({
            "requests": self.ms.len(),
            "errors": self.errors,
            "p50_ms": round(self.quantile(0.50)),
            "p95_ms": round(self.quantile(0.95)),
            "p99_ms": round(self.quantile(0.99)),
        })
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The product server, started as `make run` would, on its own port; the servers of
/// one run share its database, data folder and store.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(
        args: &Args,
        port: u16,
        database_url: &str,
        data: &Path,
        storage_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(&args.server);
        command
            .arg("serve")
            .env("APP_ADDRESS", format!("127.0.0.1:{port}"))
            .env("APP_DATA_DIR", data)
            .env("APP_EXAMS_DIR", data.join("exams"))
            .env("APP_SITE_ROOT", &args.site)
            .env("DATABASE_URL", database_url)
            // As behind a reverse proxy: the attacker's address comes in X-Forwarded-For.
            .env("APP_TRUSTED_PROXIES", "127.0.0.1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // The bucket and its AWS_* variables (inherited); else $APP_DATA_DIR/files.
        match storage_url {
            Some(url) => command.env("APP_STORAGE_URL", url),
            None => command
                .env_remove("APP_STORAGE_URL")
                .env_remove("APP_STORAGE_DIR"),
        };
        let child = command
            .spawn()
            .with_context(|| format!("start {}", args.server.display()))?;
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    async fn wait_ready(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        for _ in 0..200 {
            if let Ok(r) = client.get(format!("{}/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the server did not answer /healthz")
    }

    /// Resident memory now and at its peak, in KiB.
    fn memory_kib(&self) -> (u64, u64) {
        memory_kib(self.child.id())
    }
}

/// A process's resident memory now and at its peak (VmRSS, VmHWM), in KiB, from /proc.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .expect("an HTTP client")
}

/// Each candidate's own address, as the trusted proxy forwards it: candidates on the
/// night come from many addresses (the server's per-client limits see them apart).
fn address_of(key: &str) -> String {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("10.{}.{}.{}", (h >> 16) as u8, (h >> 8) as u8, h as u8)
}

async fn login(client: &reqwest::Client, base: &str, number: &str) -> anyhow::Result<String> {
    let r = client
        .post(format!("{base}/api/espace/connexion"))
        .header("x-forwarded-for", address_of(number))
        .header("origin", base)
        .header("accept", "text/html")
        .form(&[("numero", number), ("mot_de_passe", PASSWORD)])
        .send()
        .await?;
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("espace="))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
        .with_context(|| format!("no session for {number}: {}", r.status()))
}

async fn upload(
    client: &reqwest::Client,
    url: &str,
    origin: &str,
    cookie: &str,
    u: &Upload,
) -> anyhow::Result<bool> {
    let part = reqwest::multipart::Part::stream_with_length(
        reqwest::Body::from(u.body.clone()),
        u.body.len() as u64,
    )
    .file_name(u.name.clone())
    .mime_str(u.mime)?;
    let r = client
        .post(url)
        .header("x-forwarded-for", address_of(cookie))
        .header("origin", origin)
        .header("accept", "application/json")
        .header("cookie", cookie)
        .multipart(reqwest::multipart::Form::new().part("fichier", part))
        .send()
        .await?;
    let ok = r.status() == 201;
    if !ok {
        eprintln!(
            "upload {} -> {}: {}",
            u.name,
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    Ok(ok)
}

/// One upload to the product, its latency and outcome recorded in `samples`.
async fn product_upload(
    client: &reqwest::Client,
    base: &str,
    cookie: &str,
    u: &Upload,
    samples: &tokio::sync::Mutex<Samples>,
) {
    let url = format!("{base}/espace/pieces/{}/fichiers", u.piece);
    let t = Instant::now();
    let ok = upload(client, &url, base, cookie, u).await.unwrap_or(false);
    samples.lock().await.push(t, ok);
}

/// Runs `f` over `items` with `concurrency` at once; returns the wall time.
async fn run_all<T, F, Fut>(items: Vec<T>, concurrency: usize, f: F) -> Duration
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    stream::iter(items)
        .for_each_concurrent(concurrency, f)
        .await;
    started.elapsed()
}

struct Seeded {
    numbers: Vec<String>,
}

async fn seed(url: &str, data: &Path, count: usize) -> anyhow::Result<Seeded> {
    let exams = data.join("exams");
    std::fs::create_dir_all(&exams)?;
    std::fs::write(
        exams.join(format!("{EXAM}.toml")),
        format!(
            r#"slug = "{EXAM}"
title = "Concours de rédacteur territorial (banc d'essai)"
kind = "concours"
session = "Dernière soirée"
voies = ["externe", "interne"]
registration_deadline = "today+1"
instruction_cutoff = "today+60"

[[pieces]]
code = "piece-identite"
label = "Pièce d'identité en cours de validité"
requirement = "mandatory"
max_files = 3

[[pieces]]
code = "diplome"
label = "Copie du diplôme"
requirement = "mandatory"
voies = ["externe"]
max_files = 3
"#
        ),
    )?;
    let db = services::Db::connect(url).await?;
    db.migrate().await?;
    let clock = services::SystemClock;
    services::catalogue::import_dir(&db, &exams, &clock).await?;
    let hash = services::passwords::Passwords::new(1)?
        .hash(PASSWORD)
        .await?;
    let mut numbers = Vec::with_capacity(count);
    for i in 0..count {
        let who = format!("Candidat{}", letters(i));
        let d = services::demo::candidate(&db, &clock, EXAM, "externe", &who, &hash).await?;
        numbers.push(d.number.to_string());
    }
    db.close().await;
    Ok(Seeded { numbers })
}

/// Letters only (a valid name) that differ for each `i`.
fn letters(mut i: usize) -> String {
    let mut s = String::new();
    loop {
        s.push((b'a' + (i % 26) as u8) as char);
        i /= 26;
        if i == 0 {
            return s;
        }
    }
}

/// The servers a run's requests go to: request `i` to base `i % len`. A candidate's
/// cookie works on all (sessions are rows), so one candidate's requests may alternate.
#[derive(Clone)]
struct Bases(Arc<[String]>);

impl Bases {
    fn at(&self, i: usize) -> &str {
        &self.0[i % self.0.len()]
    }
}

/// One run of the product: which database, which store, how many servers.
struct Run<'a> {
    /// The column's title in results.md.
    label: &'a str,
    database: &'a str,
    database_url: &'a str,
    /// One server per port, all sharing the database, the data folder and the store.
    ports: &'a [u16],
    /// `s3://BUCKET/PREFIX` (the `AWS_*` variables inherited); `None`: the data
    /// folder's `files`, on local disk.
    storage_url: Option<&'a str>,
}

/// Per-server figures in MiB, and their sum.
fn mib_per_server(kib: &[u64]) -> (f64, Vec<f64>) {
    let each: Vec<f64> = kib.iter().map(|k| round(*k as f64 / 1024.0)).collect();
    (round(kib.iter().sum::<u64>() as f64 / 1024.0), each)
}

/// One full run of the product on one database and store.
async fn product(args: &Args, run: &Run<'_>) -> anyhow::Result<Value> {
    let n = args.candidates;
    let url = run.database_url;
    let data = tempfile::tempdir()?;
    // Scenario candidates, then those of the memory phase, the storm's, and the two
    // evenings side by side (without, then with an attacker) and the attacker's own.
    let seeded = seed(
        url,
        data.path(),
        n + args.big + args.storm + 2 * n + ATTACKER_DOSSIERS,
    )
    .await?;
    let client = client();
    // One after the other: each migrates and imports the exams at start-up.
    let mut servers = Vec::new();
    for &port in run.ports {
        let server = Server::start(args, port, url, data.path(), run.storage_url)?;
        server.wait_ready(&client).await?;
        servers.push(server);
    }
    let memory = |servers: &[Server]| servers.iter().map(Server::memory_kib).collect::<Vec<_>>();
    let bases = Bases(servers.iter().map(|s| s.base.clone()).collect());
    let mut kinds: BTreeMap<&str, Samples> = BTreeMap::new();

    // 1. Every candidate logs in.
    let cookies = Arc::new(tokio::sync::Mutex::new(vec![String::new(); n]));
    let samples = Arc::new(tokio::sync::Mutex::new(Samples::default()));
    run_all((0..n).collect(), args.concurrency, |i| {
        let (client, bases, cookies, samples) = (
            client.clone(),
            bases.clone(),
            cookies.clone(),
            samples.clone(),
        );
        let number = seeded.numbers[i].clone();
        async move {
            let t = Instant::now();
            let r = login(&client, bases.at(i), &number).await;
            samples.lock().await.push(t, r.is_ok());
            if let Ok(c) = r {
                cookies.lock().await[i] = c;
            }
        }
    })
    .await;
    kinds.insert("login", take(&samples).await);
    eprintln!("   after logins: {:?} KiB (rss, peak)", memory(&servers));
    let cookies = cookies.lock().await.clone();

    // 2. Three uploads each.
    settle();
    // File by file across candidates, as phones send them: one candidate's uploads do
    // not overlap (the server reads at most two of a dossier's at once).
    let uploads = scenario_uploads(n);
    let upload_bytes: usize = uploads.iter().map(|(_, u)| u.body.len()).sum();
    let wall = run_all(
        uploads.iter().cloned().enumerate().collect(),
        args.concurrency,
        |(j, (i, u))| {
            let (client, bases, cookie, samples) = (
                client.clone(),
                bases.clone(),
                cookies[i].clone(),
                samples.clone(),
            );
            async move { product_upload(&client, bases.at(j), &cookie, &u, &samples).await }
        },
    )
    .await;
    kinds.insert("upload", take(&samples).await);
    let peak_after_uploads: Vec<u64> = memory(&servers).iter().map(|m| m.1).collect();
    eprintln!("   after uploads: {:?} KiB", memory(&servers));

    // 3. The dossier page, then « CLÔTURER » twice at once (a double click), the two
    //    posts to two servers when there are two.
    let page = Arc::new(tokio::sync::Mutex::new(Samples::default()));
    run_all((0..n).collect(), args.concurrency, |i| {
        let (client, bases, cookie, samples, page) = (
            client.clone(),
            bases.clone(),
            cookies[i].clone(),
            samples.clone(),
            page.clone(),
        );
        async move {
            let t = Instant::now();
            let r = client
                .get(format!("{}/espace", bases.at(i)))
                .header("cookie", &cookie)
                .header("x-forwarded-for", address_of(&cookie))
                .send()
                .await;
            let ok = match r {
                Ok(r) if r.status() == 200 => r
                    .text()
                    .await
                    .is_ok_and(|t| t.contains("CLÔTURER MON INSCRIPTION")),
                _ => false,
            };
            page.lock().await.push(t, ok);
            let close = |base: &str| {
                client
                    .post(format!("{base}/api/espace/cloturer"))
                    .header("x-forwarded-for", address_of(&cookie))
                    .header("origin", base)
                    .header("accept", "text/html")
                    .header("cookie", &cookie)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .send()
            };
            let t = Instant::now();
            let (a, b) = tokio::join!(close(bases.at(i)), close(bases.at(i + 1)));
            let closed = |r: &Result<reqwest::Response, reqwest::Error>| {
                r.as_ref().is_ok_and(|r| {
                    r.headers()
                        .get("location")
                        .is_some_and(|l| l == "/espace?cloture=ok")
                })
            };
            let mut s = samples.lock().await;
            s.push(t, closed(&a));
            s.push(t, closed(&b));
        }
    })
    .await;
    kinds.insert("dossier_page", take(&page).await);
    kinds.insert("closure", take(&samples).await);
    eprintln!("   after pages and closures: {:?} KiB", memory(&servers));

    // 4. Uploads of 8 MiB in flight at once (100 by default), each server's memory
    //    sampled meanwhile.
    let mem_numbers: Vec<String> = seeded.numbers[n..n + args.big].to_vec();
    let mut mem_cookies = Vec::new();
    for (j, number) in mem_numbers.iter().enumerate() {
        mem_cookies.push(login(&client, bases.at(j), number).await?);
    }
    eprintln!(
        "   after {} more logins: {:?} KiB",
        args.big,
        memory(&servers)
    );
    let big = Upload {
        piece: "diplome",
        name: "scan 8 Mo.pdf".into(),
        mime: "application/pdf",
        body: pdf(8 * MIB),
    };
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peaks = vec![0u64; pids.len()];
            while sampling.load(std::sync::atomic::Ordering::SeqCst) {
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    *peak = (*peak).max(memory_kib(*pid).0);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peaks
        })
    };
    let rss_before_big: Vec<u64> = memory(&servers).iter().map(|m| m.0).collect();
    let big_wall = run_all(
        mem_cookies.iter().cloned().enumerate().collect(),
        args.big.max(1),
        |(j, cookie)| {
            let (client, bases, big, samples) =
                (client.clone(), bases.clone(), big.clone(), samples.clone());
            async move { product_upload(&client, bases.at(j), &cookie, &big, &samples).await }
        },
    )
    .await;
    sampling.store(false, std::sync::atomic::Ordering::SeqCst);
    let big_peaks = sampler.await?;
    let big_samples = take(&samples).await;

    // 5. The login storm: dossier pages at rest, then during 100 concurrent logins.
    let watcher = mem_cookies[0].clone();
    let rest = pages(&client, &bases, &watcher, 200).await;
    let storm_numbers: Vec<String> =
        seeded.numbers[n + args.big..n + args.big + args.storm].to_vec();
    let storm_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storm = {
        let (client, bases, done) = (client.clone(), bases.clone(), storm_done.clone());
        tokio::spawn(async move {
            let mut s = Samples::default();
            let results = stream::iter(storm_numbers.into_iter().enumerate())
                .map(|(j, number)| {
                    let (client, bases) = (client.clone(), bases.clone());
                    async move {
                        let t = Instant::now();
                        (t, login(&client, bases.at(j), &number).await.is_ok())
                    }
                })
                .buffer_unordered(100)
                .collect::<Vec<_>>()
                .await;
            for (t, ok) in results {
                s.push(t, ok);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            s
        })
    };
    let mut during = Samples::default();
    let mut j = 0;
    while !storm_done.load(std::sync::atomic::Ordering::SeqCst) {
        let t = Instant::now();
        let ok = client
            .get(format!("{}/espace", bases.at(j)))
            .header("cookie", &watcher)
            .header("x-forwarded-for", address_of(&format!("{watcher}/{j}")))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        during.push(t, ok);
        j += 1;
    }
    let storm_logins = storm.await?;
    let peak_total: Vec<u64> = memory(&servers).iter().map(|m| m.1).collect();

    // 6. The evening again, side by side in this run: fresh candidates without an
    //    attacker, then others while one client attacks.
    let from = n + args.big + args.storm;
    let quiet_numbers = &seeded.numbers[from..from + n];
    let attacked_numbers = &seeded.numbers[from + n..from + 2 * n];
    let attacker_numbers = &seeded.numbers[from + 2 * n..from + 2 * n + ATTACKER_DOSSIERS];
    let quiet = evening(&client, &bases, quiet_numbers, args.concurrency).await;
    let attack = Attack::start(&client, &bases, attacker_numbers, attacked_numbers).await?;
    // The attack settles first (its limits fill), as it would on the night.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attacked = evening(&client, &bases, attacked_numbers, args.concurrency).await;
    let attacker = attack.stop().await;
    let ratio = |a: &Samples, q: &Samples| round2(a.quantile(0.99) / q.quantile(0.99).max(0.001));
    // Every request has had its answer: nothing is being written any more.
    drop(servers);

    // 7. The database and the store after the run.
    let db = services::Db::connect(url).await?;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query(sql)
                .fetch_one(db.pool())
                .await
                .and_then(|r| r.try_get::<i64, _>("n"))
        }
    };
    let closed = count(
        "SELECT COUNT(*) AS n FROM dossiers WHERE status = 'closed' AND closed_at IS NOT NULL",
    )
    .await?;
    let keys: Vec<String> = sqlx::query("SELECT storage_key FROM attachments")
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(|r| r.try_get("storage_key"))
        .collect::<Result<_, _>>()?;
    db.close().await;
    let store = match run.storage_url {
        Some(url) => Storage::from_url(url, &data.path().join("spool")).await?,
        // $APP_DATA_DIR/files is the local store's root.
        None => Storage::open(&data.path().join("files")).await?,
    };
    let files = store_check(&store, &keys).await?;
    if run.storage_url.is_some() {
        // The bucket may be shared: the run's files go once counted.
        remove_all(&store).await?;
    }
    let expected_rows = 3 * n + args.big + 4 * n;
    // A file answered 201 without its row is lost as much as a row without its file.
    let missing_rows = expected_rows.saturating_sub(keys.len());
    let lost = files.rows_without_object + missing_rows;
    let errors: usize = kinds.values().map(|s| s.errors).sum::<usize>()
        + big_samples.errors
        + storm_logins.errors
        + during.errors
        + quiet.errors()
        + attacked.errors();

    let mb = upload_bytes as f64 / 1e6;
    let (big_peak, big_peak_each) = mib_per_server(&big_peaks);
    let (total_peak, total_peak_each) = mib_per_server(&peak_total);
    let result = json!({
        "run": run.label,
        "database": run.database,
        "store": if run.storage_url.is_some() { "s3" } else { "local" },
        "servers": run.ports.len(),
        "candidates": n,
        "concurrency": args.concurrency,
        "requests": kinds.iter().map(|(k, s)| (k.to_string(), s.summary())).collect::<serde_json::Map<_, _>>(),
        "uploads": {
            "count": uploads.len(),
            "megabytes": round(mb),
            "seconds": round2(wall.as_secs_f64()),
            "per_second": round(uploads.len() as f64 / wall.as_secs_f64()),
            "mb_per_second": round(mb / wall.as_secs_f64()),
        },
        "errors": errors,
        "check": {
            "closed_dossiers": closed,
            "expected_closed": n,
            "closures_exactly_once": closed == n as i64,
            "attachment_rows": keys.len(),
            "expected_rows": expected_rows,
            "stored_objects": files.stored_objects,
            "rows_without_object": files.rows_without_object,
            "objects_without_row": files.objects_without_row,
            "lost_files": lost,
            "no_file_lost": lost == 0 && files.objects_without_row == 0,
        },
        "memory": {
            "peak_rss_mib_after_scenario_uploads": mib_per_server(&peak_after_uploads).0,
            "rss_mib_before_big_uploads": mib_per_server(&rss_before_big).0,
            "peak_rss_mib_during_big_uploads": big_peak,
            "peak_rss_mib_during_big_uploads_per_server": big_peak_each,
            "peak_rss_mib_whole_run": total_peak,
            "peak_rss_mib_whole_run_per_server": total_peak_each,
            "big_uploads": {
                "count": args.big,
                "mib_each": 8,
                "seconds": round(big_wall.as_secs_f64()),
                "errors": big_samples.errors,
            },
        },
        "attacked": {
            "without_attacker": quiet.summary(),
            "with_attacker": attacked.summary(),
            "honest_errors_with_attacker": attacked.errors(),
            "honest_errors_without_attacker": quiet.errors(),
            "p99_ratio": {
                "login": ratio(&attacked.login, &quiet.login),
                "upload": ratio(&attacked.upload, &quiet.upload),
                "dossier_page": ratio(&attacked.page, &quiet.page),
            },
            "attacker_requests": attacker,
        },
        "login_storm": {
            "logins": storm_logins.summary(),
            "dossier_page_at_rest": rest.summary(),
            "dossier_page_during_storm": during.summary(),
            "p99_ratio": round(during.quantile(0.99) / rest.quantile(0.99).max(0.001)),
        },
    });
    Ok(result)
}

/// What the store holds against the attachment rows.
struct StoreCheck {
    stored_objects: usize,
    /// Rows whose `storage_key` the store does not have: lost files.
    rows_without_object: usize,
    /// Stored files that no row names (orphans: written, never committed in the
    /// database, not cleaned up).
    objects_without_row: usize,
}

/// Every row's file in the store (`Storage::exists`), and every stored file named by a
/// row (`Storage::list`): the same check for a local folder and a bucket.
async fn store_check(store: &Storage, keys: &[String]) -> anyhow::Result<StoreCheck> {
    let found = stream::iter(keys)
        .map(|k| store.exists(k))
        .buffer_unordered(16)
        .filter(|exists| std::future::ready(*exists))
        .count()
        .await;
    let listed: std::collections::HashSet<String> =
        store.list().await?.into_iter().map(|(k, _)| k).collect();
    let named: std::collections::HashSet<&str> = keys.iter().map(String::as_str).collect();
    Ok(StoreCheck {
        stored_objects: listed.len(),
        rows_without_object: keys.len() - found,
        objects_without_row: listed
            .iter()
            .filter(|k| !named.contains(k.as_str()))
            .count(),
    })
}

/// `count` dossier pages, one after the other. The probe stands for many candidates'
/// visits: each page comes from an address of its own, or the server would pace it as
/// one client reading in a loop (30 pages a second past its first 100).
async fn pages(client: &reqwest::Client, bases: &Bases, cookie: &str, count: usize) -> Samples {
    let mut s = Samples::default();
    for i in 0..count {
        let t = Instant::now();
        let ok = client
            .get(format!("{}/espace", bases.at(i)))
            .header("cookie", cookie)
            .header("x-forwarded-for", address_of(&format!("{cookie}/{i}")))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        s.push(t, ok);
    }
    s
}

async fn take(samples: &Arc<tokio::sync::Mutex<Samples>>) -> Samples {
    std::mem::take(&mut *samples.lock().await)
}

/// Where the bare handler puts bodies.
#[derive(Clone)]
enum BareStore {
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
                    file.write(&chunk).await?;
                }
                file.commit().await?;
            }
        }
        Ok(format!("{:x}", hasher.finalize()))
    }
}

/// The limit: the same upload requests, streamed with their SHA-256 into `store` by a
/// bare handler (no parsing, no checks, no database).
async fn bare(
    uploads: Vec<Upload>,
    concurrency: usize,
    store: BareStore,
) -> anyhow::Result<(Duration, usize)> {
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
    server.abort();
    Ok((wall, errors.load(std::sync::atomic::Ordering::SeqCst)))
}

/// Writes what earlier phases left in the page cache to disk before a timed upload
/// phase: otherwise each phase pays for the one before it, and the product and its
/// limit are not measured alike.
fn settle() {
    let _ = Command::new("sync").status();
}

/// The bare handler three times on `store`: the median counts.
async fn bare_limit(
    uploads: &[Upload],
    concurrency: usize,
    store: BareStore,
) -> anyhow::Result<Value> {
    let mut walls = Vec::new();
    let mut errors = 0;
    for _ in 0..3 {
        settle();
        let (wall, e) = bare(uploads.to_vec(), concurrency, store.clone()).await?;
        walls.push(wall);
        errors += e;
    }
    walls.sort();
    let wall = walls[1];
    let bytes: usize = uploads.iter().map(|u| u.body.len()).sum();
    Ok(json!({
        "uploads": uploads.len(),
        "megabytes": round(bytes as f64 / 1e6),
        "runs_seconds": walls.iter().map(|w| round2(w.as_secs_f64())).collect::<Vec<_>>(),
        "seconds": round2(wall.as_secs_f64()),
        "per_second": round(uploads.len() as f64 / wall.as_secs_f64()),
        "mb_per_second": round(bytes as f64 / 1e6 / wall.as_secs_f64()),
        "errors": errors,
    }))
}

/// Removes every file of `store`.
async fn remove_all(store: &Storage) -> anyhow::Result<()> {
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

/// The ratio of a run's throughput to the limit of its store.
const BUDGET_RATIO: f64 = 0.85;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    std::fs::create_dir_all(&args.out)?;
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

/// Writes one HTTP/1.1 request on a new connection: its head, then `body` up to
/// `cut` bytes (the connection is then closed, as a phone entering a tunnel does).
/// Returns the bytes written and, when not cut, the answer's head.
async fn raw(
    base: &str,
    head: &str,
    body: &[u8],
    cut: Option<usize>,
) -> anyhow::Result<(usize, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let head = format!(
        "{head}Host: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    let sent = &body[..cut.unwrap_or(body.len()).min(body.len())];
    stream.write_all(sent).await?;
    stream.flush().await?;
    if cut.is_some() {
        return Ok((head.len() + sent.len(), String::new()));
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    let head_end = answer.find("\r\n\r\n").unwrap_or(answer.len());
    Ok((head.len() + sent.len(), answer[..head_end].to_string()))
}

fn answer_header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// Bytes a candidate sends for an 8 MiB file whose connection is cut at half: with the
/// form upload (the file again from the start) and with tus (the rest only, in parts of
/// 4 MiB, the most one PATCH may bring; and as the browser sends it, in parts of
/// 512 KiB), each over the wire
/// (request heads included), as a ratio to the file's size.
async fn resume(args: &Args) -> anyhow::Result<Value> {
    let data = tempfile::tempdir()?;
    let url = format!("sqlite://{}", data.path().join("resume.db").display());
    let seeded = seed(&url, data.path(), 3).await?;
    let client = client();
    let server = Server::start(args, 3304, &url, data.path(), None)?;
    server.wait_ready(&client).await?;
    let base = server.base.clone();
    let file = pdf(8 * MIB).to_vec();
    let half = file.len() / 2;

    // The form: the first half, cut; then the whole file again.
    let cookie = login(&client, &base, &seeded.numbers[0]).await?;
    let boundary = "x-banc-d-essai";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"diplome.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&file);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let form_head = format!(
        "POST /espace/pieces/diplome/fichiers HTTP/1.1\r\nCookie: {cookie}\r\nOrigin: {base}\r\nAccept: application/json\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
    );
    let (cut_bytes, _) = raw(&base, &form_head, &form, Some(half)).await?;
    let (again, answer) = raw(&base, &form_head, &form, None).await?;
    anyhow::ensure!(answer.contains(" 201 "), "form upload: {answer}");
    let form_bytes = cut_bytes + again;

    // tus: create, the PATCH that crosses the half cut in its middle, HEAD, the rest.
    let tus = |cookie: &str| {
        format!(
            "Cookie: {cookie}\r\nOrigin: {base}\r\nTus-Resumable: 1.0.0\r\nAccept: application/json\r\n"
        )
    };
    let mut by_tus = Vec::new();
    for (who, part) in [(1, 4 * MIB), (2, 512 * KIB)] {
        let cookie = login(&client, &base, &seeded.numbers[who]).await?;
        let mut sent = 0;
        let (n, created) = raw(
            &base,
            &format!(
                "POST /espace/pieces/diplome/tus HTTP/1.1\r\n{}Upload-Length: {}\r\nUpload-Metadata: filename ZGlwbG9tZS5wZGY=\r\n",
                tus(&cookie),
                file.len()
            ),
            &[],
            None,
        )
        .await?;
        sent += n;
        let location =
            answer_header(&created, "location").with_context(|| format!("tus: {created}"))?;
        let patch = |offset: usize| {
            format!(
                "PATCH {location} HTTP/1.1\r\n{}Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n",
                tus(&cookie)
            )
        };
        // Cut in the middle of the part that crosses the half.
        let cut_at = half + part / 2 * usize::from(part < file.len());
        let mut offset = 0;
        let mut saved = false;
        let mut cut_done = false;
        while !saved {
            let end = (offset + part).min(file.len());
            if !cut_done && end > cut_at {
                cut_done = true;
                let (n, _) = raw(
                    &base,
                    &patch(offset),
                    &file[offset..end],
                    Some(cut_at - offset),
                )
                .await?;
                sent += n;
                // Where the server stands once it has taken the cut part.
                let mut at = offset;
                for _ in 0..100 {
                    let (n, head) = raw(
                        &base,
                        &format!("HEAD {location} HTTP/1.1\r\n{}", tus(&cookie)),
                        &[],
                        None,
                    )
                    .await?;
                    sent += n;
                    at = answer_header(&head, "upload-offset")
                        .and_then(|o| o.parse().ok())
                        .unwrap_or(at);
                    if at == cut_at {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                offset = at;
                continue;
            }
            let (n, head) = raw(&base, &patch(offset), &file[offset..end], None).await?;
            sent += n;
            anyhow::ensure!(head.contains(" 204 "), "tus PATCH: {head}");
            offset = answer_header(&head, "upload-offset")
                .and_then(|o| o.parse().ok())
                .unwrap_or(end);
            saved = answer_header(&head, "fichier-enregistre").is_some();
        }
        by_tus.push(sent);
    }
    let ratio = |bytes: usize| round2(bytes as f64 / file.len() as f64);
    Ok(json!({
        "file_bytes": file.len(),
        "form": { "bytes": form_bytes, "ratio": ratio(form_bytes) },
        "tus_parts_4m": { "bytes": by_tus[0], "ratio": ratio(by_tus[0]) },
        "tus_parts_512k": { "bytes": by_tus[1], "ratio": ratio(by_tus[1]) },
    }))
}

async fn pg_database(admin_url: &str) -> anyhow::Result<(String, String)> {
    use sqlx::{Connection, Executor};
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    let name = format!("concours_bench_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    let (prefix, _) = admin_url
        .rsplit_once('/')
        .context("the URL ends with /database")?;
    Ok((format!("{prefix}/{name}"), name))
}

async fn drop_pg_database(admin_url: &str, name: &str) {
    use sqlx::{Connection, Executor};
    if let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await;
    }
}

fn markdown(r: &Value) -> String {
    let mut md = String::from("# Deadline-night benchmark\n\n");
    let limit = |store: &str, what: &str| {
        let b = &r["bare_handler"][store];
        if b.is_null() {
            format!("- {what}: skipped (no S3 bucket: TEST_S3_BUCKET not set).\n")
        } else {
            format!(
                "- {what}: {} uploads, {} MB in {} s = **{} MB/s** (errors {}).\n",
                b["uploads"], b["megabytes"], b["seconds"], b["mb_per_second"], b["errors"]
            )
        }
    };
    md.push_str(&format!(
        "Measured {} on {} CPU(s), loopback only. The limits: a bare axum handler that streams each upload body, computing its SHA-256 on the way, with no checks and no database (the same requests as the scenario's uploads; median of 3 runs):\n\n{}{}\n",
        r["when"].as_str().unwrap_or(""),
        r["machine"]["cpus"],
        limit("local", "local disk (a file per body, fsync)"),
        limit(
            "s3",
            "S3 (s3s-fs on loopback, through `services::storage`: create, write, commit)"
        ),
    ));
    for note in r["notes"].as_array().into_iter().flatten() {
        md.push_str(&format!("Note: {}\n\n", note.as_str().unwrap_or("")));
    }
    md.push_str("| | ");
    let runs = r["runs"].as_array().cloned().unwrap_or_default();
    md.push_str(
        &runs
            .iter()
            .map(|x| x["run"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
            .join(" | "),
    );
    md.push_str(" |\n|---|");
    md.push_str(&"---|".repeat(runs.len()));
    md.push('\n');
    let mut row = |label: &str, f: &dyn Fn(&Value) -> String| {
        md.push_str(&format!(
            "| {label} | {} |\n",
            runs.iter().map(f).collect::<Vec<_>>().join(" | ")
        ));
    };
    // Per server when there are several: "210.3 MiB (105.1 + 105.2)".
    let mib = |x: &Value, key: &str| {
        let m = &x["memory"];
        let each = m[format!("{key}_per_server")]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if each.len() > 1 {
            let each: Vec<String> = each.iter().map(Value::to_string).collect();
            format!("{} MiB ({})", m[key], each.join(" + "))
        } else {
            format!("{} MiB", m[key])
        }
    };
    row("database / files / servers", &|x| {
        format!(
            "{} / {} / {}",
            x["database"].as_str().unwrap_or(""),
            x["store"].as_str().unwrap_or(""),
            x["servers"]
        )
    });
    row("candidates × 3 uploads, concurrency", &|x| {
        format!("{} × 3, {}", x["candidates"], x["concurrency"])
    });
    row("uploads/s", &|x| x["uploads"]["per_second"].to_string());
    row("MB/s", &|x| x["uploads"]["mb_per_second"].to_string());
    row("bare handler of the same store, MB/s", &|x| {
        x["uploads"]["bare_handler_mb_per_second"].to_string()
    });
    row(
        &format!(
            "throughput / bare handler of the same store (budget ≥ {})",
            r["budget_ratio_to_bare_handler"]
        ),
        &|x| x["uploads"]["ratio_to_bare_handler"].to_string(),
    );
    for kind in ["login", "upload", "dossier_page", "closure"] {
        row(&format!("{kind} p50 / p95 / p99 ms"), &|x| {
            let s = &x["requests"][kind];
            format!("{} / {} / {}", s["p50_ms"], s["p95_ms"], s["p99_ms"])
        });
    }
    row("errors (budget 0)", &|x| x["errors"].to_string());
    row("closed dossiers / expected (exactly once)", &|x| {
        format!(
            "{} / {}",
            x["check"]["closed_dossiers"], x["check"]["expected_closed"]
        )
    });
    row("attachment rows / expected / files in the store", &|x| {
        let c = &x["check"];
        format!(
            "{} / {} / {}",
            c["attachment_rows"], c["expected_rows"], c["stored_objects"]
        )
    });
    row(
        "files lost (rows or files missing) / files without a row (budget 0 / 0)",
        &|x| {
            let c = &x["check"];
            format!("{} / {}", c["lost_files"], c["objects_without_row"])
        },
    );
    let big = runs
        .first()
        .map(|x| x["memory"]["big_uploads"]["count"].to_string())
        .unwrap_or_default();
    row(
        &format!("peak RSS during {big} × 8 MiB uploads in flight (budget < 150 MiB a server)"),
        &|x| mib(x, "peak_rss_mib_during_big_uploads"),
    );
    row("peak RSS, whole run", &|x| mib(x, "peak_rss_mib_whole_run"));
    row("dossier page p99 at rest / during login storm", &|x| {
        format!(
            "{} / {} ms",
            x["login_storm"]["dossier_page_at_rest"]["p99_ms"],
            x["login_storm"]["dossier_page_during_storm"]["p99_ms"]
        )
    });
    row("storm p99 ratio (budget ≤ 3)", &|x| {
        x["login_storm"]["p99_ratio"].to_string()
    });
    for (kind, label) in [
        ("login", "login"),
        ("upload", "upload"),
        ("dossier_page", "dossier page"),
    ] {
        row(
            &format!("honest {label} p99 without / with the attacker (budget ≤ 2×)"),
            &|x| {
                let a = &x["attacked"];
                format!(
                    "{} / {} ms ({}×)",
                    a["without_attacker"][kind]["p99_ms"],
                    a["with_attacker"][kind]["p99_ms"],
                    a["p99_ratio"][kind]
                )
            },
        );
    }
    row("honest errors with the attacker (budget 0)", &|x| {
        x["attacked"]["honest_errors_with_attacker"].to_string()
    });
    row("attacker's requests, by answer", &|x| {
        x["attacked"]["attacker_requests"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    });
    let resumed = &r["resumed"];
    if !resumed.is_null() {
        md.push_str(&format!(
            "\n## A connection cut at half of an 8 MiB file\n\nBytes the candidate sends, request heads included, as a ratio to the file (goal for resumable uploads: at most 1.1):\n\n| how | bytes | ratio |\n|---|---|---|\n| form upload (the file again from the start) | {} | {} |\n| tus, parts of 4 MiB (the most a PATCH may bring), resumed from the server's offset | {} | {} |\n| tus, parts of 512 KiB as the browser sends, cut mid-part | {} | {} |\n",
            resumed["form"]["bytes"],
            resumed["form"]["ratio"],
            resumed["tus_parts_4m"]["bytes"],
            resumed["tus_parts_4m"]["ratio"],
            resumed["tus_parts_512k"]["bytes"],
            resumed["tus_parts_512k"]["ratio"],
        ));
    }
    md
}

/// The honest part of the evening for `numbers`: each logs in, sends two files (one at
/// a time, as a phone does), and opens the dossier page three times.
struct Evening {
    login: Samples,
    upload: Samples,
    page: Samples,
}

impl Evening {
    fn errors(&self) -> usize {
        self.login.errors + self.upload.errors + self.page.errors
    }

    fn summary(&self) -> Value {
        json!({
            "login": self.login.summary(),
            "upload": self.upload.summary(),
            "dossier_page": self.page.summary(),
        })
    }
}

async fn evening(
    client: &reqwest::Client,
    bases: &Bases,
    numbers: &[String],
    concurrency: usize,
) -> Evening {
    let samples = Arc::new(tokio::sync::Mutex::new((
        Samples::default(),
        Samples::default(),
        Samples::default(),
    )));
    run_all(
        numbers.iter().cloned().enumerate().collect(),
        concurrency,
        |(i, number)| {
            let (client, bases, samples) = (client.clone(), bases.clone(), samples.clone());
            async move {
                // The candidate's requests, one after the other, round the servers.
                let mut next = i;
                let mut base = || {
                    next += 1;
                    bases.at(next - 1).to_string()
                };
                let t = Instant::now();
                let cookie = login(&client, &base(), &number).await;
                samples.lock().await.0.push(t, cookie.is_ok());
                let Ok(cookie) = cookie else { return };
                let files = [
                    Upload {
                        piece: "piece-identite",
                        name: "recto.jpg".into(),
                        mime: "image/jpeg",
                        body: jpeg(300 * KIB),
                    },
                    Upload {
                        piece: "diplome",
                        name: "diplome.pdf".into(),
                        mime: "application/pdf",
                        body: pdf(600 * KIB),
                    },
                ];
                for u in &files {
                    let here = base();
                    let url = format!("{here}/espace/pieces/{}/fichiers", u.piece);
                    let t = Instant::now();
                    let ok = upload(&client, &url, &here, &cookie, u)
                        .await
                        .unwrap_or(false);
                    samples.lock().await.1.push(t, ok);
                }
                let page = pages(&client, &bases, &cookie, 3).await;
                let mut s = samples.lock().await;
                s.2.ms.extend(page.ms);
                s.2.errors += page.errors;
            }
        },
    )
    .await;
    let (login, upload, page) = std::mem::take(&mut *samples.lock().await);
    Evening {
        login,
        upload,
        page,
    }
}

/// The form of the attacker's `i`-th post of one kind, given the honest numbers.
type FormOf = fn(usize, &[String]) -> Vec<(String, String)>;

/// Each of the attacker's six posting loops sends one post per period.
const ATTACK_PERIOD: Duration = Duration::from_millis(20);

/// The attacker's addresses, as the trusted proxy (loopback) forwards them: its posts
/// come from the first.
const ATTACKERS: [&str; 4] = [
    "203.0.113.66",
    "203.0.113.67",
    "203.0.113.68",
    "203.0.113.69",
];
const ATTACKER: &str = ATTACKERS[0];
/// The attacker's dossiers: twelve that trickle uploads, one that asks for its PDF.
const ATTACKER_DOSSIERS: usize = 13;
/// Connections that send half a request head and wait, reopened when closed.
const HALF_OPEN: usize = 200;
/// Connections asking for one dossier's PDF again and again.
const PDF_LOOPS: usize = 24;

/// A patient client attacking the evening from four addresses, until stopped: 24
/// uploads kept just above the slow-body floor from twelve dossiers of its own
/// (reopened when cut), 200 connections holding half a request head, a dossier's PDF
/// asked for from 24 connections in a loop, password guesses on the honest
/// candidates' numbers, « mot de passe oublié » for made-up dossiers, and new drafts.
struct Attack {
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<BTreeMap<String, usize>>>,
}

impl Attack {
    async fn start(
        client: &reqwest::Client,
        bases: &Bases,
        own: &[String],
        targets: &[String],
    ) -> anyhow::Result<Self> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        let (trickling, pdf_dossier) = own.split_at(ATTACKER_DOSSIERS - 1);
        for (i, number) in trickling.iter().enumerate() {
            let cookie = login(client, bases.at(i), number).await?;
            for k in 0..2 {
                let base = bases.at(2 * i + k).to_string();
                let (cookie, stop) = (cookie.clone(), stop.clone());
                let from = ATTACKERS[i % ATTACKERS.len()];
                tasks.push(tokio::spawn(trickle(base, cookie, from, stop)));
            }
        }
        let cookie = login(client, bases.at(0), &pdf_dossier[0]).await?;
        for i in 0..PDF_LOOPS {
            let (client, base, cookie, stop) = (
                client.clone(),
                bases.at(i).to_string(),
                cookie.clone(),
                stop.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut seen = BTreeMap::new();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let r = client
                        .get(format!("{base}/espace/dossier-d-inscription.pdf"))
                        .header("cookie", &cookie)
                        .header("x-forwarded-for", ATTACKERS[1])
                        .send()
                        .await;
                    let key = match r {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let _ = r.bytes().await;
                            format!("pdf loop {status}")
                        }
                        Err(_) => "pdf loop error".into(),
                    };
                    *seen.entry(key).or_insert(0) += 1;
                }
                seen
            }));
        }
        for i in 0..HALF_OPEN {
            let (base, stop) = (bases.at(i).to_string(), stop.clone());
            tasks.push(tokio::spawn(half_open(base, stop)));
        }
        let posts: [(&str, FormOf); 3] = [
            ("/api/espace/connexion", |i, targets| {
                vec![
                    ("numero".into(), targets[i % targets.len()].clone()),
                    ("mot_de_passe".into(), format!("devine {i}")),
                ]
            }),
            ("/api/espace/mot-de-passe-oublie", |i, _| {
                vec![
                    ("numero".into(), format!("26-ZZZZ-{:04}", i % 10_000)),
                    ("email".into(), format!("cible{i}@exemple.fr")),
                ]
            }),
            ("/api/inscription/etape", |i, _| {
                vec![
                    ("exam".into(), EXAM.into()),
                    ("step".into(), "identite".into()),
                    ("direction".into(), "next".into()),
                    ("fields[nom_naissance]".into(), format!("Robot{i}")),
                ]
            }),
        ];
        for (path, body) in posts {
            for _ in 0..2 {
                let (client, bases, stop) = (client.clone(), bases.clone(), stop.clone());
                let targets = targets.to_vec();
                tasks.push(tokio::spawn(async move {
                    let mut seen = BTreeMap::new();
                    let mut i = 0;
                    // 50 posts a second per loop, 300 in all: far past what one client
                    // may send (30), without the driver's own loop eating the two cores
                    // the server runs on.
                    let mut pace = tokio::time::interval(ATTACK_PERIOD);
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        pace.tick().await;
                        let origin = bases.at(i);
                        let r = client
                            .post(format!("{origin}{path}"))
                            .header("origin", origin)
                            .header("accept", "text/html")
                            .header("x-forwarded-for", ATTACKER)
                            .form(&body(i, &targets))
                            .send()
                            .await;
                        let key = match r {
                            Ok(r) => format!("{path} {}", r.status().as_u16()),
                            Err(_) => format!("{path} error"),
                        };
                        *seen.entry(key).or_insert(0) += 1;
                        i += 1;
                    }
                    seen
                }));
            }
        }
        Ok(Self { stop, tasks })
    }

    /// Stops the attack; how many requests of each kind got which answer.
    async fn stop(self) -> BTreeMap<String, usize> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut all = BTreeMap::new();
        for task in self.tasks {
            for (k, v) in task.await.unwrap_or_default() {
                *all.entry(k).or_insert(0) += v;
            }
        }
        all
    }
}

/// An upload from `from` that announces 5 MB and sends 700 bytes every half second
/// (1.4 Ko/s, just above the slow-body floor); when the server cuts it (or refuses
/// it), another starts.
async fn trickle(
    base: String,
    cookie: String,
    from: &'static str,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> BTreeMap<String, usize> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://").to_string();
    let mut seen = BTreeMap::new();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await else {
            break;
        };
        let head = "--x\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"lent.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n";
        let request = format!(
            "POST /espace/pieces/diplome/fichiers HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nOrigin: {base}\r\nAccept: application/json\r\nX-Forwarded-For: {from}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 5000000\r\n\r\n{head}"
        );
        if stream.write_all(request.as_bytes()).await.is_err() {
            continue;
        }
        let mut answer = [0u8; 64];
        let status = loop {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                break "stopped".to_string();
            }
            if stream.write_all(&[b' '; 700]).await.is_err() {
                break "cut".to_string();
            }
            match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut answer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break "cut".to_string(),
                Ok(Ok(n)) => {
                    break String::from_utf8_lossy(&answer[..n])
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("?")
                        .to_string();
                }
                Err(_) => {}
            }
        };
        *seen.entry(format!("slow upload {status}")).or_insert(0) += 1;
    }
    seen
}

/// A connection that sends half a request head and waits; when the server closes it,
/// another opens.
async fn half_open(
    base: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> BTreeMap<String, usize> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://").to_string();
    let mut seen = BTreeMap::new();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await else {
            *seen.entry("half-open refused".to_string()).or_insert(0) += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await;
        let mut answer = [0u8; 64];
        let closed = loop {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                break false;
            }
            let read = stream.read(&mut answer);
            if tokio::time::timeout(Duration::from_millis(500), read)
                .await
                .is_ok()
            {
                break true;
            }
        };
        if closed {
            *seen.entry("half-open closed".to_string()).or_insert(0) += 1;
        }
    }
    seen
}
