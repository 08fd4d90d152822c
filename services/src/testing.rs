//! Fresh databases for tests: a SQLite file always, and a new PostgreSQL database when
//! `DATABASE_URL_PG` names a server (each test gets its own, so tests run in parallel).

use sqlx::{Connection, Executor, PgConnection};

use crate::{Clock, Db, dossiers::Dossier};

pub mod franceconnect;

/// Prefix of the PostgreSQL databases tests create; `make test` drops them afterwards.
pub const PG_TEST_PREFIX: &str = "concours_t_";

/// A configuration a test cannot run on here: PostgreSQL, the S3 server or clamd.
/// Under CI (`CI` set) that is a failure, with what to start: a green run must have run
/// everything. Elsewhere the test goes on without it, and the skip is written to
/// `TEST_SKIPS_FILE` (one line: the configuration, the test), which `make test` counts
/// at the end, so a skip is never silent.
pub fn missing(configuration: &str, how: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("un test")
        .to_string();
    assert!(
        std::env::var_os("CI").is_none_or(|v| v.is_empty()),
        "{configuration} est requis sous CI ({how}) : {test} ne peut pas s'exécuter sans"
    );
    eprintln!("{configuration} absent ({how}) : {test} ne s'exécute pas sur {configuration}");
    if let Some(file) = std::env::var_os("TEST_SKIPS_FILE") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
        {
            let _ = writeln!(f, "{configuration}\t{test}");
        }
    }
}

pub struct TestDb {
    pub db: Db,
    pub url: String,
    pub label: &'static str,
    _dir: Option<tempfile::TempDir>,
}

/// A migrated, empty SQLite database in a temporary folder.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let db = Db::connect(&url).await.expect("connect to SQLite");
    db.migrate().await.expect("migrate SQLite");
    TestDb {
        db,
        url,
        label: "sqlite",
        _dir: Some(dir),
    }
}

/// A migrated, empty PostgreSQL database, if `DATABASE_URL_PG` is set.
pub async fn postgres() -> Option<TestDb> {
    let test_db = postgres_unmigrated().await?;
    test_db.db.migrate().await.expect("migrate PostgreSQL");
    Some(test_db)
}

/// A new PostgreSQL database without a table, if `DATABASE_URL_PG` is set: as a fresh
/// deployment's servers find it.
pub async fn postgres_unmigrated() -> Option<TestDb> {
    let Ok(base) = std::env::var("DATABASE_URL_PG") else {
        missing(
            "PostgreSQL",
            "DATABASE_URL_PG, set by make test when it answers",
        );
        return None;
    };
    let name = format!("{PG_TEST_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&base)
        .await
        .expect("DATABASE_URL_PG is set but PostgreSQL does not answer");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create the test database");
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL_PG ends with /database");
    let url = format!("{prefix}/{name}");
    let db = Db::connect(&url).await.expect("connect to PostgreSQL");
    Some(TestDb {
        db,
        url,
        label: "postgres",
        _dir: None,
    })
}

/// Every database the tests must pass on here.
pub async fn all() -> Vec<TestDb> {
    let mut dbs = vec![sqlite().await];
    dbs.extend(postgres().await);
    dbs
}

/// A file store for one test: a fresh folder, or a fresh prefix in the test bucket.
pub struct TestStore {
    pub storage: crate::files::storage::Storage,
    /// What `APP_STORAGE_URL` would say to reach the same files.
    pub url: String,
    pub label: &'static str,
    _dir: Option<tempfile::TempDir>,
}

/// A store in a new temporary folder.
pub async fn local_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary folder");
    let root = dir.path().join("files");
    TestStore {
        storage: crate::files::storage::Storage::open(&root)
            .await
            .expect("a local store"),
        url: root.display().to_string(),
        label: "local",
        _dir: Some(dir),
    }
}

/// A new prefix in the S3 bucket `TEST_S3_BUCKET` names (reached with the standard
/// `AWS_*` variables, as the server does), if it is set; `make test` starts one.
pub async fn s3_store() -> Option<TestStore> {
    let Ok(bucket) = std::env::var("TEST_S3_BUCKET") else {
        missing("S3", "TEST_S3_BUCKET, set by scripts/with-s3.sh");
        return None;
    };
    let url = format!("s3://{bucket}/t-{}", uuid::Uuid::new_v4().simple());
    let spool = tempfile::tempdir().expect("temporary folder");
    Some(TestStore {
        storage: crate::files::storage::Storage::from_url(&url, spool.path())
            .await
            .expect("TEST_S3_BUCKET is set: the S3 store"),
        url,
        label: "s3",
        _dir: Some(spool),
    })
}

