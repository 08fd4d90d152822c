//! Phone photos carry more than the picture: the GPS position where it was taken, the
//! phone's serial number, the date. Before a JPEG is stored, its metadata segments are
//! rewritten so that only the EXIF orientation stays (the photo still displays the
//! right way up), and everything else (rest of EXIF, XMP, Photoshop/IPTC, comments) is
//! dropped. The picture data itself passes through untouched.
//!
//! It works on a stream, chunk by chunk, buffering at most one metadata segment (64 KiB),
//! so uploads never sit whole in memory. Anything that is not a well-formed JPEG header
//! passes through unchanged: the type checks decide what is accepted, not this.

/// Segments kept as they are: JFIF/JFXX (APP0), ICC colour profiles (APP2), and every
/// non-APP segment (tables, frame headers).
fn keep(marker: u8) -> bool {
    !matches!(marker, 0xE1 | 0xE3..=0xEF | 0xFE)
}

const SOI: u8 = 0xD8;
const SOS: u8 = 0xDA;
const EOI: u8 = 0xD9;
const APP1: u8 = 0xE1;
const ORIENTATION: u16 = 0x0112;

#[derive(Debug)]
enum State {
    /// Before the first two bytes.
    Start,
    /// Between segments of the header, before the picture data.
    Header,
    /// Passing everything through: the picture data, or not a JPEG at all.
    Through,
}

/// Streams a JPEG through, cleaning its metadata on the way.
#[derive(Debug)]
pub struct MetadataStripper {
    state: State,
    pending: Vec<u8>,
    /// Metadata bytes removed so far.
    removed: u64,
}

impl Default for MetadataStripper {
    fn default() -> Self {
        Self::new()
    }
}

impl MetadataStripper {
    pub fn new() -> Self {
        Self {
            state: State::Start,
            pending: Vec::new(),
            removed: 0,
        }
    }

    /// How many bytes of metadata were dropped.
    pub fn removed(&self) -> u64 {
        self.removed
    }

    /// Takes the next chunk, returns what can be written now: past the header (almost
    /// all of a photo, and anything not a JPEG), the chunk itself, not a copy.
    pub fn feed<'a>(&mut self, chunk: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        if matches!(self.state, State::Through) {
            return std::borrow::Cow::Borrowed(chunk);
        }
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(self.pending.len());
        let mut at = 0;
        loop {
            let rest = &self.pending[at..];
            match self.state {
                State::Start => {
                    if rest.len() < 2 {
                        break;
                    }
                    if rest[..2] != [0xFF, SOI] {
                        self.state = State::Through;
                        continue;
                    }
                    out.extend_from_slice(&rest[..2]);
                    at += 2;
                    self.state = State::Header;
                }
                State::Header => {
                    if rest.len() < 4 {
                        break;
                    }
                    if rest[0] != 0xFF || rest[1] == SOS || rest[1] == 0xFF || rest[1] == 0x00 {
                        // The picture data starts (or something unexpected): from here
                        // on, bytes pass as they come.
                        self.state = State::Through;
                        continue;
                    }
                    let marker = rest[1];
                    let total = 2 + usize::from(u16::from_be_bytes([rest[2], rest[3]]));
                    if total < 4 {
                        self.state = State::Through;
                        continue;
                    }
                    if rest.len() < total {
                        break;
                    }
                    let segment = &rest[..total];
                    if keep(marker) {
                        out.extend_from_slice(segment);
                    } else if marker == APP1 && segment[4..].starts_with(b"Exif\0\0") {
                        let cleaned = orientation(&segment[10..]).map(exif_with_orientation);
                        let kept = cleaned.unwrap_or_default();
                        self.removed += (total - kept.len()) as u64;
                        out.extend_from_slice(&kept);
                    } else {
                        self.removed += total as u64;
                    }
                    at += total;
                }
                State::Through => {
                    out.extend_from_slice(rest);
                    at = self.pending.len();
                    break;
                }
            }
        }
        self.pending.drain(..at);
        std::borrow::Cow::Owned(out)
    }

    /// The end of the upload: whatever is still held (a cut-off header) goes out as is.
    pub fn finish(&mut self) -> Vec<u8> {
        self.state = State::Through;
        std::mem::take(&mut self.pending)
    }
}

