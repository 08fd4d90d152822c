//! The espace sécurisé over HTTP: session cookies, forged cross-site posts.

mod common;

use common::{session_cookie, spawn_app_with, spawn_apps};
use services::demo::{DEMO_NUMBER, DEMO_PASSWORD};

fn login_body(password: &str) -> String {
    format!(
        "numero={DEMO_NUMBER}&mot_de_passe={}",
        password.replace(' ', "+")
    )
}

/// The espace page as a browser asks for it (a browser's Accept makes redirects real).
async fn espace(app: &common::TestApp, cookie: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/espace", app.address))
        .header("cookie", cookie)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn login_sets_a_fresh_http_only_session_cookie_and_logout_revokes_it() {
    for app in spawn_apps().await {
        let response = app
            .post_form("/api/espace/connexion", &login_body(DEMO_PASSWORD))
            .await;
        assert_eq!(response.status(), 302, "{}", app.label);
        assert_eq!(response.headers()["location"], "/espace");
        let cookie = session_cookie(&response).expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(
            !cookie.contains("Secure"),
            "plain http on localhost: {cookie}"
        );
        let token = cookie.split(';').next().unwrap().to_string();

        // A second login gets another identifier.
        let again = app
            .post_form("/api/espace/connexion", &login_body(DEMO_PASSWORD))
            .await;
        assert_ne!(
            session_cookie(&again).unwrap().split(';').next().unwrap(),
            token
        );

        // Logged in, the login page (the header's link) leads to the dossier.
        let login_page = app
            .client
            .get(format!("{}/connexion", app.address))
            .header("cookie", &token)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(login_page.status(), 302, "{}", app.label);
        assert_eq!(login_page.headers()["location"], "/espace");
        assert_eq!(app.get("/connexion").await.status(), 200);

        let page = espace(&app, &token).await;
        assert!(
            page.text().await.unwrap().contains(DEMO_NUMBER),
            "{}",
            app.label
        );

        let out = app
            .client
            .post(format!("{}/api/espace/deconnexion", app.address))
            .header("cookie", &token)
            .header("origin", &app.address)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 302);
        // The old cookie no longer opens the espace, even if a browser kept it.
        let page = espace(&app, &token).await;
        assert_eq!(page.status(), 302, "{}", app.label);
        assert!(
            page.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/connexion")
        );
    }
}

#[tokio::test]
async fn wrong_credentials_redirect_with_one_message_for_both_cases() {
    for app in spawn_apps().await {
        let wrong = app
            .post_form("/api/espace/connexion", &login_body("pas le bon"))
            .await;
        let unknown = app
            .post_form(
                "/api/espace/connexion",
                "numero=26-ZZZZ-ZZZZ&mot_de_passe=x",
            )
            .await;
        assert_eq!(
            wrong.headers()["location"],
            "/connexion?erreur=identifiants",
            "{}",
            app.label
        );
        assert_eq!(
            unknown.headers()["location"],
            "/connexion?erreur=identifiants"
        );
        assert!(session_cookie(&wrong).is_none());
    }
}

#[tokio::test]
async fn cookies_are_secure_when_the_site_is_served_over_https() {
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_BASE_URL", "https://concours.example")],
    )
    .await;
    let response = app
        .post_form("/api/espace/connexion", &login_body(DEMO_PASSWORD))
        .await;
    assert!(session_cookie(&response).unwrap().contains("; Secure"));
}

#[tokio::test]
async fn posts_from_another_site_are_refused() {
    for app in spawn_apps().await {
        for (header, value) in [
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let response = app
                .client
                .post(format!("{}/api/espace/connexion", app.address))
                .header("content-type", "application/x-www-form-urlencoded")
                .header(header, value)
                .body(login_body(DEMO_PASSWORD))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 403, "{}: {header}", app.label);
            assert!(session_cookie(&response).is_none());
            assert!(
                response
                    .text()
                    .await
                    .unwrap()
                    .contains("ne vient pas de ce site")
            );
        }
    }
}
