//! « CLÔTURER MON INSCRIPTION » over HTTP: the form post, its refusals, the dossier page
//! afterwards, the accusé de réception and its email.

mod common;

use common::{TestApp, login, pdf, spawn_apps_and_stores, upload};

async fn close(app: &TestApp, cookie: Option<&str>, origin: &str) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/api/espace/cloturer", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .header("origin", origin);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// The notices' words, opening their line with a capital.
const SENTENCE: &str = "Votre dossier est clôturé, il est en cours d'instruction";

fn location(r: &reqwest::Response) -> &str {
    r.headers()["location"].to_str().unwrap()
}

#[tokio::test]
async fn closing_the_demo_dossier_from_missing_pieces_to_the_receipt() {
    for app in spawn_apps_and_stores().await {
        let cookie = login(&app).await;
        let page = app.page(&cookie, "/espace").await;
        assert!(
            page.contains("déposez d&#x27;abord ces pièces obligatoires")
                || page.contains("déposez d'abord ces pièces obligatoires"),
            "{page}"
        );
        assert!(!page.contains("CLÔTURER MON INSCRIPTION"));

        // Before the closure, the receipt's PDF sends to its page, which says why; the
        // dossier d'inscription is there from the start; neither without a session.
        let pdf_get = |path: &'static str, cookie: Option<String>| {
            let mut request = app.client.get(format!("{}{path}", app.address));
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            request.send()
        };
        let early = pdf_get("/espace/accuse-de-reception.pdf", Some(cookie.clone()))
            .await
            .unwrap();
        assert_eq!(location(&early), "/espace/accuse-de-reception");
        let sheet = pdf_get("/espace/dossier-d-inscription.pdf", Some(cookie.clone()))
            .await
            .unwrap();
        assert_eq!(sheet.status(), 200, "{}", app.label);
        assert_eq!(sheet.headers()["content-type"], "application/pdf");
        assert!(sheet.bytes().await.unwrap().starts_with(b"%PDF-"));
        for path in [
            "/espace/dossier-d-inscription.pdf",
            "/espace/accuse-de-reception.pdf",
        ] {
            let anonymous = pdf_get(path, None).await.unwrap();
            assert_eq!(location(&anonymous), "/connexion?info=session", "{path}");
        }

        let refused = close(&app, Some(&cookie), &app.address).await;
        assert_eq!(
            location(&refused),
            "/espace/cloture?erreur=pieces",
            "{}",
            app.label
        );

        let stored = upload(&app, &cookie, "piece-identite", "cni.pdf", pdf(), true).await;
        assert_eq!(stored.status(), 201, "{}", app.label);
        let stored = upload(&app, &cookie, "diplome", "licence.pdf", pdf(), true).await;
        assert_eq!(stored.status(), 201, "{}", app.label);
        let page = app.page(&cookie, "/espace").await;
        assert!(page.contains("CLÔTURER MON INSCRIPTION"), "{page}");
        let confirm = app.page(&cookie, "/espace/cloture").await;
        assert!(
            confirm.contains("Vous ne pourrez plus ajouter, remplacer ni supprimer de fichier")
        );

        // From another site: refused before it reaches the dossier.
        let forged = close(&app, Some(&cookie), "https://evil.example").await;
        assert_eq!(forged.status(), 403);
        assert!(
            !app.page(&cookie, "/espace")
                .await
                .contains("en cours d&#x27;instruction")
        );
        // Without a session: to the login page.
        let anonymous = close(&app, None, &app.address).await;
        assert_eq!(location(&anonymous), "/connexion?info=session");

        let closed = close(&app, Some(&cookie), &app.address).await;
        assert_eq!(location(&closed), "/espace?cloture=ok");
        // A second click gets the same closed state, and no second email.
        let again = close(&app, Some(&cookie), &app.address).await;
        assert_eq!(location(&again), "/espace?cloture=ok");

        let page = app.page(&cookie, "/espace").await;
        assert!(page.contains(SENTENCE), "{page}");
        // Common::NOW, 10:00 UTC, is 11 h 00 in Paris.
        assert!(page.contains("mardi 24 novembre 2026 à 11 h 00"));
        let receipt = app.page(&cookie, "/espace/accuse-de-reception").await;
        assert!(receipt.contains("99-DEM0-0001") && receipt.contains("licence.pdf"));
        let sha = services::files::attachments::list(&app.db, &closed_dossier_id(&app).await)
            .await
            .unwrap()[0]
            .sha256
            .clone();
        assert!(receipt.contains(&sha));

        // Two clicks promised one receipt: one letter in the outbox, whatever was sent
        // so far.
        let promised: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE dossier_id = $1 AND kind = 'receipt'",
        )
        .bind(closed_dossier_id(&app).await)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(promised, 1, "{}", app.label);
        // The email is sent after the answer: wait for it a little.
        let mut receipts = 0;
        for _ in 0..50 {
            receipts = app
                .mails()
                .iter()
                .filter(|m| m.contains("Accusé de réception"))
                .count();
            if receipts > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(receipts, 1, "{}", app.label);
        let mail = app
            .mails()
            .into_iter()
            .find(|m| m.contains("Accusé de réception"))
            .unwrap();
        assert!(mail.contains(&sha) && mail.contains("camille.demo@exemple.fr"));
        // With the accusé de réception as a PDF.
        assert!(
            mail.contains("Content-Type: application/pdf")
                && mail.contains("accuse-de-reception-99-DEM0-0001.pdf"),
            "{mail}"
        );
        // Made once, at closure, for the mail: the candidate is served that copy.
        let kept = app
            .storage
            .printouts_of(&closed_dossier_id(&app).await)
            .await
            .unwrap();
        assert!(kept.iter().any(|k| k.starts_with("recu-")), "{kept:?}");
        let made_before = services::letters::printouts::made();
        let pdf_receipt = app
            .client
            .get(format!("{}/espace/accuse-de-reception.pdf", app.address))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(pdf_receipt.status(), 200, "{}", app.label);
        assert_eq!(pdf_receipt.headers()["content-type"], "application/pdf");
        assert_eq!(pdf_receipt.headers()["cache-control"], "private, no-store");
        assert!(pdf_receipt.bytes().await.unwrap().starts_with(b"%PDF-"));
        assert_eq!(
            services::letters::printouts::made(),
            made_before,
            "{}",
            app.label
        );

        // Closed: no more files for pièces that do not follow.
        let late = upload(&app, &cookie, "diplome", "autre.pdf", pdf(), true).await;
        assert_eq!(late.status(), 423, "{}", app.label);
    }
}

async fn closed_dossier_id(app: &TestApp) -> String {
    let number = domain::DossierNumber::parse(services::platform::demo::DEMO_NUMBER).unwrap();
    services::dossiers::by_number(&app.db, &number)
        .await
        .unwrap()
        .unwrap()
        .id
}
