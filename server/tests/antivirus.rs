//! The antivirus through the server (`APP_CLAMD`, a real clamd started by
//! scripts/with-clamd.sh): the scan runs by itself after an upload, an infected file
//! is never served and the candidate and staff are told.

mod common;

use common::{login, pdf, spawn_app_on, staff_login, upload};

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
        let number = services::demo::DEMO_NUMBER;
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
