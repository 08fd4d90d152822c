//! Every form of both sides ends on a page of the site: refused by our own error, by a
//! session that expired, or by a limit, a plain form post comes back to its page with
//! the reason in French, never a bare `ServerError|…` text.

mod common;

use common::{TestApp, spawn_apps};

/// A form as its page posts it.
struct Form {
    /// The page the form is on (the Referer), and where the refusal must lead back.
    page: String,
    action: String,
    body: Body,
    cookie: String,
}

enum Body {
    Url(String),
    /// A multipart form: (name, value) text fields and, if any, one file.
    Multipart(Vec<(&'static str, String)>, Option<(&'static str, Vec<u8>)>),
}

impl Form {
    fn url(page: &str, action: &str, body: &str, cookie: &str) -> Self {
        Self {
            page: page.into(),
            action: action.into(),
            body: Body::Url(body.into()),
            cookie: cookie.into(),
        }
    }

    async fn post(&self, app: &TestApp) -> reqwest::Response {
        let request = app
            .client
            .post(format!("{}{}", app.address, self.action))
            .header("accept", "text/html,application/xhtml+xml")
            .header("origin", &app.address)
            .header("referer", format!("{}{}", app.address, self.page))
            .header("cookie", &self.cookie);
        let request = match &self.body {
            Body::Url(body) => request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone()),
            Body::Multipart(fields, file) => {
                let mut form = reqwest::multipart::Form::new();
                for (name, value) in fields {
                    form = form.text(*name, value.clone());
                }
                if let Some((name, bytes)) = file {
                    form = form.part(
                        *name,
                        reqwest::multipart::Part::bytes(bytes.clone())
                            .file_name("piece.pdf")
                            .mime_str("application/pdf")
                            .unwrap(),
                    );
                }
                request.multipart(form)
            }
        };
        request.send().await.unwrap()
    }
}

/// Follows a form's answer to the page it leads to and checks that page: the site's
/// layout, UTF-8, the refusal in French; never the raw text of a server function.
async fn lands_on_a_page(app: &TestApp, form: &Form, expected: &[&str]) -> String {
    let answer = form.post(app).await;
    let status = answer.status();
    let location = answer
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let body = answer.text().await.unwrap();
    assert!(
        !body.contains("ServerError|") && !body.contains("Args|"),
        "{}: {} answered a raw text: {body}",
        app.label,
        form.action
    );
    let location = location.unwrap_or_else(|| {
        panic!(
            "{}: {} answered {status} without a page to go to: {body}",
            app.label, form.action
        )
    });
    assert!(status.is_redirection(), "{}: {}", app.label, form.action);
    // Follow the redirects (a staff page whose session is gone leads on to its login).
    let mut at = location;
    for _ in 0..3 {
        let page = app
            .client
            .get(format!("{}{at}", app.address))
            .header("cookie", &form.cookie)
            .send()
            .await
            .unwrap();
        if page.status().is_redirection() {
            at = page.headers()["location"].to_str().unwrap().to_string();
            continue;
        }
        let kind = page.headers()["content-type"].to_str().unwrap().to_string();
        let html = page.text().await.unwrap();
        assert_eq!(kind, "text/html; charset=utf-8", "{}: {at}", app.label);
        assert!(
            html.contains("class=\"site-header\"") && html.contains("<main"),
            "{}: {} led to {at}, not a page of the site: {html}",
            app.label,
            form.action
        );
        assert!(
            expected.iter().any(|e| html.contains(e)),
            "{}: {} led to {at}, which does not say {expected:?}: {html}",
            app.label,
            form.action
        );
        return at;
    }
    panic!("{}: {} redirects in a loop", app.label, form.action);
}

/// Breaks the database under the running server: every query of these tables fails,
/// as on a disk gone read-only or a database that went away mid-evening.
async fn break_database(app: &TestApp) {
    for table in [
        "attempts",
        "drafts",
        "password_resets",
        "dossiers",
        "exams",
        "sessions",
        "staff_sessions",
        "staff",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} RENAME TO {table}_cassee"
        )))
        .execute(app.db.pool())
        .await
        .unwrap();
    }
}

