//! An upload form's file, read from its multipart body without copying it: the bytes
//! handed on are the body's own chunks, cut at the boundary. (axum's `Multipart`, that
//! is multer, copies every byte into a buffer of its own first; on the deadline night
//! that copy and the buffer's growth were a share of the server's time.) A copy is made
//! only of a part's head and of the few bytes at a chunk's end that may begin a
//! boundary. Heads, the number of parts and the whole body are bounded.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, future::poll_fn};
use memchr::memmem::Finder;

/// A part's head (its headers), at most.
const HEAD_MAX: usize = 8 * 1024;
/// Parts in a body, at most: our forms send one to three.
const PARTS_MAX: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Malformed {
    #[error("not a multipart/form-data body with a boundary")]
    NotMultipart,
    #[error("the body ended before its closing boundary")]
    Truncated,
    #[error("a part's head is too long or unreadable")]
    BadHead,
    #[error("more than {PARTS_MAX} parts")]
    TooManyParts,
    #[error("the body is over {0} bytes")]
    TooLarge(usize),
    #[error("the body could not be read: {0}")]
    Body(String),
}

/// Where the reader is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum At {
    /// In a part's data (or the preamble before the first boundary).
    Data,
    /// Just after a boundary: a part's head, or the closing `--`.
    Boundary,
    /// After the closing boundary.
    End,
}

/// A multipart body being read part by part.
pub struct Multipart<S> {
    body: S,
    /// `\r\n--` and the boundary: what ends a part's data.
    delimiter: Vec<u8>,
    finder: Finder<'static>,
    /// Read from the body and not handed on yet: a chunk (not a copy), or a few bytes.
    held: Bytes,
    at: At,
    /// Bytes read from the body, and the most it may bring.
    read: usize,
    limit: usize,
    /// Parts met so far.
    parts: usize,
}

/// What a part's head says.
#[derive(Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// Its `filename` (a file's part), as sent.
    pub file_name: Option<String>,
}

impl<S, E> Multipart<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    /// The reader of `body`, sent with `content_type`, of at most `limit` bytes.
    pub fn new(content_type: Option<&str>, body: S, limit: usize) -> Result<Self, Malformed> {
        let boundary = content_type
            .and_then(boundary)
            .ok_or(Malformed::NotMultipart)?;
        let delimiter = [b"\r\n--", boundary.as_bytes()].concat();
        Ok(Self {
            body,
            finder: Finder::new(&delimiter).into_owned(),
            delimiter,
            // The first boundary has no line break before it: as if it had, the
            // preamble is a part of its own, skipped.
            held: Bytes::from_static(b"\r\n"),
            at: At::Data,
            read: 0,
            limit,
            parts: 0,
        })
    }

    /// Skips what is left of the current part, and reads the next one's head; `None`
    /// after the closing boundary.
    pub async fn next_part(&mut self) -> Result<Option<Part>, Malformed> {
        while poll_fn(|cx| self.poll_data(cx))
            .await
            .transpose()?
            .is_some()
        {}
        if self.at == At::End {
            return Ok(None);
        }
        self.parts += 1;
        if self.parts > PARTS_MAX {
            return Err(Malformed::TooManyParts);
        }
        poll_fn(|cx| self.poll_head(cx)).await
    }

    /// Skips to the next part named `name`; `None` when the body ends without one.
    pub async fn part_named(&mut self, name: &str) -> Result<Option<Part>, Malformed> {
        while let Some(part) = self.next_part().await? {
            if part.name == name {
                return Ok(Some(part));
            }
        }
        Ok(None)
    }

    /// The data of the part just found, as it arrives.
    pub fn data(&mut self) -> Data<'_, S> {
        Data(self)
    }

    /// The body's next chunk, counted; an error once past the limit.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Bytes, Malformed>> {
        match ready!(Pin::new(&mut self.body).poll_next(cx)) {
            Some(Ok(chunk)) => {
                self.read += chunk.len();
                Poll::Ready(if self.read > self.limit {
                    Err(Malformed::TooLarge(self.limit))
                } else {
                    Ok(chunk)
                })
            }
            Some(Err(e)) => Poll::Ready(Err(Malformed::Body(e.to_string()))),
            None => Poll::Ready(Err(Malformed::Truncated)),
        }
    }

    /// The next bytes of the current part's data; `None` at its end (the reader is then
    /// just after its boundary).
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Malformed>>> {
        let length = self.delimiter.len();
        while self.at == At::Data {
            if let Some(at) = self.finder.find(&self.held) {
                let data = self.held.split_to(at);
                self.held.advance(length);
                self.at = At::Boundary;
                if !data.is_empty() {
                    return Poll::Ready(Some(Ok(data)));
                }
                break;
            }
            // Everything but an end that may begin the boundary.
            let keep = partial_end(&self.held, &self.delimiter);
            let data = self.held.split_to(self.held.len() - keep);
            if !data.is_empty() {
                return Poll::Ready(Some(Ok(data)));
            }
            let chunk = match ready!(self.poll_chunk(cx)) {
                Ok(chunk) => chunk,
                Err(e) => return Poll::Ready(Some(Err(e))),
            };
            if self.held.is_empty() {
                self.held = chunk;
            } else if chunk.len() <= length {
                self.held = [&self.held[..], &chunk[..]].concat().into();
            } else {
                // A boundary that starts in the held bytes ends within `length` bytes
                // of the chunk: only that seam is copied.
                let seam = [&self.held[..], &chunk[..length]].concat();
                let held = self.held.len();
                match self.finder.find(&seam) {
                    Some(at) => {
                        self.held = chunk.slice(at + length - held..);
                        self.at = At::Boundary;
                        if at > 0 {
                            return Poll::Ready(Some(Ok(Bytes::copy_from_slice(&seam[..at]))));
                        }
                    }
                    None => {
                        let data = std::mem::replace(&mut self.held, chunk);
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
        Poll::Ready(None)
    }

    /// After a boundary: the closing `--` (`None`), or the next part's head.
    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Part>, Malformed>> {
        loop {
            // A boundary's line may end with spaces (RFC 2046's transport padding).
            let padding = self
                .held
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
            let line = &self.held[padding..];
            if line.starts_with(b"--") {
                self.at = At::End;
                self.held = Bytes::new();
                return Poll::Ready(Ok(None));
            }
            if line.len() >= 2 && !line.starts_with(b"\r\n") {
                return Poll::Ready(Err(Malformed::BadHead));
            }
            if let Some(end) = Finder::new(b"\r\n\r\n").find(line) {
                let mut headers = [httparse::EMPTY_HEADER; 16];
                let part = match httparse::parse_headers(&line[2..end + 4], &mut headers) {
                    Ok(httparse::Status::Complete(_)) => headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-disposition"))
                        .and_then(|h| disposition(h.value)),
                    _ => None,
                };
                let part = part.ok_or(Malformed::BadHead)?;
                self.held.advance(padding + end + 4);
                self.at = At::Data;
                return Poll::Ready(Ok(Some(part)));
            }
            if self.held.len() > HEAD_MAX {
                return Poll::Ready(Err(Malformed::BadHead));
            }
            let chunk = ready!(self.poll_chunk(cx))?;
            let mut joined = BytesMut::with_capacity(self.held.len() + chunk.len());
            joined.extend_from_slice(&self.held);
            joined.extend_from_slice(&chunk);
            self.held = joined.freeze();
        }
    }
}

/// A part's data, chunk by chunk.
pub struct Data<'a, S>(&'a mut Multipart<S>);

impl<S, E> Stream for Data<'_, S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, Malformed>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_data(cx)
    }
}

