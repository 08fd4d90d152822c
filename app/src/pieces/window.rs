//! The document window's parts that also run in the browser: its keys and focus
//! (`WindowKeys`), and the upload form (`UploadForm`), whose browser work is
//! `super::browser`. The server renders both whole; [`window_keys`] and
//! [`upload_form`] attach to what it wrote.

use domain::FileKind;
use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use crate::dossier::remember_closed_window;

/// What the document window does with JavaScript: its title takes the focus when it
/// opens, so a screen reader starts there; Escape goes back to the dossier, and Escape
/// or « fermer » leave the pièce's code for [`crate::dossier::FocusReturn`]. The
/// browser's part is [`window_keys`]; it listens on the window: the dialog around it
/// is plain HTML.
#[component]
pub(super) fn WindowKeys(code: String) -> impl IntoView {
    view! { <span hidden data-window-keys=code></span> }
}

/// In the browser: see [`WindowKeys`].
#[cfg(feature = "hydrate")]
pub(super) fn window_keys() {
    use crate::dom;
    use wasm_bindgen::JsCast;
    let Some(code) =
        dom::find("[data-window-keys]").and_then(|m| m.get_attribute("data-window-keys"))
    else {
        return;
    };
    // After « OK » the address names the file list (`#gestion-titre`): the focus goes
    // there, so the file just saved is in view; otherwise to the title.
    let target = dom::window()
        .location()
        .hash()
        .ok()
        .and_then(|h| h.strip_prefix('#').map(str::to_string))
        .filter(|h| h == "gestion-titre")
        .unwrap_or_else(|| "piece-titre".to_string());
    dom::next_frame(move || dom::focus_by_id(&target));
    let for_keys = code.clone();
    dom::on(
        &dom::window(),
        "keydown",
        move |ev: web_sys::KeyboardEvent| {
            if ev.key() == "Escape" {
                remember_closed_window(&for_keys);
                let _ = dom::window().location().set_href("/espace");
            }
        },
    );
    dom::on(&dom::window(), "click", move |ev: web_sys::MouseEvent| {
        let closes = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("[data-fermer]").ok().flatten())
            .is_some();
        if closes {
            remember_closed_window(&code);
        }
    });
}

/// « choisir un fichier » then « ajouter le fichier ». Without JavaScript it is a plain
/// multipart form. In the browser ([`upload_form`]), the file is checked first (kind by
/// its first bytes, size) with the same rules as the server, then sent in parts over tus
/// (`server::tus`) with a progress bar on the bytes the server acknowledged and a
/// cancel button; when the connection drops the window says so and the upload resumes
/// by itself, and the same file chosen after a reload continues where it stopped.
#[component]
pub(super) fn UploadForm(
    action: String,
    page: String,
    accept: String,
    hint: String,
    kinds: Vec<FileKind>,
    max_size: u64,
) -> impl IntoView {
    let takes_pages = kinds.contains(&FileKind::Pdf);
    let kinds = kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    // `data-waiting` marks what works only once the browser's code runs: the drop hint
    // and the pages (invisible and inert until then, but in their place, so showing
    // them moves nothing).
    view! {
        <form method="post" action=action enctype="multipart/form-data" class="upload-form"
            data-upload=page data-kinds=kinds data-max-size=max_size>
            <div class="field drop-zone">
                <label for="fichier">"choisir un fichier"</label>
                <p class="hint" id="fichier-aide">{hint}</p>
                <input type="file" id="fichier" name="fichier" accept=accept aria-describedby="fichier-aide" required />
                <p class="drop-hint" aria-hidden="true" data-waiting>"ou glissez-déposez le fichier ici"</p>
            </div>
            // What a screen reader hears of the upload (RGAA 7.5): a region there from the
            // start, its text changing at each quarter, not at each acknowledged part.
            <p class="visually-hidden" role="status" data-upload-said></p>
            {takes_pages.then(|| view! {
                <fieldset class="pages" data-waiting inert>
                    <legend>"Plusieurs photos (recto, verso, pages) en un seul PDF"</legend>
                    <p class="hint">"« ajouter une page » prend une image déjà sur votre appareil, « prendre une photo » ouvre l'appareil photo. Chaque page s'ajoute à la liste ; vous les envoyez ensuite ensemble, en un seul PDF."</p>
                    <label for="pages" class="button secondary">"ajouter une page"</label>
                    <input type="file" id="pages" class="visually-hidden" accept="image/*" multiple />
                    <span class="camera">
                        <label for="photo" class="button secondary">"prendre une photo"</label>
                        <input type="file" id="photo" class="visually-hidden" accept="image/*" capture="environment" />
                    </span>
                    <ol class="page-list"></ol>
                </fieldset>
            })}
            <div class="actions">
                <button type="submit" class="button primary">"ajouter le fichier"</button>
            </div>
        </form>
    }
}