/// Every form of both sides, as their pages post them, with sessions opened while the
/// database still worked.
async fn every_form(app: &TestApp) -> Vec<Form> {
    let exam = services::platform::demo::DEMO_EXAM;
    let candidate = common::candidate_session(app, "Refus").await;
    let uploaded = common::upload(
        app,
        &candidate,
        "piece-identite",
        "id.pdf",
        common::pdf(),
        true,
    )
    .await;
    assert_eq!(uploaded.status(), 201, "{}", app.label);
    let file_id = uploaded.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let staff = common::staff_login(app).await;
    let number = "99-DEM0-0001";
    let wizard = format!("/inscription/{exam}/identite");
    let check = format!("/inscription/{exam}/verification");
    let staff_dossier = format!("/service/dossiers/{number}");
    vec![
        Form::url(
            &wizard,
            "/api/inscription/etape",
            &format!("exam={exam}&step=identite&direction=next&fields%5Bnom_naissance%5D=Dupont"),
            "brouillon=jeton-de-brouillon",
        ),
        Form::url(
            &check,
            "/api/inscription/creer",
            &format!("exam={exam}&attestation=oui"),
            "brouillon=jeton-de-brouillon",
        ),
        Form::url(
            "/connexion",
            "/api/espace/connexion",
            "numero=99-DEM0-0001&mot_de_passe=un+mot+de+passe",
            "",
        ),
        Form::url(
            "/mot-de-passe-oublie",
            "/api/espace/mot-de-passe-oublie",
            "numero=99-DEM0-0001&email=a%40exemple.fr",
            "",
        ),
        Form::url(
            "/numero-oublie",
            "/api/espace/numero-oublie",
            "email=a%40exemple.fr",
            "",
        ),
        Form::url(
            "/mot-de-passe/jeton",
            "/api/espace/nouveau-mot-de-passe",
            "token=jeton&mot_de_passe=cheval+correct+agrafe+bleu&confirmation=cheval+correct+agrafe+bleu",
            "",
        ),
        Form::url("/espace/cloture", "/api/espace/cloturer", "", &candidate),
        Form::url("/espace", "/api/espace/deconnexion", "", &candidate),
        Form {
            page: "/espace/pieces/piece-identite".into(),
            action: format!("/espace/fichiers/{file_id}/supprimer"),
            body: Body::Url(String::new()),
            cookie: candidate.clone(),
        },
        Form {
            page: "/espace/pieces/diplome".into(),
            action: "/espace/pieces/diplome/fichiers".into(),
            body: Body::Multipart(vec![], Some(("fichier", common::pdf()))),
            cookie: candidate.clone(),
        },
        Form {
            page: "/espace/messages".into(),
            action: "/espace/messages".into(),
            body: Body::Multipart(vec![("texte", "Bonjour".into())], None),
            cookie: candidate.clone(),
        },
        Form::url(
            "/service/connexion",
            "/api/service/connexion",
            "email=service.concours%40exemple.fr&mot_de_passe=x",
            "",
        ),
        Form::url(
            &format!("/service/concours/{exam}/modifier"),
            "/api/service/concours/enregistrer",
            &format!("cible={exam}&action=enregistrer"),
            &staff,
        ),
        Form::url(
            &staff_dossier,
            "/api/service/decision",
            &format!("numero={number}&decision=complet"),
            &staff,
        ),
        Form::url(
            &staff_dossier,
            "/api/service/rouvrir",
            &format!("numero={number}&jusqua=2026-12-20"),
            &staff,
        ),
        Form {
            page: staff_dossier.clone(),
            action: format!("/service/dossiers/{number}/correction"),
            body: Body::Url("pieces=diplome&texte=illisible&jusqua=2026-12-20".into()),
            cookie: staff.clone(),
        },
        Form {
            page: staff_dossier.clone(),
            action: format!("/service/dossiers/{number}/messages"),
            body: Body::Multipart(vec![("texte", "Bonjour".into())], None),
            cookie: staff.clone(),
        },
        Form::url("/service", "/api/service/deconnexion", "", &staff),
    ]
}

