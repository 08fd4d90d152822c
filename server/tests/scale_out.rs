//! Several servers on one database and one store, as behind a load balancer: whatever
//! one server received, the other shows, serves and zips; what must happen once
//! (closure, receipt, reminder) happens once; a fresh database takes servers started
//! together. On PostgreSQL and the S3 server when `make test` provides them (as a
//! scaled-out deployment runs), else on SQLite and a shared folder.

mod common;

use std::{io::Read, path::PathBuf, time::Duration};

use common::{
    NOW, TestApp, login, pdf, spawn, spawn_app_beside, spawn_app_on, staff_login, upload,
};
use jiff::{SignedDuration, Timestamp};
use services::{catalogue, platform::clock::FixedClock, platform::demo::DEMO_NUMBER, testing};

async fn database() -> testing::TestDb {
    match testing::postgres().await {
        Some(db) => db,
        None => testing::sqlite().await,
    }
}

async fn store() -> testing::TestStore {
    match testing::s3_store().await {
        Some(store) => store,
        None => testing::local_store().await,
    }
}

/// Every mail both servers sent that contains `text`.
async fn mails_with(servers: &[&TestApp], text: &str, wait_for: usize) -> Vec<String> {
    let mut found = Vec::new();
    // The outbox pass runs every 2 s on each server.
    for _ in 0..100 {
        found = servers
            .iter()
            .flat_map(|s| s.mails())
            .filter(|m| m.contains(text))
            .collect();
        if found.len() >= wait_for {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

#[tokio::test]
async fn a_file_received_by_one_server_is_shown_served_and_zipped_by_the_other() {
    let one = spawn_app_on(database().await, Some(store().await), &[]).await;
    let two = spawn_app_beside(&one).await;
    let label = &one.label;

    // Logged in on one: the session is a row, so the other knows it.
    let cookie = login(&one).await;
    // Past one S3 part: the file goes up as a multipart upload.
    let mut data = b"%PDF-1.7\n".to_vec();
    data.extend(std::iter::repeat_n(b' ', 6 * 1024 * 1024));
    data.extend(&pdf()[9..]);
    let response = upload(
        &one,
        &cookie,
        "piece-identite",
        "cni.pdf",
        data.clone(),
        true,
    )
    .await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 201, "{label}: {body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let page = two.page(&cookie, "/espace/pieces/piece-identite").await;
    assert!(page.contains("cni.pdf"), "{label}: {page}");
    let served = two
        .client
        .get(format!("{}/espace/fichiers/{id}", two.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200, "{label}");
    assert_eq!(served.bytes().await.unwrap().as_ref(), data.as_slice());

    let member = staff_login(&two).await;
    let zip = two
        .client
        .get(format!(
            "{}/service/dossiers/{DEMO_NUMBER}/fichiers.zip",
            two.address
        ))
        .header("cookie", &member)
        .send()
        .await
        .unwrap();
    assert_eq!(zip.status(), 200, "{label}");
    let bytes = zip.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a complete ZIP");
    assert_eq!(zip.len(), 1, "{label}");
    let mut entry = zip.by_index(0).unwrap();
    let mut unzipped = Vec::new();
    entry.read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, data, "{label}");

    // Deleted through the second: gone for the first, row and object.
    let deleted = two
        .client
        .post(format!("{}/espace/fichiers/{id}/supprimer", two.address))
        .header("cookie", &cookie)
        .header("origin", &two.address)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204, "{label}");
    assert!(one.storage.list().await.unwrap().is_empty(), "{label}");
}

#[tokio::test]
async fn a_hundred_closure_posts_across_two_servers_close_once_with_one_receipt() {
    let one = spawn_app_on(database().await, Some(store().await), &[]).await;
    let two = spawn_app_beside(&one).await;
    let label = one.label.clone();
    let cookie = login(&one).await;
    for (piece, name) in [("piece-identite", "cni.pdf"), ("diplome", "licence.pdf")] {
        let response = upload(&one, &cookie, piece, name, pdf(), true).await;
        assert_eq!(response.status(), 201, "{label}");
    }

    let posts = (0..100).map(|i| {
        let server = if i % 2 == 0 { &one } else { &two };
        let cookie = cookie.clone();
        async move {
            server
                .client
                .post(format!("{}/api/espace/cloturer", server.address))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "text/html")
                .header("origin", &server.address)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_util::future::join_all(posts).await;
    // Every post is answered (a redirect to the dossier page), none fails.
    assert!(
        statuses.iter().all(|s| s.is_redirection()),
        "{label}: {statuses:?}"
    );

    let closed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM dossiers WHERE number = $1 AND status = 'closed'")
            .bind(DEMO_NUMBER)
            .fetch_one(one.db.pool())
            .await
            .unwrap();
    assert_eq!(closed, 1, "{label}");
    let receipts = mails_with(&[&one, &two], "Accusé de réception", 1).await;
    assert_eq!(receipts.len(), 1, "{label}");
    // One letter was promised, and it is sent: no pass of either server sends it again.
    assert_eq!(
        letters(&one, "kind = 'receipt'").await,
        vec![(1, 1)],
        "{label}"
    );
}

/// Per dossier, the outbox's letters matching `condition`: (written, sent), once every
/// one is sent (a mail file is written just before its row says so) or after 10 s.
async fn letters(app: &TestApp, condition: &'static str) -> Vec<(i64, i64)> {
    let mut rows = Vec::new();
    for _ in 0..100 {
        // The condition is one of this file's literals.
        rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*), COUNT(sent_at) FROM outbox WHERE {condition} GROUP BY dossier_id"
        )))
        .fetch_all(app.db.pool())
        .await
        .unwrap();
        if rows
            .iter()
            .all(|(written, sent): &(i64, i64)| written == sent)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rows
}

#[tokio::test]
async fn each_reminder_is_mailed_once_whatever_the_number_of_servers() {
    let exams = common::soon_exam();
    let test_db = database().await;
    let week_before =
        FixedClock(NOW.parse::<Timestamp>().unwrap() - SignedDuration::from_hours(24 * 7));
    catalogue::import_dir(&test_db.db, exams.path(), &week_before)
        .await
        .unwrap();
    let mut numbers = Vec::new();
    for who in ["Oubli", "Retard", "Distrait"] {
        let d = testing::dossier(&test_db.db, &week_before, "bientot", "externe", who).await;
        numbers.push(d.number.to_string());
    }

    // Three servers start together: each runs its reminder pass at once.
    let exams_dir = exams.path().display().to_string();
    let extra = [("APP_EXAMS_DIR", exams_dir.as_str())];
    let url = test_db.url.clone();
    let store = store().await;
    let storage = Some(if store.url.starts_with("s3://") {
        ("APP_STORAGE_URL", store.url.clone())
    } else {
        ("APP_STORAGE_DIR", store.url.clone())
    });
    let (a, b, c) = tokio::join!(
        spawn(&url, storage.clone(), "one".into(), &extra),
        spawn(&url, storage.clone(), "two".into(), &extra),
        spawn(&url, storage.clone(), "three".into(), &extra),
    );
    let reminded = mails_with(&[&a, &b, &c], "n'est pas encore clôturé", 3).await;
    assert_eq!(reminded.len(), 3, "{}", test_db.label);
    // Each dossier is marked reminded (no pass takes it again) with one letter, sent.
    let marked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM dossiers WHERE reminded_at IS NOT NULL")
            .fetch_one(a.db.pool())
            .await
            .unwrap();
    assert_eq!(marked, 3, "{}", test_db.label);
    assert_eq!(
        letters(&a, "kind = 'text' AND dossier_id IS NOT NULL").await,
        vec![(1, 1); 3],
        "{}",
        test_db.label
    );
    for number in &numbers {
        assert_eq!(
            reminded
                .iter()
                .filter(|m| m.contains(number.as_str()))
                .count(),
            1,
            "{number}"
        );
    }
}

#[tokio::test]
async fn servers_started_together_on_a_fresh_database_all_come_up() {
    // SQLite is one file for one server: the race is PostgreSQL's.
    let Some(fresh) = testing::postgres_unmigrated().await else {
        return;
    };
    let url = fresh.url.clone();
    let (a, b, c) = tokio::join!(
        spawn(&url, None, "one".into(), &[]),
        spawn(&url, None, "two".into(), &[]),
        spawn(&url, None, "three".into(), &[]),
    );
    for server in [&a, &b, &c] {
        assert_eq!(
            server.get("/healthz").await.status(),
            200,
            "{}",
            server.label
        );
    }
    let exams: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM exams")
        .fetch_one(a.db.pool())
        .await
        .unwrap();
    let on_disk = std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams"))
        .unwrap()
        .count() as i64;
    assert_eq!(exams, on_disk);
    // The demo candidate was seeded once, and logs in through any of them.
    for server in [&a, &b, &c] {
        login(server).await;
    }
}
