//! The deadline-night benchmark (`make bench`). It seeds candidates on an exam whose
//! deadline is tomorrow, starts the release server on 127.0.0.1 with a fresh database
//! and storage, and drives the last evening in phases, each at the same concurrency:
//! every candidate logs in; uploads 3 files (PDF and JPEG, 200 KiB to 8 MiB); looks at
//! the dossier page and closes (twice at once, as a double click). Then 100 uploads of
//! 8 MiB in flight together (peak memory), and a login storm while another client loads
//! dossier pages. Then the evening again for two fresh sets of candidates, side by side:
//! without, then with one attacker client (trickling uploads, password guesses, bogus
//! resets, new drafts); honest p99s are reported as ratios. The same upload requests
//! then go to a bare axum handler that streams bodies to disk with no checks, in the
//! same run: the product's throughput is reported as a ratio of it. Loopback only,
//! bounded counts.
//!
//! Usage: bench [--candidates N] [--concurrency C] [--out DIR]

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
use sqlx::Row;

const PASSWORD: &str = "soirée de clôture au concours";
const EXAM: &str = "bench-derniere-soiree";
const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

struct Args {
    candidates: usize,
    concurrency: usize,
    storm: usize,
    out: PathBuf,
    server: PathBuf,
    site: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        candidates: 100,
        concurrency: 16,
        storm: 100,
        out: "bench/results".into(),
        server: "target/release/server".into(),
        site: "target/site".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--candidates" => a.candidates = value.parse()?,
            "--concurrency" => a.concurrency = value.parse()?,
            "--storm" => a.storm = value.parse()?,
            "--out" => a.out = value.into(),
            "--server" => a.server = value.into(),
            "--site" => a.site = value.into(),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(a)
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

/// The product server, started as `make run` would, on its own port and data folder.
struct Server {
    child: Child,
    base: String,
    data: tempfile::TempDir,
}

impl Server {
    fn start(
        args: &Args,
        port: u16,
        database_url: &str,
        data: tempfile::TempDir,
    ) -> anyhow::Result<Self> {
        let child = Command::new(&args.server)
            .arg("serve")
            .env("APP_ADDRESS", format!("127.0.0.1:{port}"))
            .env("APP_DATA_DIR", data.path())
            .env("APP_EXAMS_DIR", data.path().join("exams"))
            .env("APP_SITE_ROOT", &args.site)
            .env("DATABASE_URL", database_url)
            // As behind a reverse proxy: the attacker's address comes in X-Forwarded-For.
            .env("APP_TRUSTED_PROXIES", "127.0.0.1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("start {}", args.server.display()))?;
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data,
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

/// One full run of the product on one database.
async fn product(
    args: &Args,
    label: &str,
    url: &str,
    port: u16,
) -> anyhow::Result<(Value, Vec<Upload>, Duration)> {
    let n = args.candidates;
    let data = tempfile::tempdir()?;
    // Scenario candidates, then those of the memory phase, the storm's, and the two
    // evenings side by side (without, then with an attacker) and the attacker's six.
    let seeded = seed(url, data.path(), n + 100 + args.storm + 2 * n + 6).await?;
    let server = Server::start(args, port, url, data)?;
    let client = client();
    server.wait_ready(&client).await?;
    let base = server.base.clone();
    let mut kinds: BTreeMap<&str, Samples> = BTreeMap::new();

    // 1. Every candidate logs in.
    let cookies = Arc::new(tokio::sync::Mutex::new(vec![String::new(); n]));
    let samples = Arc::new(tokio::sync::Mutex::new(Samples::default()));
    run_all((0..n).collect(), args.concurrency, |i| {
        let (client, base, cookies, samples) = (
            client.clone(),
            base.clone(),
            cookies.clone(),
            samples.clone(),
        );
        let number = seeded.numbers[i].clone();
        async move {
            let t = Instant::now();
            let r = login(&client, &base, &number).await;
            samples.lock().await.push(t, r.is_ok());
            if let Ok(c) = r {
                cookies.lock().await[i] = c;
            }
        }
    })
    .await;
    kinds.insert("login", take(&samples).await);
    eprintln!("   after logins: {:?} KiB (rss, peak)", server.memory_kib());
    let cookies = cookies.lock().await.clone();

    // 2. Three uploads each.
    // File by file across candidates, as phones send them: one candidate's uploads do
    // not overlap (the server reads at most two of a dossier's at once).
    let per_candidate: Vec<Vec<Upload>> = (0..n).map(uploads_for).collect();
    let uploads: Vec<(usize, Upload)> = (0..3)
        .flat_map(|k| (0..n).map(move |i| (i, k)))
        .filter_map(|(i, k)| per_candidate[i].get(k).map(|u| (i, u.clone())))
        .collect();
    let upload_bytes: usize = uploads.iter().map(|(_, u)| u.body.len()).sum();
    let wall = run_all(uploads.clone(), args.concurrency, |(i, u)| {
        let (client, base, cookie, samples) = (
            client.clone(),
            base.clone(),
            cookies[i].clone(),
            samples.clone(),
        );
        async move { product_upload(&client, &base, &cookie, &u, &samples).await }
    })
    .await;
    kinds.insert("upload", take(&samples).await);
    let (_, peak_after_uploads) = server.memory_kib();
    eprintln!("   after uploads: {:?} KiB", server.memory_kib());

    // 3. The dossier page, then « CLÔTURER » twice at once (a double click).
    let page = Arc::new(tokio::sync::Mutex::new(Samples::default()));
    run_all((0..n).collect(), args.concurrency, |i| {
        let (client, base, cookie, samples, page) = (
            client.clone(),
            base.clone(),
            cookies[i].clone(),
            samples.clone(),
            page.clone(),
        );
        async move {
            let t = Instant::now();
            let r = client
                .get(format!("{base}/espace"))
                .header("cookie", &cookie)
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
            let close = || {
                client
                    .post(format!("{base}/api/espace/cloturer"))
                    .header("x-forwarded-for", address_of(&cookie))
                    .header("origin", &base)
                    .header("accept", "text/html")
                    .header("cookie", &cookie)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .send()
            };
            let t = Instant::now();
            let (a, b) = tokio::join!(close(), close());
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
    eprintln!("   after pages and closures: {:?} KiB", server.memory_kib());

    // 4. 100 uploads of 8 MiB in flight at once, memory sampled meanwhile.
    let mem_numbers: Vec<String> = seeded.numbers[n..n + 100].to_vec();
    let mut mem_cookies = Vec::new();
    for number in &mem_numbers {
        mem_cookies.push(login(&client, &base, number).await?);
    }
    eprintln!("   after 100 more logins: {:?} KiB", server.memory_kib());
    let big = Upload {
        piece: "diplome",
        name: "scan 8 Mo.pdf".into(),
        mime: "application/pdf",
        body: pdf(8 * MIB),
    };
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let pid = server.child.id();
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0u64;
            while sampling.load(std::sync::atomic::Ordering::SeqCst) {
                peak = peak.max(memory_kib(pid).0);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    };
    let (rss_before_big, _) = server.memory_kib();
    let big_wall = run_all(mem_cookies.clone(), 100, |cookie| {
        let (client, base, big, samples) =
            (client.clone(), base.clone(), big.clone(), samples.clone());
        async move { product_upload(&client, &base, &cookie, &big, &samples).await }
    })
    .await;
    sampling.store(false, std::sync::atomic::Ordering::SeqCst);
    let big_peak = sampler.await?;
    let big_samples = take(&samples).await;

    // 5. The login storm: dossier pages at rest, then during 100 concurrent logins.
    let watcher = mem_cookies[0].clone();
    let rest = pages(&client, &base, &watcher, 200).await;
    let storm_numbers: Vec<String> = seeded.numbers[n + 100..n + 100 + args.storm].to_vec();
    let storm_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storm = {
        let (client, base, done) = (client.clone(), base.clone(), storm_done.clone());
        tokio::spawn(async move {
            let mut s = Samples::default();
            let results = stream::iter(storm_numbers)
                .map(|number| {
                    let (client, base) = (client.clone(), base.clone());
                    async move {
                        let t = Instant::now();
                        (t, login(&client, &base, &number).await.is_ok())
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
    while !storm_done.load(std::sync::atomic::Ordering::SeqCst) {
        let t = Instant::now();
        let ok = client
            .get(format!("{base}/espace"))
            .header("cookie", &watcher)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        during.push(t, ok);
    }
    let storm_logins = storm.await?;
    let (_, peak_total) = server.memory_kib();

    // 6. The evening again, side by side in this run: fresh candidates without an
    //    attacker, then others while one client attacks.
    let from = n + 100 + args.storm;
    let quiet_numbers = &seeded.numbers[from..from + n];
    let attacked_numbers = &seeded.numbers[from + n..from + 2 * n];
    let attacker_numbers = &seeded.numbers[from + 2 * n..from + 2 * n + 6];
    let quiet = evening(&client, &base, quiet_numbers, args.concurrency).await;
    let attack = Attack::start(&client, &base, attacker_numbers, attacked_numbers).await?;
    // The attack settles first (its limits fill), as it would on the night.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attacked = evening(&client, &base, attacked_numbers, args.concurrency).await;
    let attacker = attack.stop().await;
    let ratio = |a: &Samples, q: &Samples| round2(a.quantile(0.99) / q.quantile(0.99).max(0.001));

    // 7. The database and the storage after the run.
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
    let rows = count("SELECT COUNT(*) AS n FROM attachments").await?;
    // Every row's file, where the server keeps it ($APP_DATA_DIR/files is the storage root).
    let keys: Vec<String> = sqlx::query("SELECT storage_key FROM attachments")
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(|r| r.try_get("storage_key"))
        .collect::<Result<_, _>>()?;
    db.close().await;
    let stored = server.data.path().join("files").join("files");
    let files_on_disk = keys.iter().filter(|k| stored.join(k).is_file()).count();
    let expected_rows = (3 * n + mem_numbers.len() + 4 * n) as i64;
    let errors: usize = kinds.values().map(|s| s.errors).sum::<usize>()
        + big_samples.errors
        + storm_logins.errors
        + during.errors
        + quiet.errors()
        + attacked.errors();

    let mb = upload_bytes as f64 / 1e6;
    let result = json!({
        "database": label,
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
            "attachment_rows": rows,
            "expected_rows": expected_rows,
            "files_on_disk": files_on_disk,
            "lost_files": expected_rows - files_on_disk as i64,
        },
        "memory": {
            "peak_rss_mib_after_scenario_uploads": round(peak_after_uploads as f64 / 1024.0),
            "rss_mib_before_100_uploads_of_8_mib": round(rss_before_big as f64 / 1024.0),
            "peak_rss_mib_during_100_uploads_of_8_mib": round(big_peak as f64 / 1024.0),
            "peak_rss_mib_whole_run": round(peak_total as f64 / 1024.0),
            "100_uploads_of_8_mib": { "seconds": round(big_wall.as_secs_f64()), "errors": big_samples.errors },
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
    drop(server);
    Ok((result, uploads.into_iter().map(|(_, u)| u).collect(), wall))
}

async fn pages(client: &reqwest::Client, base: &str, cookie: &str, count: usize) -> Samples {
    let mut s = Samples::default();
    for _ in 0..count {
        let t = Instant::now();
        let ok = client
            .get(format!("{base}/espace"))
            .header("cookie", cookie)
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

/// The limit: the same upload requests, streamed to disk by a bare handler.
async fn bare(uploads: Vec<Upload>, concurrency: usize) -> anyhow::Result<(Duration, usize)> {
    use axum::{Router, body::Body, extract::State, http::StatusCode, routing::post};
    let dir = tempfile::tempdir()?;
    async fn save(State(dir): State<PathBuf>, body: Body) -> StatusCode {
        let path = dir.join(uuid::Uuid::new_v4().to_string());
        let Ok(mut file) = tokio::fs::File::create(&path).await else {
            return StatusCode::INTERNAL_SERVER_ERROR;
        };
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else {
                return StatusCode::BAD_REQUEST;
            };
            if tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .is_err()
            {
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
        }
        if file.sync_data().await.is_err() {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        StatusCode::CREATED
    }
    let app = Router::new()
        .route("/upload", post(save))
        .with_state(dir.path().to_path_buf());
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    std::fs::create_dir_all(&args.out)?;
    let mut runs = Vec::new();
    let mut limit = None;

    let sqlite = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite://{}", sqlite.path().join("bench.db").display());
    eprintln!("== SQLite");
    let (result, uploads, _) = product(&args, "sqlite", &sqlite_url, 3300).await?;
    runs.push(result);
    eprintln!("== bare handler (the limit), three times: the median counts");
    let mut walls = Vec::new();
    let mut bare_errors = 0;
    for _ in 0..3 {
        let (wall, errors) = bare(uploads.clone(), args.concurrency).await?;
        walls.push(wall);
        bare_errors += errors;
    }
    walls.sort();
    let bare_wall = walls[1];
    let bytes: usize = uploads.iter().map(|u| u.body.len()).sum();
    limit.get_or_insert(json!({
        "uploads": uploads.len(),
        "megabytes": round(bytes as f64 / 1e6),
        "runs_seconds": walls.iter().map(|w| round2(w.as_secs_f64())).collect::<Vec<_>>(),
        "seconds": round2(bare_wall.as_secs_f64()),
        "per_second": round(uploads.len() as f64 / bare_wall.as_secs_f64()),
        "mb_per_second": round(bytes as f64 / 1e6 / bare_wall.as_secs_f64()),
        "errors": bare_errors,
    }));

    let pg = std::env::var("DATABASE_URL_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    match pg_database(&pg).await {
        Ok((url, name)) => {
            eprintln!("== PostgreSQL");
            let run = product(&args, "postgres", &url, 3301).await;
            drop_pg_database(&pg, &name).await;
            runs.push(run?.0);
        }
        Err(e) => eprintln!("PostgreSQL skipped: {e}"),
    }

    let limit = limit.unwrap_or(Value::Null);
    for run in &mut runs {
        let ratio = run["uploads"]["mb_per_second"].as_f64().unwrap_or(0.0)
            / limit["mb_per_second"].as_f64().unwrap_or(f64::MAX);
        run["uploads"]["ratio_to_bare_handler"] = json!(round2(ratio));
    }
    let results = json!({
        "when": jiff::Timestamp::now().to_string(),
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) },
        "bare_handler": limit,
        "runs": runs,
    });
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    std::fs::write(args.out.join("results.md"), markdown(&results))?;
    println!("{}", markdown(&results));
    Ok(())
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
    md.push_str(&format!(
        "Measured {} on {} CPU(s), loopback only. Bare handler (the limit, median of 3 runs): {} uploads, {} MB in {} s = **{} MB/s**.\n\n",
        r["when"].as_str().unwrap_or(""),
        r["machine"]["cpus"],
        r["bare_handler"]["uploads"],
        r["bare_handler"]["megabytes"],
        r["bare_handler"]["seconds"],
        r["bare_handler"]["mb_per_second"],
    ));
    md.push_str("| | ");
    let runs = r["runs"].as_array().cloned().unwrap_or_default();
    md.push_str(
        &runs
            .iter()
            .map(|x| x["database"].as_str().unwrap_or("").to_string())
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
    row("candidates × 3 uploads, concurrency", &|x| {
        format!("{} × 3, {}", x["candidates"], x["concurrency"])
    });
    row("uploads/s", &|x| x["uploads"]["per_second"].to_string());
    row("MB/s", &|x| x["uploads"]["mb_per_second"].to_string());
    row("throughput / bare handler (budget ≥ 0.70)", &|x| {
        x["uploads"]["ratio_to_bare_handler"].to_string()
    });
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
    row("attachment rows / files on disk / lost", &|x| {
        format!(
            "{} / {} / {}",
            x["check"]["attachment_rows"], x["check"]["files_on_disk"], x["check"]["lost_files"]
        )
    });
    row(
        "peak RSS during 100 × 8 MiB uploads (budget < 150 MiB)",
        &|x| {
            format!(
                "{} MiB",
                x["memory"]["peak_rss_mib_during_100_uploads_of_8_mib"]
            )
        },
    );
    row("peak RSS, whole run", &|x| {
        format!("{} MiB", x["memory"]["peak_rss_mib_whole_run"])
    });
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
            &format!("honest {label} p99 without / with one attacker (budget ≤ 2×)"),
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
    base: &str,
    numbers: &[String],
    concurrency: usize,
) -> Evening {
    let samples = Arc::new(tokio::sync::Mutex::new((
        Samples::default(),
        Samples::default(),
        Samples::default(),
    )));
    run_all(numbers.to_vec(), concurrency, |number| {
        let (client, base, samples) = (client.clone(), base.to_string(), samples.clone());
        async move {
            let t = Instant::now();
            let cookie = login(&client, &base, &number).await;
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
                let url = format!("{base}/espace/pieces/{}/fichiers", u.piece);
                let t = Instant::now();
                let ok = upload(&client, &url, &base, &cookie, u)
                    .await
                    .unwrap_or(false);
                samples.lock().await.1.push(t, ok);
            }
            let page = pages(&client, &base, &cookie, 3).await;
            let mut s = samples.lock().await;
            s.2.ms.extend(page.ms);
            s.2.errors += page.errors;
        }
    })
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

/// The attacker's address, as the trusted proxy (loopback) forwards it.
const ATTACKER: &str = "203.0.113.66";

/// One client attacking the evening, until stopped: 12 trickling uploads from six
/// dossiers of its own (reopened when cut), password guesses on the honest candidates'
/// numbers, « mot de passe oublié » for made-up dossiers, and new wizard drafts.
struct Attack {
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<BTreeMap<String, usize>>>,
}

impl Attack {
    async fn start(
        client: &reqwest::Client,
        base: &str,
        own: &[String],
        targets: &[String],
    ) -> anyhow::Result<Self> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for number in own {
            let cookie = login(client, base, number).await?;
            for _ in 0..2 {
                let (base, cookie, stop) = (base.to_string(), cookie.clone(), stop.clone());
                tasks.push(tokio::spawn(trickle(base, cookie, stop)));
            }
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
                let (client, url, stop) = (client.clone(), format!("{base}{path}"), stop.clone());
                let (origin, targets) = (base.to_string(), targets.to_vec());
                tasks.push(tokio::spawn(async move {
                    let mut seen = BTreeMap::new();
                    let mut i = 0;
                    // 50 posts a second per loop, 300 in all: far past what one client
                    // may send (30), without the driver's own loop eating the two cores
                    // the server runs on.
                    let mut pace = tokio::time::interval(ATTACK_PERIOD);
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        pace.tick().await;
                        let r = client
                            .post(&url)
                            .header("origin", &origin)
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

/// An upload that announces 5 MB and sends a byte every half second; when the server
/// cuts it (or refuses it), another starts.
async fn trickle(
    base: String,
    cookie: String,
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
            "POST /espace/pieces/diplome/fichiers HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nOrigin: {base}\r\nAccept: application/json\r\nX-Forwarded-For: {ATTACKER}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 5000000\r\n\r\n{head}"
        );
        if stream.write_all(request.as_bytes()).await.is_err() {
            continue;
        }
        let mut answer = [0u8; 64];
        let status = loop {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                break "stopped".to_string();
            }
            if stream.write_all(b" ").await.is_err() {
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
