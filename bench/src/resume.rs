//! A phone's connection cut in the middle of an 8 MiB file, then resumed: the bytes
//! sent with the form upload and with tus.

use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use crate::{
    Args,
    harness::{KIB, MIB, Server, client, login, pdf, round2, seed},
};

/// Writes one HTTP/1.1 request on a new connection: its head, then `body` up to
/// `cut` bytes (the connection is then closed, as a phone entering a tunnel does).
/// Returns the bytes written and, when not cut, the answer's head.
async fn raw(
    base: &str,
    head: &str,
    body: &[u8],
    cut: Option<usize>,
) -> anyhow::Result<(usize, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let head = format!(
        "{head}Host: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    let sent = &body[..cut.unwrap_or(body.len()).min(body.len())];
    stream.write_all(sent).await?;
    stream.flush().await?;
    if cut.is_some() {
        return Ok((head.len() + sent.len(), String::new()));
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    let head_end = answer.find("\r\n\r\n").unwrap_or(answer.len());
    Ok((head.len() + sent.len(), answer[..head_end].to_string()))
}

fn answer_header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// Bytes a candidate sends for an 8 MiB file whose connection is cut at half: with the
/// form upload (the file again from the start) and with tus (the rest only, in parts of
/// 4 MiB, the most one PATCH may bring; and as the browser sends it, in parts of
/// 512 KiB), each over the wire
/// (request heads included), as a ratio to the file's size.
pub(crate) async fn resume(args: &Args) -> anyhow::Result<Value> {
    let data = tempfile::tempdir()?;
    let url = format!("sqlite://{}", data.path().join("resume.db").display());
    let seeded = seed(&url, data.path(), 3).await?;
    let client = client();
    let server = Server::start(args, 3304, &url, data.path(), None)?;
    server.wait_ready(&client).await?;
    let base = server.base.clone();
    let file = pdf(8 * MIB).to_vec();
    let half = file.len() / 2;

    // The form: the first half, cut; then the whole file again.
    let cookie = login(&client, &base, &seeded.numbers[0]).await?;
    let boundary = "x-banc-d-essai";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"diplome.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&file);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let form_head = format!(
        "POST /espace/pieces/diplome/fichiers HTTP/1.1\r\nCookie: {cookie}\r\nOrigin: {base}\r\nAccept: application/json\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
    );
    let (cut_bytes, _) = raw(&base, &form_head, &form, Some(half)).await?;
    let (again, answer) = raw(&base, &form_head, &form, None).await?;
    anyhow::ensure!(answer.contains(" 201 "), "form upload: {answer}");
    let form_bytes = cut_bytes + again;

    // tus: create, the PATCH that crosses the half cut in its middle, HEAD, the rest.
    let tus = |cookie: &str| {
        format!(
            "Cookie: {cookie}\r\nOrigin: {base}\r\nTus-Resumable: 1.0.0\r\nAccept: application/json\r\n"
        )
    };
    let mut by_tus = Vec::new();
    for (who, part) in [(1, 4 * MIB), (2, 512 * KIB)] {
        let cookie = login(&client, &base, &seeded.numbers[who]).await?;
        let mut sent = 0;
        let (n, created) = raw(
            &base,
            &format!(
                "POST /espace/pieces/diplome/tus HTTP/1.1\r\n{}Upload-Length: {}\r\nUpload-Metadata: filename ZGlwbG9tZS5wZGY=\r\n",
                tus(&cookie),
                file.len()
            ),
            &[],
            None,
        )
        .await?;
        sent += n;
        let location =
            answer_header(&created, "location").with_context(|| format!("tus: {created}"))?;
        let patch = |offset: usize| {
            format!(
                "PATCH {location} HTTP/1.1\r\n{}Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n",
                tus(&cookie)
            )
        };
        // Cut in the middle of the part that crosses the half.
        let cut_at = half + part / 2 * usize::from(part < file.len());
        let mut offset = 0;
        let mut saved = false;
        let mut cut_done = false;
        while !saved {
            let end = (offset + part).min(file.len());
            if !cut_done && end > cut_at {
                cut_done = true;
                let (n, _) = raw(
                    &base,
                    &patch(offset),
                    &file[offset..end],
                    Some(cut_at - offset),
                )
                .await?;
                sent += n;
                // Where the server stands once it has taken the cut part.
                let mut at = offset;
                for _ in 0..100 {
                    let (n, head) = raw(
                        &base,
                        &format!("HEAD {location} HTTP/1.1\r\n{}", tus(&cookie)),
                        &[],
                        None,
                    )
                    .await?;
                    sent += n;
                    at = answer_header(&head, "upload-offset")
                        .and_then(|o| o.parse().ok())
                        .unwrap_or(at);
                    if at == cut_at {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                offset = at;
                continue;
            }
            let (n, head) = raw(&base, &patch(offset), &file[offset..end], None).await?;
            sent += n;
            anyhow::ensure!(head.contains(" 204 "), "tus PATCH: {head}");
            offset = answer_header(&head, "upload-offset")
                .and_then(|o| o.parse().ok())
                .unwrap_or(end);
            saved = answer_header(&head, "fichier-enregistre").is_some();
        }
        by_tus.push(sent);
    }
    let ratio = |bytes: usize| round2(bytes as f64 / file.len() as f64);
    Ok(json!({
        "file_bytes": file.len(),
        "form": { "bytes": form_bytes, "ratio": ratio(form_bytes) },
        "tus_parts_4m": { "bytes": by_tus[0], "ratio": ratio(by_tus[0]) },
        "tus_parts_512k": { "bytes": by_tus[1], "ratio": ratio(by_tus[1]) },
    }))
}
