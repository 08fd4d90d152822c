//! The PDF syntax a reader lexes: enough of it to find each stream's dictionary, with
//! strings, comments and `#` escapes read as a reader reads them.

use super::{DICT_MAX, hex};

/// Where the lexer is within a token.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Normal,
    Comment,
    /// A literal string: its parentheses' depth, and whether a backslash came last.
    Literal {
        depth: u32,
        escaped: bool,
    },
    Hex,
    /// A name: a `#` escape's digits read so far (`None`: no escape open).
    Name {
        escape: Option<(u8, Option<u8>)>,
    },
    /// After `<`: `<<` or a hex string.
    Less,
    /// After `>`: `>>`, or a stray `>`.
    Greater,
}

/// Reads PDF syntax as a reader lexes it, to find the dictionary of each stream.
#[derive(Default)]
pub(super) struct Lexer {
    mode: Mode,
    /// Dictionary nesting.
    depth: u32,
    /// The top-level dictionary being read: tokens separated by spaces, names decoded,
    /// strings as `()` and `<>`; and whether it ran past [`DICT_MAX`].
    dict: Vec<u8>,
    overflow: bool,
    /// The last top-level dictionary, while only the keyword `stream` may follow it.
    last: Option<(Vec<u8>, bool)>,
    /// A keyword or number being read (its first bytes).
    word: Vec<u8>,
    /// A name with a `#` not followed by two hex digits.
    pub(super) bad_name: bool,
}

/// What the lexer met.
pub(super) enum Met {
    /// The keyword `stream`, ended by the byte at this index (not consumed), after
    /// this dictionary (`None`: none right before it) and whether it was cut.
    Stream(usize, Option<(Vec<u8>, bool)>),
}

impl Lexer {
    fn push(&mut self, bytes: &[u8]) {
        if self.depth == 0 {
            return;
        }
        if self.dict.len() + bytes.len() > DICT_MAX {
            self.overflow = true;
        } else {
            self.dict.extend_from_slice(bytes);
        }
    }

    /// A keyword or number ends: `stream` is reported, anything else ends the wait
    /// for one after a dictionary.
    fn end_word(&mut self) -> bool {
        if self.word.is_empty() {
            return false;
        }
        let stream = self.depth == 0 && self.word == b"stream";
        self.word.clear();
        if !stream && self.depth == 0 {
            self.last = None;
        }
        self.push(b" ");
        stream
    }

    /// Something other than a keyword at the top level: no stream can follow the
    /// last dictionary now.
    fn other(&mut self) {
        if self.depth == 0 {
            self.last = None;
        }
    }

