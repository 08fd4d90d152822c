//! Watches a PDF go by, chunk by chunk, without keeping it: whether it declares an
//! encryption dictionary, an action that launches a program, embedded files or
//! JavaScript, and whether it ends like a PDF (`%%EOF` in its last bytes).
//!
//! Two readings run side by side:
//! - every byte of the file is looked through for the tokens, names' `#xx` escapes
//!   decoded first (`/Encr#79pt` is `/Encrypt`);
//! - the file's structure, between streams, is read as a PDF reader lexes it (strings,
//!   comments, names, dictionaries), to find each stream's dictionary. An object
//!   stream (`/Type /ObjStm`, or `/First`) keeps dictionaries compressed, an action
//!   among them: its Flate data is inflated and looked through too. Other streams
//!   (pages, pictures, fonts) hold no object and are skipped to their `endstream`.
//!
//! It fails closed: when a check cannot be completed (an object stream under another
//! filter than Flate, or with a predictor, or whose data does not inflate; an inflate
//! ratio past [`MAX_RATIO`] or a total past [`INFLATE_CAP`]; a stream dictionary over
//! [`DICT_MAX`] or missing; a name whose `#` escape is not two hex digits; more
//! `/ObjStm` names in the file than object streams found in its structure, or an
//! `endobj` inside a stream's data, which both mean an object the structure reading
//! did not see), the verdict is [`PdfRefusal::Unverifiable`], never a pass. The scan says
//! what it found; `attachment` words it for the candidate.

use lexer::{Lexer, Met, is_space};
use miniz_oxide::{
    DataFormat, MZError, MZFlush, MZStatus,
    inflate::stream::{InflateState, inflate},
};

/// Why a PDF is refused: what the scan found, before anyone words it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PdfRefusal {
    Encrypted,
    /// An automatic action or embedded files.
    Active,
    Corrupt,
    /// The inspection could not be completed.
    Unverifiable,
}

/// What a PDF that passes declares: staff are warned, and it is never shown inline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PdfFindings {
    pub javascript: bool,
}

const TAIL: usize = 1024;
const ENCRYPT: usize = 0;
const LAUNCH: usize = 1;
const EMBEDDED: usize = 2;
const JAVASCRIPT: usize = 3;
const OBJECT_STREAM: usize = 4;
const TOKENS: [&[u8]; 5] = [
    b"/Encrypt",
    b"/Launch",
    b"/EmbeddedFile",
    b"/JavaScript",
    b"/ObjStm",
];
const LONGEST: usize = 13;
/// Inflated bytes looked through per file at most: a small file that inflates to
/// gigabytes (a « zip bomb ») is unverifiable past this, not accepted.
pub const INFLATE_CAP: u64 = 64 * 1024 * 1024;
/// An object stream inflating more than this many times its size (past its first
/// 64 KiB) is no producer's: dictionaries compress 5 to 20 times.
pub const MAX_RATIO: u64 = 100;
const RATIO_FROM: u64 = 64 * 1024;
/// A stream dictionary longer than this (names decoded, strings left out) is not read.
pub const DICT_MAX: usize = 64 * 1024;

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Finds the tokens in a run of bytes given chunk by chunk: `#xx` escapes decoded first
/// (`/Encr#79pt` is `/Encrypt`), tokens cut between chunks still found.
#[derive(Default)]
struct Tokens {
    /// The last decoded bytes, so tokens split across chunks are still found.
    seam: Vec<u8>,
    /// A `#` escape cut by the chunk's end: `#`, or `#` and one hex digit.
    escape: Vec<u8>,
    /// How many `/ObjStm` names went by.
    object_streams: usize,
}

