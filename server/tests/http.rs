//! The server over HTTP, on SQLite and (when configured) PostgreSQL.

mod common;

use common::{login, pdf, spawn_app_with, spawn_apps, spawn_apps_with, upload};

#[tokio::test]
async fn healthz_answers_while_the_database_does() {
    for app in spawn_apps().await {
        let response = app.get("/healthz").await;
        assert_eq!(response.status(), 200, "{}", app.label);
        // Which server answered: a name of its own.
        assert_eq!(response.headers()["x-instance"].len(), 12, "{}", app.label);

        app.db.close().await;
        let response = app.get("/healthz").await;
        assert_eq!(response.status(), 503, "{}", app.label);
        assert_eq!(response.text().await.unwrap(), "database unavailable");
    }
}

#[tokio::test]
async fn healthz_fails_when_the_store_takes_no_file() {
    for app in spawn_apps().await {
        assert_eq!(app.get("/healthz").await.status(), 200, "{}", app.label);
        // The store's folder is gone (a failed mount): a file where it was.
        let root = app.storage_dir();
        std::fs::remove_dir_all(&root).unwrap();
        std::fs::write(&root, "not a folder").unwrap();
        // Seen at the next check of the store: within a few seconds.
        let mut response = app.get("/healthz").await;
        for _ in 0..100 {
            if response.status() == 503 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            response = app.get("/healthz").await;
        }
        assert_eq!(response.status(), 503, "{}", app.label);
        assert_eq!(response.text().await.unwrap(), "storage unavailable");
    }
}

#[tokio::test]
async fn healthz_asked_a_hundred_times_checks_the_store_once_or_so() {
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_METRICS_ADDRESS", "127.0.0.1:0")],
    )
    .await;
    let metrics = app.metrics_address.clone().expect("a metrics address");
    let checks = || async {
        let text = app
            .client
            .get(format!("{metrics}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("concours_store_health_checks_total "))
            .expect("the store checks' figure")
            .parse::<u64>()
            .unwrap()
    };
    let before = checks().await;
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let answers = futures_util::future::join_all((0..20).map(|_| app.get("/healthz"))).await;
        assert!(answers.iter().all(|a| a.status() == 200));
    }
    // One check per 3 s at most, once for the requests that came together (none at
    // all if the server's own readiness check is still fresh).
    let most = 1 + started.elapsed().as_secs() / 3;
    let made = checks().await - before;
    assert!(made <= most, "{made} store checks for 100 requests");
}