/// A store of the same kind that takes no file: a local folder replaced by a file (a
/// failed mount), or an S3 endpoint where nothing answers (an outage).
pub async fn broken_store(like: &TestStore) -> TestStore {
    if like.label == "s3" {
        let bucket = std::env::var("TEST_S3_BUCKET").expect("TEST_S3_BUCKET");
        let url = format!("s3://{bucket}/down");
        let spool = tempfile::tempdir().expect("temporary folder");
        return TestStore {
            storage: crate::files::storage::Storage::from_url_at(
                &url,
                spool.path(),
                Some(DOWN_ENDPOINT),
            )
            .await
            .expect("S3 store"),
            url,
            label: "s3-down",
            _dir: Some(spool),
        };
    }
    let store = local_store().await;
    let root = std::path::PathBuf::from(&store.url);
    std::fs::remove_dir_all(&root).expect("remove the folder");
    std::fs::write(&root, "not a folder").expect("a file in its place");
    store
}

/// Where no S3 server answers: a port nothing listens on (the discard port, closed).
pub const DOWN_ENDPOINT: &str = "http://127.0.0.1:9";

/// Every (database, store) pair the tests must pass on: each database with a local
/// folder, and one more database (PostgreSQL when there is one) with the S3 store when
/// one is configured, as a scaled-out deployment runs.
pub async fn all_with_stores() -> Vec<(TestDb, TestStore)> {
    let mut pairs = Vec::new();
    for db in all().await {
        pairs.push((db, local_store().await));
    }
    if let Some(store) = s3_store().await {
        let db = match postgres().await {
            Some(db) => db,
            None => sqlite().await,
        };
        pairs.push((db, store));
    }
    pairs
}

/// A dossier on `exam` for a candidate of this voie (`externe` or `interne`), created by
/// `clock` (which must stand before the exam's deadline). `who` tells candidates apart.
pub async fn dossier(db: &Db, clock: &dyn Clock, exam: &str, voie: &str, who: &str) -> Dossier {
    crate::platform::demo::candidate(db, clock, exam, voie, who, "unused-hash")
        .await
        .expect("a dossier on an open exam")
}

/// A file row of `size` bytes in the dossier's identity pièce, as if deposited earlier
/// (no stored file behind it): fills a dossier without sending its bytes.
pub async fn file_row(db: &Db, dossier_id: &str, size: u64) {
    sqlx::query(
        "INSERT INTO attachments (id, dossier_id, piece_code, storage_key, original_name, kind, size, sha256, created_at)
         VALUES ($1, $2, 'piece-identite', 'deja-la', 'gros.pdf', 'pdf', $3, '', 0)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(dossier_id)
    .bind(size as i64)
    .execute(db.pool())
    .await
    .expect("a file row");
}

/// A well-formed JPEG of about `len` bytes of picture data: a frame header, a scan, its
/// end marker (the server refuses pictures without them).
pub fn jpeg(len: usize) -> Vec<u8> {
    let mut f = vec![0xFF, 0xD8];
    f.extend([0xFF, 0xE0, 0, 16]);
    f.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    f.extend([0xFF, 0xC0, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x11, 0]);
    f.extend([0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0]);
    f.extend(std::iter::repeat_n(0x42, len));
    f.extend([0xFF, 0xD9]);
    f
}

/// The letterhead of the example Centre shipped in `centre.toml`, for a site at
/// `base_url`; it lives as long as the test (a few bytes, leaked), so a closure that
/// makes a pass's future can borrow it.
pub fn letterhead(base_url: &str) -> &'static crate::letters::Letterhead {
    let centre: domain::centre::Centre =
        toml::from_str(include_str!("../../centre.toml")).expect("the shipped centre.toml");
    Box::leak(Box::new(crate::letters::Letterhead {
        centre: std::sync::Arc::new(centre),
        base_url: base_url.into(),
    }))
}
