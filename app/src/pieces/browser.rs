//! The document window's work in the browser: checks, photos, the PDF of gathered
//! pages, tus with its resumption, « annuler », and the antivirus watch.

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
};

use domain::FileKind;
use leptos::lazy;
use wasm_bindgen::{JsCast, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, File, HtmlInputElement, ProgressEvent, XmlHttpRequest};

pub use super::screen::Screen;
use crate::{
    dom::{self, document, window},
    js, photos,
};

/// Bytes per PATCH: the bar moves on what the server acknowledged, and a cut
/// costs at most this much again (the server keeps what reached it anyway).
const PART: f64 = 512.0 * 1024.0;
/// The longest wait between two attempts while the network is gone.
const MAX_PAUSE_MS: i32 = 30_000;

#[derive(Clone)]
pub struct Upload {
    page: String,
    kinds: Vec<FileKind>,
    max_size: u64,
    screen: Screen,
    current: Rc<RefCell<Option<XmlHttpRequest>>>,
    /// Whether the page-wide cancel listener is in place (added once).
    listening: Rc<Cell<bool>>,
    /// Bumped by each start and by « annuler »: an older sending loop stops.
    generation: Rc<Cell<u32>>,
    /// The upload under way (its address, its key in the browser's storage).
    under_way: Rc<RefCell<Option<(String, String)>>>,
    /// The photo as chosen, while a lighter copy of it is sent.
    original: Rc<RefCell<Option<File>>>,
    /// The pages gathered for one PDF, in order.
    pages: Rc<RefCell<Vec<photos::Jpeg>>>,
}

/// `file`'s bytes from `from` to `to` (end excluded).
fn slice(file: &Blob, from: f64, to: f64) -> Option<Blob> {
    let (from, to) = (
        wasm_bindgen::JsValue::from_f64(from),
        wasm_bindgen::JsValue::from_f64(to),
    );
    Some(
        js::call(file, "slice", &[&from, &to])
            .ok()?
            .unchecked_into(),
    )
}

async fn bytes(file: &Blob, from: f64, to: f64) -> Vec<u8> {
    match slice(file, from, to) {
        Some(part) => photos::bytes_of(&part).await.unwrap_or_default(),
        None => Vec::new(),
    }
}

/// What the window does beyond showing itself, each started by a click.
pub enum Job {
    /// Check, make lighter, and send a file.
    Send {
        blob: Blob,
        name: String,
        generation: u32,
        lighten: bool,
    },
    /// Pictures chosen as pages of one PDF.
    Pages(Vec<File>),
    /// The pages gathered, sent as one PDF (or as their JPEG when one).
    SendPages,
    /// Abandon this upload on the server (« annuler »).
    Abandon(String),
}

/// The window's work: the checks (a PDF's scan and its inflater among them), photos
/// made lighter or made pages, the PDF, the upload in parts. `#[lazy]`: one Wasm
/// chunk, fetched when a file is chosen (see [`Upload::preload`]), not with the page.
#[lazy]
async fn work(upload: Upload, job: Job) {
    match job {
        Job::Send {
            blob,
            name,
            generation,
            lighten,
        } => upload.check_and_send(blob, name, generation, lighten).await,
        Job::Pages(files) => upload.add_pages(files).await,
        Job::SendPages => upload.send_pages().await,
        Job::Abandon(location) => {
            // Not the window's current request: « annuler » never aborts it, and it
            // never stands for the upload that may follow.
            let _ = request("DELETE", &location, &[], None, &RefCell::default()).await;
        }
    }
}

/// Reads the file a megabyte at a time through the same checks as the server. A
/// file the browser cannot read is left to the server to judge.
async fn check_whole(
    file: &Blob,
    kind: FileKind,
    name: &str,
) -> Result<(), domain::attachment::UploadError> {
    const STEP: f64 = 1024.0 * 1024.0;
    let mut whole = domain::attachment::WholeFile::default();
    let size = photos::size(file);
    let mut at = 0.0;
    while at < size {
        let end = (at + STEP).min(size);
        whole.feed(&bytes(file, at, end).await, Some(kind));
        at = end;
    }
    whole.finish(name, kind).map(|_| ())
}

