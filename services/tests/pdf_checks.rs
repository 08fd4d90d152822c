//! The PDF checks (`domain::pdf_scan`) on files real producers make, which must pass
//! however the network cuts them, and on files made to hide an action from the
//! checks, which must never pass. qpdf, a real PDF reader, gives its opinion of the
//! latter: each must show the action to it, or the file would prove nothing.

use std::{collections::BTreeMap, path::Path, process::Command};

use domain::attachment::{PdfFindings, PdfScan, UploadError};

/// `file` checked as it arrives in chunks of `chunk` bytes.
fn check(file: &[u8], chunk: usize) -> Result<PdfFindings, UploadError> {
    let mut scan = PdfScan::default();
    for part in file.chunks(chunk.max(1)) {
        scan.feed(part);
    }
    scan.finish("scan.pdf")
}

/// The verdict, the same whatever the chunks (the network's, the browser's reads).
fn verdict(file: &[u8]) -> Result<PdfFindings, UploadError> {
    let whole = check(file, file.len());
    for chunk in [1, 7, 100, 4096, 65_536] {
        assert_eq!(check(file, chunk), whole, "in chunks of {chunk}");
    }
    whole
}

#[test]
fn files_from_real_producers_pass() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pdfs");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pdf") {
            continue;
        }
        let file = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(verdict(&file), Ok(PdfFindings::default()), "{name}");
        checked.push(name);
    }
    // Chromium, Ghostscript, Pillow, Cairo, and qpdf's rewrites with object streams.
    assert!(checked.len() >= 15, "{checked:?}");
    assert!(checked.iter().any(|n| n.contains("object-streams")));

    // The service's own: a printout (pdf-writer), the photos the browser makes one PDF.
    let printout = services::letters::printouts::Printout {
        title: "Dossier d'inscription".into(),
        issuer: "Centre de gestion (exemple)".into(),
        blocks: (0..80)
            .map(|n| {
                services::letters::printouts::Block::Field(
                    format!("Champ {n}"),
                    "Valeur (é)".into(),
                )
            })
            .collect(),
    };
    assert_eq!(verdict(&printout.to_pdf()), Ok(PdfFindings::default()));
    let jpeg = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scan.jpg")).unwrap();
    let photos = domain::pdf::from_photos(&[domain::pdf::Photo {
        jpeg: &jpeg,
        width: 300,
        height: 400,
    }]);
    assert_eq!(verdict(&photos), Ok(PdfFindings::default()));
}

fn flate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// A whole PDF, cross-reference stream included, whose catalogue opens on object 4:
/// `action`, kept in object stream 5 whose dictionary adds `dict` to `/Type /ObjStm
/// /N 1 /First …` and whose data is `encode(objects)`. `before`: streams written
/// first (dictionary, data), as objects 7, 8…
fn hiding(
    action: &str,
    dict: &str,
    encode: fn(&[u8]) -> Vec<u8>,
    before: &[(&str, Vec<u8>)],
) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = BTreeMap::new();
    let mut object = |pdf: &mut Vec<u8>, n: usize, body: &[u8]| {
        offsets.insert(n, pdf.len());
        pdf.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    };
    let stream = |dict: &str, data: &[u8]| {
        let mut body = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\nendstream");
        body
    };
    object(
        &mut pdf,
        1,
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
    );
    object(&mut pdf, 2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    object(
        &mut pdf,
        3,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    );
    for (i, (dict, data)) in before.iter().enumerate() {
        object(&mut pdf, 7 + i, &stream(dict, data));
    }
    let dict = format!("/Type /ObjStm /N 1 /First 4 {dict}");
    object(&mut pdf, 5, &stream(&dict, &encode(&objects(action))));
    // The cross-reference stream (object 6): type, offset (4 bytes), index (2 bytes).
    offsets.insert(6, pdf.len());
    let size = 7 + before.len();
    let mut entries = Vec::new();
    for n in 0..size {
        let (kind, field, index) = match n {
            0 => (0u8, 0u32, 65_535u16),
            4 => (2, 5, 0),
            n => (1, offsets[&n] as u32, 0),
        };
        entries.push(kind);
        entries.extend_from_slice(&field.to_be_bytes());
        entries.extend_from_slice(&index.to_be_bytes());
    }
    let xref = stream(
        &format!("/Type /XRef /Size {size} /W [1 4 2] /Root 1 0 R"),
        &entries,
    );
    pdf.extend_from_slice(b"6 0 obj\n");
    pdf.extend_from_slice(&xref);
    pdf.extend_from_slice(format!("\nendobj\nstartxref\n{}\n%%EOF\n", offsets[&6]).as_bytes());
    pdf
}

/// The data of an object stream holding `action` as object 4 (its header: 4 bytes),
/// long enough that Flate compresses it rather than storing it as it is.
fn objects(action: &str) -> Vec<u8> {
    format!("4 0 {action}\n{}", "% remplissage\n".repeat(40)).into_bytes()
}

const LAUNCH: &str = "<< /Type /Action /S /Launch /F (cmd.exe) >>";

