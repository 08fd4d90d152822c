//! The antivirus through the server (`APP_CLAMD`, a real clamd started by
//! scripts/with-clamd.sh): the scan runs by itself after an upload, an infected file
//! is never served and the candidate and staff are told.

mod common;

use common::{NOW, deposit, login, pdf, spawn_app_on, spawn_apps, staff_login, upload};
use domain::antivirus::VirusScan;

const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Waits (at most 30 s) until the window no longer says a scan is under way.
async fn scanned(app: &common::TestApp, cookie: &str) -> String {
    for _ in 0..300 {
        let page = app.page(cookie, "/espace/pieces/piece-identite").await;
        if !page.contains("Analyse antivirus en cours") {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{}: still scanning after 30 s", app.label);
}

#[tokio::test]
async fn an_infected_upload_is_scanned_by_itself_never_served_and_flagged() {
    let Ok(clamd) = std::env::var("TEST_CLAMD") else {
        services::testing::missing("clamd", "TEST_CLAMD, set by scripts/with-clamd.sh");
        return;
    };
    for db in services::testing::all().await {
        let store = services::testing::local_store().await;
        let app = spawn_app_on(db, Some(store), &[("APP_CLAMD", clamd.as_str())]).await;
        let cookie = login(&app).await;
        let mut infected = b"%PDF-1.7\n1 0 obj\n<< >>\nstream\n".to_vec();
        infected.extend_from_slice(EICAR);
        infected.extend_from_slice(b"\nendstream\nendobj\nstartxref\n0\n%%EOF\n");
        // The clean one first: a file sent after an infected one takes its place.
        let response = upload(&app, &cookie, "piece-identite", "cni.pdf", pdf(), true).await;
        assert_eq!(response.status(), 201, "{}", app.label);
        let good: serde_json::Value = response.json().await.unwrap();
        let response = upload(&app, &cookie, "piece-identite", "virus.pdf", infected, true).await;
        assert_eq!(response.status(), 201, "{}", app.label);
        let bad: serde_json::Value = response.json().await.unwrap();

        let page = scanned(&app, &cookie).await;
        assert!(
            page.contains(
                "Virus détecté : ce fichier a été supprimé, merci d'en envoyer un autre."
            ),
            "{}",
            app.label
        );
        // Neither the candidate nor staff get its bytes; the clean one is served.
        let file = |id: &serde_json::Value, path: &str, cookie: &str| {
            app.client
                .get(format!("{}{path}{}", app.address, id.as_str().unwrap()))
                .header("cookie", cookie.to_string())
                .send()
        };
        let response = file(&bad["id"], "/espace/fichiers/", &cookie)
            .await
            .unwrap();
        assert_eq!(response.status(), 410, "{}", app.label);
        let response = file(&good["id"], "/espace/fichiers/", &cookie)
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", app.label);
        let staff = staff_login(&app).await;
        let response = file(&bad["id"], "/service/fichiers/", &staff)
            .await
            .unwrap();
        assert_eq!(response.status(), 410, "{}", app.label);

        // Staff see it on the dossier and in the list.
        let number = services::platform::demo::DEMO_NUMBER;
        let page = app
            .page(&staff, &format!("/service/dossiers/{number}"))
            .await;
        assert!(page.contains("Antivirus : infecté"), "{}", app.label);
        assert!(page.contains("Antivirus : sain"), "{}", app.label);
        assert!(page.contains("data-infected"), "{}", app.label);
        let dossier =
            services::dossiers::by_number(&app.db, &domain::DossierNumber::parse(number).unwrap())
                .await
                .unwrap()
                .unwrap();
        let list = app
            .page(
                &staff,
                &format!("/service/concours/{}", dossier.exam_slug.as_str()),
            )
            .await;
        assert!(list.contains("1 infecté(s)"), "{}", app.label);
    }
}

/// The candidate's row of this file in the document window (`<li … data-file="id">`
/// to its `</li>`), so that words elsewhere on the page cannot answer for it.
fn candidate_row<'a>(page: &'a str, id: &str, label: &str) -> &'a str {
    let start = page
        .find(&format!("data-file=\"{id}\""))
        .unwrap_or_else(|| panic!("{label}: no row for file {id} in:\n{page}"));
    let start = page[..start].rfind("<li").unwrap();
    let end = start + page[start..].find("</li>").unwrap();
    &page[start..end]
}

/// The staff's row of the file named `name` on the dossier page (`<li class="file">`
/// to its `</li>`).
fn staff_row<'a>(page: &'a str, name: &str, label: &str) -> &'a str {
    let at = page
        .find(&format!("<span class=\"file-name\">{name}</span>"))
        .unwrap_or_else(|| panic!("{label}: no row for « {name} » in:\n{page}"));
    let start = page[..at].rfind("<li class=\"file\"").unwrap();
    let end = at + page[at..].find("</li>").unwrap();
    &page[start..end]
}

/// Leptos writes an apostrophe in text as an entity or as itself: read it back.
fn text(html: &str) -> String {
    html.replace("&#39;", "'").replace("&#x27;", "'")
}

/// What the document window's polling reads for this file: (code, candidate's words).
async fn polled(app: &common::TestApp, cookie: &str, id: &str) -> (String, Option<String>) {
    let response = app
        .client
        .get(format!(
            "{}/espace/pieces/piece-identite/analyses",
            app.address
        ))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", app.label);
    let scans: Vec<serde_json::Value> = response.json().await.unwrap();
    let scan = scans
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("{}: file {id} not polled: {scans:?}", app.label));
    (
        scan["scan"].as_str().unwrap().to_string(),
        scan["text"].as_str().map(str::to_string),
    )
}