/// Follows a JPEG's structure as it streams by: whether it has a frame header (the
/// picture's size and components: without one nothing can be shown), and where its
/// end-of-image marker is. Whatever follows that marker (the secondary pictures of a
/// multi-picture file, with EXIF of their own, or anything appended) is not kept.
#[derive(Debug, Default)]
pub struct JpegEnd {
    state: Walk,
    frame: bool,
    ended: bool,
}

#[derive(Debug, Default, Clone, Copy)]
enum Walk {
    /// Bytes of the start-of-image marker seen.
    #[default]
    Start,
    StartFf,
    /// Looking for the 0xFF of the next marker.
    Marker,
    /// After 0xFF: the marker's code.
    Code,
    LengthHigh(u8),
    LengthLow(u8, u8),
    /// Inside a segment: bytes left, and whether picture data follows (after SOS).
    Skip(usize, bool),
    /// Entropy-coded picture data.
    Data,
    DataFf,
    /// Not a JPEG's structure: kept whole, and refused at the end.
    Broken,
    Done,
}

/// Frame headers: SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
fn is_frame(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

impl JpegEnd {
    /// How many bytes of `chunk` belong to the picture: all of them until its end, the
    /// bytes up to the end-of-image marker in the chunk that holds it, none after.
    pub fn feed(&mut self, chunk: &[u8]) -> usize {
        let mut i = 0;
        while i < chunk.len() {
            let byte = chunk[i];
            self.state = match self.state {
                Walk::Done => return i,
                Walk::Broken => return chunk.len(),
                Walk::Start if byte == 0xFF => Walk::StartFf,
                Walk::StartFf if byte == SOI => Walk::Marker,
                Walk::Start | Walk::StartFf => Walk::Broken,
                // Decoders skip stray bytes between segments; so does this.
                Walk::Marker if byte == 0xFF => Walk::Code,
                Walk::Marker => Walk::Marker,
                Walk::Code | Walk::DataFf => match byte {
                    0xFF => self.state,
                    EOI => {
                        self.ended = true;
                        self.state = Walk::Done;
                        return i + 1;
                    }
                    0x00 | 0xD0..=0xD7 if matches!(self.state, Walk::DataFf) => Walk::Data,
                    0x01 | 0xD0..=0xD7 => Walk::Marker,
                    0x00 => Walk::Broken,
                    marker => Walk::LengthHigh(marker),
                },
                Walk::LengthHigh(marker) => Walk::LengthLow(marker, byte),
                Walk::LengthLow(marker, high) => {
                    let length = usize::from(u16::from_be_bytes([high, byte]));
                    if length < 2 {
                        Walk::Broken
                    } else {
                        self.frame |= is_frame(marker);
                        Walk::Skip(length - 2, marker == SOS)
                    }
                }
                Walk::Skip(left, data_follows) => {
                    let take = left.min(chunk.len() - i);
                    i += take;
                    self.state = match (left - take, data_follows) {
                        (0, true) => Walk::Data,
                        (0, false) => Walk::Marker,
                        (left, _) => Walk::Skip(left, data_follows),
                    };
                    continue;
                }
                Walk::Data => match memchr::memchr(0xFF, &chunk[i..]) {
                    Some(at) => {
                        i += at;
                        Walk::DataFf
                    }
                    None => {
                        i = chunk.len();
                        continue;
                    }
                },
            };
            i += 1;
        }
        chunk.len()
    }

    /// Whether what went by is a whole picture: a frame header, then its end.
    pub fn is_whole(&self) -> bool {
        self.frame && self.ended
    }
}

/// The Orientation value (1–8) of an EXIF TIFF block, if it has a valid one.
fn orientation(tiff: &[u8]) -> Option<u16> {
    let big = match tiff.get(..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |i: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(i..i + 2)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(i..i + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    if u16_at(2)? != 42 {
        return None;
    }
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd)?);
    (0..count).find_map(|n| {
        let entry = ifd + 2 + 12 * n;
        // Tag, type SHORT (3), count 1, value in the first two bytes of the field.
        (u16_at(entry)? == ORIENTATION && u16_at(entry + 2)? == 3 && u32_at(entry + 4)? == 1)
            .then(|| u16_at(entry + 8))
            .flatten()
            .filter(|v| (1..=8).contains(v))
    })
}

/// A whole APP1 segment holding only an Orientation tag; none for the default
/// orientation, which needs no tag.
fn exif_with_orientation(value: u16) -> Vec<u8> {
    if value == 1 {
        return Vec::new();
    }
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"MM\0\x2A\0\0\0\x08"); // big-endian, IFD0 at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&ORIENTATION.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&value.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut segment = vec![0xFF, APP1];
    segment.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    segment.extend_from_slice(b"Exif\0\0");
    segment.extend_from_slice(&tiff);
    segment
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    /// Little-endian EXIF as phones write it: Make, Orientation, and a GPS IFD with a
    /// latitude reference, all in IFD0's reach.
    fn exif(orientation: u16) -> Vec<u8> {
        let mut t = b"II\x2A\0\x08\0\0\0".to_vec();
        t.extend_from_slice(&3u16.to_le_bytes());
        // Make: ASCII, 4 bytes, inline « Acme ».
        t.extend_from_slice(&0x010Fu16.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&4u32.to_le_bytes());
        t.extend_from_slice(b"Acme");
        t.extend_from_slice(&ORIENTATION.to_le_bytes());
        t.extend_from_slice(&3u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&orientation.to_le_bytes());
        t.extend_from_slice(&[0, 0]);
        // GPS IFD pointer, to offset 50.
        t.extend_from_slice(&0x8825u16.to_le_bytes());
        t.extend_from_slice(&4u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&50u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        // GPS IFD: GPSLatitudeRef « N ».
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&2u32.to_le_bytes());
        t.extend_from_slice(b"N\0\0\0");
        t.extend_from_slice(&0u32.to_le_bytes());
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&t);
        payload.extend_from_slice(b"GPS 48.0686 N -0.7694 W");
        segment(APP1, &payload)
    }

    fn photo(orientation: u16) -> (Vec<u8>, Vec<u8>) {
        let jfif = segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        let icc = segment(0xE2, b"ICC_PROFILE\0\x01\x01colours");
        let xmp = segment(
            APP1,
            b"http://ns.adobe.com/xap/1.0/\0<x:gps>48.0686</x:gps>",
        );
        let comment = segment(0xFE, b"Laval, 12 rue de la Paix");
        let tables = segment(0xDB, &[0u8; 65]);
        let sos = segment(SOS, &[1, 1, 0, 0, 0x3F, 0]);
        let data = [0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9];
        let mut original = vec![0xFF, SOI];
        for part in [
            &jfif,
            &exif(orientation),
            &xmp,
            &icc,
            &comment,
            &tables,
            &sos,
        ] {
            original.extend_from_slice(part);
        }
        original.extend_from_slice(&data);
        let mut expected = vec![0xFF, SOI];
        for part in [
            &jfif,
            &exif_with_orientation(orientation),
            &icc,
            &tables,
            &sos,
        ] {
            expected.extend_from_slice(part);
        }
        expected.extend_from_slice(&data);
        (original, expected)
    }

    fn run(input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut s = MetadataStripper::new();
        let mut out = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain([input.len()].iter()) {
            let cut = cut.clamp(from, input.len());
            out.extend_from_slice(&s.feed(&input[from..cut]));
            from = cut;
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn location_and_camera_go_orientation_stays() {
        let (original, expected) = photo(6);
        let cleaned = run(&original, &[]);
        assert_eq!(cleaned, expected);
        let text = String::from_utf8_lossy(&cleaned);
        assert!(!text.contains("48.0686") && !text.contains("Acme") && !text.contains("Laval"));
        // SOI (2) + JFIF (18) + APP1 marker and length (4) + « Exif\0\0 » (6).
        assert_eq!(orientation(&cleaned[30..]), Some(6));
    }

    #[test]
    fn an_upright_photo_keeps_no_exif_at_all() {
        let (original, expected) = photo(1);
        assert_eq!(run(&original, &[]), expected);
        assert!(!expected.windows(4).any(|w| w == b"Exif"));
    }

    #[test]
    fn what_is_not_a_jpeg_header_passes_unchanged() {
        for input in [
            b"%PDF-1.7\n%%EOF\n".to_vec(),
            vec![0xFF, 0xD8],
            vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00],
            // A segment length that runs past the end.
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0x40, 0x00, 1, 2, 3],
            vec![0xFF, 0xD8, 0x00, 0x00, 0xFF, 0xE1, 0, 4, 0, 0],
        ] {
            assert_eq!(run(&input, &[1]), input);
        }
    }

    proptest! {
        /// However the network cuts the upload, the stored bytes are the same.
        #[test]
        fn chunking_does_not_matter(mut cuts in proptest::collection::vec(0usize..200, 0..12)) {
            cuts.sort();
            let (original, expected) = photo(8);
            prop_assert_eq!(run(&original, &cuts), expected);
        }

        /// Never panics on any bytes behind a JPEG start, and leaves anything else alone.
        #[test]
        fn any_bytes(mut input in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..400, jpeg: bool) {
            if jpeg && input.len() > 2 {
                input[0] = 0xFF;
                input[1] = 0xD8;
            }
            let out = run(&input, &[cut]);
            if !input.starts_with(&[0xFF, 0xD8]) {
                prop_assert_eq!(out, input);
            }
        }
    }

    /// A picture with a frame header, then data holding a stuffed 0xFF and a restart
    /// marker, then its end.
    fn whole_picture() -> Vec<u8> {
        let mut f = vec![0xFF, SOI];
        f.extend(segment(0xE1, b"Exif\0\0thumbnail \xFF\xD8\xFF\xD9 inside"));
        f.extend(segment(0xC0, &[8, 0, 16, 0, 16, 1, 1, 0x11, 0]));
        f.extend(segment(SOS, &[1, 1, 0, 0, 0x3F, 0]));
        f.extend([0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xD9]);
        f
    }

    #[test]
    fn a_whole_picture_ends_at_its_end_marker_and_what_follows_is_dropped() {
        let picture = whole_picture();
        let mut file = picture.clone();
        // A multi-picture file's second picture, with its own metadata.
        file.extend([0xFF, SOI]);
        file.extend(segment(0xE1, b"Exif\0\0GPS 48.0686 N"));
        file.extend([0xFF, 0xD9]);
        let mut end = JpegEnd::default();
        assert_eq!(end.feed(&file), picture.len());
        assert!(end.is_whole());
        assert_eq!(end.feed(b"more"), 0);
    }

    #[test]
    fn a_picture_cut_short_or_without_a_frame_is_not_whole() {
        let picture = whole_picture();
        let mut cut = JpegEnd::default();
        cut.feed(&picture[..picture.len() - 3]);
        assert!(!cut.is_whole());
        let mut four_bytes = JpegEnd::default();
        four_bytes.feed(&[0xFF, 0xD8, 0xFF, 0xE0]);
        assert!(!four_bytes.is_whole());
        let mut no_frame = JpegEnd::default();
        let mut f = vec![0xFF, SOI];
        f.extend(segment(SOS, &[1, 1, 0, 0, 0x3F, 0]));
        f.extend([0x12, 0xFF, 0xD9]);
        no_frame.feed(&f);
        assert!(!no_frame.is_whole());
    }

    proptest! {
        #[test]
        fn where_the_picture_ends_does_not_depend_on_chunks(
            cuts in proptest::collection::vec(0usize..80, 0..10),
            trailer in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let picture = whole_picture();
            let mut file = picture.clone();
            file.extend(&trailer);
            let mut cuts = cuts;
            cuts.sort();
            let mut end = JpegEnd::default();
            let (mut from, mut kept) = (0, 0);
            for &cut in cuts.iter().chain([file.len()].iter()) {
                let cut = cut.clamp(from, file.len());
                kept += end.feed(&file[from..cut]);
                from = cut;
            }
            prop_assert_eq!(kept, picture.len());
            prop_assert!(end.is_whole());
        }
    }
}
