//! Spawns the real application on a random port with a fresh database, as `main` does.
// Each test binary uses a part of these helpers.
#![allow(dead_code)]

use std::{path::PathBuf, sync::Arc};

use jiff::Timestamp;
use server::{Application, Settings};
use services::{Db, clock::FixedClock, testing::TestDb};

pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub client: reqwest::Client,
    pub label: &'static str,
    /// Stops the server as SIGTERM does; `running` ends when it has.
    pub stop: server::Stop,
    pub running: tokio::task::JoinHandle<std::io::Result<()>>,
    _data: tempfile::TempDir,
    _test_db: TestDb,
}

impl TestApp {
    /// A form post as a browser on this site sends it.
    pub async fn post_form(&self, path: &str, body: &str) -> reqwest::Response {
        self.post_form_as("", path, body).await
    }

    /// The same, with this session cookie (none when empty).
    pub async fn post_form_as(&self, cookie: &str, path: &str, body: &str) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("origin", &self.address);
        if !cookie.is_empty() {
            request = request.header("cookie", cookie);
        }
        request
            .body(body.to_string())
            .send()
            .await
            .expect("request to the test server")
    }

    /// Where the server keeps uploaded files.
    pub fn storage_dir(&self) -> PathBuf {
        self._data.path().join("files")
    }

    /// Every message the server wrote, oldest first, decoded.
    pub fn mails(&self) -> Vec<String> {
        services::mail::read_mail_files(&self._data.path().join("mails")).unwrap_or_default()
    }

    /// A page as the logged-in candidate sees it.
    pub async fn page(&self, cookie: &str, path: &str) -> String {
        self.client
            .get(format!("{}{path}", self.address))
            .header("cookie", cookie)
            .send()
            .await
            .expect("request to the test server")
            .text()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request to the test server")
    }
}

/// A form body from (name, value) pairs, urlencoded as a browser sends it.
pub fn form<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                app::account::urlencode(k.as_ref()),
                app::account::urlencode(v.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The instant the tests' server clock stands at.
pub const NOW: &str = "2026-11-24T10:00:00Z";

pub async fn spawn_app(test_db: TestDb) -> TestApp {
    spawn_app_with(test_db, &[]).await
}

/// With extra settings, e.g. `("APP_BASE_URL", "https://…")`.
pub async fn spawn_app_with(test_db: TestDb, extra: &[(&'static str, &str)]) -> TestApp {
    let data = tempfile::tempdir().unwrap();
    let exams = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams");
    let mut vars = vec![
        ("APP_ADDRESS", "127.0.0.1:0".to_string()),
        ("APP_DATA_DIR", data.path().display().to_string()),
        ("DATABASE_URL", test_db.url.clone()),
        ("APP_EXAMS_DIR", exams.display().to_string()),
        ("APP_DEMO", "true".to_string()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    // The last value wins: extra settings override the defaults above.
    let settings = Settings::from_lookup(|name| {
        vars.iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let clock = Arc::new(FixedClock(NOW.parse::<Timestamp>().unwrap()));
    let app = Application::build(settings, clock)
        .await
        .expect("build the app");
    let address = format!("http://{}", app.local_addr().unwrap());
    let db = app.db().clone();
    let stop = app.stop();
    let running = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        label: test_db.label,
        stop,
        running,
        _data: data,
        _test_db: test_db,
    }
}

/// One app per database the tests must pass on.
pub async fn spawn_apps() -> Vec<TestApp> {
    let mut apps = Vec::new();
    for db in services::testing::all().await {
        apps.push(spawn_app(db).await);
    }
    apps
}

/// A candidate on the demo exam whose password is `password`; returns the dossier number.
pub async fn candidate_with_password(app: &TestApp, who: &str, password: &str) -> String {
    let clock = FixedClock(NOW.parse::<Timestamp>().unwrap());
    let hash = services::passwords::Passwords::new(1)
        .unwrap()
        .hash(password)
        .await
        .unwrap();
    let dossier = services::demo::candidate(
        &app.db,
        &clock,
        services::demo::DEMO_EXAM,
        "externe",
        who,
        &hash,
    )
    .await
    .unwrap();
    dossier.number.to_string()
}

/// Logs the demo candidate in and returns the session cookie.
pub async fn login(app: &TestApp) -> String {
    use services::demo::{DEMO_NUMBER, DEMO_PASSWORD};
    let body = format!(
        "numero={DEMO_NUMBER}&mot_de_passe={}",
        DEMO_PASSWORD.replace(' ', "+")
    );
    let response = app.post_form("/api/espace/connexion", &body).await;
    session_cookie(&response)
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("session cookie")
}

/// The `Set-Cookie` of the session, attributes included, if the response sets one.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("espace="))
        .map(str::to_string)
}

pub fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << >> endobj\nstartxref\n0\n%%EOF\n".to_vec()
}

pub async fn upload(
    app: &TestApp,
    cookie: &str,
    piece: &str,
    name: &str,
    data: Vec<u8>,
    json: bool,
) -> reqwest::Response {
    use reqwest::multipart::{Form, Part};
    let form = Form::new().part(
        "fichier",
        Part::bytes(data)
            .file_name(name.to_string())
            .mime_str("application/pdf")
            .unwrap(),
    );
    app.client
        .post(format!("{}/espace/pieces/{piece}/fichiers", app.address))
        .header("cookie", cookie)
        .header("origin", &app.address)
        .header(
            "accept",
            if json {
                "application/json"
            } else {
                "text/html"
            },
        )
        .multipart(form)
        .send()
        .await
        .unwrap()
}