/// Where this file's upload to this pièce is remembered, across reloads: its size
/// and a hash (FNV-1a) of its first and last 64 KiB, so the same file chosen again
/// resumes and another file never continues it.
async fn fingerprint(file: &Blob, page: &str) -> String {
    const EDGE: f64 = 64.0 * 1024.0;
    let size = photos::size(file);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut edges = bytes(file, 0.0, EDGE.min(size)).await;
    edges.extend(bytes(file, (size - EDGE).max(0.0), size).await);
    for byte in edges {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("envoi:{page}:{}:{hash:x}", size as u64)
}

fn saved() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// A body to send, and where the bar stands before it.
type Part<'a> = (&'a Blob, &'a Screen, f64, f64);

/// One request of the protocol; `None` when no answer came (network lost, the
/// browser offline, 30 s without a byte going out, or aborted by « annuler »).
async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<Part<'_>>,
    current: &RefCell<Option<XmlHttpRequest>>,
) -> Option<XmlHttpRequest> {
    let xhr = XmlHttpRequest::new().ok()?;
    xhr.open(method, url).ok()?;
    xhr.set_request_header("Tus-Resumable", "1.0.0").ok()?;
    xhr.set_request_header("Accept", "application/json").ok()?;
    for (name, value) in headers {
        xhr.set_request_header(name, value).ok()?;
    }
    // A connection that dies without a word (a phone between two antennas) is given
    // up, then resumed: at once when the browser says it is offline, and after 30 s
    // without a byte going out (the server cuts such a body too); once the part is
    // sent, its answer has two minutes more.
    let last = Rc::new(Cell::new(js_sys::Date::now()));
    let on_progress = {
        let (last, bar) = (
            last.clone(),
            body.map(|(_, bar, at, total)| (bar.clone(), at, total)),
        );
        Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
            last.set(js_sys::Date::now());
            if let Some((bar, at, total)) = &bar {
                bar.progress(Some((at + e.loaded(), *total)));
            }
        })
    };
    let on_sent = {
        let last = last.clone();
        Closure::<dyn FnMut()>::new(move || last.set(js_sys::Date::now() + 90_000.0))
    };
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        upload.set_onload(Some(on_sent.as_ref().unchecked_ref()));
    }
    let give_up = {
        let xhr = xhr.clone();
        Closure::<dyn FnMut()>::new(move || {
            if !window().navigator().on_line() || js_sys::Date::now() - last.get() > 30_000.0 {
                let _ = xhr.abort();
            }
        })
    };
    let w = window();
    let _ = w.add_event_listener_with_callback("offline", give_up.as_ref().unchecked_ref());
    let watchdog = w
        .set_interval_with_callback_and_timeout_and_arguments_0(
            give_up.as_ref().unchecked_ref(),
            5000,
        )
        .ok();
    // `loadend` comes after an answer as after an error, a timeout or an abort;
    // the status tells them apart (0: no answer).
    let done = js_sys::Promise::new(&mut |resolve, _| {
        let _ = xhr.add_event_listener_with_callback("loadend", &resolve);
    });
    match body {
        Some((blob, ..)) => xhr.send_with_opt_blob(Some(blob)),
        None => xhr.send(),
    }
    .ok()?;
    *current.borrow_mut() = Some(xhr.clone());
    let _ = JsFuture::from(done).await;
    let _ = w.remove_event_listener_with_callback("offline", give_up.as_ref().unchecked_ref());
    if let Some(watchdog) = watchdog {
        w.clear_interval_with_handle(watchdog);
    }
    // Only this request's own place: a newer upload's may have taken it meanwhile.
    let mine = current.borrow().as_ref() == Some(&xhr);
    if mine {
        current.borrow_mut().take();
    }
    drop((on_progress, on_sent, give_up));
    (xhr.status().unwrap_or(0) != 0).then_some(xhr)
}

fn header(xhr: &XmlHttpRequest, name: &str) -> Option<String> {
    xhr.get_response_header(name).ok().flatten()
}

/// Offsets are whole bytes, read and written as integers: the Wasm parses and
/// formats no float.
fn offset_of(xhr: &XmlHttpRequest) -> Option<f64> {
    header(xhr, "Upload-Offset")?
        .parse::<u64>()
        .ok()
        .map(|o| o as f64)
}

fn message_of(xhr: &XmlHttpRequest) -> Option<String> {
    let body = xhr.response_text().ok().flatten()?;
    let value = js_sys::JSON::parse(&body).ok()?;
    js_sys::Reflect::get(&value, &"message".into())
        .ok()?
        .as_string()
}

/// Waits `ms`, or less if the network comes back meanwhile.
async fn pause(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let w = window();
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        let _ = w.add_event_listener_with_callback("online", &resolve);
    });
    let _ = JsFuture::from(promise).await;
}

