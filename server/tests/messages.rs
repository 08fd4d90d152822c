//! Messages and correction requests over HTTP: who may read and write what, and the
//! forms' answers.

mod common;

use common::{TestApp, candidate_session, login, pdf, spawn_apps, staff_login, upload};
use reqwest::multipart::{Form, Part};
use services::platform::demo::DEMO_NUMBER;

/// Posts the message form (text, and a file if given) as its page does.
async fn write(
    app: &TestApp,
    cookie: &str,
    path: &str,
    text: &str,
    file: Option<(&str, Vec<u8>)>,
) -> reqwest::Response {
    let mut form = Form::new().text("texte", text.to_string());
    form = match file {
        Some((name, bytes)) => form.part("fichier", Part::bytes(bytes).file_name(name.to_string())),
        // No file chosen: browsers still send the part, empty and unnamed.
        None => form.part("fichier", Part::bytes(Vec::new()).file_name("")),
    };
    app.client
        .post(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .header("origin", &app.address)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The id of the first message file a page links to under `prefix`.
fn file_link(page: &str, prefix: &str) -> String {
    let start = page.find(prefix).expect("a file link") + prefix.len();
    page[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect()
}

#[tokio::test]
async fn candidate_and_service_write_to_each_other_and_no_one_else_reads_it() {
    for app in spawn_apps().await {
        let candidate = login(&app).await;
        let member = staff_login(&app).await;
        let stranger = candidate_session(&app, "Curieux").await;

        let sent = write(
            &app,
            &candidate,
            "/espace/messages",
            "Mon diplôme arrive la semaine prochaine.",
            Some(("attestation.pdf", pdf())),
        )
        .await;
        assert_eq!(
            location(&sent),
            "/espace/messages?message=envoye#messages",
            "{}",
            app.label
        );
        let page = app
            .page(&candidate, "/espace/messages?message=envoye")
            .await;
        assert!(
            page.contains("Mon diplôme arrive la semaine prochaine."),
            "{page}"
        );
        assert!(page.contains("Message envoyé."));
        let file = file_link(&page, "/espace/fichiers/");
        assert_eq!(
            get(&app, &candidate, &format!("/espace/fichiers/{file}"))
                .await
                .status(),
            200
        );

        // Another candidate sees none of it, not even the file by its id.
        let theirs = app.page(&stranger, "/espace/messages").await;
        assert!(!theirs.contains("Mon diplôme arrive"), "{}", app.label);
        assert_eq!(
            get(&app, &stranger, &format!("/espace/fichiers/{file}"))
                .await
                .status(),
            404
        );

        // Staff: the list says a message waits; the dossier shows it; they answer.
        let list = app
            .page(&member, "/service/concours/demo-redacteur-territorial")
            .await;
        assert!(list.contains("message sans réponse"), "{}", app.label);
        let dossier = app
            .page(&member, &format!("/service/dossiers/{DEMO_NUMBER}"))
            .await;
        assert!(dossier.contains("Mon diplôme arrive la semaine prochaine."));
        let staff_file = file_link(&dossier, "/service/fichiers/");
        assert_eq!(staff_file, file);
        assert_eq!(
            get(&app, &member, &format!("/service/fichiers/{file}"))
                .await
                .status(),
            200
        );
        let answered = write(
            &app,
            &member,
            &format!("/service/dossiers/{DEMO_NUMBER}/messages"),
            "Bien reçu, merci.",
            None,
        )
        .await;
        assert_eq!(
            location(&answered),
            format!("/service/dossiers/{DEMO_NUMBER}?message=envoye#messages")
        );
        let list = app
            .page(&member, "/service/concours/demo-redacteur-territorial")
            .await;
        assert!(!list.contains("message sans réponse"), "{}", app.label);
        // The instruction's own refusals are not the message form's.
        let decided = app
            .page(
                &member,
                &format!("/service/dossiers/{DEMO_NUMBER}?erreur=date"),
            )
            .await;
        assert!(!decided.contains("Le message n"), "{}", app.label);
        let page = app.page(&candidate, "/espace/messages").await;
        assert!(page.contains("Bien reçu, merci.") && page.contains("Le service concours"));
        let home = app.page(&candidate, "/espace").await;
        assert!(
            home.contains("Messages avec le service concours (2)"),
            "{home}"
        );

        // Not staff: the service's form is closed to candidates and to no one at all.
        for cookie in [candidate.as_str(), stranger.as_str(), ""] {
            let forged = write(
                &app,
                cookie,
                &format!("/service/dossiers/{DEMO_NUMBER}/messages"),
                "Je suis le service.",
                None,
            )
            .await;
            assert_eq!(forged.status(), 401, "{}", app.label);
        }
        // Without a session, the candidate's form sends to the login page.
        let anonymous = write(&app, "", "/espace/messages", "Bonjour", None).await;
        assert_eq!(location(&anonymous), "/connexion?info=session");
        // From another site: refused before anything is read.
        let other_site = app
            .client
            .post(format!("{}/espace/messages", app.address))
            .header("cookie", &candidate)
            .header("origin", "https://evil.example")
            .multipart(Form::new().text("texte", "x"))
            .send()
            .await
            .unwrap();
        assert_eq!(other_site.status(), 403);
        let count = app.page(&candidate, "/espace").await;
        assert!(
            count.contains("Messages avec le service concours (2)"),
            "{}",
            app.label
        );
    }
}

#[tokio::test]
async fn a_refused_file_costs_the_message_nothing_and_the_page_says_why() {
    for app in spawn_apps().await {
        let candidate = login(&app).await;
        let empty = write(&app, &candidate, "/espace/messages", "   ", None).await;
        assert_eq!(location(&empty), "/espace/messages?message=vide#messages");
        let page = app.page(&candidate, "/espace/messages?message=vide").await;
        assert!(
            page.contains("Le message n&#x27;est pas envoyé. Écrivez votre message.")
                || page.contains("Le message n'est pas envoyé. Écrivez votre message."),
            "{page}"
        );

        let png = b"\x89PNG\r\n\x1a\n00000000000000000000".to_vec();
        let sent = write(
            &app,
            &candidate,
            "/espace/messages",
            "Voici une photo de mon diplôme.",
            Some(("diplome.png", png)),
        )
        .await;
        assert_eq!(
            location(&sent),
            "/espace/messages?message=envoye&fichier=format#messages",
            "{}",
            app.label
        );
        let page = app
            .page(&candidate, "/espace/messages?message=envoye&fichier=format")
            .await;
        assert!(
            page.contains("Voici une photo de mon diplôme."),
            "{}",
            app.label
        );
        assert!(
            page.contains("Message envoyé, mais sans son fichier."),
            "{page}"
        );
        assert!(!page.contains("/espace/fichiers/"));
    }
}

#[tokio::test]
async fn a_correction_request_reopens_its_pieces_to_the_candidate_until_its_day() {
    for app in spawn_apps().await {
        let candidate = login(&app).await;
        let stored = upload(&app, &candidate, "piece-identite", "cni.pdf", pdf(), true).await;
        assert_eq!(stored.status(), 201, "{}", app.label);
        let stored = upload(&app, &candidate, "diplome", "licence.pdf", pdf(), true).await;
        assert_eq!(stored.status(), 201, "{}", app.label);
        let closed = app
            .post_form_as(&candidate, "/api/espace/cloturer", "")
            .await;
        assert_eq!(closed.headers()["location"], "/espace?cloture=ok");
        let member = staff_login(&app).await;

        let ask = |cookie: String, body: &'static str| {
            app.client
                .post(format!(
                    "{}/service/dossiers/{DEMO_NUMBER}/correction",
                    app.address
                ))
                .header("cookie", cookie)
                .header("origin", &app.address)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
        };
        let none = ask(member.clone(), "motif=Illisible&jusqua=2026-12-01")
            .await
            .unwrap();
        assert_eq!(
            location(&none),
            format!("/service/dossiers/{DEMO_NUMBER}?correction=pieces#correction")
        );
        // Not staff: refused by the gate.
        let forged = ask(candidate.clone(), "piece=diplome&motif=x&jusqua=2026-12-01")
            .await
            .unwrap();
        assert_eq!(forged.status(), 401);
        let asked = ask(
            member.clone(),
            "piece=diplome&motif=Le+scan+est+illisible&jusqua=2026-12-01",
        )
        .await
        .unwrap();
        assert_eq!(
            location(&asked),
            format!("/service/dossiers/{DEMO_NUMBER}?correction=ok#correction"),
            "{}",
            app.label
        );

        // The candidate reads what to correct and until when; only that pièce opens.
        let home = app.page(&candidate, "/espace").await;
        assert!(
            home.contains("Corrections demandées par le service concours"),
            "{home}"
        );
        assert!(home.contains("Le scan est illisible"));
        assert!(home.contains("à corriger le ") && home.contains("avant minuit (heure de Paris)"));
        let window = app.page(&candidate, "/espace/pieces/diplome").await;
        assert!(window.contains("Le service concours vous demande de corriger cette pièce"));
        let replaced = upload(
            &app,
            &candidate,
            "diplome",
            "licence-couleur.pdf",
            pdf(),
            true,
        )
        .await;
        assert_eq!(replaced.status(), 201, "{}", app.label);
        let other = upload(&app, &candidate, "piece-identite", "cni2.pdf", pdf(), true).await;
        assert_eq!(other.status(), 423, "{}", app.label);

        let dossier = app
            .page(&member, &format!("/service/dossiers/{DEMO_NUMBER}"))
            .await;
        assert!(
            dossier.contains("correction demandée : Copie du diplôme"),
            "{}",
            app.label
        );
        assert!(dossier.contains("licence-couleur.pdf"));
        // Sent by the outbox's pass, after the answer: wait for it a little.
        let mut mail = None;
        for _ in 0..50 {
            mail = app
                .mails()
                .into_iter()
                .find(|m| m.contains("vous demande de corriger"));
            if mail.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let mail = mail.expect("the candidate's mail");
        assert!(
            !mail.contains("illisible") && mail.contains("/espace/messages"),
            "{mail}"
        );
    }
}
