//! A rolling deploy: on SIGTERM (here `Stop`) the server takes no new connection, lets
//! the uploads in flight finish within the grace, then returns.

mod common;

use std::time::{Duration, Instant};

use common::{login, pdf, spawn_app_with};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// An upload of `pdf()` over a raw connection, its body cut in two: the first part is
/// sent now, the rest returned for later.
async fn half_upload(app: &common::TestApp, cookie: &str) -> (TcpStream, Vec<u8>) {
    let address = app.address.trim_start_matches("http://");
    let mut body = b"--x\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n".to_vec();
    body.extend(pdf());
    body.extend(b"\r\n--x--\r\n");
    let head = format!(
        "POST /espace/pieces/diplome/fichiers HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nOrigin: {}\r\nAccept: application/json\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.address,
        body.len()
    );
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let rest = body.split_off(body.len() / 2);
    stream.write_all(&body).await.unwrap();
    (stream, rest)
}

#[tokio::test]
async fn on_stop_new_connections_wait_no_more_and_an_upload_in_flight_finishes() {
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_SHUTDOWN_GRACE", "10")],
    )
    .await;
    let cookie = login(&app).await;
    let (mut stream, rest) = half_upload(&app, &cookie).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    app.stop.stop_now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The listener is closed: a new request is not taken (the balancer sends it elsewhere).
    let refused = reqwest::Client::new()
        .get(format!("{}/healthz", app.address))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    // Refused at the door (nothing listens), not merely slow.
    assert!(
        refused.as_ref().is_err_and(|e| e.is_connect()),
        "{refused:?}"
    );

    // The upload in flight finishes and is saved.
    stream.write_all(&rest).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    // Its last request done, the server returns well before its 10 s of grace.
    tokio::time::timeout(Duration::from_secs(5), app.running)
        .await
        .expect("the server returns once its requests are done")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_upload_that_does_not_finish_is_cut_when_the_grace_is_over() {
    let app = spawn_app_with(
        services::testing::sqlite().await,
        &[("APP_SHUTDOWN_GRACE", "1")],
    )
    .await;
    let cookie = login(&app).await;
    let (_stream, _rest) = half_upload(&app, &cookie).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    app.stop.stop_now();
    tokio::time::timeout(Duration::from_secs(5), app.running)
        .await
        .expect("the server returns at the end of its grace")
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}
