//! A PDF made of photos: one A4 page per JPEG, the picture placed as it is (no
//! re-encoding: PDF reads JPEG data with its `DCTDecode` filter), scaled to fit inside
//! a margin and centred, the page turned to the picture's orientation. The browser
//! builds it from the candidate's photos (recto and verso, the pages of a
//! certificate) so they go up as one file; the server checks it like any other PDF.

/// One photo: JPEG bytes (baseline or progressive, RGB), and its size in pixels.
pub struct Photo<'a> {
    pub jpeg: &'a [u8],
    pub width: u32,
    pub height: u32,
}

/// A4 in hundredths of a point, and the white margin around each picture: integers,
/// so the browser's code formats no float.
const A4: (u64, u64) = (59_528, 84_189);
const MARGIN: u64 = 2_800;

/// Hundredths of a point as PDF writes a number: `595.28`.
fn points(hundredths: u64) -> String {
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// The PDF file of `photos`, one page each, in order.
pub fn from_photos(photos: &[Photo]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |out: &mut Vec<u8>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    // Objects 1 and 2: the catalogue and the page tree; then three per page (page,
    // content, picture), so page i is object 3 + 3i.
    let kids: Vec<String> = (0..photos.len())
        .map(|i| format!("{} 0 R", 3 + 3 * i))
        .collect();
    object(&mut out, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(
        &mut out,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            photos.len()
        )
        .as_bytes(),
    );
    for (i, photo) in photos.iter().enumerate() {
        let (page_w, page_h) = if photo.width > photo.height {
            (A4.1, A4.0)
        } else {
            A4
        };
        let (w, h) = (
            u64::from(photo.width.max(1)),
            u64::from(photo.height.max(1)),
        );
        let (room_w, room_h) = (page_w - 2 * MARGIN, page_h - 2 * MARGIN);
        // The picture's ratio kept: as wide as the room allows, or as high.
        let (draw_w, draw_h) = if w * room_h <= h * room_w {
            (w * room_h / h, room_h)
        } else {
            (room_w, h * room_w / w)
        };
        let (x, y) = ((page_w - draw_w) / 2, (page_h - draw_h) / 2);
        let (page, content, picture) = (3 + 3 * i, 4 + 3 * i, 5 + 3 * i);
        object(
            &mut out,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources << /XObject << /P{page} {picture} 0 R >> >> /Contents {content} 0 R >>",
                points(page_w),
                points(page_h)
            )
            .as_bytes(),
        );
        let draw = format!(
            "q {} 0 0 {} {} {} cm /P{page} Do Q",
            points(draw_w),
            points(draw_h),
            points(x),
            points(y)
        );
        object(
            &mut out,
            format!(
                "<< /Length {} >>\nstream\n{draw}\nendstream",
                draw.len() + 1
            )
            .as_bytes(),
        );
        let mut image = format!(
            "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
            photo.width,
            photo.height,
            photo.jpeg.len()
        )
        .into_bytes();
        image.extend_from_slice(photo.jpeg);
        image.extend_from_slice(b"\nendstream");
        object(&mut out, &image);
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for offset in &offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        FileKind,
        attachment::{PdfFindings, WholeFile},
    };

    fn count(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count()
    }

    #[test]
    fn each_photo_is_a_page_holding_its_jpeg_as_it_is_and_the_file_passes_the_checks() {
        let recto = b"\xFF\xD8recto\xFF\xD9".to_vec();
        let verso = b"\xFF\xD8verso, plus long\xFF\xD9".to_vec();
        let pdf = from_photos(&[
            Photo {
                jpeg: &recto,
                width: 2000,
                height: 1500,
            },
            Photo {
                jpeg: &verso,
                width: 1500,
                height: 2000,
            },
        ]);
        assert_eq!(FileKind::sniff(&pdf), Some(FileKind::Pdf));
        assert_eq!(count(&pdf, b"/Type /Page "), 2);
        assert!(count(&pdf, b"/Count 2") == 1);
        assert!(count(&pdf, &recto) == 1 && count(&pdf, &verso) == 1);
        // Landscape for the landscape photo, portrait for the other.
        assert!(count(&pdf, b"/MediaBox [0 0 841.89 595.28]") == 1);
        assert!(count(&pdf, b"/MediaBox [0 0 595.28 841.89]") == 1);
        // Every offset in the cross-reference table points at its object.
        let text = String::from_utf8_lossy(&pdf);
        let xref = text.rfind("xref\n").unwrap();
        for (n, line) in text[xref..].lines().skip(3).take(8).enumerate() {
            let at: usize = line[..10].parse().unwrap();
            assert!(
                pdf[at..].starts_with(format!("{} 0 obj", n + 1).as_bytes()),
                "object {}",
                n + 1
            );
        }
        let mut whole = WholeFile::default();
        whole.feed(&pdf, Some(FileKind::Pdf));
        assert_eq!(
            whole.finish("photos.pdf", FileKind::Pdf).unwrap(),
            PdfFindings::default()
        );
    }
}
