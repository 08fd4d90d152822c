//! Uploading, serving and deleting attachments over HTTP.

mod common;

use std::time::{Duration, Instant};

use common::{login, pdf, spawn_app, spawn_apps_and_stores, upload};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

#[tokio::test]
async fn upload_then_serve_to_the_owner_with_safe_headers() {
    for app in spawn_apps_and_stores().await {
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
        // Shown in the preview: the browser's own PDF viewer refuses to run sandboxed.
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
async fn a_file_of_several_megabytes_sent_at_once_is_kept_whole() {
    // Past the pause of the body's reader (`pacing::YIELD_EVERY`), many times over: the
    // multipart parser must hand on every byte, in order, whatever the chunks.
    let mut big = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    let mut x: u32 = 0x9E37_79B9;
    while big.len() < 3 * 1024 * 1024 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        // Any bytes but those that would open a stream or end the file.
        big.push(b'a' + (x % 26) as u8);
        if x.is_multiple_of(61) {
            big.extend_from_slice(b"\r\n--");
        }
    }
    big.extend_from_slice(b"\nstartxref\n0\n%%EOF\n");
    for app in spawn_apps_and_stores().await {
        let cookie = login(&app).await;
        let response = upload(&app, &cookie, "diplome", "diplome.pdf", big.clone(), true).await;
        assert_eq!(response.status(), 201, "{}", app.label);
        let saved: serde_json::Value = response.json().await.unwrap();
        let file = app
            .client
            .get(format!(
                "{}/espace/fichiers/{}",
                app.address,
                saved["id"].as_str().unwrap()
            ))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(file.bytes().await.unwrap().to_vec(), big, "{}", app.label);
    }
}

#[tokio::test]
async fn refusals_have_the_right_status_and_a_french_message() {
    for app in spawn_apps_and_stores().await {
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
            "« gros.pdf » fait plus de 10 Mo, le maximum. Photographiez le document avec « prendre une photo », ou réduisez-le."
        );

        // A dossier that already holds nearly all it may: the same status, its own words.
        let demo = services::dossiers::by_number(
            &app.db,
            &domain::DossierNumber::parse(services::platform::demo::DEMO_NUMBER).unwrap(),
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

        // Without JavaScript: back to the document page with the refusal's code (never
        // text: an address is not the site's voice), which the page words.
        let r = upload(&app, &cookie, "piece-identite", "vide.pdf", vec![], false).await;
        assert_eq!(r.status(), 303);
        let location = r.headers()["location"].to_str().unwrap();
        assert_eq!(location, "/espace/pieces/piece-identite?erreur=vide");
        let page = app.page(&cookie, location).await;
        assert!(page.contains("Le fichier est vide."), "{}", app.label);
        let forged = app
            .page(
                &cookie,
                "/espace/pieces/piece-identite?erreur=Appelez+le+08+99",
            )
            .await;
        assert!(!forged.contains("Appelez"), "{}", app.label);
    }
}

#[tokio::test]
async fn delete_is_for_the_owner_and_a_cross_site_upload_is_refused() {
    for app in spawn_apps_and_stores().await {
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

/// An upload that announces 100 000 bytes and sends the start of a PDF, then one byte
/// every 300 ms: what a hostile or stalled client does to hold a reading slot. From
/// 127.0.0.3, another client than the honest candidate's.
async fn trickle(app: &common::TestApp, cookie: &str) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    let mut stream = connect_from(app, [127, 0, 0, 3]).await;
    let head = "--x\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"lent.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n";
    let request = format!(
        "POST /espace/pieces/diplome/fichiers HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nOrigin: {}\r\nAccept: application/json\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n{head}",
        app.address
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// Sends one more byte on each trickling upload still open, for `duration`, and returns
/// the status lines of those the server answered meanwhile.
async fn keep_trickling(streams: &mut [TcpStream], duration: Duration) -> Vec<String> {
    let until = Instant::now() + duration;
    let mut answers = vec![String::new(); streams.len()];
    while Instant::now() < until {
        for (stream, answer) in streams.iter_mut().zip(answers.iter_mut()) {
            if answer.is_empty() {
                let _ = stream.write_all(b" ").await;
                let mut buffer = [0u8; 512];
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_millis(5), stream.read(&mut buffer)).await
                {
                    *answer = String::from_utf8_lossy(&buffer[..n])
                        .lines()
                        .next()
                        .unwrap_or("closed")
                        .to_string();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    answers
}

#[tokio::test]
async fn trickling_uploads_do_not_hold_up_another_candidates_upload() {
    let app = spawn_app(services::testing::sqlite().await).await;
    let honest = login(&app).await;
    let honest_upload = |name: &'static str| {
        let (app, honest) = (&app, honest.clone());
        async move {
            let response = tokio::time::timeout(
                Duration::from_secs(10),
                upload(app, &honest, "piece-identite", name, pdf(), true),
            )
            .await
            .expect("the honest upload was held up for 10 s");
            assert_eq!(response.status(), 201);
        }
    };

    // Twelve from one candidate: two are read, ten are turned away at once.
    let one = common::candidate_session(&app, "Lent").await;
    let mut streams = Vec::new();
    for _ in 0..12 {
        streams.push(trickle(&app, &one).await);
    }
    let answers = keep_trickling(&mut streams, Duration::from_millis(1500)).await;
    let turned_away = answers.iter().filter(|a| a.contains(" 429 ")).count();
    assert_eq!(turned_away, 10, "{answers:?}");
    // Stored while the two trickles still hold their slots (had it needed one of
    // theirs, it would have waited 10 s and heard 503).
    honest_upload("un.pdf").await;
    drop(streams);

    // Twelve from six candidates on one address, two each: eight are read (one client's
    // most), four are turned away at once, and the honest upload still goes through.
    let mut streams = Vec::new();
    for who in 0..6u8 {
        let cookie =
            common::candidate_session(&app, &format!("Lent{}", (b'a' + who) as char)).await;
        streams.push(trickle(&app, &cookie).await);
        streams.push(trickle(&app, &cookie).await);
    }
    let trickling = tokio::spawn(async move {
        let answers = keep_trickling(&mut streams, Duration::from_secs(6)).await;
        (streams, answers)
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    honest_upload("deux.pdf").await;
    // Answered while all twelve were still being read, not after them.
    assert!(!trickling.is_finished());
    let (_streams, answers) = trickling.await.unwrap();
    let turned_away = answers.iter().filter(|a| a.contains(" 429 ")).count();
    assert_eq!(turned_away, 4, "{answers:?}");
    assert_eq!(
        answers.iter().filter(|a| a.is_empty()).count(),
        8,
        "{answers:?}"
    );
}

#[tokio::test]
async fn names_take_their_kinds_extension_and_active_or_damaged_files_are_refused() {
    for app in spawn_apps_and_stores().await {
        // Two candidates: a diploma takes three files at most.
        let (names, photos) = (
            common::candidate_session(&app, "Noms").await,
            common::candidate_session(&app, "Photos").await,
        );
        let cookie = names.clone();
        let saved = |cookie: &str, name: &'static str, data: Vec<u8>| {
            let (app, cookie) = (&app, cookie.to_string());
            async move {
                let r = upload(app, &cookie, "diplome", name, data, true).await;
                let status = r.status().as_u16();
                (status, r.json::<serde_json::Value>().await.unwrap())
            }
        };
        // A right-to-left override (U+202E) made `diplome…fdp.hta` look like `diplomeath.pdf`.
        let (status, body) = saved(&names, "diplome\u{202E}fdp.hta", pdf()).await;
        assert_eq!(
            (status, body["name"].as_str()),
            (201, Some("diplomefdp.pdf")),
            "{}",
            app.label
        );
        let (_, body) = saved(&names, "scan.pdf.bat", pdf()).await;
        assert_eq!(body["name"], "scan.pdf");

        // JavaScript is kept but never shown inline; a launch action is refused.
        let script = b"%PDF-1.7\n<< /S /Java#53cript /JS (app.alert(1)) >>\n%%EOF\n".to_vec();
        let (status, body) = saved(&names, "formulaire.pdf", script).await;
        assert_eq!(status, 201, "{body}");
        let served = app
            .client
            .get(format!(
                "{}/espace/fichiers/{}",
                app.address,
                body["id"].as_str().unwrap()
            ))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let disposition = served.headers()["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        let launch = b"%PDF-1.7\n<< /S /#4Caunch /F (cmd.exe) >>\n%%EOF\n".to_vec();
        let (status, body) = saved(&photos, "facture.pdf", launch).await;
        assert_eq!(status, 422);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("Imprimer en PDF"),
            "{body}"
        );

        // A photo cut before its end is refused; what follows a whole one's end is dropped.
        let photo = services::testing::jpeg(1000);
        let (status, body) = saved(&photos, "coupee.jpg", photo[..photo.len() - 2].to_vec()).await;
        assert_eq!(status, 422, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("incomplet ou endommagé")
        );
        let (status, body) = saved(&photos, "four-bytes.jpg", vec![0xFF, 0xD8, 0xFF, 0xE0]).await;
        assert_eq!(status, 422, "{body}");
        let mut trailed = photo.clone();
        trailed.extend(b"\xFF\xD8second picture with its own GPS\xFF\xD9");
        let (status, body) = saved(&photos, "double.jpg", trailed).await;
        assert_eq!(
            (status, body["size"].as_u64()),
            (201, Some(photo.len() as u64))
        );
    }
}

#[tokio::test]
async fn a_store_that_does_not_answer_is_told_kindly_and_keeps_nothing() {
    // Any store's failure is the same error to the handler (an S3 outage: the service
    // tests); here a folder whose mount failed.
    for db in services::testing::all().await {
        let store = services::testing::local_store().await;
        let broken = services::testing::broken_store(&store).await;
        let app = common::spawn_app_on(db, Some(broken), &[]).await;
        let cookie = login(&app).await;
        assert_eq!(app.get("/healthz").await.status(), 503, "{}", app.label);

        // With JavaScript: 503, the French message, a time to come back.
        let response = upload(&app, &cookie, "piece-identite", "cni.pdf", pdf(), true).await;
        assert_eq!(response.status(), 503, "{}", app.label);
        assert!(response.headers().contains_key("retry-after"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("réessayez dans quelques instants"),
            "{body}"
        );
        // Without: back to the pièce with the code, whose page says the same.
        let response = upload(&app, &cookie, "piece-identite", "cni.pdf", pdf(), false).await;
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, "/espace/pieces/piece-identite?erreur=erreur");
        let page = app.page(&cookie, &location).await;
        assert!(page.contains("réessayez dans quelques instants"), "{page}");
        // Nothing half-saved: no row.
        let page = app.page(&cookie, "/espace/pieces/piece-identite").await;
        assert!(!page.contains("cni.pdf"), "{}", app.label);
    }
}

/// A connection to the test server from `from`, an address of the loopback network:
/// another client, as the limits count them.
async fn connect_from(app: &common::TestApp, from: [u8; 4]) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind((std::net::Ipv4Addr::from(from), 0).into())
        .unwrap();
    let address = app.address.trim_start_matches("http://").parse().unwrap();
    socket.connect(address).await.unwrap()
}

/// The head of a multipart upload of `size` bytes (the envelope included) to `piece`.
fn upload_head(app: &common::TestApp, cookie: &str, piece: &str, size: usize) -> String {
    let address = app.address.trim_start_matches("http://");
    format!(
        "POST /espace/pieces/{piece}/fichiers HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nOrigin: {}\r\nAccept: application/json\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {size}\r\n\r\n",
        app.address
    )
}

const PART_HEAD: &str = "--x\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"photo.pdf\"\r\nContent-Type: application/pdf\r\n\r\n";
const PART_END: &str = "\r\n--x--\r\n";

/// The status line of the answer on `stream`, if one came within `wait`.
async fn answer(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut buffer = [0u8; 512];
    match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
        Ok(Ok(n)) => Some(
            String::from_utf8_lossy(&buffer[..n])
                .lines()
                .next()
                .unwrap_or("closed")
                .to_string(),
        ),
        _ => None,
    }
}

#[tokio::test]
async fn a_patient_attack_from_many_dossiers_gives_its_slots_to_candidates() {
    // Eight reading slots, so that two dozen trickles are more than the server reads.
    let app = common::spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_UPLOAD_SLOTS", "8")],
    )
    .await;
    let honest = login(&app).await;

    // A phone at 50 Ko/s sends a 1 Mo scan from an address of its own (a PDF whose
    // comment lines make it that heavy): 20 s, through the whole attack.
    let phone = {
        let cookie = common::candidate_session(&app, "Telephone").await;
        let mut file = b"%PDF-1.7\n".to_vec();
        while file.len() < 1_000_000 {
            file.extend_from_slice(b"% une ligne de commentaire pour le poids du scan\n");
        }
        file.extend_from_slice(&pdf()[9..]);
        let body = [PART_HEAD.as_bytes(), &file, PART_END.as_bytes()].concat();
        let head = upload_head(&app, &cookie, "diplome", body.len());
        let mut stream = connect_from(&app, [127, 0, 0, 5]).await;
        tokio::spawn(async move {
            let started = Instant::now();
            stream.write_all(head.as_bytes()).await.unwrap();
            for chunk in body.chunks(5_000) {
                stream.write_all(chunk).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let status = answer(&mut stream, Duration::from_secs(30)).await;
            (status, started.elapsed())
        })
    };

    // Two dozen bodies announcing 5 Mo, two per dossier from twelve dossiers on three
    // addresses, each sending 400 bytes every 300 ms (1.3 Ko/s, above the floor of
    // 1 Ko/s): whichever the server answers is opened again at once, for 40 s, longer
    // than the floor's window of 30 s.
    let mut attackers = Vec::new();
    for n in 0..12u8 {
        let cookie =
            common::candidate_session(&app, &format!("Patient{}", (b'a' + n) as char)).await;
        for _ in 0..2 {
            attackers.push((cookie.clone(), [127, 0, 0, 2 + n % 3]));
        }
    }
    let size = 5_000_000;
    let open = |(cookie, from): &(String, [u8; 4])| {
        let (app, cookie, from) = (&app, cookie.clone(), *from);
        async move {
            let mut stream = connect_from(app, from).await;
            let head = upload_head(app, &cookie, "diplome", size);
            stream.write_all(head.as_bytes()).await.unwrap();
            stream.write_all(PART_HEAD.as_bytes()).await.unwrap();
            stream.write_all(b"%PDF-1.7\n").await.unwrap();
            stream
        }
    };
    let mut streams = Vec::new();
    for attacker in &attackers {
        streams.push(open(attacker).await);
    }
    let started = Instant::now();
    let mut answered = Vec::new();
    let mut stored_in = Vec::new();
    while started.elapsed() < Duration::from_secs(40) {
        for (stream, attacker) in streams.iter_mut().zip(&attackers) {
            let _ = stream.write_all(&[b' '; 400]).await;
            if let Some(status) = answer(stream, Duration::from_millis(1)).await {
                answered.push(status);
                *stream = open(attacker).await;
            }
        }
        // Past the floor's window, another candidate uploads every few seconds.
        if started.elapsed() > Duration::from_secs(32) && stored_in.len() < 3 {
            let asked = Instant::now();
            let response = upload(&app, &honest, "piece-identite", "carte.pdf", pdf(), true);
            let response = tokio::time::timeout(Duration::from_secs(10), response)
                .await
                .expect("the honest upload was held up for 10 s");
            assert_eq!(response.status(), 201);
            stored_in.push(asked.elapsed());
            let id = response.json::<serde_json::Value>().await.unwrap()["id"].clone();
            let deleted = app
                .client
                .post(format!(
                    "{}/espace/fichiers/{}/supprimer",
                    app.address,
                    id.as_str().unwrap()
                ))
                .header("cookie", &honest)
                .header("origin", &app.address)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            assert!(deleted.status().is_success(), "{}", deleted.status());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Each honest upload was stored within 2 s, taking a trickle's slot.
    assert_eq!(stored_in.len(), 3);
    assert!(
        stored_in.iter().all(|took| *took < Duration::from_secs(2)),
        "{stored_in:?}"
    );
    assert!(
        answered.iter().filter(|a| a.contains(" 503 ")).count() >= 3,
        "{answered:?}"
    );
    // The phone's scan was stored whole.
    let (status, took) = phone.await.unwrap();
    assert_eq!(
        status.as_deref(),
        Some("HTTP/1.1 201 Created"),
        "after {took:?}"
    );
    drop(streams);
}