impl Tokens {
    /// Decodes `#xx` escapes, carrying one cut by the chunk's end to the next chunk.
    fn decode<'a>(&mut self, chunk: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        if self.escape.is_empty() && !chunk.contains(&b'#') {
            return std::borrow::Cow::Borrowed(chunk);
        }
        let mut out = Vec::with_capacity(chunk.len() + 2);
        for &b in chunk {
            match self.escape.as_slice() {
                [] if b == b'#' => self.escape.push(b),
                [] => out.push(b),
                [_] if hex(b).is_some() => self.escape.push(b),
                [_, high] if hex(b).is_some() => {
                    out.push(hex(*high).unwrap_or(0) * 16 + hex(b).unwrap_or(0));
                    self.escape.clear();
                }
                _ => {
                    out.append(&mut self.escape);
                    if b == b'#' {
                        self.escape.push(b);
                    } else {
                        out.push(b);
                    }
                }
            }
        }
        std::borrow::Cow::Owned(out)
    }

    fn feed(&mut self, chunk: &[u8], found: &mut [bool; TOKENS.len()]) {
        let decoded = self.decode(chunk);
        let head = &decoded[..decoded.len().min(LONGEST - 1)];
        let mut seam = std::mem::take(&mut self.seam);
        let carried = seam.len();
        seam.extend_from_slice(head);
        for (found, token) in found.iter_mut().zip(TOKENS) {
            *found = *found || contains(&seam, token);
        }
        // Every token starts with `/`: one pass over the chunk finds them all.
        for at in memchr::memchr_iter(b'/', &decoded) {
            let from = &decoded[at..];
            for (i, token) in TOKENS.iter().enumerate() {
                if from.starts_with(token) {
                    found[i] = true;
                    self.object_streams += usize::from(i == OBJECT_STREAM);
                }
            }
        }
        // Counted once each: in the chunk (above), or across the seam (starting in the
        // carried bytes, ending in the chunk's).
        let name = TOKENS[OBJECT_STREAM];
        self.object_streams += memchr::memmem::find_iter(&seam, name)
            .filter(|at| *at < carried && at + name.len() > carried)
            .count();
        // The seam keeps the last bytes decoded, for the next chunk.
        if decoded.len() >= LONGEST - 1 {
            seam.clear();
            seam.extend_from_slice(&decoded[decoded.len() - (LONGEST - 1)..]);
        } else {
            let excess = seam.len().saturating_sub(LONGEST - 1);
            seam.drain(..excess);
        }
        self.seam = seam;
    }
}

/// How a stream's data is read, from its dictionary.
enum Data {
    /// Skipped to its `endstream`.
    Skip,
    /// An object stream compressed with Flate: inflated and looked through.
    Objects,
}

/// Reads a stream's dictionary (as [`Lexer`] keeps it); `Err` when the check cannot
/// be completed.
fn stream_data(dict: Option<(Vec<u8>, bool)>) -> Result<Data, &'static str> {
    let Some((dict, overflow)) = dict else {
        return Err("a stream without a dictionary");
    };
    if overflow {
        return Err("a stream dictionary too long to read");
    }
    let tokens: Vec<&[u8]> = dict
        .split(|b| is_space(*b))
        .filter(|t| !t.is_empty())
        .collect();
    let objects = tokens.iter().any(|t| *t == b"/ObjStm" || *t == b"/First");
    if !objects {
        return Ok(Data::Skip);
    }
    // The stream's own keys (depth 1); readers take `/F` and `/DP` for `/Filter` and
    // `/DecodeParms` too.
    let mut filters: Vec<&[u8]> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        match token {
            b"<<" => depth += 1,
            b">>" => depth -= 1,
            b"/DecodeParms" | b"/DP" if depth == 1 => {
                return Err("an object stream with a predictor");
            }
            b"/Filter" | b"/F" if depth == 1 => match tokens.get(i + 1) {
                Some(name) if name.starts_with(b"/") => {
                    filters.push(name);
                    i += 1;
                }
                Some(open) if *open == b"[" => {
                    i += 2;
                    while let Some(name) = tokens.get(i).filter(|t| t.starts_with(b"/")) {
                        filters.push(name);
                        i += 1;
                    }
                    if tokens.get(i) != Some(&&b"]"[..]) {
                        return Err("an object stream's filters not read");
                    }
                }
                _ => return Err("an object stream's filter not given directly"),
            },
            _ => {}
        }
        i += 1;
    }
    match filters.as_slice() {
        // Uncompressed: its bytes are the file's, already looked through.
        [] => Ok(Data::Skip),
        [b"/FlateDecode"] => Ok(Data::Objects),
        _ => Err("an object stream under another filter than Flate"),
    }
}

