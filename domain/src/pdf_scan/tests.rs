use super::*;

fn scan(parts: &[&[u8]]) -> Result<PdfFindings, PdfRefusal> {
    let mut scan = PdfScan::default();
    for part in parts {
        scan.feed(part);
    }
    scan.verdict()
}

/// As the server reads a part: up to what must be inflated at once (which must not
/// inflate anything), the rest as a blocking thread does.
fn served(parts: &[&[u8]]) -> Result<PdfFindings, PdfRefusal> {
    let mut scan = PdfScan::default();
    for part in parts {
        let inflated = scan.inflated;
        let read = scan.feed_until_inflating(part);
        assert_eq!(
            scan.inflated, inflated,
            "inflated before the blocking thread"
        );
        assert!(read == part.len() || matches!(scan.within, Within::Objects { .. }));
        scan.feed(&part[read..]);
    }
    scan.verdict()
}

#[test]
fn escaped_names_are_read_as_what_they_spell() {
    let end: &[u8] = b"\n%%EOF\n";
    assert!(matches!(
        scan(&[b"%PDF-1.7\n<< /Encr#79pt 5 0 R >>", end]),
        Err(PdfRefusal::Encrypted)
    ));
    // The escape cut between two chunks.
    assert!(matches!(
        scan(&[b"%PDF-1.7\n<< /Encr#7", b"9pt 5 0 R >>", end]),
        Err(PdfRefusal::Encrypted)
    ));
    assert!(matches!(
        scan(&[b"%PDF-1.7\n<< /S /#4Cau#6ech /F (cmd.exe) >>", end]),
        Err(PdfRefusal::Active)
    ));
    assert!(matches!(
        scan(&[b"%PDF-1.7\n<< /EmbeddedFiles 3 0 R >>", end]),
        Err(PdfRefusal::Active)
    ));
    assert_eq!(
        scan(&[b"%PDF-1.7\n<< /S /Java#53cript /JS (app.alert(1)) >>", end]),
        Ok(PdfFindings { javascript: true })
    );
    // A `#` that is no escape stays as it is.
    assert_eq!(
        scan(&[b"%PDF-1.7\n(page #1, 100#)", b"#", end]),
        Ok(PdfFindings::default())
    );
}

/// A PDF whose object stream (Flate) holds `hidden`, cut where the network likes.
fn compressed(hidden: &[u8]) -> Vec<u8> {
    let mut objects = b"1 0 2 30 ".to_vec();
    objects.extend_from_slice(b"<< /Type /Catalog >> << ");
    // Enough repeated text that the stream is really compressed, not stored.
    objects.extend(b"/Kids [3 0 R] ".repeat(40));
    objects.extend_from_slice(hidden);
    objects.extend_from_slice(b" >>");
    let data = miniz_oxide::deflate::compress_to_vec_zlib(&objects, 6);
    let mut pdf =
        b"%PDF-1.7\n5 0 obj\n<< /Type /ObjStm /N 2 /First 9 /Filter /FlateDecode /Length ".to_vec();
    pdf.extend_from_slice(format!("{} >>\nstream\r\n", data.len()).as_bytes());
    pdf.extend_from_slice(&data);
    pdf.extend_from_slice(b"\r\nendstream\nendobj\nstartxref\n0\n%%EOF\n");
    pdf
}

#[test]
fn what_hides_in_a_compressed_object_stream_is_seen_wherever_the_file_is_cut() {
    let launch = compressed(b"/S /Launch /F (cmd.exe)");
    let script = compressed(b"/S /JavaScript /JS (app.alert(1))");
    let plain = compressed(b"/Type /Page");
    // Nothing of it shows in the file's own bytes.
    assert!(!contains(&launch, b"/Launch") && !contains(&script, b"/JavaScript"));
    for cut in 0..launch.len() {
        assert!(
            matches!(
                scan(&[&launch[..cut], &launch[cut..]]),
                Err(PdfRefusal::Active)
            ),
            "cut at {cut}"
        );
    }
    for cut in (0..script.len()).step_by(3) {
        assert_eq!(
            scan(&[&script[..cut], &script[cut..]]),
            Ok(PdfFindings { javascript: true }),
            "cut at {cut}"
        );
    }
    assert_eq!(scan(&[plain.as_slice()]), Ok(PdfFindings::default()));
    // Read as the server does, the same verdicts wherever the file is cut.
    for pdf in [&launch, &script, &plain] {
        for cut in 0..pdf.len() {
            let parts = [&pdf[..cut], &pdf[cut..]];
            assert_eq!(served(&parts), scan(&parts), "cut at {cut}");
        }
    }
    // Streams that are not Flate (a scanned page's JPEG) are not inflated.
    let image = b"%PDF-1.7\n6 0 obj\n<< /Filter /DCTDecode /Length 4 >>\nstream\n\xFF\xD8\xFF\xD9\nendstream\nendobj\n%%EOF\n";
    assert_eq!(scan(&[&image[..]]), Ok(PdfFindings::default()));
}

