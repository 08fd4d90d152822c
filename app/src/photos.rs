//! Photos in the browser, before they go up a phone's connection: a heavy JPEG made
//! lighter (2,000 px on its long side, quality 0.85, turned upright), another image
//! the browser can decode (PNG, WebP, HEIC on Safari) made a JPEG, and several photos
//! made one PDF ([`domain::pdf`]).
//!
//! All of it runs in the window's lazy work chunk (`pieces::browser::work`).

use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use crate::js;

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

/// A blob's size in bytes.
pub fn size(blob: &Blob) -> f64 {
    js::number(blob, "size")
}

/// The picture (an `<img>`), decoded and turned upright by the browser (EXIF
/// orientation applied); `None` when the browser cannot read it as an image.
async fn decode(file: &Blob) -> Option<JsValue> {
    let urls = js::global("URL");
    let url = js::call(&urls, "createObjectURL", &[file]).ok()?;
    let img: JsValue = crate::dom::document().create_element("img").ok()?.into();
    js::set(&img, "src", &url);
    let decoded = match js::call(&img, "decode", &[]) {
        Ok(promise) => JsFuture::from(js_sys::Promise::from(promise)).await,
        Err(e) => Err(e),
    };
    let _ = js::call(&urls, "revokeObjectURL", &[&url]);
    decoded.ok()?;
    Some(img)
}

/// A picture's natural size, in pixels.
fn natural(img: &JsValue) -> (u32, u32) {
    (
        js::number(img, "naturalWidth") as u32,
        js::number(img, "naturalHeight") as u32,
    )
}

/// Whether this picture is worth reducing: heavier than [`HEAVY`] or larger than
/// [`domain::picture::LONG_SIDE`].
fn is_heavy(img: &JsValue, bytes: f64) -> bool {
    let (w, h) = natural(img);
    bytes > HEAVY || w.max(h) > domain::picture::LONG_SIDE
}

/// A canvas of this size, white, and its 2D context.
fn canvas(width: f64, height: f64) -> Option<(JsValue, JsValue)> {
    let canvas: JsValue = crate::dom::document().create_element("canvas").ok()?.into();
    js::set(&canvas, "width", width);
    js::set(&canvas, "height", height);
    let context = js::call(&canvas, "getContext", &[&"2d".into()]).ok()?;
    if context.is_null() || context.is_undefined() {
        return None;
    }
    // Flattened on white: a transparent PNG must not turn black as a JPEG.
    js::set(&context, "fillStyle", "#fff");
    let [x, y, w, h] = [0.0, 0.0, width, height].map(JsValue::from_f64);
    js::call(&context, "fillRect", &[&x, &y, &w, &h]).ok()?;
    Some((canvas, context))
}

/// The picture as a JPEG of at most [`domain::picture::LONG_SIDE`] on its long side,
/// through the canvases [`domain::picture::reduction_steps`] gives.
async fn to_jpeg(img: &JsValue) -> Option<Jpeg> {
    let mut current: Option<JsValue> = None;
    let (mut width, mut height) = (0, 0);
    let (natural_width, natural_height) = natural(img);
    for (w, h) in domain::picture::reduction_steps(natural_width, natural_height) {
        let (next, context) = canvas(f64::from(w), f64::from(h))?;
        let source = current.as_ref().unwrap_or(img);
        let [x, y, dw, dh] = [0.0, 0.0, f64::from(w), f64::from(h)].map(JsValue::from_f64);
        js::call(&context, "drawImage", &[source, &x, &y, &dw, &dh]).ok()?;
        current = Some(next);
        (width, height) = (w, h);
    }
    let canvas = current?;
    let blob = js_sys::Promise::new(&mut |resolve, _| {
        let done = Closure::once_into_js(move |blob: JsValue| {
            let _ = resolve.call1(&JsValue::NULL, &blob);
        });
        let quality = JsValue::from_f64(QUALITY);
        if js::call(&canvas, "toBlob", &[&done, &"image/jpeg".into(), &quality]).is_err() {
            let _ = js_sys::Function::from(done).call1(&JsValue::NULL, &JsValue::NULL);
        }
    });
    let blob = JsFuture::from(blob).await.ok()?;
    if blob.is_null() {
        return None;
    }
    Some(Jpeg {
        blob: blob.unchecked_into(),
        width,
        height,
    })
}

/// A blob's bytes.
pub async fn bytes_of(blob: &Blob) -> Option<Vec<u8>> {
    let promise = js::call(blob, "arrayBuffer", &[]).ok()?;
    let buffer = JsFuture::from(js_sys::Promise::from(promise)).await.ok()?;
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
    let options = js_sys::Object::new();
    js::set(&options, "type", "application/pdf");
    Some(js::new("Blob", &[&parts, &options]).ok()?.unchecked_into())
}

/// The picture as a JPEG to send instead of `file`, or `None` to send `file` as it is:
/// a JPEG (`is_jpeg`) only when heavy and the copy is lighter; another image the
/// browser can read, always.
pub async fn lighter(file: Blob, is_jpeg: bool) -> Option<Jpeg> {
    let img = decode(&file).await?;
    if is_jpeg && !is_heavy(&img, size(&file)) {
        return None;
    }
    let jpeg = to_jpeg(&img).await?;
    (!is_jpeg || size(&jpeg.blob) < size(&file)).then_some(jpeg)
}

/// A page for the PDF: the picture as a JPEG, upright, at most 2,000 px.
pub async fn page(file: Blob) -> Option<Jpeg> {
    to_jpeg(&decode(&file).await?).await
}
