//! Photos in the browser, before they go up a phone's connection: a heavy JPEG made
//! lighter (2,000 px on its long side, quality 0.85, turned upright), another image
//! the browser can decode (PNG, WebP, HEIC on Safari) made a JPEG, and several photos
//! made one PDF ([`domain::pdf`]).
//!
//! All of it runs in the window's lazy work chunk (`pieces::browser::work`).

use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, CanvasRenderingContext2d, HtmlCanvasElement, HtmlImageElement, Url};

/// The JPEG quality a photo is encoded at: a page stays legible, and a phone photo of
/// 3 to 8 Mo weighs under 1 Mo.
const QUALITY: f64 = 0.85;
/// A JPEG heavier than this is reduced even when its sides are short.
const HEAVY: f64 = 2.0 * 1024.0 * 1024.0;

/// A photo as a JPEG, and its size in pixels.
#[derive(Clone)]
pub struct Jpeg {
    pub blob: Blob,
    pub width: u32,
    pub height: u32,
}

/// The picture, decoded and turned upright by the browser (EXIF orientation applied);
/// `None` when the browser cannot read it as an image.
async fn decode(file: &Blob) -> Option<HtmlImageElement> {
    let url = Url::create_object_url_with_blob(file).ok()?;
    let img = HtmlImageElement::new().ok()?;
    img.set_src(&url);
    let decoded = JsFuture::from(img.decode()).await;
    let _ = Url::revoke_object_url(&url);
    decoded.ok()?;
    Some(img)
}

/// Whether this picture is worth reducing: heavier than [`HEAVY`] or larger than
/// [`domain::picture::LONG_SIDE`].
fn is_heavy(img: &HtmlImageElement, bytes: f64) -> bool {
    bytes > HEAVY || img.natural_width().max(img.natural_height()) > domain::picture::LONG_SIDE
}

fn canvas(width: f64, height: f64) -> Option<(HtmlCanvasElement, CanvasRenderingContext2d)> {
    let canvas: HtmlCanvasElement = leptos::prelude::document()
        .create_element("canvas")
        .ok()?
        .dyn_into()
        .ok()?;
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let context: CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    // Flattened on white: a transparent PNG must not turn black as a JPEG.
    context.set_fill_style_str("#fff");
    context.fill_rect(0.0, 0.0, width, height);
    Some((canvas, context))
}

/// The picture as a JPEG of at most [`domain::picture::LONG_SIDE`] on its long side,
/// through the canvases [`domain::picture::reduction_steps`] gives.
async fn to_jpeg(img: &HtmlImageElement) -> Option<Jpeg> {
    let mut current: Option<HtmlCanvasElement> = None;
    let (mut width, mut height) = (0, 0);
    for (w, h) in domain::picture::reduction_steps(img.natural_width(), img.natural_height()) {
        let (next, context) = canvas(f64::from(w), f64::from(h))?;
        let (dw, dh) = (f64::from(w), f64::from(h));
        match &current {
            None => context
                .draw_image_with_html_image_element_and_dw_and_dh(img, 0.0, 0.0, dw, dh)
                .ok()?,
            Some(previous) => context
                .draw_image_with_html_canvas_element_and_dw_and_dh(previous, 0.0, 0.0, dw, dh)
                .ok()?,
        }
        current = Some(next);
        (width, height) = (w, h);
    }
    let canvas = current?;
    let blob = js_sys::Promise::new(&mut |resolve, _| {
        let done = Closure::once_into_js(move |blob: JsValue| {
            let _ = resolve.call1(&JsValue::NULL, &blob);
        });
        if canvas
            .to_blob_with_type_and_encoder_options(
                done.unchecked_ref(),
                "image/jpeg",
                &JsValue::from_f64(QUALITY),
            )
            .is_err()
        {
            let _ = js_sys::Function::from(done).call1(&JsValue::NULL, &JsValue::NULL);
        }
    });
    let blob: Blob = JsFuture::from(blob).await.ok()?.dyn_into().ok()?;
    Some(Jpeg {
        blob,
        width,
        height,
    })
}

async fn bytes_of(blob: &Blob) -> Option<Vec<u8>> {
    let buffer = JsFuture::from(blob.array_buffer()).await.ok()?;
    Some(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// One PDF of these photos, a page each, in order.
pub async fn pdf_of(pages: Vec<Jpeg>) -> Option<Blob> {
    let mut jpegs = Vec::with_capacity(pages.len());
    for page in &pages {
        jpegs.push(bytes_of(&page.blob).await?);
    }
    let photos: Vec<domain::pdf::Photo> = pages
        .iter()
        .zip(&jpegs)
        .map(|(page, jpeg)| domain::pdf::Photo {
            jpeg,
            width: page.width,
            height: page.height,
        })
        .collect();
    let pdf = domain::pdf::from_photos(&photos);
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(pdf.as_slice()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/pdf");
    Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()
}

/// The picture as a JPEG to send instead of `file`, or `None` to send `file` as it is:
/// a JPEG (`is_jpeg`) only when heavy and the copy is lighter; another image the
/// browser can read, always.
pub async fn lighter(file: Blob, is_jpeg: bool) -> Option<Jpeg> {
    let img = decode(&file).await?;
    if is_jpeg && !is_heavy(&img, file.size()) {
        return None;
    }
    let jpeg = to_jpeg(&img).await?;
    (!is_jpeg || jpeg.blob.size() < file.size()).then_some(jpeg)
}

/// A page for the PDF: the picture as a JPEG, upright, at most 2,000 px.
pub async fn page(file: Blob) -> Option<Jpeg> {
    to_jpeg(&decode(&file).await?).await
}
