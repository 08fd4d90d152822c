//! What every scenario uses: the seeded exam and candidates, the product servers, the
//! HTTP client and its requests, latency samples and the upload payloads.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

use crate::Args;

const PASSWORD: &str = "soirée de clôture au concours";
pub(crate) const EXAM: &str = "bench-derniere-soiree";
pub(crate) const KIB: usize = 1024;
pub(crate) const MIB: usize = 1024 * KIB;

/// The scenario's uploads in the order they are sent, each with its candidate: file by
/// file across candidates, as phones send them.
pub(crate) fn scenario_uploads(n: usize) -> Vec<(usize, Upload)> {
    let per_candidate: Vec<Vec<Upload>> = (0..n).map(uploads_for).collect();
    (0..3)
        .flat_map(|k| (0..n).map(move |i| (i, k)))
        .filter_map(|(i, k)| per_candidate[i].get(k).map(|u| (i, u.clone())))
        .collect()
}

/// One file to upload: which pièce, its name, and a valid body of its kind.
#[derive(Clone)]
pub(crate) struct Upload {
    pub(crate) piece: &'static str,
    pub(crate) name: String,
    pub(crate) mime: &'static str,
    pub(crate) body: Bytes,
}

pub(crate) fn pdf(size: usize) -> Bytes {
    let mut f = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    let tail = b"\nstartxref\n0\n%%EOF\n";
    f.resize(size - tail.len(), b' ');
    f.extend_from_slice(tail);
    f.into()
}

/// A JPEG as a phone writes it: JFIF, EXIF with an orientation and a position, then
/// picture data.
pub(crate) fn jpeg(size: usize) -> Bytes {
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
pub(crate) struct Samples {
    pub(crate) ms: Vec<f64>,
    pub(crate) errors: usize,
}

impl Samples {
    /// A request that started at `started` and has just answered.
    pub(crate) fn push(&mut self, started: Instant, ok: bool) {
        self.record(started.elapsed(), ok);
    }

    /// A request that took `took`.
    pub(crate) fn record(&mut self, took: Duration, ok: bool) {
        self.ms.push(took.as_secs_f64() * 1000.0);
        if !ok {
            self.errors += 1;
        }
    }

    /// Another window's samples, pooled with these.
    pub(crate) fn extend(&mut self, other: Samples) {
        self.ms.extend(other.ms);
        self.errors += other.errors;
    }

    pub(crate) fn quantile(&self, q: f64) -> f64 {
        if self.ms.is_empty() {
            return 0.0;
        }
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }

    pub(crate) fn summary(&self) -> Value {
        json!({
            "requests": self.ms.len(),
            "errors": self.errors,
            "p50_ms": round(self.quantile(0.50)),
            "p95_ms": round(self.quantile(0.95)),
            "p99_ms": round(self.quantile(0.99)),
        })
    }
}

pub(crate) fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The product server, started as `make run` would, on its own port; the servers of
/// one run share its database, data folder and store.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    pub(crate) fn start(
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

    pub(crate) async fn wait_ready(&self, client: &reqwest::Client) -> anyhow::Result<()> {
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
    pub(crate) fn memory_kib(&self) -> (u64, u64) {
        memory_kib(self.child.id())
    }
}

/// A process's resident memory now and at its peak (VmRSS, VmHWM), in KiB, from /proc.
pub(crate) fn memory_kib(pid: u32) -> (u64, u64) {
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

/// CPU time a process has used so far, user and system, all its threads, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's name (in parentheses, which may hold spaces)
    // start at the third: utime and stime, the 14th and 15th, are the 11th and 12th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / per_second
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .expect("an HTTP client")
}

/// Each candidate's own address, as the trusted proxy forwards it: candidates on the
/// night come from many addresses (the server's per-client limits see them apart).
pub(crate) fn address_of(key: &str) -> String {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("10.{}.{}.{}", (h >> 16) as u8, (h >> 8) as u8, h as u8)
}

pub(crate) async fn login(
    client: &reqwest::Client,
    base: &str,
    number: &str,
) -> anyhow::Result<String> {
    let r = client
        .post(format!("{base}/api/espace/connexion"))
        .header("x-forwarded-for", address_of(number))
        .header("origin", base)
        .header("accept", "text/html")
        .form(&[("numero", number), ("mot_de_passe", PASSWORD)])
        .send()
        .await?;
    session_cookie(&r, "espace").with_context(|| format!("no session for {number}: {}", r.status()))
}

/// The `name=value` of the session cookie an answer sets.
pub(crate) fn session_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&prefix))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

pub(crate) async fn upload(
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
pub(crate) async fn product_upload(
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
pub(crate) async fn run_all<T, F, Fut>(items: Vec<T>, concurrency: usize, f: F) -> Duration
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

pub(crate) struct Seeded {
    pub(crate) numbers: Vec<String>,
}

pub(crate) async fn seed(url: &str, data: &Path, count: usize) -> anyhow::Result<Seeded> {
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
    let hash = services::access::passwords::Passwords::new(1)?
        .hash(PASSWORD)
        .await?;
    let mut numbers = Vec::with_capacity(count);
    for i in 0..count {
        let who = format!("Candidat{}", letters(i));
        let d =
            services::platform::demo::candidate(&db, &clock, EXAM, "externe", &who, &hash).await?;
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
pub(crate) struct Bases(pub(crate) Arc<[String]>);

impl Bases {
    pub(crate) fn at(&self, i: usize) -> &str {
        &self.0[i % self.0.len()]
    }
}

/// One run of the product: which database, which store, how many servers.
pub(crate) struct Run<'a> {
    /// The column's title in results.md.
    pub(crate) label: &'a str,
    pub(crate) database: &'a str,
    pub(crate) database_url: &'a str,
    /// One server per port, all sharing the database, the data folder and the store.
    pub(crate) ports: &'a [u16],
    /// `s3://BUCKET/PREFIX` (the `AWS_*` variables inherited); `None`: the data
    /// folder's `files`, on local disk.
    pub(crate) storage_url: Option<&'a str>,
}

/// Per-server figures in MiB, and their sum.
pub(crate) fn mib_per_server(kib: &[u64]) -> (f64, Vec<f64>) {
    let each: Vec<f64> = kib.iter().map(|k| round(*k as f64 / 1024.0)).collect();
    (round(kib.iter().sum::<u64>() as f64 / 1024.0), each)
}

pub(crate) async fn pg_database(admin_url: &str) -> anyhow::Result<(String, String)> {
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

pub(crate) async fn drop_pg_database(admin_url: &str, name: &str) {
    use sqlx::{Connection, Executor};
    if let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await;
    }
}

/// `count` dossier pages, one after the other. The probe stands for many candidates'
/// visits: each page comes from an address of its own, or the server would pace it as
/// one client reading in a loop (30 pages a second past its first 100).
pub(crate) async fn pages(
    client: &reqwest::Client,
    bases: &Bases,
    cookie: &str,
    count: usize,
) -> Samples {
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