    /// Reads `bytes` until the keyword `stream`, if it comes.
    pub(super) fn read(&mut self, bytes: &[u8]) -> Option<Met> {
        let mut i = 0;
        while i < bytes.len() {
            // Runs that change nothing are passed at once rather than byte by byte: a
            // PDF padded with megabytes of spaces or comments costs a scan of memory.
            let skip = match self.mode {
                Mode::Normal if self.word.is_empty() => spaces(&bytes[i..]),
                Mode::Comment => {
                    memchr::memchr2(b'\r', b'\n', &bytes[i..]).unwrap_or(bytes.len() - i)
                }
                Mode::Hex => memchr::memchr(b'>', &bytes[i..]).unwrap_or(bytes.len() - i),
                Mode::Literal { escaped: false, .. } => {
                    memchr::memchr3(b'\\', b'(', b')', &bytes[i..]).unwrap_or(bytes.len() - i)
                }
                _ => 0,
            };
            if skip > 0 {
                i += skip;
                continue;
            }
            let b = bytes[i];
            match self.mode {
                Mode::Comment => {
                    if b == b'\r' || b == b'\n' {
                        self.mode = Mode::Normal;
                    }
                }
                Mode::Literal { depth, escaped } => {
                    self.mode = match (escaped, b) {
                        (true, _) => Mode::Literal {
                            depth,
                            escaped: false,
                        },
                        (false, b'\\') => Mode::Literal {
                            depth,
                            escaped: true,
                        },
                        (false, b'(') => Mode::Literal {
                            depth: depth + 1,
                            escaped: false,
                        },
                        (false, b')') if depth == 1 => {
                            self.push(b"() ");
                            Mode::Normal
                        }
                        (false, b')') => Mode::Literal {
                            depth: depth - 1,
                            escaped: false,
                        },
                        _ => Mode::Literal { depth, escaped },
                    };
                }
                Mode::Hex => {
                    if b == b'>' {
                        self.push(b"<> ");
                        self.mode = Mode::Normal;
                    }
                }
                Mode::Less => {
                    if b == b'<' {
                        self.depth += 1;
                        if self.depth == 1 {
                            self.dict.clear();
                            self.overflow = false;
                            self.last = None;
                        }
                        self.push(b"<< ");
                        self.mode = Mode::Normal;
                    } else {
                        self.other();
                        self.mode = Mode::Hex;
                        continue; // this byte is the hex string's
                    }
                }
                Mode::Greater => {
                    self.mode = Mode::Normal;
                    if b == b'>' {
                        if self.depth > 0 {
                            self.push(b">> ");
                            self.depth -= 1;
                            if self.depth == 0 {
                                let dict = std::mem::take(&mut self.dict);
                                self.last = Some((dict, self.overflow));
                            }
                        }
                    } else {
                        continue; // a stray `>`: this byte is read afresh
                    }
                }
                Mode::Name { escape } => {
                    if is_delimiter(b) || is_space(b) {
                        if escape.is_some() {
                            self.bad_name = true;
                        }
                        self.push(b" ");
                        self.mode = Mode::Normal;
                        continue; // this byte ends the name and is read afresh
                    }
                    self.mode = match escape {
                        None if b == b'#' => Mode::Name {
                            escape: Some((0, None)),
                        },
                        None => {
                            self.push(&[b]);
                            Mode::Name { escape: None }
                        }
                        Some((_, None)) => match hex(b) {
                            Some(high) => Mode::Name {
                                escape: Some((high, Some(0))),
                            },
                            None => {
                                self.bad_name = true;
                                Mode::Name { escape: None }
                            }
                        },
                        Some((high, Some(_))) => match hex(b) {
                            Some(low) => {
                                self.push(&[high * 16 + low]);
                                Mode::Name { escape: None }
                            }
                            None => {
                                self.bad_name = true;
                                Mode::Name { escape: None }
                            }
                        },
                    };
                }
                Mode::Normal => {
                    if (is_space(b) || is_delimiter(b)) && self.end_word() {
                        return Some(Met::Stream(i, self.last.take()));
                    }
                    match b {
                        b'%' => self.mode = Mode::Comment,
                        b'(' => {
                            self.other();
                            self.mode = Mode::Literal {
                                depth: 1,
                                escaped: false,
                            };
                        }
                        b'<' => self.mode = Mode::Less,
                        b'>' => self.mode = Mode::Greater,
                        b'/' => {
                            self.other();
                            self.push(b"/");
                            self.mode = Mode::Name { escape: None };
                        }
                        b'[' | b']' | b'{' | b'}' => {
                            self.other();
                            self.push(&[b, b' ']);
                        }
                        b')' => {}
                        _ if is_space(b) => {}
                        _ => {
                            if self.word.len() < 16 {
                                self.word.push(b);
                            }
                            self.push(&[b]);
                        }
                    }
                }
            }
            i += 1;
        }
        None
    }
}

/// How many whitespace bytes `bytes` starts with: runs of plain spaces (a padded
/// file's) eight at a time.
fn spaces(bytes: &[u8]) -> usize {
    let mut n = 0;
    while bytes.get(n..n + 8) == Some(b"        ") {
        n += 8;
    }
    n + bytes[n..].iter().take_while(|b| is_space(**b)).count()
}

pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b'\0' | b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}
