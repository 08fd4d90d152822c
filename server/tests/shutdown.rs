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
/// sent now, the rest returned for later. It returns once the handler reads the body
/// (the server's `100 Continue` says so), so a stop after it finds it in flight.
async fn half_upload(app: &common::TestApp, cookie: &str) -> (TcpStream, Vec<u8>) {
    let address = app.address.trim_start_matches("http://");
    let mut body = b"--x\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n".to_vec();
    body.extend(pdf());
    body.extend(b"\r\n--x--\r\n");
    let head = format!(
        "POST /espace/pieces/diplome/fichiers HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nOrigin: {}\r\nAccept: application/json\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        app.address,
        body.len()
    );
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).await.unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
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

    app.stop.stop_now();
    // The listener closes: a new request is not taken (the balancer sends it elsewhere),
    // refused at the door (nothing listens), not merely slow. Asked until it is, for at
    // most 5 s: the stop is asynchronous.
    let mut refused = None;
    for _ in 0..50 {
        let answer = reqwest::Client::new()
            .get(format!("{}/healthz", app.address))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if answer.as_ref().is_err_and(|e| e.is_connect()) {
            refused = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused.is_some(), "the listener still takes connections");

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
    let started = Instant::now();
    app.stop.stop_now();
    // Not before the grace (a timer never fires early); well before the pacing's own
    // 30 s cut of a silent body, so it is the grace that ended it.
    tokio::time::timeout(Duration::from_secs(10), app.running)
        .await
        .expect("the server returns at the end of its grace")
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1), "{took:?}");
    // The upload was cut, not saved.
    let files: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(files, 0);
}
