//! Resumable uploads (tus 1.0) over HTTP, on each database and store.

mod common;

use std::time::Duration;

use common::{TestApp, candidate_session, login, spawn_apps_and_stores};
use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A well-formed PDF of about `len` bytes (comment lines fill it).
fn big_pdf(len: usize) -> Vec<u8> {
    let mut f = b"%PDF-1.7\n".to_vec();
    while f.len() < len {
        f.extend_from_slice(b"% remplissage pour un fichier en plusieurs parties ........\n");
    }
    f.extend_from_slice(b"1 0 obj << >> endobj\nstartxref\n0\n%%EOF\n");
    f
}

fn tus(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    cookie: &str,
) -> reqwest::RequestBuilder {
    app.client
        .request(method, format!("{}{path}", app.address))
        .header("tus-resumable", "1.0.0")
        .header("accept", "application/json")
        .header("origin", &app.address)
        .header("cookie", cookie)
}

/// A creation request without a name: the answer as it comes.
async fn post(app: &TestApp, cookie: &str, piece: &str, length: u64) -> reqwest::Response {
    tus(
        app,
        reqwest::Method::POST,
        &format!("/espace/pieces/{piece}/tus"),
        cookie,
    )
    .header("upload-length", length.to_string())
    .send()
    .await
    .unwrap()
}

/// Creates an upload of `length` bytes named `name` for `piece`; returns its path.
async fn create(app: &TestApp, cookie: &str, piece: &str, name: &str, length: usize) -> String {
    use base64::Engine;
    let response = tus(
        app,
        reqwest::Method::POST,
        &format!("/espace/pieces/{piece}/tus"),
        cookie,
    )
    .header("upload-length", length.to_string())
    .header(
        "upload-metadata",
        format!(
            "filename {}",
            base64::engine::general_purpose::STANDARD.encode(name)
        ),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 201, "{}", app.label);
    assert_eq!(response.headers()["tus-resumable"], "1.0.0");
    assert!(
        response.headers()["upload-expires"]
            .to_str()
            .unwrap()
            .ends_with(" GMT")
    );
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("/espace/pieces/{piece}/tus/")),
        "{location}"
    );
    location
}

async fn patch(
    app: &TestApp,
    cookie: &str,
    path: &str,
    offset: usize,
    bytes: &[u8],
) -> reqwest::Response {
    tus(app, reqwest::Method::PATCH, path, cookie)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

/// The offset `HEAD` reports, or the status when it is not 200.
async fn offset(app: &TestApp, cookie: &str, path: &str) -> Result<u64, u16> {
    let response = tus(app, reqwest::Method::HEAD, path, cookie)
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        return Err(response.status().as_u16());
    }
    assert_eq!(response.headers()["cache-control"], "no-store");
    Ok(response.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap())
}