/// Where the scan stands against the file's streams.
enum Within {
    /// Between objects: the lexer reads.
    Structure,
    /// Right after `stream`: its end of line is skipped (`\r` seen: `cr`).
    LineEnd { cr: bool, data: Data },
    /// In a stream's data, to its `endstream`; the last bytes, for one cut in two.
    Data { seam: Vec<u8> },
    /// In an object stream's Flate data.
    Objects {
        state: Box<InflateState>,
        tokens: Tokens,
        lexer: Lexer,
        read: u64,
        made: u64,
    },
}

pub struct PdfScan {
    /// The last raw bytes seen, for the end marker.
    tail: Vec<u8>,
    /// The file's own bytes, looked through for the tokens.
    raw: Tokens,
    lexer: Lexer,
    within: Within,
    /// Object streams found in the structure, named `/ObjStm`.
    object_streams: usize,
    inflated: u64,
    found: [bool; TOKENS.len()],
    /// Why the check could not be completed, if it could not.
    unverifiable: Option<&'static str>,
}

impl Default for PdfScan {
    fn default() -> Self {
        Self {
            tail: Vec::new(),
            raw: Tokens::default(),
            lexer: Lexer::default(),
            within: Within::Structure,
            object_streams: 0,
            inflated: 0,
            found: [false; TOKENS.len()],
            unverifiable: None,
        }
    }
}

