//! The Centre that runs the site: named from its file on every page, and a site whose
//! file is incomplete does not start.

mod common;

use std::{path::PathBuf, sync::Arc};

use common::{NOW, spawn_app_with};
use server::{Application, Settings};
use services::platform::clock::FixedClock;

fn example() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../centre.toml");
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn every_page_names_the_centre_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("centre.toml");
    let mayenne = example()
        .replace(
            "Centre de gestion de la fonction publique territoriale (exemple)",
            "Centre de gestion de la Mayenne",
        )
        .replace("concours@cdg-exemple.fr", "concours@cdg53.fr");
    std::fs::write(&file, mayenne).unwrap();
    let file = file.display().to_string();
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_CENTRE_FILE", &file)],
    )
    .await;
    // A candidate's pages, a 404: the name in the header, the contact in the footer.
    for path in ["/", "/connexion", "/une-adresse-inconnue"] {
        let page = app.get(path).await.text().await.unwrap();
        assert!(
            page.contains(r#"class="brand-org">Centre de gestion de la Mayenne<"#),
            "{path}: {page}"
        );
        assert!(
            page.contains(r#"href="mailto:concours@cdg53.fr""#),
            "{path}"
        );
        assert!(!page.contains("(exemple)"), "{path}");
    }
    // The legal pages, linked from every footer, name the Centre of the file.
    let home = app.get("/").await.text().await.unwrap();
    for (path, title) in [
        ("/accessibilite", "Déclaration d'accessibilité"),
        ("/mentions-legales", "Mentions légales"),
        ("/donnees-personnelles", "Données personnelles"),
    ] {
        assert!(
            home.contains(&format!(r#"href="{path}""#)),
            "{path} not linked"
        );
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains(&format!("<h1>{}</h1>", title.replace('\'', "&#x27;")))
                || page.contains(&format!("<h1>{title}</h1>")),
            "{path}: {page}"
        );
        assert!(page.contains("Centre de gestion de la Mayenne"), "{path}");
    }
    // The staff's pages carry the name too.
    let page = app.get("/service/connexion").await.text().await.unwrap();
    assert!(page.contains(r#"class="brand-org">Centre de gestion de la Mayenne<"#));

    // Every mail is signed by the Centre.
    let dossier = services::testing::dossier(
        &app.db,
        &services::platform::clock::FixedClock(NOW.parse().unwrap()),
        services::platform::demo::DEMO_EXAM,
        "externe",
        "Signature",
    )
    .await;
    let r = app
        .post_form(
            "/api/espace/numero-oublie",
            &common::form(&[("email", dossier.registration.email.as_str())]),
        )
        .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let mail = wait_for_mail(&app, &dossier.number.to_string()).await;
    assert!(
        mail.contains("-- \nCentre de gestion de la Mayenne\nService concours\n"),
        "{mail}"
    );
    assert!(mail.contains("concours@cdg53.fr"), "{mail}");
}

/// The mail naming `number`, once the outbox sent it (it runs every 2 s).
async fn wait_for_mail(app: &common::TestApp, number: &str) -> String {
    for _ in 0..100 {
        if let Some(mail) = app.mails().into_iter().find(|m| m.contains(number)) {
            return mail.replace("\r\n", "\n");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no mail within 10 s");
}

#[tokio::test]
async fn a_centre_file_with_an_empty_field_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("centre.toml");
    std::fs::write(
        &file,
        example().replace("telephone = \"01 23 45 67 89\"", "telephone = \"\""),
    )
    .unwrap();
    let db = services::testing::sqlite().await;
    let vars = [
        ("APP_ADDRESS", "127.0.0.1:0".to_string()),
        ("APP_DATA_DIR", dir.path().display().to_string()),
        ("DATABASE_URL", db.url.clone()),
        ("APP_CENTRE_FILE", file.display().to_string()),
    ];
    let settings = Settings::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let clock = Arc::new(FixedClock(NOW.parse().unwrap()));
    let error = Application::build(settings, clock)
        .await
        .err()
        .expect("an incomplete Centre stops the start")
        .to_string();
    assert!(error.contains("`telephone` is empty"), "{error}");
    assert!(error.contains("centre.toml"), "{error}");
}