pub fn input() -> Option<HtmlInputElement> {
    document().get_element_by_id("fichier")?.dyn_into().ok()
}

impl Upload {
    pub fn new(page: String, kinds: Vec<FileKind>, max_size: u64, screen: Screen) -> Self {
        Self {
            page,
            kinds,
            max_size,
            screen,
            current: Rc::default(),
            listening: Rc::default(),
            generation: Rc::default(),
            under_way: Rc::default(),
            original: Rc::default(),
            pages: Rc::default(),
        }
    }

    pub fn clear_error(&self) {
        self.screen.error(None);
    }

    pub fn start(&self) {
        let Some(file) = input().and_then(|i| i.files()).and_then(|f| f.get(0)) else {
            self.screen.error(Some(
                "Choisissez un fichier avant de cliquer sur « ajouter le fichier ».".into(),
            ));
            return;
        };
        let name = file.name();
        self.begin(file.into(), name, true);
    }

    /// Sends `blob` (made lighter first when it is a heavy photo and `lighten`),
    /// stopping whatever upload this window had under way.
    fn begin(&self, blob: Blob, name: String, lighten: bool) {
        self.listen_for_clicks();
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        self.screen.lighter(None);
        self.run(Job::Send {
            blob,
            name,
            generation,
            lighten,
        });
    }

    fn run(&self, job: Job) {
        dom::spawn(work(self.clone(), job));
    }

    /// Fetches the window's work code as soon as a file is chosen: it is there when
    /// the candidate clicks, even if the network drops in between.
    pub fn preload(&self) {
        dom::spawn(__preload_work());
    }

    async fn check_and_send(self, chosen: Blob, name: String, generation: u32, lighten: bool) {
        self.screen.error(None);
        self.screen.lost(false);
        let mut name = domain::attachment::sanitise_file_name(&name);
        let mut blob = chosen.clone();
        let mut head = bytes(&blob, 0.0, FileKind::SNIFF_LEN as f64).await;
        let sniffed = FileKind::sniff(&head);
        // A damaged photo is said so, never « repaired » by redrawing what the
        // browser could decode of it.
        if sniffed == Some(FileKind::Jpeg)
            && let Err(e) = check_whole(&chosen, FileKind::Jpeg, &name).await
        {
            self.screen.error(Some(e.to_string()));
            return;
        }
        // A heavy photo goes lighter; an image of another format the browser can
        // read (PNG, WebP, HEIC) goes as a JPEG, when the pièce takes JPEG.
        if lighten && self.kinds.contains(&FileKind::Jpeg) && sniffed != Some(FileKind::Pdf) {
            let is_jpeg = sniffed.is_some();
            if let Some(jpeg) = photos::lighter(chosen.clone(), is_jpeg).await {
                if sniffed.is_some() {
                    self.screen.lighter(Some((
                        photos::size(&chosen) as u64,
                        photos::size(&jpeg.blob) as u64,
                    )));
                    *self.original.borrow_mut() = chosen.dyn_ref::<File>().cloned();
                }
                blob = jpeg.blob;
                name = domain::attachment::stored_file_name(&name, FileKind::Jpeg);
                head = bytes(&blob, 0.0, FileKind::SNIFF_LEN as f64).await;
            }
            if self.stale(generation) {
                return;
            }
        }
        let size = photos::size(&blob) as u64;
        // The first bytes decide the kind, as on the server; nothing is sent yet.
        let kind =
            match domain::attachment::check_start(&name, &head, size, &self.kinds, self.max_size) {
                Ok(kind) => kind,
                Err(e) => {
                    self.screen.error(Some(e.to_string()));
                    return;
                }
            };
        // Damaged or incomplete (a photo cut short, a PDF without its end): said
        // now, not after the whole file went up the phone's connection.
        if let Err(e) = check_whole(&blob, kind, &name).await {
            self.screen.error(Some(e.to_string()));
            return;
        }
        self.send(blob, name, generation).await;
    }

