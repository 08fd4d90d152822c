//! The espace sécurisé over HTTP: session cookies, forged cross-site posts.

mod common;

use common::{session_cookie, spawn_app_with, spawn_apps};
use services::platform::demo::{DEMO_NUMBER, DEMO_PASSWORD};

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
        // One message for both; each keeps the number typed, for the next try.
        assert_eq!(
            wrong.headers()["location"],
            "/connexion?erreur=identifiants&numero=99-DEM0-0001",
            "{}",
            app.label
        );
        assert_eq!(
            unknown.headers()["location"],
            "/connexion?erreur=identifiants&numero=26-ZZZZ-ZZZZ"
        );
        assert!(session_cookie(&wrong).is_none());
    }
}

/// A login post as a reverse proxy passes it on, naming the client in `X-Forwarded-For`.
async fn login_via_proxy(
    app: &common::TestApp,
    forwarded_for: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(format!("{}/api/espace/connexion", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .header("origin", &app.address)
        .header("x-forwarded-for", forwarded_for)
        .body(login_body(password))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_TRUSTED_PROXIES", "127.0.0.1")],
    )
    .await;
    let attacker = "203.0.113.5";
    for _ in 0..services::access::throttle::MAX_LOGIN_FAILURES_PER_ACCOUNT_AND_CLIENT {
        let wrong = login_via_proxy(&app, attacker, "pas le bon").await;
        assert_eq!(
            wrong.headers()["location"],
            "/connexion?erreur=identifiants&numero=99-DEM0-0001"
        );
    }
    // A forged entry on the left does not move the attacker to a fresh count.
    let forged = login_via_proxy(&app, &format!("198.51.100.1, {attacker}"), DEMO_PASSWORD).await;
    assert!(
        forged.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/connexion?erreur=tentatives"),
        "{:?}",
        forged.headers()
    );
    // The owner, behind the same proxy from another address, gets in.
    let owner = login_via_proxy(&app, "203.0.113.6", DEMO_PASSWORD).await;
    assert_eq!(owner.headers()["location"], "/espace");
    assert!(session_cookie(&owner).is_some());
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_address_changes_nothing() {
    let app = spawn_app_with(services::testing::sqlite().await, &[]).await;
    for i in 0..services::access::throttle::MAX_LOGIN_FAILURES_PER_ACCOUNT_AND_CLIENT {
        // A new forged address on every guess: still one client, the peer.
        login_via_proxy(&app, &format!("203.0.113.{i}"), "pas le bon").await;
    }
    let refused = login_via_proxy(&app, "203.0.113.200", DEMO_PASSWORD).await;
    assert!(
        refused.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/connexion?erreur=tentatives")
    );
}

#[tokio::test]
async fn cookies_are_secure_when_the_site_is_served_over_https() {
    // No demo on a public site: a candidate of its own.
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[
            ("APP_BASE_URL", "https://concours.example"),
            ("APP_DEMO", "false"),
        ],
    )
    .await;
    let number = common::candidate_with_password(&app, "Securite", "cheval correct agrafe").await;
    let login_from = |origin: &'static str| {
        app.client
            .post(format!("{}/api/espace/connexion", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("origin", origin)
            .body(format!(
                "numero={number}&mot_de_passe=cheval+correct+agrafe"
            ))
            .send()
    };
    // The site is APP_BASE_URL's origin: the same host over plain http, or the address
    // the server listens on, is another site.
    for other in ["http://concours.example", "https://concours.example:8443"] {
        let refused = login_from(other).await.unwrap();
        assert_eq!(refused.status(), 403, "{other}");
        assert!(session_cookie(&refused).is_none());
    }
    let response = login_from("https://concours.example").await.unwrap();
    assert!(session_cookie(&response).unwrap().contains("; Secure"));
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

#[tokio::test]
async fn pages_for_one_person_are_never_cached() {
    for app in spawn_apps().await {
        let cookie = common::login(&app).await;
        let page = espace(&app, &cookie).await;
        assert_eq!(page.status(), 200, "{}", app.label);
        assert_eq!(page.headers()["cache-control"], "no-store", "{}", app.label);
        // Plain http (a developer's machine): no HSTS, which would pin localhost.
        assert!(page.headers().get("strict-transport-security").is_none());
        // The catalogue, seen by anyone without a session, may be cached.
        let catalogue = app.get("/").await;
        assert!(
            catalogue.headers().get("cache-control").is_none(),
            "{}",
            app.label
        );
    }
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

#[tokio::test]
async fn reset_form_errors_travel_as_codes_and_hostile_tokens_are_harmless() {
    for app in spawn_apps().await {
        let asked = app
            .post_form(
                "/api/espace/mot-de-passe-oublie",
                &format!("numero={DEMO_NUMBER}&email=camille.demo%40exemple.fr"),
            )
            .await;
        assert_eq!(asked.status(), 302, "{}", app.label);
        let mut mail = String::new();
        for _ in 0..100 {
            if let Some(m) = app
                .mails()
                .into_iter()
                .find(|m| m.contains("/mot-de-passe/"))
            {
                mail = m;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let token = mail
            .split("/mot-de-passe/")
            .nth(1)
            .expect("a reset link in the mail")
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();

        let short = app
            .post_form(
                "/api/espace/nouveau-mot-de-passe",
                &format!("token={token}&mot_de_passe=court&confirmation=court"),
            )
            .await;
        let location = short.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(
            location,
            format!("/mot-de-passe/{token}?erreur=court"),
            "{}",
            app.label
        );
        let page = app.page("", &location).await;
        assert!(page.contains("au moins 12 caractères"), "{}", app.label);
        let forged = app
            .page(
                "",
                &format!("/mot-de-passe/{token}?erreur=Appelez+le+08+99"),
            )
            .await;
        assert!(!forged.contains("Appelez"), "{}", app.label);

        // A token no link ever had, with a line break: an answer, not a crash.
        let hostile = app
            .post_form(
                "/api/espace/nouveau-mot-de-passe",
                "token=a%0D%0ALocation:%20https://evil.example&mot_de_passe=x&confirmation=y",
            )
            .await;
        assert_eq!(hostile.status(), 302, "{}", app.label);
        let location = hostile.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with("/mot-de-passe/a%0D%0ALocation"),
            "{location}"
        );
    }
}
