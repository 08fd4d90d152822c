//! Each pièce's « document window » over the dossier page (a page of its own, so it
//! works without JavaScript): choose and add a file, « fichier enregistré », then
//! « Gestion du document » with « Voir » and « Supprimer » for each file, and
//! « fermer ».

use domain::{FileKind, antivirus::VirusScan};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::Redirect,
    hooks::{use_params_map, use_query_map},
};

use crate::{
    dossier::{DossierPage, remember_closed_window},
    espace::{PieceView, pieces_resource, requirement_text},
};

fn formats_text(kinds: &[FileKind]) -> String {
    domain::attachment::kinds_label(kinds)
}

/// One pièce's document window: a modal dialog over the dossier page (its own address,
/// so it is also a page without JavaScript). Escape and « fermer » go back to the
/// dossier.
#[component]
pub fn PiecePage() -> impl IntoView {
    let params = use_params_map();
    let pieces = pieces_resource();
    let code = params.read_untracked().get("piece").unwrap_or_default();
    view! {
        <DossierPage behind_window=true pieces />
        <WindowKeys code />
        <div class="dialog-backdrop">
        <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="piece-titre">
        <Suspense fallback=|| view! { <crate::Loading /> }>
            {move || Suspend::new(async move {
                let code = params.read().get("piece").unwrap_or_default();
                match pieces.await {
                    Ok(None) => view! { <Redirect path="/connexion?info=session" /> }.into_any(),
                    Ok(Some(list)) => match list.into_iter().find(|p| p.code == code) {
                        Some(piece) => view! { <DocumentWindow piece /> }.into_any(),
                        None => view! {
                            <h2 id="piece-titre">"Pièce introuvable"</h2>
                            <p>"Cette pièce n'est pas demandée dans votre dossier. "<a href="/espace">"Revenir à mon dossier"</a></p>
                        }.into_any(),
                    },
                    Err(e) => view! { <p class="alert" role="alert">{crate::catalogue::error_message(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
        </div>
        </div>
    }
}

#[component]
fn DocumentWindow(piece: PieceView) -> impl IntoView {
    let query = use_query_map();
    let q = move |k: &str| query.read().get(k);
    let formats = formats_text(&piece.kinds);
    let limit = domain::french::size(piece.max_size);
    let full = piece.deposited() as u32 >= piece.max_files;
    let accept = piece
        .kinds
        .iter()
        .map(|k| match k {
            FileKind::Pdf => "application/pdf,.pdf",
            FileKind::Jpeg => "image/jpeg,.jpg,.jpeg",
        })
        .collect::<Vec<_>>()
        .join(",");
    let action = format!("/espace/pieces/{}/fichiers", piece.code);
    let page = format!("/espace/pieces/{}", piece.code);
    let files = piece.files.clone();
    let can_change = piece.can_change;
    let title = piece.label.clone();
    let count = domain::french::files_of(piece.deposited() as u64, piece.max_files.into());
    let hint_formats =
        format!("Format {formats}, {limit} au maximum par fichier. Cette pièce : {count}.");
    let upload_form = (can_change && !full).then(|| {
        view! {
            <UploadForm action=action.clone() page=page.clone() accept=accept.clone() hint=hint_formats.clone()
                kinds=piece.kinds.clone() max_size=piece.max_size />
        }
    });
    let page_for_ok = page.clone();
    let saved = move || q("enregistre").is_some();
    // The address carries a code only: its message is ours, never text from a link.
    let (kinds, max_size, max_files) = (piece.kinds.clone(), piece.max_size, piece.max_files);
    let error = move || {
        q("erreur").and_then(|code| {
            domain::attachment::refusal_message(&code, &kinds, max_size, max_files)
        })
    };
    let deleted = move || q("supprime").is_some();
    let preview_id = move || q("voir");
    let confirm_id = move || q("supprimer");
    let files_for_preview = files.clone();
    let files_for_confirm = files.clone();
    let page_for_confirm = page.clone();
    view! {
        <Title text=format!("{title} · Mon espace sécurisé") />
        <p class="exam-kind">"Pièce demandée · "{requirement_text(piece.requirement)}</p>
        <h2 id="piece-titre" tabindex="-1">{piece.label.clone()}</h2>
        {(!piece.help.is_empty()).then(|| view! { <p class="hint">{piece.help.clone()}</p> })}
        <Show when=saved>
            <div class="notice" role="status">
                <p><strong>"fichier enregistré"</strong></p>
                // To the list, where the file just saved is.
                <a class="button primary" href=format!("{page_for_ok}#gestion-titre")>"OK"</a>
            </div>
        </Show>
        <Show when=deleted>
            <p class="notice" role="status">"Le fichier a été supprimé."</p>
        </Show>
        {move || error().map(|e| view! { <p class="alert" role="alert">{e}</p> })}
        {piece.correction_until.clone().map(|until| view! {
            <p class="notice" data-correction>{format!("Le service concours vous demande de corriger cette pièce : vous pouvez remplacer son fichier, au plus tard {until}.")}</p>
        })}
        {if !can_change {
            view! { <p class="notice">"Votre dossier n'accepte plus de modification pour cette pièce."</p> }.into_any()
        } else if full {
            view! { <p class="notice">{format!("Cette pièce compte déjà {count}, le maximum : supprimez-en un pour en ajouter un autre.")}</p> }.into_any()
        } else {
            upload_form.into_any()
        }}
        {move || confirm_id().and_then(|id| files_for_confirm.iter().find(|f| f.id == id).cloned()).map(|f| view! {
            <div class="alert confirm" role="alert">
                <p>{format!("Supprimer « {} » ? Vous pourrez ensuite déposer le bon fichier.", f.name)}</p>
                <form method="post" action=format!("/espace/fichiers/{}/supprimer", f.id) class="inline-form">
                    <button type="submit" class="button danger">"Oui, supprimer"</button>
                </form>
                " "
                <a class="button secondary" href=page_for_confirm.clone()>"Annuler"</a>
            </div>
        })}
        {files.iter().any(|f| f.scan == VirusScan::Pending).then(|| view! {
            <span hidden data-scans=format!("/espace/pieces/{}/analyses", piece.code)></span>
            <script src="/analyses.js" defer></script>
        })}
        <section aria-labelledby="gestion-titre" class="gestion">
            <h3 id="gestion-titre" tabindex="-1">"Gestion du document"</h3>
            {if files.is_empty() {
                view! { <p>"Aucun fichier déposé pour cette pièce."</p> }.into_any()
            } else {
                view! {
                    <ul class="file-list">
                        {files.iter().map(|f| {
                            let date = jiff::Timestamp::from_millisecond(f.created_at_ms)
                                .map(|t| {
                                    let z = t.to_zoned(domain::deadline::paris());
                                    format!("{:02}/{:02}/{} à {} h {:02}", z.day(), z.month(), z.year(), z.hour(), z.minute())
                                })
                                .unwrap_or_default();
                            view! {
                                <li class="file" data-file=f.id.clone()>
                                    <span class="file-name">{f.name.clone()}</span>
                                    <span class="file-meta">{format!("{} · {} · déposé le {date}", f.kind.label(), domain::french::size(f.size))}</span>
                                    {f.scan.for_candidate().map(|text| view! {
                                        <span class="file-scan" data-scan=f.scan.code() data-scan-id=f.id.clone()
                                            role=(f.scan == VirusScan::Infected).then_some("alert")>{text}</span>
                                    })}
                                    <span class="file-actions">
                                        {f.scan.counts().then(|| view! {
                                            <a class="icon-button" href=format!("/espace/pieces/{}?voir={}", piece.code, f.id)>
                                                <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22"><path d="M12 5C6 5 2 12 2 12s4 7 10 7 10-7 10-7-4-7-10-7zm0 11a4 4 0 110-8 4 4 0 010 8z" fill="currentColor"/></svg>
                                                <span class="visually-hidden">{format!("Voir « {} »", f.name)}</span>
                                            </a>
                                        })}
                                        {can_change.then(|| view! {
                                            <a class="icon-button danger" href=format!("/espace/pieces/{}?supprimer={}", piece.code, f.id)>
                                                <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22"><path d="M6 7h12l-1 13H7zM9 4h6l1 2H8z" fill="currentColor"/></svg>
                                                <span class="visually-hidden">{format!("Supprimer « {} »", f.name)}</span>
                                            </a>
                                        })}
                                    </span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        {move || preview_id().and_then(|id| files_for_preview.iter().find(|f| f.id == id && f.scan.counts()).cloned()).map(|f| {
            let src = format!("/espace/fichiers/{}", f.id);
            view! {
                <section class="preview" aria-labelledby="apercu-titre">
                    <h3 id="apercu-titre">{format!("Aperçu : {}", f.name)}</h3>
                    {match f.kind {
                        FileKind::Jpeg => view! { <img src=src.clone() alt=format!("Aperçu de {}", f.name) /> }.into_any(),
                        FileKind::Pdf => view! { <iframe src=src.clone() title=format!("Aperçu de {}", f.name)></iframe> }.into_any(),
                    }}
                    <p><a href=src download=f.name.clone()>"Télécharger le fichier"</a></p>
                </section>
            }
        })}
        <p><a class="button secondary" href="/espace" data-fermer>"fermer"</a></p>
    }
}

/// What the document window does with JavaScript: its title takes the focus when it
/// opens, so a screen reader starts there; Escape goes back to the dossier, and Escape
/// or « fermer » leave the pièce's code for [`crate::dossier::FocusReturn`]. Listens on
/// the window: the dialog around it is plain HTML.
#[island]
fn WindowKeys(code: String) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        // After « OK » the address names the file list (`#gestion-titre`): the focus
        // goes there, so the file just saved is in view; otherwise to the title.
        let target = window()
            .location()
            .hash()
            .ok()
            .and_then(|h| h.strip_prefix('#').map(str::to_string))
            .filter(|h| h == "gestion-titre")
            .unwrap_or_else(|| "piece-titre".to_string());
        request_animation_frame(move || crate::dossier::focus_by_id(&target));
        let for_keys = code.clone();
        let keys = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.key() == "Escape" {
                remember_closed_window(&for_keys);
                let _ = window().location().set_href("/espace");
            }
        });
        let clicks = window_event_listener(leptos::ev::click, move |ev| {
            let closes = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|e| e.closest("[data-fermer]").ok().flatten())
                .is_some();
            if closes {
                remember_closed_window(&code);
            }
        });
        on_cleanup(move || {
            keys.remove();
            clicks.remove();
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (code, remember_closed_window);
}

/// « choisir un fichier » then « ajouter le fichier ». Without JavaScript it is a plain
/// multipart form. Once hydrated, the file is checked in the browser first (kind by its
/// first bytes, size) with the same rules as the server, then sent in parts over tus
/// (`server::tus`) with a progress bar on the bytes the server acknowledged and a
/// cancel button; when the connection drops the window says so and the upload resumes
/// by itself, and the same file chosen after a reload continues where it stopped.
#[island(lazy)]
fn UploadForm(
    action: String,
    page: String,
    accept: String,
    hint: String,
    kinds: Vec<FileKind>,
    max_size: u64,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    // Bytes sent and total while an upload runs.
    let progress = RwSignal::new(None::<(f64, f64)>);
    let lost = RwSignal::new(false);
    // A photo made lighter before it went: its size before and after.
    let lighter = RwSignal::new(None::<(u64, u64)>);
    // The pages gathered for one PDF: their thumbnails' addresses, in order.
    let thumbs = RwSignal::new(Vec::<String>::new());
    let takes_pages = kinds.contains(&FileKind::Pdf);
    #[cfg(feature = "hydrate")]
    let upload = browser::Upload {
        page: page.clone(),
        kinds,
        max_size,
        error,
        progress,
        lost,
        lighter,
        thumbs,
        current: Default::default(),
        listening: Default::default(),
        generation: Default::default(),
        under_way: Default::default(),
        original: Default::default(),
        pages: Default::default(),
    };
    #[cfg(feature = "hydrate")]
    let (on_submit, on_choose, on_pages, on_photo, on_page_button) = {
        let (submit, choose, pages, photo) = (
            upload.clone(),
            upload.clone(),
            upload.clone(),
            upload.clone(),
        );
        (
            move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                submit.start();
            },
            move |_: leptos::ev::Event| choose.preload(),
            move |ev: leptos::ev::Event| pages.choose_pages(ev),
            move |ev: leptos::ev::Event| photo.choose_pages(ev),
            move |ev: leptos::ev::MouseEvent| upload.page_button(ev),
        )
    };
    #[cfg(not(feature = "hydrate"))]
    let (on_submit, on_choose, on_pages, on_photo, on_page_button) = {
        let _ = (&kinds, max_size, &page);
        (
            |_: leptos::ev::SubmitEvent| {},
            |_: leptos::ev::Event| {},
            |_: leptos::ev::Event| {},
            |_: leptos::ev::Event| {},
            |_: leptos::ev::MouseEvent| {},
        )
    };
    // Drag and drop on desktop, besides « choisir un fichier » (never instead of it): a
    // dropped file goes into the file input, then « ajouter le fichier » as usual.
    let dragging = RwSignal::new(false);
    // Effects run only in the browser: without JavaScript, no drop hint.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let waiting = move || (!hydrated.get()).then_some("");
    let on_dragover = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(true);
    };
    let on_dragleave = move |_: leptos::ev::DragEvent| dragging.set(false);
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        #[cfg(feature = "hydrate")]
        if let (Some(files), Some(input)) =
            (ev.data_transfer().and_then(|d| d.files()), browser::input())
        {
            input.set_files(Some(&files));
            error.set(None);
        }
    };
    view! {
        <form method="post" action=action enctype="multipart/form-data" class="upload-form" on:submit=on_submit>
            <div class="field drop-zone" class:field-error=move || error.get().is_some() class:dragging=move || dragging.get()
                on:dragover=on_dragover on:dragleave=on_dragleave on:drop=on_drop>
                <label for="fichier">"choisir un fichier"</label>
                <p class="hint" id="fichier-aide">{hint}</p>
                {move || error.get().map(|e| view! { <p class="error-message" id="fichier-erreur" role="alert">{e}</p> })}
                <input type="file" id="fichier" name="fichier" accept=accept aria-describedby="fichier-aide" required on:change=on_choose />
                <p class="drop-hint" aria-hidden="true" data-waiting=waiting>"ou glissez-déposez le fichier ici"</p>
            </div>
            {move || progress.get().map(|(sent, total)| view! {
                <div class="progress" role="status">
                    <label for="envoi">{format!("Envoi en cours : {} sur {}", domain::french::size(sent as u64), domain::french::size(total as u64))}</label>
                    <progress id="envoi" max={total as u64} value={sent as u64}></progress>
                    <button type="button" class="button secondary" data-cancel>"Annuler l'envoi"</button>
                </div>
            })}
            {move || lighter.get().map(|(before, after)| view! {
                <p class="notice" role="status">
                    {format!("photo allégée : {} → {} ", domain::french::size(before), domain::french::size(after))}
                    <button type="button" class="button secondary" data-original>"envoyer l'original"</button>
                </p>
            })}
            // Invisible and inert until hydrated (without JavaScript, no photo is
            // assembled), but in its place: showing it then moves nothing (layout shift).
            {takes_pages.then(|| view! {
                <fieldset class="pages" data-waiting=waiting inert=move || !hydrated.get() on:click=on_page_button>
                    <legend>"Plusieurs photos (recto, verso, pages) en un seul PDF"</legend>
                    <p class="hint">"« ajouter une page » prend une image déjà sur votre appareil, « prendre une photo » ouvre l'appareil photo. Chaque page s'ajoute à la liste ; vous les envoyez ensuite ensemble, en un seul PDF."</p>
                    <label for="pages" class="button secondary">"ajouter une page"</label>
                    <input type="file" id="pages" class="visually-hidden" accept="image/*" multiple on:change=on_pages />
                    <span class="camera">
                        <label for="photo" class="button secondary">"prendre une photo"</label>
                        <input type="file" id="photo" class="visually-hidden" accept="image/*" capture="environment" on:change=on_photo />
                    </span>
                    <ol class="page-list">
                        {move || thumbs.get().into_iter().enumerate().map(|(i, src)| view! {
                            <li>
                                <img src=src alt=format!("Page {}", i + 1) />
                                <span>{format!("Page {}", i + 1)}</span>
                                {(i > 0).then(|| view! { <button type="button" class="button secondary" data-up=i>"monter"<span class="visually-hidden">{format!(" la page {}", i + 1)}</span></button> })}
                                <button type="button" class="button secondary" data-remove=i>"retirer"<span class="visually-hidden">{format!(" la page {}", i + 1)}</span></button>
                            </li>
                        }).collect_view()}
                    </ol>
                    <Show when=move || !thumbs.get().is_empty()>
                        <button type="button" class="button primary" data-send-pages>
                            {move || match thumbs.get().len() { 1 => "envoyer la page".to_string(), n => format!("envoyer les {n} pages en un seul PDF") }}
                        </button>
                    </Show>
                </fieldset>
            })}
            <Show when=move || lost.get()>
                <p class="alert" role="alert">"Connexion perdue : l'envoi reprendra tout seul dès que le réseau revient. Gardez cette page ouverte."</p>
            </Show>
            <div class="actions">
                // One primary button at a time: while pages are gathered, sending them is.
                <button type="submit" class=move || if thumbs.get().is_empty() { "button primary" } else { "button secondary" }>{move || if lost.get() { "Réessayer maintenant" } else { "ajouter le fichier" }}</button>
            </div>
        </form>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::{
        cell::{Cell, RefCell},
        rc::Rc,
    };

    use domain::FileKind;
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, closure::Closure};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{Blob, File, HtmlInputElement, ProgressEvent, XmlHttpRequest};

    use crate::{js, photos};

    /// Bytes per PATCH: the bar moves on what the server acknowledged, and a cut
    /// costs at most this much again (the server keeps what reached it anyway).
    const PART: f64 = 512.0 * 1024.0;
    /// The longest wait between two attempts while the network is gone.
    const MAX_PAUSE_MS: i32 = 30_000;

    #[derive(Clone)]
    pub struct Upload {
        pub page: String,
        pub kinds: Vec<FileKind>,
        pub max_size: u64,
        pub error: RwSignal<Option<String>>,
        pub progress: RwSignal<Option<(f64, f64)>>,
        pub lost: RwSignal<bool>,
        pub lighter: RwSignal<Option<(u64, u64)>>,
        pub thumbs: RwSignal<Vec<String>>,
        pub current: Rc<RefCell<Option<XmlHttpRequest>>>,
        /// Whether the page-wide cancel listener is in place (added once).
        pub listening: Rc<Cell<bool>>,
        /// Bumped by each start and by « annuler »: an older sending loop stops.
        pub generation: Rc<Cell<u32>>,
        /// The upload under way (its address, its key in the browser's storage).
        pub under_way: Rc<RefCell<Option<(String, String)>>>,
        /// The photo as chosen, while a lighter copy of it is sent.
        pub original: Rc<RefCell<Option<File>>>,
        /// The pages gathered for one PDF, in order.
        pub pages: Rc<RefCell<Vec<photos::Jpeg>>>,
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
    type Part<'a> = (&'a Blob, RwSignal<Option<(f64, f64)>>, f64, f64);

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
                body.map(|(_, bar, at, total)| (bar, at, total)),
            );
            Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
                last.set(js_sys::Date::now());
                if let Some((bar, at, total)) = bar {
                    bar.set(Some((at + e.loaded(), total)));
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
        pub fn start(&self) {
            let Some(file) = input().and_then(|i| i.files()).and_then(|f| f.get(0)) else {
                self.error.set(Some(
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
            self.lighter.set(None);
            self.run(Job::Send {
                blob,
                name,
                generation,
                lighten,
            });
        }

        fn run(&self, job: Job) {
            leptos::task::spawn_local(work(self.clone(), job));
        }

        /// Fetches the window's work code as soon as a file is chosen: it is there when
        /// the candidate clicks, even if the network drops in between.
        pub fn preload(&self) {
            leptos::task::spawn_local(__preload_work());
        }

        async fn check_and_send(self, chosen: Blob, name: String, generation: u32, lighten: bool) {
            self.error.set(None);
            self.lost.set(false);
            let mut name = domain::attachment::sanitise_file_name(&name);
            let mut blob = chosen.clone();
            let mut head = bytes(&blob, 0.0, FileKind::SNIFF_LEN as f64).await;
            let sniffed = FileKind::sniff(&head);
            // A damaged photo is said so, never « repaired » by redrawing what the
            // browser could decode of it.
            if sniffed == Some(FileKind::Jpeg)
                && let Err(e) = check_whole(&chosen, FileKind::Jpeg, &name).await
            {
                self.error.set(Some(e.to_string()));
                return;
            }
            // A heavy photo goes lighter; an image of another format the browser can
            // read (PNG, WebP, HEIC) goes as a JPEG, when the pièce takes JPEG.
            if lighten && self.kinds.contains(&FileKind::Jpeg) && sniffed != Some(FileKind::Pdf) {
                let is_jpeg = sniffed.is_some();
                if let Some(jpeg) = photos::lighter(chosen.clone(), is_jpeg).await {
                    if sniffed.is_some() {
                        self.lighter.set(Some((
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
            let kind = match domain::attachment::check_start(
                &name,
                &head,
                size,
                &self.kinds,
                self.max_size,
            ) {
                Ok(kind) => kind,
                Err(e) => {
                    self.error.set(Some(e.to_string()));
                    return;
                }
            };
            // Damaged or incomplete (a photo cut short, a PDF without its end): said
            // now, not after the whole file went up the phone's connection.
            if let Err(e) = check_whole(&blob, kind, &name).await {
                self.error.set(Some(e.to_string()));
                return;
            }
            self.send(blob, name, generation).await;
        }

        /// « ajouter une page », « prendre une photo »: each picture chosen becomes a
        /// page (a JPEG, upright, at most 2,000 px), shown in order.
        pub fn choose_pages(&self, ev: leptos::ev::Event) {
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
                    self.error.set(Some(format!(
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
            for url in self.thumbs.get_untracked() {
                let _ = web_sys::Url::revoke_object_url(&url);
            }
            self.thumbs.set(
                self.pages
                    .borrow()
                    .iter()
                    .filter_map(|p| web_sys::Url::create_object_url_with_blob(&p.blob).ok())
                    .collect(),
            );
        }

        /// « monter », « retirer », and sending the pages.
        pub fn page_button(&self, ev: leptos::ev::MouseEvent) {
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
                None => self.error.set(Some(
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
            self.progress
                .set(Some((at.as_ref().map_or(0.0, |a| a.1), size)));
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
                        let body = (&part, self.progress, *offset, size);
                        request("PATCH", location, &headers, Some(body), current).await
                    }
                };
                if self.stale(generation) {
                    return;
                }
                let Some(xhr) = answer else {
                    // No answer: the network is gone. Said, then retried by itself.
                    self.lost.set(true);
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
                        self.lost.set(false);
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
                        self.lost.set(false);
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
                        self.progress.set(Some((offset, size)));
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
                        self.progress.set(None);
                        self.lost.set(false);
                        self.error.set(Some(message_of(&xhr).unwrap_or_else(|| {
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
            self.progress.set(None);
            self.lost.set(false);
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
                    this.lighter.set(None);
                    this.error.set(Some(
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
            let _ = document()
                .add_event_listener_with_callback("click", clicks.as_ref().unchecked_ref());
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
}