#[tokio::test]
async fn the_catalogue_is_rendered_on_the_server_in_french() {
    for app in spawn_apps().await {
        let response = app.get("/").await;
        assert_eq!(response.status(), 200, "{}", app.label);
        let html = response.text().await.unwrap();
        assert!(html.contains(r#"<html lang="fr""#));
        for text in [
            "Concours interne et externe d'animateur territorial",
            "jeudi 17 avril 2025 avant minuit (heure de Paris)",
            "Examen professionnel d'adjoint du patrimoine principal de 2ème classe",
            "jeudi 30 novembre 2023 avant minuit (heure de Paris)",
            "Concours de rédacteur territorial (démonstration)",
            // The demo exam: 30 days after the test clock's day, still open.
            "jeudi 24 décembre 2026 avant minuit (heure de Paris)",
            "Inscriptions ouvertes",
            "Inscriptions closes",
        ] {
            assert!(html.contains(text), "{}: missing « {text} »", app.label);
        }
        // Two closed, one open, rendered without JavaScript.
        assert_eq!(
            html.matches("Inscriptions closes").count(),
            2,
            "{}",
            app.label
        );
        // Time left from the server's clock (2026-11-24T10:00Z = 11:00 Paris) to
        // 2026-12-25T00:00 Paris.
        assert!(html.contains("30 j 13 h 00 min 00 s"), "{}", app.label);
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    for app in spawn_apps().await {
        for path in ["/", "/healthz", "/nowhere", "/favicon.svg"] {
            let response = app.get(path).await;
            let headers = response.headers();
            for (name, expected) in [
                ("x-content-type-options", "nosniff"),
                ("x-frame-options", "DENY"),
                ("referrer-policy", "strict-origin-when-cross-origin"),
            ] {
                assert_eq!(
                    headers.get(name).map(|v| v.to_str().unwrap()),
                    Some(expected),
                    "{path}: {name}"
                );
            }
            let csp = headers
                .get("content-security-policy")
                .expect("CSP")
                .to_str()
                .unwrap();
            assert!(
                csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
                "{csp}"
            );
        }
    }
}

#[tokio::test]
async fn the_front_end_bundle_carries_nosniff_but_no_document_policy() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/concours.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(site.path().join("pkg/concours.js"), b"export {};").unwrap();
    let site_root = site.path().display().to_string();
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_SITE_ROOT", &site_root)],
    )
    .await;
    for path in ["/pkg/concours.wasm", "/pkg/concours.js"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        for name in [
            "content-security-policy",
            "x-frame-options",
            "permissions-policy",
        ] {
            assert!(headers.get(name).is_none(), "{path}: {name}");
        }
    }
    // A page of the same server keeps its policy.
    let page = app.get("/").await;
    assert!(page.headers().contains_key("content-security-policy"));
    assert_eq!(page.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn hashed_front_end_files_are_named_by_pages_and_kept_a_year() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/concours.c5-c_5.css"), b"body{}").unwrap();
    std::fs::write(site.path().join("pkg/concours.a11a11.js"), b"export {};").unwrap();
    std::fs::write(
        site.path().join("pkg/concours.b22b22.wasm"),
        b"\0asm\x01\0\0\0",
    )
    .unwrap();
    // As cargo-leptos writes it beside the binary.
    let hash_file = site.path().join("hash.txt");
    std::fs::write(&hash_file, "js: a11a11\nwasm: b22b22\ncss: c5-c_5\n").unwrap();
    let site_root = site.path().display().to_string();
    let hash_file = hash_file.display().to_string();
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_SITE_ROOT", &site_root), ("APP_HASH_FILE", &hash_file)],
    )
    .await;
    let page = app.get("/").await;
    assert!(
        page.headers()
            .get("cache-control")
            .is_none_or(|v| v != "public, max-age=31536000, immutable"),
        "a page is never kept"
    );
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("href=\"/pkg/concours.c5-c_5.css\"")
    );
    // A page with browser code loads the hashed script and Wasm.
    let wizard = app
        .get("/inscription/demo-redacteur-territorial/identite")
        .await
        .text()
        .await
        .unwrap();
    assert!(wizard.contains("concours.a11a11.js"), "the hashed script");
    assert!(wizard.contains("concours.b22b22.wasm"), "the hashed Wasm");
    for path in [
        "/pkg/concours.c5-c_5.css",
        "/pkg/concours.a11a11.js",
        "/pkg/concours.b22b22.wasm",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{path}"
        );
    }
    // A name that is not there is not cached.
    let missing = app.get("/pkg/concours.ffffff.js").await;
    assert_ne!(missing.status(), 200);
    assert!(
        missing
            .headers()
            .get("cache-control")
            .is_none_or(|v| v != "public, max-age=31536000, immutable")
    );

    // Without a hash file the names are plain and revalidated as before.
    let plain_site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(plain_site.path().join("pkg")).unwrap();
    std::fs::write(plain_site.path().join("pkg/concours.css"), b"body{}").unwrap();
    let plain_root = plain_site.path().display().to_string();
    let plain = spawn_app_with(
        services::testing::sqlite().await,
        &[
            ("APP_SITE_ROOT", &plain_root),
            ("APP_HASH_FILE", "/nonexistent/hash.txt"),
        ],
    )
    .await;
    assert!(
        plain
            .get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains("href=\"/pkg/concours.css\"")
    );
    let css = plain.get("/pkg/concours.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn the_page_scripts_carry_the_nonce_of_the_header() {
    for app in spawn_apps().await {
        let response = app.get("/").await;
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a nonce in the CSP")
            .to_string();
        assert!(nonce.len() >= 20, "nonce too short: {nonce}");
        let html = response.text().await.unwrap();
        let scripts = html.matches("<script").count();
        assert!(scripts > 0);
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{}: every inline script has the nonce",
            app.label
        );
        // A fresh nonce on each response.
        let again = app.get("/").await;
        assert!(
            !again.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains(&nonce)
        );
    }
}