#[tokio::test]
async fn every_form_refused_by_our_own_error_ends_on_a_page_of_the_site() {
    for app in spawn_apps().await {
        let forms = every_form(&app).await;
        break_database(&app).await;
        for form in &forms {
            // Our error, said on the page (the candidate's or the service's), or the
            // login page when the session could not be read.
            lands_on_a_page(
                &app,
                form,
                &[
                    "data-refus=\"erreur\"",
                    "data-refus=\"occupe\"",
                    "data-refus=\"session\"",
                    // A page whose session could not be read leads to the login.
                    "Connectez-vous pour accéder",
                ],
            )
            .await;
        }
    }
}

#[tokio::test]
async fn every_form_whose_session_expired_ends_on_a_page_of_the_site() {
    for app in spawn_apps().await {
        let mut forms = every_form(&app).await;
        // Sessions that expired, or were never opened.
        for form in &mut forms {
            if form.cookie.starts_with("espace=") {
                form.cookie = "espace=perimee".into();
            } else if form.cookie.starts_with("service=") {
                form.cookie = "service=perimee".into();
            }
        }
        for form in forms
            .iter()
            .filter(|f| f.cookie.ends_with("=perimee") && !f.action.contains("deconnexion"))
        {
            let at = lands_on_a_page(
                &app,
                form,
                &["Connectez-vous pour accéder", "data-refus=\"session\""],
            )
            .await;
            assert!(
                at.contains("connexion"),
                "{}: {} → {at}",
                app.label,
                form.action
            );
        }
    }
}

#[tokio::test]
async fn a_limit_reached_is_said_on_the_page_with_the_real_wait() {
    for app in spawn_apps().await {
        let now = common::NOW
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond();
        // The recovery forms' hour is used up by this address.
        let limit = services::access::accounts::recovery_limit("127.0.0.1");
        for _ in 0..services::access::accounts::MAX_RECOVERY_REQUESTS_PER_CLIENT {
            let counted =
                services::access::throttle::attempt(&app.db, std::slice::from_ref(&limit), now)
                    .await
                    .unwrap();
            assert!(counted.is_ok());
        }
        let form = Form::url(
            "/numero-oublie?envoye=1",
            "/api/espace/numero-oublie",
            "email=a%40exemple.fr",
            "",
        );
        let answer = form.post(&app).await;
        assert_eq!(answer.status(), 303, "{}", app.label);
        // The limit's own 429, told apart from the flood gate's by its code.
        assert_eq!(answer.headers()["x-refus"], "limite-demandes");
        let at = lands_on_a_page(&app, &form, &["Vous pourrez réessayer dans 60 minutes."]).await;
        // Back to the page as it was, without the last outcome.
        assert_eq!(
            at, "/numero-oublie?refus=limite-demandes&attente=3600",
            "{}",
            app.label
        );
        let html = app.get(&at).await.text().await.unwrap();
        assert!(
            html.contains("Beaucoup de demandes ont été faites depuis votre connexion internet")
                && !html.contains("viennent d'y être envoyés"),
            "{}: {html}",
            app.label
        );
    }
}

#[tokio::test]
async fn a_wrong_password_keeps_the_number_typed() {
    for app in spawn_apps().await {
        let number = common::candidate_with_password(&app, "Garde", "cheval correct agrafe").await;
        let r = app
            .post_form(
                "/api/espace/connexion",
                &common::form(&[
                    ("numero", number.to_lowercase()),
                    ("mot_de_passe", "faux".into()),
                ]),
            )
            .await;
        let location = r.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(
            location,
            format!("/connexion?erreur=identifiants&numero={number}"),
            "{}",
            app.label
        );
        let html = app.get(&location).await.text().await.unwrap();
        assert!(
            html.contains(&format!("value=\"{number}\"")),
            "{}: {html}",
            app.label
        );
        // Only a number's shape goes back into the page.
        let html = app
            .get("/connexion?erreur=identifiants&numero=%22%3E%3Cscript%3E")
            .await
            .text()
            .await
            .unwrap();
        assert!(!html.contains("<script>\""), "{}", app.label);
        assert!(html.contains("Afficher le mot de passe"), "{}", app.label);
    }
}
