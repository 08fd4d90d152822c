//! Connections a patient attacker holds open: half a request head and silence. They are
//! closed within seconds, past a few dozen per client at once, and meanwhile another
//! candidate reads the catalogue and deposits a file.

mod common;

use std::time::{Duration, Instant};

use common::{login, pdf, spawn_app_with};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

#[tokio::test]
async fn connections_holding_half_a_head_are_closed_and_others_are_served_meanwhile() {
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_CONNECTIONS_PER_CLIENT", "40")],
    )
    .await;
    let cookie = login(&app).await;
    let address = app.address.trim_start_matches("http://").to_string();

    // 200 connections from one address, each with half a head, then nothing.
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        // Refused at once past the cap: a write may already fail.
        let _ = stream
            .write_all(format!("GET / HTTP/1.1\r\nHost: {address}\r\nX-Lent: ").as_bytes())
            .await;
        held.push(stream);
    }

    // Another candidate, from another address, is served meanwhile.
    let honest = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let catalogue = honest.get(&app.address).send().await.unwrap();
    assert_eq!(catalogue.status(), 200);
    let form = reqwest::multipart::Form::new().part(
        "fichier",
        reqwest::multipart::Part::bytes(pdf())
            .file_name("cni.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let uploaded = honest
        .post(format!(
            "{}/espace/pieces/piece-identite/fichiers",
            app.address
        ))
        .header("cookie", &cookie)
        .header("origin", &app.address)
        .header("accept", "application/json")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let served_after = started.elapsed();

    // Every held connection is closed by the server: those past the cap at once, the
    // others when their head did not come (10 s), all well within 30 s.
    let deadline = tokio::time::Instant::from_std(started + Duration::from_secs(30));
    let closed_at = futures_util::future::join_all(held.into_iter().map(|mut stream| async move {
        let mut buffer = [0u8; 256];
        let closed = tokio::time::timeout_at(deadline, async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a connection still open after 30 s");
        started.elapsed()
    }))
    .await;
    // The honest requests did not wait for the held connections to go.
    // Past the cap of 40 (the test's own client holds one or two of them): closed at
    // once; the others held until their head did not come.
    let at_once = closed_at
        .iter()
        .filter(|t| **t < Duration::from_secs(5))
        .count();
    let waited = closed_at
        .iter()
        .filter(|t| **t >= Duration::from_secs(9))
        .count();
    assert!((160..=165).contains(&at_once), "{at_once} closed at once");
    assert_eq!(at_once + waited, 200, "{closed_at:?}");
    assert!(served_after < Duration::from_secs(9), "{served_after:?}");
}
