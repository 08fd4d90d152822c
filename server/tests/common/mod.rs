//! Spawns the real application on a random port with a fresh database, as `main` does.
// Each test binary uses a part of these helpers.
#![allow(dead_code)]

use std::{path::PathBuf, sync::Arc};

use jiff::Timestamp;
use server::{Application, Settings};
use services::{
    Db,
    platform::clock::FixedClock,
    testing::{TestDb, TestStore},
};

pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub client: reqwest::Client,
    pub label: String,
    /// The app's file store, as another server (or a test) reaches it.
    pub storage: services::files::storage::Storage,
    /// Stops the server as SIGTERM does; `running` ends when it has.
    pub stop: server::Stop,
    pub running: tokio::task::JoinHandle<std::io::Result<()>>,
    pub database_url: String,
    /// `http://…` of `/metrics`, when `APP_METRICS_ADDRESS` was given.
    pub metrics_address: Option<String>,
    /// How the server was told where its files are (`APP_STORAGE_…`, value).
    pub storage_var: (&'static str, String),
    _data: tempfile::TempDir,
    _test_db: Option<TestDb>,
    _store: Option<TestStore>,
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
            .unwrap_or_else(|e| panic!("request to the test server ({}): {e:?}", self.label))
    }

    /// Where the server keeps uploaded files.
    pub fn storage_dir(&self) -> PathBuf {
        self._data.path().join("files")
    }

    /// Every message the server wrote, oldest first, decoded.
    pub fn mails(&self) -> Vec<String> {
        services::letters::mail::read_mail_files(&self._data.path().join("mails"))
            .unwrap_or_default()
    }

    /// A page as the logged-in candidate sees it.
    pub async fn page(&self, cookie: &str, path: &str) -> String {
        self.client
            .get(format!("{}{path}", self.address))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to the test server ({}): {e:?}", self.label))
            .text()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to the test server ({}): {e:?}", self.label))
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

/// A folder with one exam, « bientot », whose last day is the day after [`NOW`]: it
/// closes 37 h later, so its deadline reminders are due.
pub fn soon_exam() -> tempfile::TempDir {
    let exams = tempfile::tempdir().unwrap();
    let template = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams/animateur-territorial-2025.toml"),
    )
    .unwrap();
    std::fs::write(
        exams.path().join("bientot.toml"),
        template
            .replace("animateur-territorial-2025", "bientot")
            .replace("2025-04-17", "2026-11-25")
            .replace("2025-06-13", "2026-12-31"),
    )
    .unwrap();
    exams
}

/// The instant the tests' server clock stands at.
pub const NOW: &str = "2026-11-24T10:00:00Z";

pub async fn spawn_app(test_db: TestDb) -> TestApp {
    spawn_app_with(test_db, &[]).await
}

