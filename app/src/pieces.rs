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
    dossier::DossierPage,
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
                <a class="button primary" href=format!("{page_for_ok}#gestion-titre")>"OK"<span class="visually-hidden">", voir les fichiers de cette pièce"</span></a>
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
                <a class="button secondary" href=page_for_confirm.clone()>"Annuler"<span class="visually-hidden">" la suppression"</span></a>
            </div>
        })}
        {files.iter().any(|f| f.scan == VirusScan::Pending).then(|| view! {
            <span hidden data-scans=format!("/espace/pieces/{}/analyses", piece.code)></span>
            // Where the script says each verdict as it comes (RGAA 7.5): present from the
            // start, so a screen reader hears what is written into it. A virus is said by
            // an alert the script adds then (an alert is heard as it appears).
            <p class="visually-hidden" role="status" data-scan-news></p>
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
                                    let z = t.to_zoned(domain::paris::zone());
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

mod window;
use window::{UploadForm, WindowKeys};

#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "hydrate")]
mod screen;

/// In the browser, on a document window: see [`window::window_keys`] and
/// [`window::upload_form`].
#[cfg(feature = "hydrate")]
pub fn attach() {
    window::window_keys();
    window::upload_form();
}
