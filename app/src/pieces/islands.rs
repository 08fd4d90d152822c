//! The document window's islands: its keys and focus (`WindowKeys`), and the upload
//! form once hydrated (`UploadForm`), whose browser work is `super::browser`.

use domain::FileKind;
use leptos::prelude::*;

use crate::dossier::remember_closed_window;

/// What the document window does with JavaScript: its title takes the focus when it
/// opens, so a screen reader starts there; Escape goes back to the dossier, and Escape
/// or « fermer » leave the pièce's code for [`crate::dossier::FocusReturn`]. Listens on
/// the window: the dialog around it is plain HTML.
#[island]
pub(super) fn WindowKeys(code: String) -> impl IntoView {
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
pub(super) fn UploadForm(
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
    let upload = super::browser::Upload {
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
        if let (Some(files), Some(input)) = (
            ev.data_transfer().and_then(|d| d.files()),
            super::browser::input(),
        ) {
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
            // What a screen reader hears of the upload (RGAA 7.5): a region there from the
            // start, its text changing at each quarter, not at each acknowledged part.
            <p class="visually-hidden" role="status" data-upload-said>
                {move || progress.get().map(|(sent, total)| {
                    let quarter = if total > 0.0 { (sent / total * 4.0).floor() as u32 * 25 } else { 0 };
                    format!("Envoi en cours : {} %", quarter.min(100))
                })}
            </p>
            {move || progress.get().map(|(sent, total)| view! {
                <div class="progress">
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