    /// « ajouter une page », « prendre une photo »: each picture chosen becomes a
    /// page (a JPEG, upright, at most 2,000 px), shown in order.
    pub fn choose_pages(&self, ev: web_sys::Event) {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        let files: Vec<File> = input
            .files()
            .map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect())
            .unwrap_or_default();
        // The same photo may be chosen again.
        input.set_value("");
        self.run(Job::Pages(files));
    }

    async fn add_pages(&self, files: Vec<File>) {
        for file in files {
            let Some(jpeg) = photos::page(file.clone().into()).await else {
                self.screen.error(Some(format!(
                    "« {} » n'est pas une photo lisible : choisissez une image JPEG ou PNG.",
                    domain::attachment::sanitise_file_name(&file.name())
                )));
                continue;
            };
            self.pages.borrow_mut().push(jpeg);
        }
        self.show_pages();
    }

    /// The thumbnails, from the pages (their old addresses released).
    fn show_pages(&self) {
        self.screen.thumbs(
            self.pages
                .borrow()
                .iter()
                .filter_map(|p| web_sys::Url::create_object_url_with_blob(&p.blob).ok())
                .collect(),
        );
    }

    /// « monter », « retirer », and sending the pages.
    pub fn page_button(&self, ev: web_sys::MouseEvent) {
        let Some(button) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("button").ok().flatten())
        else {
            return;
        };
        let index = |name| {
            button
                .get_attribute(name)
                .and_then(|i| i.parse::<usize>().ok())
        };
        if let Some(i) = index("data-up") {
            let mut pages = self.pages.borrow_mut();
            if i > 0 && i < pages.len() {
                pages.swap(i - 1, i);
            }
        } else if let Some(i) = index("data-remove") {
            let mut pages = self.pages.borrow_mut();
            if i < pages.len() {
                pages.remove(i);
            }
        } else if button.has_attribute("data-send-pages") {
            self.run(Job::SendPages);
            return;
        } else {
            return;
        }
        self.show_pages();
    }

    /// One page goes as its JPEG when the pièce takes JPEG; several as one PDF.
    async fn send_pages(&self) {
        let pages = self.pages.borrow().clone();
        let single = pages.len() == 1 && self.kinds.contains(&FileKind::Jpeg);
        let file = if single {
            Some((pages[0].blob.clone(), "photo.jpg".to_string()))
        } else {
            // Named after the pièce (« piece-identite.pdf »), as staff file it.
            let code = self.page.rsplit('/').next().unwrap_or("pages");
            photos::pdf_of(pages)
                .await
                .map(|pdf| (pdf, format!("{code}.pdf")))
        };
        match file {
            Some((blob, name)) => self.begin(blob, name, false),
            None => self.screen.error(Some(
                "Les pages n'ont pas pu être assemblées : réessayez.".into(),
            )),
        }
    }

    fn stale(&self, generation: u32) -> bool {
        self.generation.get() != generation
    }

    /// Sends the file in parts (tus), resuming by itself after a cut: from where
    /// the server says it stopped, as soon as the network is back, then after
    /// growing pauses.
    async fn send(&self, file: Blob, name: String, generation: u32) {
        let size = photos::size(&file);
        let key = fingerprint(&file, &self.page).await;
        let tus = format!("{}/tus", self.page);
        let forget = || {
            if let Some(storage) = saved() {
                let _ = storage.remove_item(&key);
            }
        };
        let current = &self.current;
        // The same file chosen again (after a reload) continues its upload.
        let mut at: Option<(String, f64)> = None;
        if let Some(location) = saved().and_then(|s| s.get_item(&key).ok().flatten()) {
            match request("HEAD", &location, &[], None, current).await {
                Some(xhr) if xhr.status() == Ok(200) => {
                    at = offset_of(&xhr).map(|offset| (location, offset));
                }
                _ => forget(),
            }
        }
        self.screen
            .progress(Some((at.as_ref().map_or(0.0, |a| a.1), size)));
        let mut pause_ms = 1000;
        loop {
            if self.stale(generation) {
                return;
            }
            let answer = match &at {
                None => {
                    let headers = [
                        ("Upload-Length", (size as u64).to_string()),
                        ("Upload-Metadata", format!("filename {}", base64(&name))),
                    ];
                    request("POST", &tus, &headers, None, current).await
                }
                Some((location, offset)) => {
                    let end = (offset + PART).min(size);
                    let Some(part) = slice(&file, *offset, end) else {
                        return;
                    };
                    let headers = [
                        ("Upload-Offset", (*offset as u64).to_string()),
                        ("Content-Type", "application/offset+octet-stream".into()),
                    ];
                    let body = (&part, &self.screen, *offset, size);
                    request("PATCH", location, &headers, Some(body), current).await
                }
            };
            if self.stale(generation) {
                return;
            }
            let Some(xhr) = answer else {
                // No answer: the network is gone. Said, then retried by itself.
                self.screen.lost(true);
                pause(pause_ms).await;
                pause_ms = (pause_ms * 2).min(MAX_PAUSE_MS);
                // The server kept the bytes of the cut request: ask where it is.
                if let Some((location, _)) = &at
                    && let Some(xhr) = request("HEAD", location, &[], None, current).await
                {
                    match xhr.status() {
                        Ok(200) => at = offset_of(&xhr).map(|o| (location.clone(), o)),
                        Ok(404) => at = None,
                        _ => {}
                    }
                }
                continue;
            };
            let status = xhr.status().unwrap_or(0);
            match (status, &at) {
                (201, None) => {
                    self.screen.lost(false);
                    let Some(location) = header(&xhr, "Location") else {
                        return;
                    };
                    if let Some(storage) = saved() {
                        let _ = storage.set_item(&key, &location);
                    }
                    *self.under_way.borrow_mut() = Some((location.clone(), key.clone()));
                    at = Some((location, 0.0));
                }
                (204, Some((location, _))) => {
                    self.screen.lost(false);
                    pause_ms = 1000;
                    *self.under_way.borrow_mut() = Some((location.clone(), key.clone()));
                    if let Some(id) = header(&xhr, "Fichier-Enregistre") {
                        forget();
                        self.under_way.borrow_mut().take();
                        self.pages.borrow_mut().clear();
                        // A full load shows « fichier enregistré » and the new list.
                        let _ = window()
                            .location()
                            .assign(&format!("{}?enregistre={id}", self.page));
                        return;
                    }
                    let Some(offset) = offset_of(&xhr) else {
                        return;
                    };
                    self.screen.progress(Some((offset, size)));
                    at = Some((location.clone(), offset));
                }
                // Another offset than ours: continue from the server's.
                (409, Some((location, _))) => {
                    at = offset_of(&xhr).map(|o| (location.clone(), o));
                }
                // Expired or swept: start again.
                (404, Some(_)) => {
                    forget();
                    at = None;
                }
                // Busy, or too slow: try again shortly, from where it stopped.
                (408 | 429 | 503, _) => {
                    pause(pause_ms).await;
                    pause_ms = (pause_ms * 2).min(MAX_PAUSE_MS);
                    if let Some((location, _)) = &at
                        && let Some(xhr) = request("HEAD", location, &[], None, current).await
                        && let Some(offset) = offset_of(&xhr)
                    {
                        at = Some((location.clone(), offset));
                    }
                }
                // Refused: the server's own words, and nothing kept.
                _ => {
                    forget();
                    self.under_way.borrow_mut().take();
                    self.screen.progress(None);
                    self.screen.lost(false);
                    self.screen.error(Some(message_of(&xhr).unwrap_or_else(|| {
                        "Le fichier n'a pas pu être envoyé : réessayez.".to_string()
                    })));
                    return;
                }
            }
        }
    }

    /// Stops the upload under way and abandons it on the server.
    fn stop(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        if let Some(xhr) = self.current.borrow().as_ref() {
            let _ = xhr.abort();
        }
        if let Some((location, key)) = self.under_way.borrow_mut().take() {
            if let Some(storage) = saved() {
                let _ = storage.remove_item(&key);
            }
            self.run(Job::Abandon(location));
        }
        self.screen.progress(None);
        self.screen.lost(false);
    }

    /// « Annuler l'envoi » (rendered with the progress bar) and « envoyer
    /// l'original » (with the lighter photo's notice). One listener for the page.
    fn listen_for_clicks(&self) {
        if self.listening.replace(true) {
            return;
        }
        let this = self.clone();
        let clicks = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let Some(target) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            else {
                return;
            };
            let on = |selector| target.closest(selector).ok().flatten().is_some();
            if on("[data-cancel]") {
                this.stop();
                this.screen.lighter(None);
                this.screen.error(Some(
                    "Envoi annulé : le fichier n'a pas été enregistré.".into(),
                ));
            } else if on("[data-original]") {
                this.stop();
                if let Some(file) = this.original.borrow_mut().take() {
                    let name = file.name();
                    this.begin(file.into(), name, false);
                }
            }
        });
        let _ =
            document().add_event_listener_with_callback("click", clicks.as_ref().unchecked_ref());
        clicks.forget();
    }
}

/// Standard base64 of the name's UTF-8 bytes, for `Upload-Metadata`.
fn base64(text: &str) -> String {
    // `btoa` takes one character per byte.
    window()
        .btoa(&text.bytes().map(char::from).collect::<String>())
        .unwrap_or_default()
}