#[tokio::test]
async fn an_unknown_page_is_a_french_404() {
    for app in spawn_apps().await {
        let response = app.get("/nulle-part").await;
        assert_eq!(response.status(), 404, "{}", app.label);
        assert!(response.text().await.unwrap().contains("Page introuvable"));
    }
}

#[tokio::test]
async fn operators_read_metrics_on_their_own_address_only() {
    for db in services::testing::all().await {
        let app = spawn_app_with(db, &[("APP_METRICS_ADDRESS", "127.0.0.1:0")]).await;
        let cookie = login(&app).await;
        let response = upload(&app, &cookie, "piece-identite", "cni.pdf", pdf(), true).await;
        assert_eq!(response.status(), 201, "{}", app.label);
        app.get("/nowhere").await;
        // Not on the public address, whatever the path looks like.
        assert_eq!(app.get("/metrics").await.status(), 404, "{}", app.label);

        let metrics = app.metrics_address.clone().expect("a metrics address");
        let response = app
            .client
            .get(format!("{metrics}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", app.label);
        let text = response.text().await.unwrap();
        for line in [
            r#"concours_http_responses_total{route="/espace/pieces/{piece}/fichiers",status="201"} 1"#,
            r#"concours_http_responses_total{route="/api/espace/connexion",status="302"} 1"#,
            r#"concours_http_responses_total{route="other",status="404"} 2"#,
            "concours_uploads_waiting 0",
            r#"concours_password_hashes_waiting{queue="login"} 0"#,
            "concours_storage_errors_total 0",
            "concours_database_up 1",
            r#"concours_dossiers{status="open"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{}: no « {line} » in\n{text}",
                app.label
            );
        }
        assert!(text.contains("concours_mails_waiting "), "{text}");
        // The test client's kept-alive connection to the public address at least.
        let open = text
            .lines()
            .find_map(|l| l.strip_prefix("concours_connections_open "))
            .and_then(|n| n.parse::<u64>().ok());
        assert!(open.is_some_and(|n| n >= 1), "{text}");
        // Only /metrics there.
        let other = app.client.get(format!("{metrics}/")).send().await.unwrap();
        assert_eq!(other.status(), 404);
    }
}

#[tokio::test]
async fn a_flood_is_answered_at_the_door_before_any_database_work() {
    for app in spawn_apps().await {
        // Without its tables, any request that reached the database would fail with
        // 500: what answers 429 here answered before it.
        for table in ["attempts", "dossiers", "sessions"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE {table} RENAME TO {table}_cassee"
            )))
            .execute(app.db.pool())
            .await
            .unwrap();
        }
        let posts = (0..250).map(|_| {
            app.client
                .post(format!("{}/api/espace/connexion", app.address))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .header("origin", &app.address)
                .body("numero=99-DEM0-0001&mot_de_passe=x")
                .send()
        });
        let answers = futures_util::future::join_all(posts).await;
        // Past 128 connections from one client, a connection is closed before a byte
        // is read: turned away at the door too.
        let closed = answers.iter().filter(|r| r.is_err()).count();
        let flooded: Vec<_> = answers
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|r| r.status() == 429)
            .collect();
        // 100 at once pass the gate (its burst); the rest, sent within the same
        // instant, are turned away.
        assert!(
            flooded.len() + closed >= 100,
            "{}: {} + {closed}",
            app.label,
            flooded.len()
        );
        assert!(!flooded.is_empty(), "{}", app.label);
        for r in flooded {
            // Told apart from a limit's 429 by its code.
            assert_eq!(r.headers()["x-refus"], "afflux", "{}", app.label);
            assert_eq!(r.headers()["retry-after"], "1", "{}", app.label);
        }
    }
}