/// What qpdf sees once it has written every object out, uncompressed.
fn as_qpdf_reads_it(file: &[u8]) -> Option<String> {
    if Command::new("qpdf").arg("--version").output().is_err() {
        services::testing::missing("qpdf", "scripts/tools.sh test installs Debian's qpdf");
        return None;
    }
    let folder = tempfile::tempdir().unwrap();
    let (input, output) = (folder.path().join("in.pdf"), folder.path().join("out.pdf"));
    std::fs::write(&input, file).unwrap();
    let status = Command::new("qpdf")
        .args(["--qdf", "--object-streams=disable"])
        .arg(&input)
        .arg(&output)
        .status()
        .unwrap();
    // 3: warnings (a repaired file), still written.
    assert!(matches!(status.code(), Some(0 | 3)), "qpdf: {status}");
    Some(String::from_utf8_lossy(&std::fs::read(output).unwrap()).into_owned())
}

#[test]
fn actions_hidden_in_object_streams_never_pass() {
    let hex = |data: &[u8]| {
        let mut out: Vec<u8> = flate(data)
            .iter()
            .flat_map(|b| format!("{b:02x}").into_bytes())
            .collect();
        out.push(b'>');
        out
    };
    // An object stream that inflates to 64 Mio of spaces: the old checks' budget,
    // spent before the one that matters.
    let bomb = flate(&[b' '; 64 * 1024 * 1024 + 1]);
    let bomb = [("/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", bomb)];
    // Rows of a PNG predictor: a tag byte every 20, cutting names in two.
    let predicted = |data: &[u8]| {
        let rows: Vec<u8> = data
            .chunks(20)
            .flat_map(|row| {
                let mut row = row.to_vec();
                row.resize(20, b' ');
                std::iter::once(0).chain(row)
            })
            .collect();
        flate(&rows)
    };
    let padding = format!("/Padding ({})", "x".repeat(4000));
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "plain Flate",
            hiding(LAUNCH, "/Filter /FlateDecode", flate, &[]),
            false,
        ),
        (
            "escaped filter name",
            hiding(LAUNCH, "/Filter /Fl#61teDecode", flate, &[]),
            false,
        ),
        (
            "padded dictionary",
            hiding(
                LAUNCH,
                &format!("/Filter /FlateDecode {padding}"),
                flate,
                &[],
            ),
            false,
        ),
        (
            "after an inflate bomb",
            hiding(LAUNCH, "/Filter /FlateDecode", flate, &bomb),
            true,
        ),
        (
            "ASCIIHex, then Flate",
            hiding(LAUNCH, "/Filter [/ASCIIHexDecode /FlateDecode]", hex, &[]),
            true,
        ),
        (
            "a predictor",
            hiding(
                LAUNCH,
                "/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 20 >>",
                predicted,
                &[],
            ),
            true,
        ),
        (
            "embedded file",
            hiding(
                "<< /Type /EmbeddedFile >>",
                "/Filter /FlateDecode",
                flate,
                &[],
            ),
            false,
        ),
    ];
    for (what, file, unverifiable) in cases {
        let result = verdict(&file);
        if unverifiable {
            assert!(
                matches!(result, Err(UploadError::Unverifiable { .. })),
                "{what}: {result:?}"
            );
        } else {
            assert!(
                matches!(result, Err(UploadError::Active { .. })),
                "{what}: {result:?}"
            );
        }
        // Nothing of it shows in the file's own bytes, and qpdf sees it.
        let raw = String::from_utf8_lossy(&file);
        assert!(
            !raw.contains("/Launch") && !raw.contains("/EmbeddedFile"),
            "{what}"
        );
        if let Some(read) = as_qpdf_reads_it(&file) {
            assert!(
                read.contains("/Launch") || read.contains("/EmbeddedFile"),
                "{what}: qpdf sees no action"
            );
        }
    }
}

#[test]
fn what_the_checks_cannot_read_is_refused() {
    let unverifiable = |what: &str, file: Vec<u8>| {
        let result = verdict(&file);
        assert!(
            matches!(result, Err(UploadError::Unverifiable { .. })),
            "{what}: {result:?}"
        );
    };
    let innocent = "<< /Type /Page >>";
    unverifiable(
        "an indirect filter",
        hiding(innocent, "/Filter 9 0 R", flate, &[]),
    );
    unverifiable(
        "a filter it does not decode",
        hiding(innocent, "/Filter /LZWDecode", flate, &[]),
    );
    unverifiable(
        "a bad escape in a name",
        hiding(innocent, "/Filter /Fl#zzateDecode", flate, &[]),
    );
    let long = format!("/Padding [{}] /Filter /FlateDecode", "0 ".repeat(40_000));
    unverifiable(
        "a dictionary past 64 Kio",
        hiding(innocent, &long, flate, &[]),
    );
    let cut = hiding(
        innocent,
        "/Filter /FlateDecode",
        |d| flate(d)[..8].to_vec(),
        &[],
    );
    unverifiable("an object stream that does not inflate", cut);
    // An object stream inside another stream's data: the structure reading skips it,
    // a reader that follows the cross-references would not.
    let hidden_data = flate(&objects(LAUNCH));
    let mut inner = format!(
        "9 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length {} >>\nstream\n",
        hidden_data.len()
    )
    .into_bytes();
    inner.extend_from_slice(&hidden_data);
    inner.extend_from_slice(b"\nendstream");
    unverifiable(
        "an object stream inside a stream",
        hiding(
            innocent,
            "/Filter /FlateDecode",
            flate,
            &[("/Subtype /Image", inner)],
        ),
    );
    // The same file without the trick passes.
    assert_eq!(
        verdict(&hiding(innocent, "/Filter /FlateDecode", flate, &[])),
        Ok(PdfFindings::default())
    );
}