impl PdfScan {
    /// Reads a chunk: tokens are looked for in its decoded bytes (and across the seam
    /// with the previous chunk), its structure read, its object streams inflated.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.observe(chunk);
        let mut rest = chunk;
        while !rest.is_empty() && self.unverifiable.is_none() {
            match self.step(rest) {
                Ok(used) => rest = &rest[used..],
                Err(why) => self.unverifiable = Some(why),
            }
        }
    }

    /// Reads the chunk as [`feed`](Self::feed) does, up to the first byte that must be
    /// inflated, and returns how many bytes it read: the rest is for `feed`. Up to there
    /// the work is a scan of the bytes, as a hash's is; only inflating can make a small
    /// chunk cost much more (a hundred times its size), so only that needs a thread
    /// that no other request waits for.
    pub fn feed_until_inflating(&mut self, chunk: &[u8]) -> usize {
        let mut used = 0;
        while used < chunk.len()
            && self.unverifiable.is_none()
            && !matches!(self.within, Within::Objects { .. })
        {
            match self.step(&chunk[used..]) {
                Ok(n) => used += n,
                Err(why) => self.unverifiable = Some(why),
            }
        }
        // Unverifiable: the structure is read no further, the bytes' tokens still are.
        if self.unverifiable.is_some() {
            used = chunk.len();
        }
        self.observe(&chunk[..used]);
        used
    }

    /// The tokens in the file's own bytes, and its last bytes for the end marker.
    fn observe(&mut self, chunk: &[u8]) {
        self.raw.feed(chunk, &mut self.found);
        if chunk.len() >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - TAIL..]);
        } else {
            self.tail.extend_from_slice(chunk);
            let excess = self.tail.len().saturating_sub(TAIL);
            self.tail.drain(..excess);
        }
    }

    /// Reads the start of `bytes` in the current place; returns how many were used.
    fn step(&mut self, bytes: &[u8]) -> Result<usize, &'static str> {
        match &mut self.within {
            Within::Structure => {
                let met = self.lexer.read(bytes);
                if self.lexer.bad_name {
                    return Err("a name whose escape is not two hex digits");
                }
                let Some(Met::Stream(at, dict)) = met else {
                    return Ok(bytes.len());
                };
                let named = dict
                    .as_ref()
                    .is_some_and(|(d, _)| d.split(|b| is_space(*b)).any(|t| t == b"/ObjStm"));
                let data = stream_data(dict)?;
                self.object_streams += usize::from(named);
                self.within = Within::LineEnd { cr: false, data };
                Ok(at)
            }
            Within::LineEnd { cr, data } => {
                let used = match (bytes[0], *cr) {
                    (b'\r', false) => {
                        *cr = true;
                        return Ok(1);
                    }
                    (b'\n', _) => 1,
                    _ => 0,
                };
                self.within = match data {
                    Data::Skip => Within::Data { seam: Vec::new() },
                    Data::Objects => Within::Objects {
                        state: InflateState::new_boxed(DataFormat::Zlib),
                        tokens: Tokens::default(),
                        lexer: Lexer::default(),
                        read: 0,
                        made: 0,
                    },
                };
                Ok(used)
            }
            Within::Data { seam } => {
                // `endstream` (or, a misread, `endobj`) in the seam and this chunk's head.
                let mut joined = std::mem::take(seam);
                let carried = joined.len();
                joined.extend_from_slice(&bytes[..bytes.len().min(9)]);
                let end = memchr::memmem::find(&joined, b"endstream")
                    .map(|at| (at + 9).saturating_sub(carried))
                    .or_else(|| memchr::memmem::find(bytes, b"endstream").map(|at| at + 9));
                let object = memchr::memmem::find(&joined, b"endobj")
                    .map(|at| (at + 6).saturating_sub(carried))
                    .or_else(|| memchr::memmem::find(bytes, b"endobj").map(|at| at + 6));
                match (end, object) {
                    (_, Some(object)) if end.is_none_or(|end| object < end) => {
                        Err("an object inside a stream's data")
                    }
                    (Some(end), _) => {
                        self.within = Within::Structure;
                        Ok(end)
                    }
                    _ => {
                        joined.extend_from_slice(&bytes[bytes.len().min(9)..]);
                        let keep = joined.len().saturating_sub(8);
                        joined.drain(..keep);
                        *seam = joined;
                        Ok(bytes.len())
                    }
                }
            }
            Within::Objects {
                state,
                tokens,
                lexer,
                read,
                made,
            } => {
                let mut out = [0u8; 16 * 1024];
                let result = inflate(state, bytes, &mut out, MZFlush::None);
                let inflated = &out[..result.bytes_written];
                tokens.feed(inflated, &mut self.found);
                // Only its names matter here: a `stream` keyword in it is read past.
                let mut unread = inflated;
                while let Some(Met::Stream(at, _)) = lexer.read(unread) {
                    unread = &unread[at..];
                }
                *read += result.bytes_consumed as u64;
                *made += result.bytes_written as u64;
                self.inflated += result.bytes_written as u64;
                if lexer.bad_name {
                    return Err("a name whose escape is not two hex digits");
                }
                if *made > RATIO_FROM && *made > MAX_RATIO * *read {
                    return Err("an object stream inflating past the ratio");
                }
                if self.inflated > INFLATE_CAP {
                    return Err("object streams inflating past the cap");
                }
                match result.status {
                    Ok(MZStatus::StreamEnd) => {
                        self.within = Within::Data { seam: Vec::new() };
                        Ok(result.bytes_consumed)
                    }
                    Ok(MZStatus::Ok) if result.bytes_consumed + result.bytes_written > 0 => {
                        Ok(result.bytes_consumed)
                    }
                    // Every byte taken and more wanted: the next chunk goes on.
                    Ok(_) | Err(MZError::Buf) if result.bytes_consumed == bytes.len() => {
                        Ok(bytes.len())
                    }
                    _ => Err("an object stream that does not inflate"),
                }
            }
        }
    }

    /// The verdict once every byte went by.
    pub fn verdict(self) -> Result<PdfFindings, PdfRefusal> {
        if self.found[ENCRYPT] {
            return Err(PdfRefusal::Encrypted);
        }
        if self.found[LAUNCH] || self.found[EMBEDDED] {
            return Err(PdfRefusal::Active);
        }
        if !contains(&self.tail, b"%%EOF") {
            return Err(PdfRefusal::Corrupt);
        }
        let unverifiable = self.unverifiable.or(match self.within {
            Within::Objects { .. } => Some("an object stream cut short"),
            _ if self.raw.object_streams > self.object_streams => {
                Some("an object stream outside the structure read")
            }
            _ => None,
        });
        if unverifiable.is_some() {
            return Err(PdfRefusal::Unverifiable);
        }
        Ok(PdfFindings {
            javascript: self.found[JAVASCRIPT],
        })
    }

    /// Why the check could not be completed, for tests and logs.
    pub fn unverifiable(&self) -> Option<&'static str> {
        self.unverifiable
    }
}

mod lexer;

#[cfg(test)]
mod tests;
