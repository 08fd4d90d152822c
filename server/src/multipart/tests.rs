use futures_util::{StreamExt, stream};

use super::*;

const BOUNDARY: &str = "----formdata-bound\r\n--x";

fn content_type() -> String {
    format!("multipart/form-data; boundary=\"{BOUNDARY}\"")
}

/// A form as a browser sends it: a text field, then the file.
fn form(file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nbonjour\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"dipl\\\"ôme 1.PDF\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A file full of near-boundaries: a line break, dashes and the boundary's start.
fn tricky_file() -> Vec<u8> {
    let mut file = b"%PDF-1.7\r\n--".to_vec();
    for i in 0..200u32 {
        file.extend_from_slice(b"\r\n--");
        file.extend_from_slice(&BOUNDARY.as_bytes()[..(i as usize) % BOUNDARY.len()]);
        file.extend_from_slice(&i.to_be_bytes());
        file.push(b'\r');
    }
    file.extend_from_slice(b"\r\n-");
    file
}

type Chunks = stream::Iter<std::vec::IntoIter<Result<Bytes, std::io::Error>>>;

fn chunked(body: &[u8], size: usize) -> (Vec<Bytes>, Chunks) {
    let chunks: Vec<Bytes> = body.chunks(size).map(Bytes::copy_from_slice).collect();
    let items = chunks.iter().cloned().map(Ok).collect::<Vec<_>>();
    (chunks, stream::iter(items))
}

async fn read_file(body: Chunks, limit: usize) -> Result<Option<(Part, Vec<Bytes>)>, Malformed> {
    let mut form = Multipart::new(Some(&content_type()), body, limit)?;
    let Some(part) = form.part_named("fichier").await? else {
        return Ok(None);
    };
    let mut data = Vec::new();
    let mut stream = form.data();
    while let Some(chunk) = stream.next().await {
        data.push(chunk?);
    }
    Ok(Some((part, data)))
}

#[tokio::test]
async fn the_file_is_read_whole_however_the_body_is_cut() {
    let file = tricky_file();
    let body = form(&file);
    for size in [1, 2, 3, 5, 7, 13, 26, 27, 28, 64, 1000, body.len()] {
        let (_, chunks) = chunked(&body, size);
        let (part, data) = read_file(chunks, usize::MAX).await.unwrap().unwrap();
        assert_eq!(part.name, "fichier");
        assert_eq!(part.file_name.as_deref(), Some("dipl\"ôme 1.PDF"));
        assert_eq!(data.concat(), file, "chunks of {size}");
    }
}

#[tokio::test]
async fn the_file_is_handed_on_in_the_body_s_own_chunks() {
    // A photo's bytes: no line breaks, so nothing may begin a boundary.
    let file: Vec<u8> = (0..1_000_000u32).map(|i| (i % 13) as u8 + b'a').collect();
    let body = form(&file);
    let (inputs, chunks) = chunked(&body, 64 * 1024);
    let (_, data) = read_file(chunks, usize::MAX).await.unwrap().unwrap();
    let within_inputs = |b: &Bytes| {
        inputs.iter().any(|c| {
            let range = c.as_ptr_range();
            range.contains(&b.as_ptr()) || (b.is_empty())
        })
    };
    let shared: usize = data
        .iter()
        .filter(|b| within_inputs(b))
        .map(Bytes::len)
        .sum();
    assert_eq!(data.concat(), file);
    assert_eq!(
        shared,
        file.len(),
        "every byte of the file is a slice of a chunk read"
    );
}

#[tokio::test]
async fn a_body_cut_short_or_too_long_or_without_the_file_is_refused() {
    let body = form(b"%PDF-1.7 contents");
    let (_, chunks) = chunked(&body[..body.len() - 30], 10);
    assert_eq!(
        read_file(chunks, usize::MAX).await.err(),
        Some(Malformed::Truncated)
    );

    let (_, chunks) = chunked(&body, 10);
    assert_eq!(
        read_file(chunks, 100).await.err(),
        Some(Malformed::TooLarge(100))
    );

    let only_note = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nbonjour\r\n--{BOUNDARY}--\r\n"
    );
    let (_, chunks) = chunked(only_note.as_bytes(), 4);
    assert_eq!(read_file(chunks, usize::MAX).await, Ok(None));

    let no_head = format!("--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--");
    let (_, chunks) = chunked(no_head.as_bytes(), 4);
    assert_eq!(
        read_file(chunks, usize::MAX).await.err(),
        Some(Malformed::BadHead)
    );

    let many: String = (0..40)
        .map(|i| {
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"n{i}\"\r\n\r\n{i}\r\n")
        })
        .collect();
    let (_, chunks) = chunked(many.as_bytes(), 100);
    assert_eq!(
        read_file(chunks, usize::MAX).await.err(),
        Some(Malformed::TooManyParts)
    );

    let endless_head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}",
        "x".repeat(20_000)
    );
    let (_, chunks) = chunked(endless_head.as_bytes(), 1000);
    assert_eq!(
        read_file(chunks, usize::MAX).await.err(),
        Some(Malformed::BadHead)
    );
}

#[test]
fn the_boundary_comes_from_the_content_type() {
    assert_eq!(boundary("multipart/form-data; boundary=abc"), Some("abc"));
    assert_eq!(
        boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b\""),
        Some("a b")
    );
    assert_eq!(boundary("multipart/mixed; boundary=abc"), None);
    assert_eq!(boundary("multipart/form-data"), None);
    assert_eq!(
        boundary(&format!("multipart/form-data; boundary={}", "a".repeat(71))),
        None
    );
    assert!(
        Multipart::new(
            Some("application/pdf"),
            stream::empty::<Result<Bytes, std::io::Error>>(),
            1
        )
        .is_err()
    );
}

#[test]
fn names_and_file_names_are_read_as_browsers_write_them() {
    let part = |v: &str| disposition(v.as_bytes());
    assert_eq!(
        part("form-data; name=\"fichier\"; filename=\"scan.pdf\""),
        Some(Part {
            name: "fichier".into(),
            file_name: Some("scan.pdf".into())
        })
    );
    assert_eq!(
        part("form-data; name=fichier; filename=\"a;b=c.pdf\"; filename*=UTF-8''dipl%C3%B4me.pdf"),
        Some(Part {
            name: "fichier".into(),
            file_name: Some("diplôme.pdf".into())
        })
    );
    assert_eq!(
        part("form-data; name=\"note\""),
        Some(Part {
            name: "note".into(),
            file_name: None
        })
    );
    assert_eq!(part("attachment; name=\"fichier\""), None);
    assert_eq!(part("form-data; filename=\"x.pdf\""), None);
    assert_eq!(part("form-data; name=\"open"), None);
}