/// A stored file's bytes, as its owner gets them.
async fn served(app: &TestApp, cookie: &str, id: &str) -> bytes::Bytes {
    app.client
        .get(format!("{}/espace/fichiers/{id}", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_string()
}

async fn parts_in_store(app: &TestApp) -> usize {
    app.storage.list_parts().await.unwrap().len()
}

#[tokio::test]
async fn a_file_sent_in_parts_through_a_wrong_offset_and_a_cut_arrives_whole() {
    for app in spawn_apps_and_stores().await {
        let cookie = login(&app).await;
        let options = app
            .client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/espace/pieces/diplome/tus", app.address),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(options.status(), 204, "{}", app.label);
        assert_eq!(header(&options, "tus-version"), "1.0.0");
        assert_eq!(
            header(&options, "tus-extension"),
            "creation,termination,expiration"
        );

        // A client that does not speak the version is refused before anything.
        let unversioned = app
            .client
            .post(format!("{}/espace/pieces/diplome/tus", app.address))
            .header("cookie", &cookie)
            .header("upload-length", "10")
            .send()
            .await
            .unwrap();
        assert_eq!(unversioned.status(), 412);
        assert_eq!(header(&unversioned, "tus-version"), "1.0.0");

        let file = big_pdf(400_000);
        let path = create(&app, &cookie, "diplome", "Licence été.pdf", file.len()).await;
        assert_eq!(offset(&app, &cookie, &path).await, Ok(0));

        let first = patch(&app, &cookie, &path, 0, &file[..100_000]).await;
        assert_eq!(first.status(), 204, "{}", app.label);
        assert_eq!(header(&first, "upload-offset"), "100000");
        assert_eq!(offset(&app, &cookie, &path).await, Ok(100_000));

        // Sent again from the start (a client that lost the answer): 409 and the
        // server's offset, nothing appended.
        let again = patch(&app, &cookie, &path, 0, &file[..100_000]).await;
        assert_eq!(again.status(), 409, "{}", app.label);
        assert_eq!(header(&again, "upload-offset"), "100000");

        // Fewer than 64 KiB that do not end the file are not kept: each part costs an
        // object and a row. Sent whole, the PATCH is refused and says so...
        let scrap = patch(&app, &cookie, &path, 100_000, &file[100_000..101_000]).await;
        assert_eq!(scrap.status(), 400, "{}", app.label);
        let said: serde_json::Value = scrap.json().await.unwrap();
        assert!(
            said["message"].as_str().unwrap().contains("64 Kio"),
            "{said}"
        );
        assert_eq!(offset(&app, &cookie, &path).await, Ok(100_000));
        assert_eq!(parts_in_store(&app).await, 1, "{}", app.label);
        // ...and a PATCH larger than 4 MiB is refused before a byte is read.
        let huge = patch(
            &app,
            &cookie,
            &path,
            100_000,
            &vec![b' '; 4 * 1024 * 1024 + 1],
        )
        .await;
        assert_eq!(huge.status(), 413, "{}", app.label);

        // The connection is cut 80 000 bytes into a PATCH that announced 200 000: the
        // bytes that arrived are kept.
        let address = app.address.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).await.unwrap();
        let request = format!(
            "PATCH {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nOrigin: {}\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 100000\r\nContent-Length: 200000\r\n\r\n",
            app.address
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(&file[100_000..180_000]).await.unwrap();
        stream.flush().await.unwrap();
        drop(stream);
        let mut resumed_at = Ok(0);
        for _ in 0..100 {
            resumed_at = offset(&app, &cookie, &path).await;
            if resumed_at == Ok(180_000) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(resumed_at, Ok(180_000), "{}", app.label);

        let last = patch(&app, &cookie, &path, 180_000, &file[180_000..]).await;
        assert_eq!(last.status(), 204, "{}", app.label);
        assert_eq!(header(&last, "upload-offset"), file.len().to_string());
        let id = header(&last, "fichier-enregistre");

        // The file as any other: its SHA-256 is the bytes' own, and it is served whole.
        let dossier = services::dossiers::by_number(
            &app.db,
            &domain::DossierNumber::parse(services::platform::demo::DEMO_NUMBER).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        let saved = services::files::attachments::get(&app.db, &dossier.id, &id)
            .await
            .unwrap();
        assert_eq!(
            saved.sha256,
            hex::encode(Sha256::digest(&file)),
            "{}",
            app.label
        );
        assert_eq!(saved.name, "Licence été.pdf");
        let served = served(&app, &cookie, &id).await;
        assert_eq!(served.as_ref(), &file[..]);

        // The upload is over: its row and parts are gone.
        assert_eq!(offset(&app, &cookie, &path).await, Err(404));
        assert_eq!(parts_in_store(&app).await, 0, "{}", app.label);
    }
}

#[tokio::test]
async fn only_the_dossier_s_own_session_reaches_its_upload() {
    for app in spawn_apps_and_stores().await {
        let owner = login(&app).await;
        let other = candidate_session(&app, "Autre").await;
        let file = big_pdf(100_000);
        let path = create(&app, &owner, "diplome", "licence.pdf", file.len()).await;
        assert_eq!(
            patch(&app, &owner, &path, 0, &file[..70_000])
                .await
                .status(),
            204
        );

        assert_eq!(offset(&app, &other, &path).await, Err(404), "{}", app.label);
        assert_eq!(
            patch(&app, &other, &path, 70_000, &file[70_000..])
                .await
                .status(),
            404
        );
        let deleted = tus(&app, reqwest::Method::DELETE, &path, &other)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 404);
        assert_eq!(offset(&app, "", &path).await, Err(401));
        // The same upload under another pièce's address is not found either.
        let elsewhere = path.replace("/diplome/", "/piece-identite/");
        assert_eq!(offset(&app, &owner, &elsewhere).await, Err(404));
        // A PATCH from another site is forged.
        let forged = app
            .client
            .patch(format!("{}{path}", app.address))
            .header("cookie", &owner)
            .header("tus-resumable", "1.0.0")
            .header("origin", "https://evil.example")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "70000")
            .body(file[70_000..].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        assert_eq!(offset(&app, &owner, &path).await, Ok(70_000));

        // « annuler »: the owner abandons it, and nothing of it stays.
        let deleted = tus(&app, reqwest::Method::DELETE, &path, &owner)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204, "{}", app.label);
        assert_eq!(offset(&app, &owner, &path).await, Err(404));
        assert_eq!(parts_in_store(&app).await, 0, "{}", app.label);
    }
}

#[tokio::test]
async fn a_hostile_or_impossible_file_is_refused_before_it_is_kept() {
    for app in spawn_apps_and_stores().await {
        let cookie = login(&app).await;
        let mut program = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
        program.resize(64 * 1024, 0);
        let path = create(&app, &cookie, "diplome", "facture.pdf", 1024 * 1024).await;
        let refused = patch(&app, &cookie, &path, 0, &program).await;
        assert_eq!(refused.status(), 415, "{}", app.label);
        let message: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(
            message["message"],
            "« facture.pdf » doit être au format PDF ou JPEG."
        );
        assert_eq!(offset(&app, &cookie, &path).await, Err(404));
        assert_eq!(parts_in_store(&app).await, 0, "{}", app.label);

        // Too large or empty: said at creation, before a byte is sent.
        let too_large = post(&app, &cookie, "diplome", 200 * 1024 * 1024).await;
        assert_eq!(too_large.status(), 413, "{}", app.label);
        let empty = post(&app, &cookie, "diplome", 0).await;
        assert_eq!(empty.status(), 422);
        let unknown = post(&app, &cookie, "inconnue", 1000).await;
        assert_eq!(unknown.status(), 404);
        // More bytes than announced are not taken.
        let small = big_pdf(2000);
        let path = create(&app, &cookie, "diplome", "petit.pdf", 1000).await;
        assert_eq!(patch(&app, &cookie, &path, 0, &small).await.status(), 400);
        assert_eq!(offset(&app, &cookie, &path).await, Ok(0));
    }
}

#[tokio::test]
async fn an_upload_completed_after_the_deadline_is_refused_and_leaves_nothing() {
    for app in spawn_apps_and_stores().await {
        let cookie = login(&app).await;
        let file = big_pdf(100_000);
        let path = create(&app, &cookie, "diplome", "licence.pdf", file.len()).await;
        assert_eq!(
            patch(&app, &cookie, &path, 0, &file[..70_000])
                .await
                .status(),
            204
        );

        // Midnight passes while the phone is in a tunnel.
        let now: jiff::Timestamp = common::NOW.parse().unwrap();
        sqlx::query("UPDATE exams SET closes_at = $1")
            .bind(now.as_millisecond() - 1000)
            .execute(app.db.pool())
            .await
            .unwrap();
        let late = patch(&app, &cookie, &path, 70_000, &file[70_000..]).await;
        assert_eq!(late.status(), 423, "{}", app.label);
        let files: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(files, 0);
        assert_eq!(offset(&app, &cookie, &path).await, Err(404));
        assert_eq!(parts_in_store(&app).await, 0, "{}", app.label);
    }
}

#[tokio::test]
async fn unfinished_uploads_expire_and_are_swept_with_their_parts() {
    for app in spawn_apps_and_stores().await {
        let cookie = login(&app).await;
        let file = big_pdf(100_000);
        let path = create(&app, &cookie, "diplome", "licence.pdf", file.len()).await;
        assert_eq!(
            patch(&app, &cookie, &path, 0, &file[..70_000])
                .await
                .status(),
            204
        );
        assert_eq!(parts_in_store(&app).await, 1);

        // Not yet expired: the sweep leaves it.
        let now: jiff::Timestamp = common::NOW.parse().unwrap();
        let sweep = |hours: i64| {
            let clock = services::platform::clock::FixedClock(
                now + jiff::SignedDuration::from_hours(hours),
            );
            let (db, storage) = (app.db.clone(), app.storage.clone());
            async move {
                services::files::uploads::sweep(
                    &db,
                    &storage,
                    &clock,
                    services::files::attachments::ORPHAN_AGE,
                )
                .await
                .unwrap()
            }
        };
        assert_eq!(sweep(23).await, 0, "{}", app.label);
        assert_eq!(offset(&app, &cookie, &path).await, Ok(70_000));
        assert_eq!(sweep(25).await, 1, "{}", app.label);
        assert_eq!(offset(&app, &cookie, &path).await, Err(404));
        assert_eq!(parts_in_store(&app).await, 0, "{}", app.label);
    }
}

#[tokio::test]
async fn a_resumed_upload_may_reach_another_server() {
    for first in spawn_apps_and_stores().await {
        let second = common::spawn_app_beside(&first).await;
        let cookie = login(&first).await;
        let file = big_pdf(300_000);
        let path = create(&first, &cookie, "diplome", "licence.pdf", file.len()).await;
        assert_eq!(
            patch(&first, &cookie, &path, 0, &file[..120_000])
                .await
                .status(),
            204
        );
        // The phone comes back through another server behind the load balancer.
        assert_eq!(
            offset(&second, &cookie, &path).await,
            Ok(120_000),
            "{}",
            first.label
        );
        let last = patch(&second, &cookie, &path, 120_000, &file[120_000..]).await;
        assert_eq!(last.status(), 204, "{}", first.label);
        let id = header(&last, "fichier-enregistre");
        let served = served(&first, &cookie, &id).await;
        assert_eq!(served.as_ref(), &file[..], "{}", first.label);
    }
}

#[tokio::test]
async fn the_same_part_sent_at_once_through_two_servers_is_taken_once() {
    for first in spawn_apps_and_stores().await {
        let second = common::spawn_app_beside(&first).await;
        let cookie = login(&first).await;
        let file = big_pdf(300_000);
        for round in 0..5 {
            let path = create(&first, &cookie, "diplome", "licence.pdf", file.len()).await;
            // A phone retrying: the same PATCH at the same offset, through both
            // servers, at the same moment.
            let (a, b) = tokio::join!(
                patch(&first, &cookie, &path, 0, &file[..150_000]),
                patch(&second, &cookie, &path, 0, &file[..150_000]),
            );
            let mut statuses = [a.status().as_u16(), b.status().as_u16()];
            statuses.sort();
            assert_eq!(statuses, [204, 409], "{} round {round}", first.label);
            for answer in [&a, &b] {
                assert_eq!(header(answer, "upload-offset"), "150000", "{}", first.label);
            }
            assert_eq!(offset(&second, &cookie, &path).await, Ok(150_000));
            let last = patch(&second, &cookie, &path, 150_000, &file[150_000..]).await;
            assert_eq!(last.status(), 204, "{} round {round}", first.label);
            // The stored file is the file, once: no part twice, none lost.
            let id = header(&last, "fichier-enregistre");
            let served = served(&first, &cookie, &id).await;
            assert_eq!(served.as_ref(), &file[..], "{} round {round}", first.label);
            let deleted = first
                .client
                .post(format!("{}/espace/fichiers/{id}/supprimer", first.address))
                .header("cookie", &cookie)
                .header("origin", &first.address)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            assert_eq!(deleted.status(), 204, "{}", first.label);
        }
    }
}

#[tokio::test]
async fn a_dossier_s_unfinished_uploads_are_bounded_in_number_room_and_parts() {
    for app in spawn_apps_and_stores().await {
        let cookie = login(&app).await;
        let dossier = services::dossiers::by_number(
            &app.db,
            &domain::DossierNumber::parse(services::platform::demo::DEMO_NUMBER).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        const MIB: usize = 1024 * 1024;

        // The test clock stands still: each upload is made a second older than the next.
        let age = || async {
            sqlx::query("UPDATE uploads SET created_at = created_at - 1000")
                .execute(app.db.pool())
                .await
                .unwrap();
        };
        // Four unfinished at most: a fifth replaces the oldest.
        let mut paths = Vec::new();
        for n in 0..5 {
            age().await;
            paths.push(create(&app, &cookie, "diplome", &format!("{n}.pdf"), MIB).await);
        }
        assert_eq!(
            offset(&app, &cookie, &paths[0]).await,
            Err(404),
            "{}",
            app.label
        );
        for path in &paths[1..] {
            assert_eq!(offset(&app, &cookie, path).await, Ok(0), "{}", app.label);
        }

        // Files and unfinished uploads together fit the dossier's 100 Mo: with 95 Mo
        // stored, a new upload of 4 Mio leaves room for none of the 1 Mio ones but one.
        services::testing::file_row(&app.db, &dossier.id, 95 * MIB as u64).await;
        age().await;
        let newest = create(&app, &cookie, "diplome", "dernier.pdf", 4 * MIB).await;
        assert_eq!(offset(&app, &cookie, &newest).await, Ok(0));
        let left =
            futures_util::future::join_all(paths[1..].iter().map(|p| offset(&app, &cookie, p)))
                .await;
        assert_eq!(
            left.iter().filter(|o| o.is_ok()).count(),
            1,
            "{}: {left:?}",
            app.label
        );
        // The newest of the older ones stayed.
        assert_eq!(left[3], Ok(0));

        // An upload sent in a thousand scraps is ended, its parts with it.
        let id = newest.rsplit('/').next().unwrap();
        for start in 0..services::files::uploads::MAX_PARTS {
            sqlx::query("INSERT INTO upload_parts (upload_id, start, size, storage_key) VALUES ($1, $2, 0, $3)")
                .bind(id)
                .bind(-1 - start)
                .bind(format!("absent-{start}"))
                .execute(app.db.pool())
                .await
                .unwrap();
        }
        let scraps = patch(&app, &cookie, &newest, 0, &big_pdf(1000)).await;
        assert_eq!(scraps.status(), 400, "{}", app.label);
        assert_eq!(offset(&app, &cookie, &newest).await, Err(404));
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upload_parts")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(rows, 0);
    }
}

#[tokio::test]
async fn scraps_unsized_patches_and_endless_starts_cost_nothing() {
    for app in spawn_apps_and_stores().await {
        let cookie = login(&app).await;
        let file = big_pdf(300_000);
        let path = create(&app, &cookie, "diplome", "licence.pdf", file.len()).await;
        assert_eq!(
            patch(&app, &cookie, &path, 0, &file[..100_000])
                .await
                .status(),
            204
        );

        // A connection cut after a few bytes: none kept, the offset where it was.
        let address = app.address.trim_start_matches("http://");
        let head = |length: &str| {
            format!(
                "PATCH {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nOrigin: {}\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 100000\r\n{length}\r\n",
                app.address
            )
        };
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(head("Content-Length: 200000\r\n").as_bytes())
            .await
            .unwrap();
        stream.write_all(&file[100_000..101_000]).await.unwrap();
        stream.flush().await.unwrap();
        drop(stream);
        // A body without a length (chunked) is refused: 411, before a byte is read.
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(head("Transfer-Encoding: chunked\r\n").as_bytes())
            .await
            .unwrap();
        stream.write_all(b"3e8\r\n").await.unwrap();
        stream.write_all(&file[100_000..101_000]).await.unwrap();
        stream.write_all(b"\r\n0\r\n\r\n").await.unwrap();
        let mut answer = vec![0u8; 12];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 411", "{}", app.label);
        // The cut PATCH's handler has finished once a PATCH at the same offset goes.
        let mut after = 0;
        for _ in 0..100 {
            let next = patch(&app, &cookie, &path, 100_000, &file[100_000..200_000]).await;
            after = next.status().as_u16();
            if after == 204 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(after, 204, "{}", app.label);
        assert_eq!(offset(&app, &cookie, &path).await, Ok(200_000));
        assert_eq!(parts_in_store(&app).await, 2, "{}", app.label);

        // A dossier starts 100 uploads an hour at most: the next one hears when again.
        let mut statuses = Vec::new();
        for _ in 0..services::files::uploads::STARTS_PER_HOUR {
            statuses.push(post(&app, &cookie, "diplome", 100_000).await.status());
        }
        // One was started above.
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count() as i64,
            services::files::uploads::STARTS_PER_HOUR - 1,
            "{}",
            app.label
        );
        let refused = post(&app, &cookie, "diplome", 100_000).await;
        assert_eq!(refused.status(), 429, "{}", app.label);
        let wait: u64 = header(&refused, "retry-after").parse().unwrap();
        assert!(wait > 3000 && wait <= 3600, "{wait}");
        let said: serde_json::Value = refused.json().await.unwrap();
        assert!(
            said["message"].as_str().unwrap().contains("minutes"),
            "{said}"
        );
    }
}

#[tokio::test]
async fn a_phone_gone_right_after_its_last_byte_still_gets_its_file_made() {
    for app in spawn_apps_and_stores().await {
        let cookie = login(&app).await;
        let file = big_pdf(6_000_000);
        let path = create(&app, &cookie, "diplome", "licence.pdf", file.len()).await;
        let first = patch(&app, &cookie, &path, 0, &file[..4_000_000]).await;
        assert_eq!(first.status(), 204, "{}", app.label);
        // The last part, and the connection closed without waiting for the answer.
        let address = app.address.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).await.unwrap();
        let request = format!(
            "PATCH {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nOrigin: {}\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 4000000\r\nContent-Length: {}\r\n\r\n",
            app.address,
            file.len() - 4_000_000
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(&file[4_000_000..]).await.unwrap();
        stream.flush().await.unwrap();
        drop(stream);
        // The file is made all the same, and the upload ends: nothing left claimed.
        let mut files = 0;
        for _ in 0..100 {
            files = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM attachments")
                .fetch_one(app.db.pool())
                .await
                .unwrap();
            if files == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(files, 1, "{}: the file was not made", app.label);
        let mut left = Ok(0);
        for _ in 0..50 {
            left = offset(&app, &cookie, &path).await;
            if left == Err(404) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(left, Err(404), "{}", app.label);
    }
}