#[test]
fn pdf_scan_finds_encryption_across_chunks() {
    let mut scan = PdfScan::default();
    scan.feed(b"%PDF-1.7\n1 0 obj << /Enc");
    scan.feed(b"rypt 5 0 R >>\n%%EOF\n");
    assert!(matches!(scan.verdict(), Err(PdfRefusal::Encrypted)));
    let mut scan = PdfScan::default();
    scan.feed(b"%PDF-1.7\n");
    scan.feed(&vec![b'x'; 5000]);
    scan.feed(b"\nstartxref\n123\n%%EOF\n");
    assert_eq!(scan.verdict(), Ok(PdfFindings::default()));
    let mut truncated = PdfScan::default();
    truncated.feed(b"%PDF-1.7\n1 0 obj");
    assert!(matches!(truncated.verdict(), Err(PdfRefusal::Corrupt)));
}

#[test]
fn strings_and_comments_do_not_fool_the_structure_reading() {
    // `>> stream` inside a string, `stream` in a comment: the dictionary goes on,
    // and the object stream it declares is still inflated.
    let data = miniz_oxide::deflate::compress_to_vec_zlib(&b"1 0 << /S /Launch >> ".repeat(20), 6);
    // Runs the lexer passes at once (spaces, a comment, a hex string, a string with
    // nested parentheses) end where they should.
    let mut pdf =
        b"%PDF-1.7\n5 0 obj\n<< /Title (a >> stream\n\\) b) % stream\n/Type /ObjStm /N 1 /First 4"
            .to_vec();
    pdf.extend_from_slice(&[b' '; 300]);
    pdf.extend_from_slice(b"/Pad <41 42 stream 43> /Alt (x (stream) >> stream \\( y) % >> stream\r/Filter /FlateDecode >>\nstream\n");
    pdf.extend_from_slice(&data);
    pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
    assert!(!contains(&pdf, b"/Launch"));
    for cut in 0..pdf.len() {
        assert!(
            matches!(scan(&[&pdf[..cut], &pdf[cut..]]), Err(PdfRefusal::Active)),
            "cut at {cut}"
        );
    }
}

#[test]
fn a_pdf_padded_with_megabytes_of_spaces_and_comments_is_read_as_one_without() {
    let hidden = compressed(b"/S /Launch /F (cmd.exe)");
    let at = hidden.windows(6).position(|w| w == b"5 0 ob").unwrap();
    let mut padded = hidden[..at].to_vec();
    padded.extend(std::iter::repeat_n(b' ', 2 << 20));
    padded.extend(b"% a comment\n".repeat(100_000));
    padded.extend_from_slice(&hidden[at..]);
    for step in [1 << 16, 12_345] {
        let mut scan = PdfScan::default();
        for part in padded.chunks(step) {
            scan.feed(part);
        }
        assert!(matches!(scan.verdict(), Err(PdfRefusal::Active)), "{step}");
    }
}

#[test]
fn an_object_inside_a_streams_data_or_a_stray_object_stream_name_is_unverifiable() {
    let inside = b"%PDF-1.7\n1 0 obj\n<< /Length 5 0 R >>\nstream\nxx\nendobj\n2 0 obj\n<< >>\nendstream\nendobj\n%%EOF\n";
    assert!(matches!(scan(&[inside]), Err(PdfRefusal::Unverifiable)));
    let stray = b"%PDF-1.7\n1 0 obj\n<< /Length 5 0 R >>\nstream\n<< /Type /ObjStm >>\nendstream\nendobj\n%%EOF\n";
    assert!(matches!(scan(&[stray]), Err(PdfRefusal::Unverifiable)));
    let fine = b"%PDF-1.7\n1 0 obj\n<< /Length 5 0 R >>\nstream\nBT (Bonjour) Tj ET\nendstream\nendobj\n%%EOF\n";
    assert_eq!(scan(&[fine]), Ok(PdfFindings::default()));
}