/// With extra settings, e.g. `("APP_BASE_URL", "https://…")`.
pub async fn spawn_app_with(test_db: TestDb, extra: &[(&'static str, &str)]) -> TestApp {
    let label = test_db.label.to_string();
    let mut app = spawn(&test_db.url, None, label, extra).await;
    app._test_db = Some(test_db);
    app
}

/// On this store (an S3 prefix, or a folder) instead of its own folder.
pub async fn spawn_app_on(
    test_db: TestDb,
    store: Option<TestStore>,
    extra: &[(&'static str, &str)],
) -> TestApp {
    let label = match &store {
        Some(store) => format!("{}+{}", test_db.label, store.label),
        None => test_db.label.to_string(),
    };
    let storage_var = store.as_ref().map(|store| {
        if store.url.starts_with("s3://") {
            ("APP_STORAGE_URL", store.url.clone())
        } else {
            ("APP_STORAGE_DIR", store.url.clone())
        }
    });
    let mut app = spawn(&test_db.url, storage_var, label, extra).await;
    app._test_db = Some(test_db);
    app._store = store;
    app
}

/// A second server beside `first`: the same database and store, its own process
/// state (as on another machine behind the same load balancer).
pub async fn spawn_app_beside(first: &TestApp) -> TestApp {
    spawn(
        &first.database_url,
        Some(first.storage_var.clone()),
        format!("{} (second server)", first.label),
        &[],
    )
    .await
}

/// A server on this database URL (migrated and imported at start, as `main` does).
pub async fn spawn(
    database_url: &str,
    storage_var: Option<(&'static str, String)>,
    label: String,
    extra: &[(&'static str, &str)],
) -> TestApp {
    let data = tempfile::tempdir().unwrap();
    let storage_var = storage_var.unwrap_or_else(|| {
        (
            "APP_STORAGE_DIR",
            data.path().join("files").display().to_string(),
        )
    });
    let exams = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams");
    let centre = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../centre.toml");
    let mut vars = vec![
        ("APP_ADDRESS", "127.0.0.1:0".to_string()),
        ("APP_DATA_DIR", data.path().display().to_string()),
        ("DATABASE_URL", database_url.to_string()),
        ("APP_EXAMS_DIR", exams.display().to_string()),
        ("APP_CENTRE_FILE", centre.display().to_string()),
        ("APP_DEMO", "true".to_string()),
        storage_var.clone(),
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
    // `TEST_LOG=debug cargo test …`: the servers' logs, to see where a request stops.
    if let Ok(filter) = std::env::var("TEST_LOG") {
        server::telemetry::init(&Settings {
            log_filter: filter,
            ..settings.clone()
        });
    }
    let clock = Arc::new(FixedClock(NOW.parse::<Timestamp>().unwrap()));
    let app = Application::build(settings, clock)
        .await
        .expect("build the app");
    let address = format!("http://{}", app.local_addr().unwrap());
    let metrics_address = app.metrics_addr().map(|a| format!("http://{a}"));
    let db = app.db().clone();
    let storage = app.storage().clone();
    let stop = app.stop();
    let running = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        // A request the server never answers fails its test, naming the address,
        // instead of holding the whole run until CI's timeout.
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap(),
        label,
        storage,
        database_url: database_url.to_string(),
        metrics_address,
        storage_var,
        stop,
        running,
        _data: data,
        _test_db: None,
        _store: None,
    }
}

/// One app per (database, store) pair the tests must pass on: each database on a
/// folder, and one on the S3 server when `make test` started one.
pub async fn spawn_apps_and_stores() -> Vec<TestApp> {
    spawn_apps_and_stores_with(&[]).await
}

/// The same, with extra settings.
pub async fn spawn_apps_and_stores_with(extra: &[(&'static str, &str)]) -> Vec<TestApp> {
    let mut apps = Vec::new();
    for (db, store) in services::testing::all_with_stores().await {
        apps.push(spawn_app_on(db, Some(store), extra).await);
    }
    apps
}

/// One app per database the tests must pass on.
pub async fn spawn_apps() -> Vec<TestApp> {
    spawn_apps_with(&[]).await
}

/// The same, with extra settings.
pub async fn spawn_apps_with(extra: &[(&'static str, &str)]) -> Vec<TestApp> {
    let mut apps = Vec::new();
    for db in services::testing::all().await {
        apps.push(spawn_app_with(db, extra).await);
    }
    apps
}

/// A candidate on the demo exam whose password is `password`; returns the dossier number.
pub async fn candidate_with_password(app: &TestApp, who: &str, password: &str) -> String {
    let clock = FixedClock(NOW.parse::<Timestamp>().unwrap());
    let hash = services::access::passwords::Passwords::new(1)
        .unwrap()
        .hash(password)
        .await
        .unwrap();
    let dossier = services::platform::demo::candidate(
        &app.db,
        &clock,
        services::platform::demo::DEMO_EXAM,
        "externe",
        who,
        &hash,
    )
    .await
    .unwrap();
    dossier.number.to_string()
}

/// A session cookie for a new candidate (externe) on the demo exam.
pub async fn candidate_session(app: &TestApp, who: &str) -> String {
    let clock = FixedClock(NOW.parse().unwrap());
    let dossier = services::testing::dossier(
        &app.db,
        &clock,
        services::platform::demo::DEMO_EXAM,
        "externe",
        who,
    )
    .await;
    let token = services::access::accounts::open_session(&app.db, &clock, &dossier.id)
        .await
        .unwrap();
    format!("espace={token}")
}

/// Logs the demo candidate in and returns the session cookie.
pub async fn login(app: &TestApp) -> String {
    use services::platform::demo::{DEMO_NUMBER, DEMO_PASSWORD};
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

/// A file deposited by a candidate, answered 201; returns its id.
pub async fn deposit(
    app: &TestApp,
    candidate: &str,
    piece: &str,
    name: &str,
    data: Vec<u8>,
) -> String {
    let response = upload(app, candidate, piece, name, data, true).await;
    assert_eq!(response.status(), 201, "{}", app.label);
    response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Logs the demo staff member in and returns the `service` cookie.
pub async fn staff_login(app: &TestApp) -> String {
    let body = format!(
        "email={}&mot_de_passe={}",
        services::access::staff::DEMO_EMAIL,
        services::access::staff::DEMO_PASSWORD.replace(' ', "+")
    );
    let response = app.post_form("/api/service/connexion", &body).await;
    assert_eq!(response.headers()["location"], "/service", "{}", app.label);
    let set = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("service="))
        .expect("staff session cookie")
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    set.split(';').next().unwrap().to_string()
}