/// The candidate's document window and the staff's dossier page, with this file's row
/// on each.
async fn pages(app: &common::TestApp, cookie: &str, staff: &str) -> (String, String) {
    let window = text(&app.page(cookie, "/espace/pieces/piece-identite").await);
    let number = services::platform::demo::DEMO_NUMBER;
    let dossier = text(
        &app.page(staff, &format!("/service/dossiers/{number}"))
            .await,
    );
    (window, dossier)
}

const PENDING_TEXT: &str = "Analyse antivirus en cours…";
const PENDING_NOTICE: &str = "data-scans=\"/espace/pieces/piece-identite/analyses\"";

/// The candidate reads nothing of the scan of a file whose state is `scan`: no label
/// in its row, no waiting notice, and the window's polling says `scan` without words.
async fn nothing_shown(
    app: &common::TestApp,
    cookie: &str,
    window: &str,
    row: &str,
    id: &str,
    scan: VirusScan,
) {
    assert!(!row.contains("data-scan"), "{}: {row}", app.label);
    assert!(!window.contains(PENDING_TEXT), "{}", app.label);
    assert!(!window.contains(PENDING_NOTICE), "{}", app.label);
    assert_eq!(
        polled(app, cookie, id).await,
        (scan.code().to_string(), None),
        "{}",
        app.label
    );
}

#[tokio::test]
async fn without_an_antivirus_a_file_is_non_analyse_and_never_sain() {
    let none = VirusScan::NotScanned.label();
    let clean = VirusScan::Clean.label();
    assert_eq!((none, clean), ("non analysé", "sain"));
    for app in spawn_apps().await {
        let cookie = login(&app).await;
        let id = deposit(&app, &cookie, "piece-identite", "cni.pdf", pdf()).await;
        // A moment for a scanner that should not exist to do harm.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let staff = staff_login(&app).await;
        let (window, dossier) = pages(&app, &cookie, &staff).await;

        // The candidate reads nothing of a scan for it: no « sain », no waiting, no
        // polling; the window's polling says « none » and has no words for it.
        let row = candidate_row(&window, &id, &app.label);
        assert!(row.contains("cni.pdf"), "{}: {row}", app.label);
        assert!(!row.contains(clean), "{}: {row}", app.label);
        nothing_shown(&app, &cookie, &window, row, &id, VirusScan::NotScanned).await;

        // Staff read « non analysé », never « sain ».
        let row = staff_row(&dossier, "cni.pdf", &app.label);
        assert!(
            row.contains(&format!("Antivirus : {none}")),
            "{}: {row}",
            app.label
        );
        assert!(row.contains("data-scan=\"none\""), "{}: {row}", app.label);
        assert!(!row.contains(clean), "{}: {row}", app.label);
    }
}

#[tokio::test]
async fn a_file_waits_en_attente_while_clamd_cannot_answer_then_a_pass_makes_it_sain() {
    let Ok(real) = std::env::var("TEST_CLAMD") else {
        services::testing::missing("clamd", "TEST_CLAMD, set by scripts/with-clamd.sh");
        return;
    };
    let real = services::files::antivirus::Clamd::parse(&real).unwrap();
    let pending = VirusScan::Pending.label();
    let clean = VirusScan::Clean.label();
    assert_eq!((pending, clean), ("en attente d'analyse", "sain"));
    for db in services::testing::all().await {
        // An antivirus configured on a port nobody listens on: it cannot answer.
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let down = format!("tcp://127.0.0.1:{closed}");
        let store = services::testing::local_store().await;
        let app = spawn_app_on(db, Some(store), &[("APP_CLAMD", down.as_str())]).await;
        let cookie = login(&app).await;
        let id = deposit(&app, &cookie, "piece-identite", "cni.pdf", pdf()).await;
        // The upload woke the server's scanner: it tried, clamd did not answer.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let staff = staff_login(&app).await;
        let (window, dossier) = pages(&app, &cookie, &staff).await;

        let row = candidate_row(&window, &id, &app.label);
        assert!(
            row.contains(PENDING_TEXT) && row.contains("data-scan=\"pending\""),
            "{}: {row}",
            app.label
        );
        assert!(!row.contains(clean), "{}: {row}", app.label);
        assert!(window.contains(PENDING_NOTICE), "{}", app.label);
        assert_eq!(
            polled(&app, &cookie, &id).await,
            (
                VirusScan::Pending.code().to_string(),
                Some(PENDING_TEXT.to_string())
            ),
            "{}",
            app.label
        );
        let row = staff_row(&dossier, "cni.pdf", &app.label);
        assert!(
            row.contains(&format!("Antivirus : {pending}")),
            "{}: {row}",
            app.label
        );
        assert!(
            !row.contains(&format!("Antivirus : {clean}")),
            "{}: {row}",
            app.label
        );

        // A pass with the real clamd (the server's own, on the closed port, may hold
        // the file for an instant: try again then).
        let clock = services::platform::clock::FixedClock(NOW.parse().unwrap());
        let mut scanned = 0;
        for _ in 0..50 {
            scanned = services::files::antivirus::pass(&app.db, &app.storage, &clock, &real, 16)
                .await
                .unwrap();
            if scanned > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(scanned, 1, "{}", app.label);

        let (window, dossier) = pages(&app, &cookie, &staff).await;
        let row = candidate_row(&window, &id, &app.label);
        nothing_shown(&app, &cookie, &window, row, &id, VirusScan::Clean).await;
        let row = staff_row(&dossier, "cni.pdf", &app.label);
        assert!(
            row.contains(&format!("Antivirus : {clean}")) && row.contains("data-scan=\"clean\""),
            "{}: {row}",
            app.label
        );
        assert!(!row.contains(pending), "{}: {row}", app.label);
    }
}