/// In the browser: the upload form of [`UploadForm`] wired to `super::browser`.
#[cfg(feature = "hydrate")]
pub(super) fn upload_form() {
    use wasm_bindgen::JsCast;
    use web_sys::{DragEvent, Event, HtmlFormElement, MouseEvent, SubmitEvent};

    use super::browser::{Screen, Upload, input};
    use crate::dom;
    let Some(form) =
        dom::find("form[data-upload]").and_then(|f| f.dyn_into::<HtmlFormElement>().ok())
    else {
        return;
    };
    let (Some(screen), Some(max_size)) =
        (Screen::of(&form), dom::number_of(&form, "data-max-size"))
    else {
        return;
    };
    let kinds = form
        .get_attribute("data-kinds")
        .unwrap_or_default()
        .split(' ')
        .filter_map(FileKind::parse_code)
        .collect();
    let upload = Upload::new(
        form.get_attribute("data-upload").unwrap_or_default(),
        kinds,
        max_size as u64,
        screen,
    );
    {
        let upload = upload.clone();
        dom::on(&form, "submit", move |ev: SubmitEvent| {
            ev.prevent_default();
            upload.start();
        });
    }
    if let Some(chosen) = input() {
        let upload = upload.clone();
        dom::on(&chosen, "change", move |_: Event| upload.preload());
    }
    for id in ["pages", "photo"] {
        if let Some(pages) = dom::document().get_element_by_id(id) {
            let upload = upload.clone();
            dom::on(&pages, "change", move |ev: Event| upload.choose_pages(ev));
        }
    }
    if let Some(fieldset) = dom::find_in(&form, "fieldset.pages") {
        let upload = upload.clone();
        dom::on(&fieldset, "click", move |ev: MouseEvent| {
            upload.page_button(ev)
        });
        let _ = fieldset.remove_attribute("inert");
        dom::ready(&fieldset);
    }
    // Drag and drop on desktop, besides « choisir un fichier » (never instead of it): a
    // dropped file goes into the file input, then « ajouter le fichier » as usual.
    if let Some(zone) = dom::find_in(&form, ".drop-zone") {
        let dragging = |zone: &web_sys::Element, on: bool| {
            let _ = zone.class_list().toggle_with_force("dragging", on);
        };
        {
            let zone2 = zone.clone();
            dom::on(&zone, "dragover", move |ev: DragEvent| {
                ev.prevent_default();
                dragging(&zone2, true);
            });
        }
        {
            let zone2 = zone.clone();
            dom::on(&zone, "dragleave", move |_: DragEvent| {
                dragging(&zone2, false)
            });
        }
        {
            let zone2 = zone.clone();
            dom::on(&zone, "drop", move |ev: DragEvent| {
                ev.prevent_default();
                dragging(&zone2, false);
                if let (Some(files), Some(input)) =
                    (ev.data_transfer().and_then(|d| d.files()), input())
                {
                    input.set_files(Some(&files));
                    upload.clear_error();
                }
            });
        }
        if let Some(hint) = dom::find_in(&zone, ".drop-hint") {
            dom::ready(&hint);
        }
    }
}