#[tokio::test]
async fn a_client_reading_past_its_rate_waits_its_turn_and_no_one_else_does() {
    use std::time::{Duration, Instant};
    // Behind a proxy, so the reading client and the candidate are two clients.
    // A site root holding the page's script, as the built site does.
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("analyses.js"), "// script").unwrap();
    let site_root = site.path().display().to_string();
    let extra = [
        ("APP_TRUSTED_PROXIES", "127.0.0.1"),
        ("APP_SITE_ROOT", &site_root),
    ];
    for app in spawn_apps_with(&extra).await {
        // A cheap read (a tus offset without a session: refused before any work), so
        // what is measured is the gate, not the machine.
        let read = |from: &'static str, path: &str| {
            let request = app
                .client
                .head(format!("{}{path}", app.address))
                .header("x-forwarded-for", from);
            async move {
                let r = request.send().await.unwrap();
                (r.status(), Instant::now())
            }
        };
        let offset = "/espace/pieces/piece-identite/tus/aucun";
        let started = Instant::now();
        // 200 reads at once: its burst (100) now, then one every 1/30 s.
        let reads = tokio::spawn(futures_util::future::join_all(
            (0..200).map(|_| read("203.0.113.66", offset)),
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Meanwhile the candidate's read, and the reading client's own script (never
        // counted), come at once: behind the queue they would wait 3 s.
        for (from, path) in [("203.0.113.7", offset), ("203.0.113.66", "/analyses.js")] {
            let asked = Instant::now();
            let (status, at) = read(from, path).await;
            assert_ne!(status, 429, "{}: {path}", app.label);
            if path == "/analyses.js" {
                assert_eq!(status, 200, "{}: the site's own script", app.label);
            }
            let took = at - asked;
            assert!(
                took < Duration::from_secs(1),
                "{}: {path} {took:?}",
                app.label
            );
        }
        let answers = reads.await.unwrap();
        // Made to wait, never refused: its debt stays under 30 s.
        assert!(answers.iter().all(|(s, _)| *s != 429), "{}", app.label);
        let mut times: Vec<Duration> = answers.iter().map(|(_, at)| *at - started).collect();
        times.sort();
        // No more than its rate lets through, however fast the server answers...
        let early = times
            .iter()
            .filter(|t| **t < Duration::from_millis(1500))
            .count();
        assert!(early <= 100 + 45 + 5, "{}: {early} in 1.5 s", app.label);
        // ...and the last of them let through a hundred turns (3.3 s) later.
        let last = times[times.len() - 1];
        assert!(last >= Duration::from_secs(3), "{}: {last:?}", app.label);
    }
}

#[tokio::test]
async fn made_up_asset_names_are_paced_as_pages() {
    use std::time::{Duration, Instant};
    // A missing script is answered by the 404 page: read in a loop, it must cost no
    // more than the client's rate of pages, while the site's real script stays free.
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_TRUSTED_PROXIES", "127.0.0.1")],
    )
    .await;
    let started = Instant::now();
    let reads = (0..200).map(|i| {
        let request = app
            .client
            .get(format!("{}/absent-{i}.js", app.address))
            .header("x-forwarded-for", "203.0.113.66");
        async move {
            let r = request.send().await.unwrap();
            (r.status(), Instant::now())
        }
    });
    let answers = futures_util::future::join_all(reads).await;
    assert!(answers.iter().all(|(s, _)| *s == 404));
    let early = answers
        .iter()
        .filter(|(_, at)| *at - started < Duration::from_millis(1500))
        .count();
    assert!(early <= 100 + 45 + 5, "{early} in 1.5 s");
    // A POST to an asset's name is a post like any other (the flood gate's 429).
    let posts = (0..150).map(|_| {
        app.client
            .post(format!("{}/absent.js", app.address))
            .header("x-forwarded-for", "203.0.113.67")
            .header("origin", &app.address)
            .send()
    });
    let statuses: Vec<_> = futures_util::future::join_all(posts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    assert!(statuses.iter().any(|s| *s == 429), "{statuses:?}");
}
