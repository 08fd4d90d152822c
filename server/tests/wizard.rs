//! The préinscription over HTTP: what one client may create.

mod common;

use common::spawn_apps;

/// The draft cookie a response sets.
fn draft_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("brouillon="))
        .map(|c| c.split(';').next().unwrap().to_string())
}

/// Posts one wizard step; returns the response.
async fn step(
    app: &common::TestApp,
    cookie: &str,
    step: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut pairs = vec![
        (
            "exam".to_string(),
            services::platform::demo::DEMO_EXAM.to_string(),
        ),
        ("step".to_string(), step.to_string()),
        ("direction".to_string(), "next".to_string()),
    ];
    pairs.extend(
        fields
            .iter()
            .map(|(k, v)| (format!("fields[{k}]"), v.to_string())),
    );
    app.post_form_as(cookie, "/api/inscription/etape", &common::form(&pairs))
        .await
}

/// Goes through the whole wizard as `who`; returns the answer to « créer mon dossier »
/// (or to the first step, when that was refused).
async fn register(app: &common::TestApp, who: &str) -> reqwest::Response {
    let email = format!("{}@exemple.fr", who.to_lowercase());
    let first = step(
        app,
        "",
        "identite",
        &[
            ("civilite", "madame"),
            ("nom_naissance", who),
            ("prenoms", "Zoé"),
            ("date_naissance", "14/07/1990"),
            ("lieu_naissance", "Laval"),
            ("pays_naissance", "France"),
            ("nationalite", "francaise"),
        ],
    )
    .await;
    let Some(cookie) = draft_cookie(&first) else {
        return first;
    };
    let steps: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "coordonnees",
            vec![
                ("email", &email),
                ("email_confirmation", &email),
                ("telephone", "0612345678"),
                ("adresse", "1 rue"),
                ("code_postal", "53000"),
                ("commune", "Laval"),
                ("pays", "France"),
            ],
        ),
        ("voie", vec![("voie", "externe")]),
        (
            "situation",
            vec![("diplome", "Licence"), ("diplome_annee", "2012")],
        ),
        ("amenagement", vec![("amenagement", "non")]),
        (
            "mot-de-passe",
            vec![
                ("mot_de_passe", "cheval correct agrafe"),
                ("mot_de_passe_confirmation", "cheval correct agrafe"),
            ],
        ),
    ];
    for (name, fields) in steps {
        let r = step(app, &cookie, name, &fields).await;
        assert_eq!(r.status(), 302, "{name}");
    }
    let body = format!(
        "exam={}&attestation=oui",
        services::platform::demo::DEMO_EXAM
    );
    app.post_form_as(&cookie, "/api/inscription/creer", &body)
        .await
}

#[tokio::test]
async fn candidates_sharing_one_address_all_register_and_a_refusal_is_a_page() {
    for app in spawn_apps().await {
        // More than the five a shared address used to allow in an hour (the sixth got a
        // bare `ServerError|` text); the service test takes forty and the ceiling.
        for n in 0..12u8 {
            let who = format!("Candidate{}", (b'a' + n) as char);
            let created = register(&app, &who).await;
            assert_eq!(
                created.headers()["location"],
                "/espace?nouveau=1",
                "{}: dossier {n}",
                app.label
            );
        }

        // The drafts' ceiling: twelve are open; the rest of the hour's are counted
        // here (as many posts over HTTP would meet the flood gate first), then the one
        // past it is refused, and the refusal is the step's own page saying why and
        // for how long.
        let now = common::NOW
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond();
        let limit = services::access::throttle::new_draft_limit("127.0.0.1");
        for _ in 12..services::access::throttle::MAX_DRAFTS_PER_CLIENT {
            let counted =
                services::access::throttle::attempt(&app.db, std::slice::from_ref(&limit), now)
                    .await
                    .unwrap();
            assert!(counted.is_ok(), "{}", app.label);
        }
        let page = format!(
            "{}/inscription/{}/identite",
            app.address,
            services::platform::demo::DEMO_EXAM
        );
        let r = app
            .client
            .post(format!("{}/api/inscription/etape", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("origin", &app.address)
            .header("referer", &page)
            .body(format!(
                "exam={}&step=identite&direction=next",
                services::platform::demo::DEMO_EXAM
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", app.label);
        assert!(draft_cookie(&r).is_none());
        let location = r.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.starts_with(&format!(
                "/inscription/{}/identite?refus=limite-preinscriptions&attente=",
                services::platform::demo::DEMO_EXAM
            )),
            "{}: {location}",
            app.label
        );
        // The real wait: the first draft of the hour leaves the window within the hour.
        let wait: u64 = location.rsplit('=').next().unwrap().parse().unwrap();
        assert!((1..=3600).contains(&wait), "{}: {wait}", app.label);
        let html = app.get(&location).await.text().await.unwrap();
        assert!(
            html.contains("data-refus=\"limite-preinscriptions\"")
                && html.contains("Vous pourrez réessayer dans")
                && html.contains("site-header"),
            "{}: {html}",
            app.label
        );
    }
}

#[tokio::test]
async fn server_function_bodies_are_limited_to_64_kib() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for app in spawn_apps().await {
        let big = format!("numero=x&mot_de_passe={}", "a".repeat(70 * 1024));
        let r = app.post_form("/api/espace/connexion", &big).await;
        // 413, which a form post gets as its page saying so.
        assert_eq!(r.status(), 303, "{}", app.label);
        assert_eq!(r.headers()["x-refus"], "formulaire", "{}", app.label);
        let r = app
            .client
            .post(format!("{}/api/espace/connexion", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &app.address)
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{}", app.label);

        // Without a length (chunked), the body is cut when it passes the limit.
        let address = app.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let head = format!(
            "POST /api/inscription/etape HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("{:x}\r\n{}\r\n", 8192, "a".repeat(8192));
        for _ in 0..12 {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
        let mut answer = vec![0u8; 64];
        let n = stream.read(&mut answer).await.unwrap();
        let status = String::from_utf8_lossy(&answer[..n]).to_string();
        assert!(
            status.starts_with("HTTP/1.1 413"),
            "{}: {status}",
            app.label
        );
    }
}
