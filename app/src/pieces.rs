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
mod browser;