#[test]
fn an_object_stream_inflating_past_the_ratio_is_unverifiable() {
    let data = miniz_oxide::deflate::compress_to_vec_zlib(&[b' '; 1 << 20], 9);
    assert!(data.len() * (MAX_RATIO as usize) < 1 << 20);
    let mut pdf =
        b"%PDF-1.7\n5 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode >>\nstream\n"
            .to_vec();
    pdf.extend_from_slice(&data);
    pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
    assert!(matches!(scan(&[&pdf]), Err(PdfRefusal::Unverifiable)));
}

proptest::proptest! {
    /// However the network cuts a PDF, an encryption dictionary is found, and a
    /// clean file passes.
    #[test]
    fn pdf_scan_does_not_depend_on_chunks(at in 0usize..3000, mut cuts in proptest::collection::vec(0usize..3100, 0..40)) {
        let mut body = b"%PDF-1.7\n".to_vec();
        body.extend(std::iter::repeat_n(b'x', 3000));
        body.extend(b"\nstartxref\n0\n%%EOF\n");
        let mut encrypted = body.clone();
        encrypted.splice(at..at, b"/Encrypt 5 0 R".iter().copied());
        cuts.sort();
        for (data, want_encrypted) in [(body, false), (encrypted, true)] {
            let mut scan = PdfScan::default();
            let mut from = 0;
            for &cut in cuts.iter().chain([data.len()].iter()) {
                let cut = cut.clamp(from, data.len());
                scan.feed(&data[from..cut]);
                from = cut;
            }
            let result = scan.verdict();
            proptest::prop_assert_eq!(matches!(result, Err(PdfRefusal::Encrypted)), want_encrypted);
            if !want_encrypted {
                proptest::prop_assert_eq!(result, Ok(PdfFindings::default()));
            }
        }
    }

    #[test]
    fn chunking_does_not_change_the_pdf_verdict(
        body in proptest::collection::vec(proptest::num::u8::ANY, 0..3000),
        cut in 0usize..3000,
        encrypt in proptest::bool::ANY,
    ) {
        let mut file = b"%PDF-1.7\n".to_vec();
        file.extend(&body);
        if encrypt { file.extend(b"/Encrypt 3 0 R"); }
        file.extend(b"\n%%EOF\n");
        let cut = cut.min(file.len());
        let mut whole = PdfScan::default();
        whole.feed(&file);
        let mut split = PdfScan::default();
        split.feed(&file[..cut]);
        split.feed(&file[cut..]);
        let whole = whole.verdict();
        proptest::prop_assert_eq!(whole, split.verdict());
        proptest::prop_assert_eq!(whole, served(&[&file[..cut], &file[cut..]]));
    }

    /// The tokens are found as a plain search of the file finds them, wherever they
    /// stand and however the file is cut.
    #[test]
    fn the_tokens_are_those_a_plain_search_finds(
        words in proptest::collection::vec(proptest::sample::select(vec![
            "/Encrypt", "/Launch", "/EmbeddedFile", "/JavaScript", "/Java", "/Launc",
            "/", "//", "Launch", " ", "x", "(", ")", "<<", ">>",
        ]), 0..60),
        cut in 0usize..400,
    ) {
        let mut file = b"%PDF-1.7\n".to_vec();
        file.extend(words.concat().bytes());
        file.extend(b"\n%%EOF\n");
        let cut = cut.min(file.len());
        let has = |token: &[u8]| contains(&file, token);
        let want = if has(b"/Encrypt") {
            Err(PdfRefusal::Encrypted)
        } else if has(b"/Launch") || has(b"/EmbeddedFile") {
            Err(PdfRefusal::Active)
        } else {
            Ok(PdfFindings { javascript: has(b"/JavaScript") })
        };
        proptest::prop_assert_eq!(scan(&[&file[..cut], &file[cut..]]), want);
        proptest::prop_assert_eq!(served(&[&file[..cut], &file[cut..]]), want);
    }
}