/// How many bytes at the end of `bytes` may be the start of `delimiter`.
fn partial_end(bytes: &[u8], delimiter: &[u8]) -> usize {
    let from = bytes.len().saturating_sub(delimiter.len() - 1);
    (from..bytes.len())
        .find(|&at| delimiter.starts_with(&bytes[at..]))
        .map_or(0, |at| bytes.len() - at)
}

/// The boundary of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<&str> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let value = params.find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then_some(value.trim())
    })?;
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    (1..=70).contains(&value.len()).then_some(value)
}

/// The name and file name of a `Content-Disposition: form-data` header.
fn disposition(value: &[u8]) -> Option<Part> {
    let value = std::str::from_utf8(value).ok()?;
    let (kind, mut rest) = value.split_once(';').unwrap_or((value, ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return None;
    }
    let (mut name, mut file_name, mut extended) = (None, None, None);
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim_start_matches([';', ' ', '\t']).trim();
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => quoted_string(quoted)?,
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim().to_string(), &after[end..])
            }
        };
        match key.to_ascii_lowercase().as_str() {
            "name" => name = Some(value),
            "filename" => file_name = Some(value),
            "filename*" => extended = ext_value(&value),
            _ => {}
        }
        rest = next;
    }
    Some(Part {
        name: name?,
        // RFC 6266: the extended form, when it can be read, wins.
        file_name: extended.or(file_name),
    })
}

/// A quoted string's text (after its opening quote), and what follows its closing one.
fn quoted_string(s: &str) -> Option<(String, &str)> {
    let mut text = String::new();
    let mut chars = s.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((text, &s[at + 1..])),
            '\\' => text.push(chars.next()?.1),
            c => text.push(c),
        }
    }
    None
}

/// RFC 8187's `UTF-8'lang'percent-encoded`; other charsets are not read.
fn ext_value(value: &str) -> Option<String> {
    let mut fields = value.splitn(3, '\'');
    let charset = fields.next()?;
    let encoded = fields.nth(1)?;
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
