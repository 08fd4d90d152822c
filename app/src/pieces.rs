//! Each pièce's « document window » over the dossier page (a page of its own, so it
//! works without JavaScript): choose and add a file, « fichier enregistré », then
//! « Gestion du document » with « Voir » and « Supprimer » for each file, and
//! « fermer ».

use domain::FileKind;
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
    let full = piece.files.len() as u32 >= piece.max_files;
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
    let hint_formats = format!(
        "Format {formats}, {limit} au maximum par fichier, {} fichier(s) au plus pour cette pièce.",
        piece.max_files
    );
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
                <a class="button primary" href=page_for_ok.clone()>"OK"</a>
            </div>
        </Show>
        <Show when=deleted>
            <p class="notice" role="status">"Le fichier a été supprimé."</p>
        </Show>
        {move || error().map(|e| view! { <p class="alert" role="alert">{e}</p> })}
        {if !can_change {
            view! { <p class="notice">"Votre dossier n'accepte plus de modification pour cette pièce."</p> }.into_any()
        } else if full {
            view! { <p class="notice">{format!("Cette pièce compte déjà {} fichier(s), le maximum : supprimez-en un pour en ajouter un autre.", piece.max_files)}</p> }.into_any()
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
        <section aria-labelledby="gestion-titre" class="gestion">
            <h3 id="gestion-titre">"Gestion du document"</h3>
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
                                    <span class="file-actions">
                                        <a class="icon-button" href=format!("/espace/pieces/{}?voir={}", piece.code, f.id)>
                                            <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22"><path d="M12 5C6 5 2 12 2 12s4 7 10 7 10-7 10-7-4-7-10-7zm0 11a4 4 0 110-8 4 4 0 010 8z" fill="currentColor"/></svg>
                                            <span class="visually-hidden">{format!("Voir « {} »", f.name)}</span>
                                        </a>
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
        {move || preview_id().and_then(|id| files_for_preview.iter().find(|f| f.id == id).cloned()).map(|f| {
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
        request_animation_frame(|| crate::dossier::focus_by_id("piece-titre"));
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
/// first bytes, size) with the same rules as the server, then sent with a progress bar,
/// a cancel button, and « Réessayer » if the connection drops.
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
    #[cfg(feature = "hydrate")]
    let on_submit = {
        let action = action.clone();
        let page = page.clone();
        let current: std::rc::Rc<std::cell::RefCell<Option<web_sys::XmlHttpRequest>>> =
            Default::default();
        let upload = browser::Upload {
            action,
            page,
            kinds,
            max_size,
            error,
            progress,
            lost,
            current,
            listening: Default::default(),
        };
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            upload.start();
        }
    };
    #[cfg(not(feature = "hydrate"))]
    let on_submit = {
        let _ = (&kinds, max_size, &page);
        |_: leptos::ev::SubmitEvent| {}
    };
    // Drag and drop on desktop, besides « choisir un fichier » (never instead of it): a
    // dropped file goes into the file input, then « ajouter le fichier » as usual.
    let dragging = RwSignal::new(false);
    // Effects run only in the browser: without JavaScript, no drop hint.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
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
                <input type="file" id="fichier" name="fichier" accept=accept aria-describedby="fichier-aide" required />
                <Show when=move || hydrated.get()>
                    <p class="drop-hint" aria-hidden="true">"ou glissez-déposez le fichier ici"</p>
                </Show>
            </div>
            {move || progress.get().map(|(sent, total)| view! {
                <div class="progress" role="status">
                    <label for="envoi">{format!("Envoi en cours : {} sur {}", domain::french::size(sent as u64), domain::french::size(total as u64))}</label>
                    <progress id="envoi" max={total as u64} value={sent as u64}></progress>
                    <button type="button" class="button secondary" data-cancel>"Annuler l'envoi"</button>
                </div>
            })}
            <Show when=move || lost.get()>
                <p class="alert" role="alert">"La connexion a été perdue : le fichier n'a pas été enregistré. Vérifiez votre réseau puis cliquez sur « Réessayer »."</p>
            </Show>
            <div class="actions">
                <button type="submit" class="button primary">{move || if lost.get() { "Réessayer" } else { "ajouter le fichier" }}</button>
            </div>
        </form>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::{cell::RefCell, rc::Rc};

    use domain::FileKind;
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, closure::Closure};
    use web_sys::{FormData, HtmlInputElement, ProgressEvent, XmlHttpRequest};

    #[derive(Clone)]
    pub struct Upload {
        pub action: String,
        pub page: String,
        pub kinds: Vec<FileKind>,
        pub max_size: u64,
        pub error: RwSignal<Option<String>>,
        pub progress: RwSignal<Option<(f64, f64)>>,
        pub lost: RwSignal<bool>,
        pub current: Rc<RefCell<Option<XmlHttpRequest>>>,
        /// Whether the page-wide cancel listener is in place (added once).
        pub listening: Rc<std::cell::Cell<bool>>,
    }

    /// Reads the file a megabyte at a time through the same checks as the server. A
    /// file the browser cannot read is left to the server to judge.
    async fn check_whole(
        file: &web_sys::File,
        kind: FileKind,
        name: &str,
    ) -> Result<(), domain::attachment::UploadError> {
        const STEP: f64 = 1024.0 * 1024.0;
        let mut whole = domain::attachment::WholeFile::default();
        let size = file.size();
        let mut at = 0.0;
        while at < size {
            let end = (at + STEP).min(size);
            let Ok(blob) = file.slice_with_f64_and_f64(at, end) else {
                return Ok(());
            };
            let Ok(buffer) = wasm_bindgen_futures::JsFuture::from(blob.array_buffer()).await else {
                return Ok(());
            };
            whole.feed(&js_sys::Uint8Array::new(&buffer).to_vec(), Some(kind));
            at = end;
        }
        whole.finish(name, kind).map(|_| ())
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
            let this = self.clone();
            leptos::task::spawn_local(async move { this.check_and_send(file).await });
        }

        async fn check_and_send(self, file: web_sys::File) {
            self.error.set(None);
            self.lost.set(false);
            let name = domain::attachment::sanitise_file_name(&file.name());
            let size = file.size() as u64;
            // The first bytes decide the kind, as on the server; nothing is sent yet.
            let head = match file.slice_with_i32_and_i32(0, FileKind::SNIFF_LEN as i32) {
                Ok(blob) => match wasm_bindgen_futures::JsFuture::from(blob.array_buffer()).await {
                    Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
                    Err(_) => Vec::new(),
                },
                Err(_) => Vec::new(),
            };
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
            if let Err(e) = check_whole(&file, kind, &name).await {
                self.error.set(Some(e.to_string()));
                return;
            }
            self.send(file);
        }

        fn send(&self, file: web_sys::File) {
            let Ok(xhr) = XmlHttpRequest::new() else {
                return;
            };
            let Ok(form) = FormData::new() else { return };
            if form
                .append_with_blob_and_filename("fichier", &file, &file.name())
                .is_err()
                || xhr.open("POST", &self.action).is_err()
                || xhr
                    .set_request_header("Accept", "application/json")
                    .is_err()
            {
                return;
            }
            let progress = self.progress;
            let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
                progress.set(Some((e.loaded(), e.total())));
            });
            if let Ok(Some(upload)) = xhr.upload().map(Some) {
                upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
            }
            on_progress.forget();

            let this = self.clone();
            let request = xhr.clone();
            let on_load = Closure::<dyn FnMut()>::new(move || {
                this.progress.set(None);
                this.current.borrow_mut().take();
                let status = request.status().unwrap_or(0);
                let body = request.response_text().ok().flatten().unwrap_or_default();
                let message = js_sys::JSON::parse(&body)
                    .ok()
                    .and_then(|v| js_sys::Reflect::get(&v, &"message".into()).ok())
                    .and_then(|m| m.as_string());
                let id = js_sys::JSON::parse(&body)
                    .ok()
                    .and_then(|v| js_sys::Reflect::get(&v, &"id".into()).ok())
                    .and_then(|m| m.as_string());
                match (status, id) {
                    (201, Some(id)) => {
                        // A full load shows « fichier enregistré » and the new list.
                        let _ = window()
                            .location()
                            .assign(&format!("{}?enregistre={id}", this.page));
                    }
                    _ => this.error.set(Some(message.unwrap_or_else(|| {
                        "Le fichier n'a pas pu être envoyé : réessayez.".to_string()
                    }))),
                }
            });
            xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
            on_load.forget();

            let this = self.clone();
            let on_error = Closure::<dyn FnMut()>::new(move || {
                this.progress.set(None);
                this.current.borrow_mut().take();
                this.lost.set(true);
            });
            xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            on_error.forget();

            let this = self.clone();
            let on_abort = Closure::<dyn FnMut()>::new(move || {
                this.progress.set(None);
                this.current.borrow_mut().take();
                this.error.set(Some(
                    "Envoi annulé : le fichier n'a pas été enregistré.".into(),
                ));
            });
            xhr.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
            on_abort.forget();

            self.progress.set(Some((0.0, file.size())));
            *self.current.borrow_mut() = Some(xhr.clone());
            // The cancel button is rendered with the progress bar; it aborts the request
            // under way. One listener for the page, added at the first upload.
            if self.listening.replace(true) {
                self.send_now(&xhr, &form);
                return;
            }
            let current = self.current.clone();
            let cancel = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
                let is_cancel = e
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .is_some_and(|el| el.closest("[data-cancel]").ok().flatten().is_some());
                if is_cancel && let Some(xhr) = current.borrow().as_ref() {
                    let _ = xhr.abort();
                }
            });
            let _ = document()
                .add_event_listener_with_callback("click", cancel.as_ref().unchecked_ref());
            cancel.forget();
            self.send_now(&xhr, &form);
        }

        fn send_now(&self, xhr: &XmlHttpRequest, form: &FormData) {
            if xhr.send_with_opt_form_data(Some(form)).is_err() {
                self.lost.set(true);
                self.progress.set(None);
            }
        }
    }
}
