//! The service concours over HTTP: who may reach it, and what it hands out.

mod common;

use std::io::Read;

use common::{TestApp, deposit, login, pdf, spawn_apps, spawn_apps_and_stores, staff_login};
use services::{access::staff, platform::demo::DEMO_NUMBER};

const EXAM: &str = "demo-redacteur-territorial";

async fn get(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn only_staff_reach_staff_pages_files_and_functions() {
    for app in spawn_apps().await {
        let candidate = login(&app).await;
        let file = deposit(&app, &candidate, "diplome", "licence.pdf", pdf()).await;
        let member = staff_login(&app).await;
        // A candidate's token under the staff cookie's name is no staff session either.
        let token = candidate.split_once('=').unwrap().1;
        let disguised = format!("service={token}");
        let routes = [
            "/service".to_string(),
            format!("/service/concours/{EXAM}"),
            format!("/service/dossiers/{DEMO_NUMBER}"),
            format!("/service/fichiers/{file}"),
            format!("/service/fichiers/{file}?telecharger=1"),
            format!("/service/dossiers/{DEMO_NUMBER}/fichiers.zip"),
            format!("/service/concours/{EXAM}/dossiers.csv"),
            format!("/service/concours/{EXAM}/dossiers.xlsx"),
            format!("/service/concours/{EXAM}/dossiers.zip"),
            "/service/concours/nouveau".to_string(),
            format!("/service/concours/{EXAM}/modifier"),
        ];
        for route in &routes {
            for (who, cookie) in [
                ("anonymous", ""),
                ("candidate", candidate.as_str()),
                ("candidate token as staff", disguised.as_str()),
                ("forged", "service=forged"),
            ] {
                let r = get(&app, cookie, route).await;
                assert_eq!(r.status(), 303, "{} {who} {route}", app.label);
                assert_eq!(
                    r.headers()["location"],
                    "/service/connexion?info=session",
                    "{who} {route}"
                );
            }
            let r = get(&app, &member, route).await;
            assert_eq!(r.status(), 200, "{} staff {route}", app.label);
        }
        // Server functions: refused without a staff session, whatever else is held.
        let functions = [
            ("deconnexion", String::new()),
            (
                "decision",
                format!("numero={DEMO_NUMBER}&decision=rejete&texte=non"),
            ),
            ("rouvrir", format!("numero={DEMO_NUMBER}&jusqua=2030-01-01")),
            (
                "concours/enregistrer",
                format!("cible={EXAM}&action=enregistrer&fields[title]=Pirate"),
            ),
        ];
        for (function, body) in &functions {
            for cookie in ["", candidate.as_str(), disguised.as_str()] {
                let r = app
                    .post_form_as(cookie, &format!("/api/service/{function}"), body)
                    .await;
                // Refused by the gate (401), and, as a form, sent back to a page that
                // says so rather than shown a bare text.
                assert_eq!(r.status(), 303, "{} {function} by {cookie:?}", app.label);
                assert_eq!(
                    r.headers()["x-refus"],
                    "session",
                    "{} {function}",
                    app.label
                );
            }
        }
        // Nothing was decided by those refused calls.
        let page = app
            .page(&member, &format!("/service/dossiers/{DEMO_NUMBER}"))
            .await;
        assert!(
            page.contains(r#"data-state="ouvert""#) && !page.contains(r#"data-state="rejete""#),
            "{}",
            app.label
        );
        // The login page itself is open; a staff session is no candidate session.
        assert_eq!(get(&app, "", "/service/connexion").await.status(), 200);
        let espace = app
            .client
            .get(format!("{}/espace", app.address))
            .header("cookie", &member)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert!(espace.status().is_redirection(), "{}", app.label);
        assert!(
            espace.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/connexion")
        );
        // Staff pages are never in a candidate's page, nor their scripts.
        let page = app.page(&candidate, "/espace").await;
        if let Some(at) = page.find("/service") {
            panic!(
                "{}: {}",
                app.label,
                &page[at.saturating_sub(200)..(at + 100).min(page.len())]
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_address_get_one_message_then_a_wait() {
    for app in spawn_apps().await {
        for email in [staff::DEMO_EMAIL, "personne@exemple.fr"] {
            let r = app
                .post_form(
                    "/api/service/connexion",
                    &format!("email={email}&mot_de_passe=pas+le+bon"),
                )
                .await;
            // The same answer for both, the address typed kept for the next try.
            assert_eq!(
                r.headers()["location"],
                format!(
                    "/service/connexion?erreur=identifiants&email={}",
                    email.replace('@', "%40")
                )
                .as_str(),
                "{}",
                app.label
            );
        }
        for _ in 0..4 {
            app.post_form(
                "/api/service/connexion",
                &format!("email={}&mot_de_passe=non", staff::DEMO_EMAIL),
            )
            .await;
        }
        // Five failures: even the right password waits now.
        let body = format!(
            "email={}&mot_de_passe={}",
            staff::DEMO_EMAIL,
            staff::DEMO_PASSWORD.replace(' ', "+")
        );
        let r = app.post_form("/api/service/connexion", &body).await;
        let location = r.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with("/service/connexion?erreur=tentatives"),
            "{} {location}",
            app.label
        );
    }
}

#[tokio::test]
async fn the_csv_export_reads_back_in_a_spreadsheet_with_its_accents() {
    for app in spawn_apps().await {
        let candidate = login(&app).await;
        deposit(&app, &candidate, "diplome", "licence.pdf", pdf()).await;
        let member = staff_login(&app).await;
        let r = get(
            &app,
            &member,
            &format!("/service/concours/{EXAM}/dossiers.csv"),
        )
        .await;
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment;")
        );
        let bytes = r.bytes().await.unwrap();
        assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte order mark");
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        let rows: Vec<Vec<&str>> = text
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(|l| l.split(';').collect())
            .collect();
        // Every column by default: the answers and the instruction.
        assert_eq!(rows[0][0], "N° de dossier");
        assert_eq!(rows[0].len(), services::dossiers::export::Column::ALL.len());
        let column = |label: &str| rows[0].iter().position(|c| *c == label).expect(label);
        let demo = rows
            .iter()
            .find(|r| r[0] == DEMO_NUMBER)
            .expect("the demo dossier");
        assert_eq!(demo[column("Nom de naissance")], "Démo");
        assert_eq!(demo[column("Prénom(s)")], "Camille");
        assert_eq!(
            demo[column("Adresse électronique")],
            "camille.demo@exemple.fr"
        );
        assert_eq!(demo[column("État")], "en construction");
        assert_eq!(demo[column("Fichiers")], "1");
        assert_eq!(demo[column("Date de naissance")], "1995-03-01");
        // The columns asked, in the order asked: a list, or the export page's ranks.
        let header = |query: &str| {
            let url = format!("/service/concours/{EXAM}/dossiers.csv?{query}");
            let (app, member) = (&app, &member);
            async move {
                let text = get(app, member, &url).await.text().await.unwrap();
                text.trim_start_matches('\u{feff}')
                    .lines()
                    .next()
                    .unwrap()
                    .to_string()
            }
        };
        assert_eq!(
            header("colonnes=email,numero").await,
            "Adresse électronique;N° de dossier"
        );
        assert_eq!(
            header("c=prenoms&rang-prenoms=2&c=numero&rang-numero=1&c=voie").await,
            "N° de dossier;Prénom(s);Voie"
        );
        // Filtered like the page: no closed dossier yet.
        let closed = get(
            &app,
            &member,
            &format!("/service/concours/{EXAM}/dossiers.csv?etat=cloture"),
        )
        .await;
        assert_eq!(
            closed.text().await.unwrap().lines().count(),
            1,
            "{}",
            app.label
        );
        // An unknown exam is not an empty file.
        assert_eq!(
            get(&app, &member, "/service/concours/inconnu/dossiers.csv")
                .await
                .status(),
            404
        );
    }
}

#[tokio::test]
async fn exports_larger_than_a_chunk_hold_every_dossier_once_in_the_list_s_order() {
    // Exports read 500 dossiers at a time: 1,201 copies of the demo dossier cross the
    // chunks' edges (CSV sent as written, XLSX written a row at a time to disk).
    for app in spawn_apps().await {
        let demo: String = sqlx::query_scalar("SELECT id FROM dossiers WHERE number = $1")
            .bind(DEMO_NUMBER)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        let mut numbers = vec![DEMO_NUMBER.to_string()];
        for i in 0..1200u32 {
            let mut random = [0x33u8; 5];
            random[1..].copy_from_slice(&i.to_be_bytes());
            let number = domain::DossierNumber::generate(2026, random);
            sqlx::query(
                "INSERT INTO dossiers (id, number, exam_slug, status, identity_key, email, email_key, answers,
                                       password_hash, created_at, usage_key, phone_key, voie, accommodation)
                 SELECT $1, $2, exam_slug, status, identity_key || $3, email, email_key, answers,
                        password_hash, created_at, usage_key, phone_key, voie, accommodation
                 FROM dossiers WHERE id = $4",
            )
            .bind(format!("copie-{i}"))
            .bind(number.as_str())
            .bind(format!("|{i}"))
            .bind(&demo)
            .execute(app.db.pool())
            .await
            .unwrap();
            numbers.push(number.as_str().to_string());
        }
        numbers.sort();
        let member = staff_login(&app).await;
        let csv = get(
            &app,
            &member,
            &format!("/service/concours/{EXAM}/dossiers.csv?colonnes=numero,nom_naissance"),
        )
        .await
        .text()
        .await
        .unwrap();
        let rows: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(rows[0], "N° de dossier;Nom de naissance", "{}", app.label);
        let csv_numbers: Vec<&str> = rows[1..]
            .iter()
            .map(|r| r.split(';').next().unwrap())
            .collect();
        assert_eq!(csv_numbers, numbers, "{}", app.label);
        assert!(rows[1..].iter().all(|r| r.ends_with(";Démo")));

        let xlsx = get(
            &app,
            &member,
            &format!("/service/concours/{EXAM}/dossiers.xlsx?tri=numero"),
        )
        .await;
        assert_eq!(xlsx.status(), 200, "{}", app.label);
        use calamine::{Data, Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(xlsx.bytes().await.unwrap())).unwrap();
        let sheet = book.worksheet_range("Dossiers").unwrap();
        assert_eq!(sheet.height(), 1 + numbers.len(), "{}", app.label);
        assert_eq!(sheet.width(), services::dossiers::export::Column::ALL.len());
        let xlsx_numbers: Vec<String> = (1..sheet.height())
            .map(|row| match sheet.get((row, 0)) {
                Some(Data::String(n)) => n.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(xlsx_numbers, numbers, "{}", app.label);
        // Typed cells past the first chunk too: a birth date is a date.
        assert!(
            matches!(sheet.get((1000, 5)), Some(Data::DateTime(_))),
            "{:?}",
            sheet.get((1000, 5))
        );

        // The exam's ZIP, every dossier closed with one file: its folders and its
        // summary's rows cross the chunks' edges too, each dossier once, by number.
        let pdf = b"%PDF-1.4\n%%EOF\n";
        sqlx::query("UPDATE dossiers SET status = 'closed', closed_at = created_at")
            .execute(app.db.pool())
            .await
            .unwrap();
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM dossiers")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
        for id in &ids {
            let mut pending = app.storage.create().await.unwrap();
            pending.write(bytes::Bytes::from_static(pdf)).await.unwrap();
            let key = pending.commit().await.unwrap();
            sqlx::query(
                "INSERT INTO attachments (id, dossier_id, piece_code, storage_key, original_name, kind, size, sha256, created_at, script, scan)
                 VALUES ($1, $1, 'diplome', $2, 'licence.pdf', 'pdf', $3, 'sha', 0, 0, 'clean')",
            )
            .bind(id)
            .bind(&key)
            .bind(pdf.len() as i64)
            .execute(app.db.pool())
            .await
            .unwrap();
        }
        let zip = get(
            &app,
            &member,
            &format!("/service/concours/{EXAM}/dossiers.zip"),
        )
        .await
        .bytes()
        .await
        .unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).expect("a ZIP");
        let names: Vec<String> = (0..zip.len())
            .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        assert_eq!(names.len(), numbers.len() + 1, "{}", app.label);
        let folders: Vec<&str> = names[..numbers.len()]
            .iter()
            .map(|n| n.split(' ').next().unwrap())
            .collect();
        assert_eq!(folders, numbers, "{}", app.label);
        assert!(names[1200].ends_with("/Copie du diplôme - licence.pdf"));
        let mut file = Vec::new();
        zip.by_name(&names[1200])
            .unwrap()
            .read_to_end(&mut file)
            .unwrap();
        assert_eq!(file, pdf);
        let mut summary = Vec::new();
        zip.by_name("synthese.xlsx")
            .unwrap()
            .read_to_end(&mut summary)
            .unwrap();
        let mut book = Xlsx::new(std::io::Cursor::new(summary)).unwrap();
        let dossiers = book.worksheet_range("Dossiers").unwrap();
        let files = book.worksheet_range("Fichiers").unwrap();
        for sheet in [&dossiers, &files] {
            let listed: Vec<String> = (1..sheet.height())
                .map(|row| match sheet.get((row, 0)) {
                    Some(Data::String(n)) => n.clone(),
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(listed, numbers, "{}", app.label);
        }
        assert_eq!(
            files.get((1200, 2)),
            Some(&Data::String(names[1199].clone())),
            "{}",
            app.label
        );
    }
}

#[tokio::test]
async fn a_dossier_downloads_as_a_zip_named_by_piece_and_every_download_is_logged() {
    for app in spawn_apps_and_stores().await {
        let candidate = login(&app).await;
        let jpeg = services::testing::jpeg(20);
        let recto = deposit(&app, &candidate, "piece-identite", "recto.pdf", pdf()).await;
        deposit(&app, &candidate, "piece-identite", "recto.pdf", pdf()).await;
        let photo = deposit(&app, &candidate, "diplome", "Diplôme.jpg", jpeg.clone()).await;
        let member = staff_login(&app).await;

        let r = get(
            &app,
            &member,
            &format!("/service/dossiers/{DEMO_NUMBER}/fichiers.zip"),
        )
        .await;
        assert_eq!(r.status(), 200, "{}", app.label);
        assert_eq!(r.headers()["content-type"], "application/zip");
        let bytes = r.bytes().await.unwrap().to_vec();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a complete ZIP");
        let mut entries = Vec::new();
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            entries.push((entry.name().unwrap().to_string(), data));
        }
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Pièce d'identité en cours de validité - recto.pdf",
                "Pièce d'identité en cours de validité - (2) recto.pdf",
                "Copie du diplôme - Diplôme.jpg",
            ],
            "{}",
            app.label
        );
        assert_eq!(entries[0].1, pdf());
        assert!(entries[2].1.starts_with(b"\xFF\xD8\xFF"), "a JPEG");

        // The exam's closed dossiers: one folder each; this one is open, so none yet.
        let exam_zip = || async {
            let r = get(
                &app,
                &member,
                &format!("/service/concours/{EXAM}/dossiers.zip"),
            )
            .await;
            let bytes = r.bytes().await.unwrap().to_vec();
            let mut zip =
                zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a complete ZIP");
            let names = (0..zip.len())
                .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
                .collect::<Vec<_>>();
            // Every entry carries its real date (a file's: when it was deposited), not
            // the ZIP format's 1980 of an entry without one.
            for i in 0..zip.len() {
                let entry = zip.by_index(i).unwrap();
                let year = entry.last_modified().map_or(0, |d| d.year());
                assert!(year >= 2025, "{}: {year}", entry.name().unwrap());
            }
            let mut summary = Vec::new();
            zip.by_name("synthese.xlsx")
                .expect("a summary sheet")
                .read_to_end(&mut summary)
                .unwrap();
            (names, summary)
        };
        assert_eq!(exam_zip().await.0, ["synthese.xlsx"], "{}", app.label);
        let closed = app
            .post_form_as(&candidate, "/api/espace/cloturer", "")
            .await;
        assert_eq!(
            closed.headers()["location"],
            "/espace?cloture=ok",
            "{}",
            app.label
        );
        let folder = format!("{DEMO_NUMBER} Camille DÉMO");
        let (names, summary) = exam_zip().await;
        assert_eq!(
            names,
            // The summary last: written as the files went in, complete once they have.
            [
                format!("{folder}/Pièce d'identité en cours de validité - recto.pdf"),
                format!("{folder}/Pièce d'identité en cours de validité - (2) recto.pdf"),
                format!("{folder}/Copie du diplôme - Diplôme.jpg"),
                "synthese.xlsx".to_string(),
            ],
            "{}",
            app.label
        );
        // The summary: the closed dossier, and each file with its place in the ZIP and
        // its SHA-256, as a spreadsheet reads them.
        use calamine::{Data, Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(summary)).unwrap();
        let dossiers = book.worksheet_range("Dossiers").unwrap();
        assert_eq!(dossiers.height(), 2);
        assert_eq!(
            dossiers.get((1, 0)),
            Some(&Data::String(DEMO_NUMBER.into()))
        );
        let files = book.worksheet_range("Fichiers").unwrap();
        assert_eq!(files.height(), 4);
        assert_eq!(
            files.get((3, 2)),
            Some(&Data::String(format!(
                "{folder}/Copie du diplôme - Diplôme.jpg"
            )))
        );
        // Of the bytes stored, as the dossier's ZIP above gave them.
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&entries[2].1));
        assert_eq!(files.get((3, 4)), Some(&Data::String(sha)));
        assert!(matches!(files.get((3, 3)), Some(Data::Float(_))));

        let one = get(
            &app,
            &member,
            &format!("/service/fichiers/{photo}?telecharger=1"),
        )
        .await;
        assert!(
            one.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment;")
        );
        // A candidate's file never runs in the site's origin: a photo, shown or saved,
        // is a sandboxed document that loads nothing, and never sniffed as another type.
        // A PDF saved rather than shown, likewise.
        let shown = get(&app, &member, &format!("/service/fichiers/{photo}")).await;
        let saved = get(
            &app,
            &member,
            &format!("/service/fichiers/{recto}?telecharger=1"),
        )
        .await;
        for (answer, kind) in [
            (&one, "image/jpeg"),
            (&shown, "image/jpeg"),
            (&saved, "application/pdf"),
        ] {
            assert_eq!(
                answer.headers()["content-security-policy"],
                "default-src 'none'; sandbox; frame-ancestors 'self'"
            );
            assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
            assert_eq!(answer.headers()["content-type"], kind);
        }
        let page = app
            .page(&member, &format!("/service/dossiers/{DEMO_NUMBER}"))
            .await;
        assert!(
            page.contains("dossier téléchargé (ZIP) : 3 fichier(s)"),
            "{}",
            app.label
        );
        assert!(
            page.contains("fichier téléchargé : Diplôme.jpg"),
            "{}",
            app.label
        );
        assert!(page.contains("Service concours (démo)"), "{}", app.label);
        assert!(
            page.contains("dossier téléchargé (ZIP de l&#x27;examen)")
                || page.contains("dossier téléchargé (ZIP de l'examen)"),
            "{}",
            app.label
        );
    }
}

/// The exam form as a browser posts it.
fn exam_form(title: &str, deadline: &str) -> String {
    let pairs = [
        ("cible", ""),
        ("action", "enregistrer"),
        ("fields[slug]", "attache-2027"),
        ("fields[title]", title),
        ("fields[kind]", "concours"),
        ("fields[session]", "Session 2027"),
        ("fields[voie_externe]", "on"),
        ("fields[registration_deadline]", deadline),
        ("fields[instruction_cutoff]", "2027-05-31"),
        ("fields[published]", "on"),
        ("fields[piece_0_code]", "piece-identite"),
        ("fields[piece_0_label]", "Pièce d'identité"),
        ("fields[piece_0_requirement]", "mandatory"),
        ("fields[piece_0_pdf]", "on"),
        ("fields[piece_0_max_size_mib]", "10"),
        ("fields[piece_0_max_files]", "2"),
        ("fields[piece_1_code]", ""),
        ("fields[piece_1_label]", ""),
    ];
    common::form(&pairs)
}

#[tokio::test]
async fn staff_create_an_exam_with_the_rules_of_the_exam_files_and_see_its_closing_instant() {
    for app in spawn_apps().await {
        let member = staff_login(&app).await;
        let post = |body: String| {
            let member = member.clone();
            let app = &app;
            async move {
                app.post_form_as(&member, "/api/service/concours/enregistrer", &body)
                    .await
            }
        };
        // The instruction cut-off before the deadline is refused, and what was typed stays.
        let refused = post(exam_form("Concours d'attaché", "2027-06-30")).await;
        assert_eq!(
            refused.headers()["location"],
            "/service/concours/nouveau#message",
            "{}",
            app.label
        );
        let page = app.page(&member, "/service/concours/nouveau").await;
        assert!(
            page.contains("la date de fin d&#x27;instruction doit suivre")
                || page.contains("la date de fin d'instruction doit suivre"),
            "{}",
            app.label
        );
        assert!(page.contains("Concours d&#x27;attaché") || page.contains("Concours d'attaché"));
        // « Vérifier » shows the instant the deadline closes, in Paris time, without saving.
        let mut check = exam_form("Concours d'attaché", "2027-03-28");
        check = check.replace("action=enregistrer", "action=verifier");
        post(check).await;
        let page = app.page(&member, "/service/concours/nouveau").await;
        assert!(page.contains("dimanche 28 mars 2027"), "{}", app.label);
        // The last Sunday of March: midnight in Paris is 22:00 UTC (summer time).
        assert!(page.contains("2027-03-28T22:00:00Z"), "{}", app.label);
        assert!(!app.page("", "/").await.contains("Concours d&#x27;attaché"));

        let saved = post(exam_form("Concours d'attaché", "2027-03-28")).await;
        assert_eq!(
            saved.headers()["location"],
            "/service?enregistre=attache-2027"
        );
        let catalogue = app.page("", "/").await;
        assert!(catalogue.contains("attache-2027"), "{}", app.label);
        // Taken: a second exam cannot have its identifier.
        let again = post(exam_form("Autre", "2027-03-28")).await;
        assert_eq!(
            again.headers()["location"],
            "/service/concours/nouveau#message"
        );
        let page = app.page(&member, "/service/concours/nouveau").await;
        assert!(
            page.contains("Un examen porte déjà l&#x27;identifiant")
                || page.contains("Un examen porte déjà l'identifiant")
        );
    }
}

#[tokio::test]
async fn a_staff_download_that_cannot_be_logged_is_not_served() {
    for app in spawn_apps().await {
        let candidate = login(&app).await;
        let id = deposit(&app, &candidate, "diplome", "licence.pdf", pdf()).await;
        let member = staff_login(&app).await;
        // Logged, then served.
        let served = get(&app, &member, &format!("/service/fichiers/{id}")).await;
        assert_eq!(served.status(), 200, "{}", app.label);
        // The log cannot be written: nothing is served, not a byte of the file.
        sqlx::query("ALTER TABLE audit_log RENAME TO audit_log_cassee")
            .execute(app.db.pool())
            .await
            .unwrap();
        for path in [
            format!("/service/fichiers/{id}"),
            format!("/service/fichiers/{id}?telecharger=1"),
            format!("/service/dossiers/{DEMO_NUMBER}/fichiers.zip"),
        ] {
            let refused = get(&app, &member, &path).await;
            assert_eq!(refused.status(), 500, "{} {path}", app.label);
            let body = refused.bytes().await.unwrap();
            assert!(
                !body.starts_with(b"%PDF") && !body.starts_with(b"PK"),
                "{} {path}",
                app.label
            );
        }
    }
}

#[tokio::test]
async fn refused_preinscriptions_show_on_the_dossier_twenty_a_page() {
    for app in spawn_apps().await {
        let member = staff_login(&app).await;
        // 25 refused préinscriptions with the demo dossier's identity, as the wizard
        // records them, a second apart; the last from one address thrice.
        for n in 0..25i64 {
            sqlx::query(
                "INSERT INTO refused_duplicates (id, exam_slug, identity_key, name, email, phone, first_at, at, times)
                 SELECT $1, exam_slug, identity_key, 'Marie Usurpée', $2, '+33600000000', $3, $4, $5
                 FROM dossiers WHERE number = $6",
            )
            .bind(format!("refus-{n}"))
            .bind(format!("autre{n}@exemple.fr"))
            .bind(1_795_000_000_000 + n * 1000)
            .bind(1_795_000_000_000 + n * 1000 + if n == 24 { 60_000 } else { 0 })
            .bind(if n == 24 { 3 } else { 1 })
            .bind(DEMO_NUMBER)
            .execute(app.db.pool())
            .await
            .unwrap();
        }
        let first = app
            .page(&member, &format!("/service/dossiers/{DEMO_NUMBER}"))
            .await;
        assert_eq!(first.matches("Marie Usurpée").count(), 20, "{}", app.label);
        assert!(first.contains("autre24@exemple.fr · +33600000000 · 3 fois, du "));
        assert!(
            first.contains("Page 1 sur 2 (25 adresses)"),
            "{}",
            app.label
        );
        assert!(first.contains(&format!(
            "href=\"/service/dossiers/{DEMO_NUMBER}?doublons=2#doublons-titre\""
        )));
        assert!(!first.contains("autre4@exemple.fr"));
        let second = app
            .page(
                &member,
                &format!("/service/dossiers/{DEMO_NUMBER}?doublons=2"),
            )
            .await;
        assert_eq!(second.matches("Marie Usurpée").count(), 5, "{}", app.label);
        assert!(second.contains("autre0@exemple.fr · +33600000000 · le "));
        assert!(second.contains("rel=\"prev\""));
    }
}
