//! Uploading, serving and deleting attachments over HTTP.

mod common;

use common::{login, pdf, spawn_apps, upload};

#[tokio::test]
async fn upload_then_serve_to_the_owner_with_safe_headers() {
    for app in spawn_apps().await {
        let cookie = login(&app).await;
        let response = upload(
            &app,
            &cookie,
            "piece-identite",
            "Carte d'identité \"recto\".pdf",
            pdf(),
            true,
        )
        .await;
        assert_eq!(response.status(), 201, "{}", app.label);
        let saved: serde_json::Value = response.json().await.unwrap();
        assert_eq!(saved["message"], "fichier enregistré");
        let id = saved["id"].as_str().unwrap().to_string();

        let file = app
            .client
            .get(format!("{}/espace/fichiers/{id}", app.address))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(file.status(), 200);
        let h = file.headers();
        assert_eq!(h["content-type"], "application/pdf");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "private, no-store");
        assert_eq!(h["x-frame-options"], "SAMEORIGIN");
        assert_eq!(h["content-security-policy"], "frame-ancestors 'self'");
        let disposition = h["content-disposition"].to_str().unwrap();
        assert_eq!(
            disposition,
            "inline; filename=\"Carte d_identit_ recto .pdf\"; filename*=UTF-8''Carte%20d%27identit%C3%A9%20recto%20.pdf"
        );
        assert_eq!(file.bytes().await.unwrap().to_vec(), pdf());

        // Anyone else, logged in or not, gets nothing.
        let anonymous = app
            .client
            .get(format!("{}/espace/fichiers/{id}", app.address))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_ne!(anonymous.status(), 200);
        let forged = app
            .client
            .get(format!("{}/espace/fichiers/{id}", app.address))
            .header("cookie", "espace=forged")
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401);
    }
}

#[tokio::test]
async fn refusals_have_the_right_status_and_a_french_message() {
    for app in spawn_apps().await {
        let cookie = login(&app).await;
        let png = b"\x89PNG\r\n\x1a\n00000000".to_vec();
        let r = upload(&app, &cookie, "piece-identite", "photo.pdf", png, true).await;
        assert_eq!(r.status(), 415, "{}", app.label);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["message"],
            "« photo.pdf » doit être au format PDF ou JPEG."
        );

        let mut big = pdf();
        big.extend(vec![b' '; 10 * 1024 * 1024]);
        let r = upload(&app, &cookie, "piece-identite", "gros.pdf", big, true).await;
        assert_eq!(r.status(), 413);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["message"],
            "« gros.pdf » doit faire moins de 10 Mo."
        );

        // A dossier that already holds nearly all it may: the same status, its own words.
        let demo = services::dossiers::by_number(
            &app.db,
            &domain::DossierNumber::parse(services::demo::DEMO_NUMBER).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        services::testing::file_row(&app.db, &demo.id, domain::attachment::MAX_DOSSIER_BYTES).await;
        let r = upload(&app, &cookie, "diplome", "Licence.pdf", pdf(), true).await;
        assert_eq!(r.status(), 413);
        let message = r.json::<serde_json::Value>().await.unwrap()["message"].to_string();
        assert!(
            message.contains("votre dossier dépasserait 100 Mo au total"),
            "{message}"
        );

        // A pièce the candidate is not asked for (forged request).
        let r = upload(&app, &cookie, "etat-des-services", "a.pdf", pdf(), true).await;
        assert_eq!(r.status(), 404);

        // Without JavaScript: back to the document page with the message.
        let r = upload(&app, &cookie, "piece-identite", "vide.pdf", vec![], false).await;
        assert_eq!(r.status(), 303);
        let location = r.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with(
                "/espace/pieces/piece-identite?erreur=%C2%AB%20vide.pdf%20%C2%BB%20est%20vide."
            ),
            "{location}"
        );
    }
}

#[tokio::test]
async fn delete_is_for_the_owner_and_a_cross_site_upload_is_refused() {
    for app in spawn_apps().await {
        let cookie = login(&app).await;
        let saved: serde_json::Value = upload(&app, &cookie, "diplome", "licence.pdf", pdf(), true)
            .await
            .json()
            .await
            .unwrap();
        let id = saved["id"].as_str().unwrap();

        let forged = app
            .client
            .post(format!("{}/espace/fichiers/{id}/supprimer", app.address))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403, "{}", app.label);

        let deleted = app
            .client
            .post(format!("{}/espace/fichiers/{id}/supprimer", app.address))
            .header("cookie", &cookie)
            .header("origin", &app.address)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 303);
        assert_eq!(
            deleted.headers()["location"],
            "/espace/pieces/diplome?supprime=1"
        );
        let gone = app
            .client
            .get(format!("{}/espace/fichiers/{id}", app.address))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 404);
    }
}
