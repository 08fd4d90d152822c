//! The dossier page of the espace sécurisé: the dossier's number and state, the
//! closure block, and the list of pièces whose folder buttons open each document
//! window.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};

use crate::espace::{
    PiecesResource, my_dossier, pieces_resource, requirement_text, state_label, state_text,
};

/// Where the focus goes when a document window closes: on the dossier page, to the
/// folder button of the pièce whose window it was, so a keyboard or screen-reader user
/// keeps their place in the list (a new page would start them at its top). The window
/// leaves the pièce's code in the tab's session storage ([`remember_closed_window`]).
#[component]
pub fn FocusReturn() -> impl IntoView {
    view! { <span hidden data-focus-return></span> }
}

/// In the browser: the focus back on the pièce whose window just closed (see
/// [`FocusReturn`]).
#[cfg(feature = "hydrate")]
pub fn return_focus() {
    if crate::dom::find("[data-focus-return]").is_none() {
        return;
    }
    let storage = crate::dom::window().session_storage().ok().flatten();
    if let Some(code) = storage
        .as_ref()
        .and_then(|s| s.get_item(CLOSED_WINDOW).ok().flatten())
    {
        if let Some(s) = &storage {
            let _ = s.remove_item(CLOSED_WINDOW);
        }
        crate::dom::next_frame(move || crate::dom::focus_by_id(&folder_id(&code)));
    }
}

#[cfg(feature = "hydrate")]
const CLOSED_WINDOW: &str = "concours-fenetre-fermee";

/// Called by the document window as it closes: see [`FocusReturn`].
#[cfg(feature = "hydrate")]
pub fn remember_closed_window(code: &str) {
    if let Ok(Some(storage)) = crate::dom::window().session_storage() {
        let _ = storage.set_item(CLOSED_WINDOW, code);
    }
}

fn folder_id(code: &str) -> String {
    format!("ouvrir-{code}")
}

/// What the candidate can do with the pièces, as the dossier's state allows it: an
/// open dossier invites to deposit, a closed one to check, and a closed one with
/// pièces still open names them.
fn pieces_hint(list: &[crate::espace::PieceView]) -> String {
    let open: Vec<&str> = list
        .iter()
        .filter(|p| p.can_change)
        .map(|p| p.label.as_str())
        .collect();
    if open.len() == list.len() && !list.is_empty() {
        "Formats acceptés : PDF ou JPEG. Ouvrez le dossier d'une pièce pour y déposer, vérifier ou supprimer vos fichiers.".into()
    } else if open.is_empty() {
        "Vos pièces ne peuvent plus être modifiées : ouvrez le dossier d'une pièce pour vérifier ses fichiers.".into()
    } else {
        format!(
            "Vous pouvez encore déposer des fichiers (PDF ou JPEG) pour : {}. Les autres pièces ne peuvent plus être modifiées : ouvrez-les pour vérifier leurs fichiers.",
            open.join(", ")
        )
    }
}

/// The « pièces demandées » on the dossier page.
#[component]
pub fn PieceList(pieces: PiecesResource) -> impl IntoView {
    view! {
        <section aria-labelledby="pieces-titre">
            <h2 id="pieces-titre">"Pièces demandées"</h2>
            <Suspense fallback=|| view! { <crate::Loading /> }>
                {move || Suspend::new(async move {
                    match pieces.await {
                        Ok(Some(list)) => view! {
                            <p class="hint" data-pieces-hint>{pieces_hint(&list)}</p>
                            <ul class="piece-list">
                                {list.into_iter().map(|p| {
                                    let state = state_text(&p);
                                    let done = p.deposited() > 0;
                                    view! {
                                        <li class="piece" data-piece=p.code.clone()>
                                            <div class="piece-text">
                                                <h3>{p.label.clone()}</h3>
                                                <p class="piece-meta">
                                                    <span class="requirement">{requirement_text(p.requirement)}</span>
                                                    " · "
                                                    <span class="piece-state" class:piece-done=done>{state}</span>
                                                    {p.correction_until.clone().map(|until| view! {
                                                        " · "<strong class="piece-correction">{format!("à corriger {until}")}</strong>
                                                    })}
                                                </p>
                                                {(!p.help.is_empty()).then(|| view! { <p class="hint">{p.help.clone()}</p> })}
                                            </div>
                                            <a class="folder-button" id=folder_id(&p.code) href=format!("/espace/pieces/{}", p.code)>
                                                <svg aria-hidden="true" viewBox="0 0 24 24" width="28" height="28"><path d="M3 6h7l2 2h9v11H3z" fill="currentColor"/></svg>
                                                <span class="visually-hidden">{format!("Ouvrir le dossier de la pièce : {}", p.label)}</span>
                                            </a>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{crate::catalogue::error_message(&e)}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The dossier page. Behind a pièce's document window it is inert, and shares the
/// window's `pieces` rather than loading them again.
/// « J'ai terminé ma correction »: ends the running correction requests early.
#[server(endpoint = "espace/correction-terminee")]
pub async fn finish_correction() -> Result<(), ServerFnError> {
    use crate::session::{current_dossier, internal, redirect, state};
    let Some(dossier) = current_dossier().await? else {
        redirect("/connexion?info=session");
        return Ok(());
    };
    let state = state();
    let ended = services::dossiers::messages::finish_correction(&state.db, &*state.clock, &dossier)
        .await
        .map_err(internal)?;
    redirect(if ended {
        "/espace?correction=terminee"
    } else {
        "/espace"
    });
    Ok(())
}

#[component]
pub fn DossierPage(
    #[prop(optional)] behind_window: bool,
    #[prop(optional)] pieces: Option<PiecesResource>,
) -> impl IntoView {
    let dossier = Resource::new(|| (), |_| my_dossier());
    let pieces = pieces.unwrap_or_else(pieces_resource);
    let query = use_query_map();
    let new = move || query.read().get("nouveau").is_some();
    let just_closed = move || query.read().get("cloture").is_some();
    let late = move || query.read().get("erreur").as_deref() == Some("delai");
    let withdrawn_now = move || query.read().get("desistement").is_some();
    let corrected = move || query.read().get("correction").as_deref() == Some("terminee");
    view! {
        <Title text="Mon espace sécurisé" />
        <div inert=behind_window>
        <Suspense fallback=|| view! { <crate::Loading /> }>
            {move || Suspend::new(async move {
                let missing = match pieces.await {
                    Ok(Some(list)) => crate::closure::missing(&list),
                    _ => Vec::new(),
                };
                match dossier.await {
                    Ok(Some(d)) => {
                        let (email, email2, email3, email4) = (d.email.clone(), d.email.clone(), d.email.clone(), d.email.clone());
                        view! {
                        <h1>"Mon espace sécurisé"</h1>
                        <Show when=new>
                            <p class="notice" role="status">"Votre préinscription est enregistrée. Un message avec votre n° de dossier a été envoyé à "{email.clone()}"."</p>
                        </Show>
                        <Show when=just_closed>
                            <p class="notice" role="status">"Votre inscription est clôturée. Un accusé de réception a été envoyé à "{email2.clone()}"."</p>
                        </Show>
                        <Show when=corrected>
                            <p class="notice" role="status">"Votre correction est transmise au service concours. Un accusé de réception à jour a été envoyé à "{email4.clone()}"."</p>
                        </Show>
                        <Show when=withdrawn_now>
                            <p class="notice" role="status">"Votre inscription est annulée. Un message le confirme à "{email3.clone()}"."</p>
                        </Show>
                        <Show when=late>
                            <p class="alert" role="alert">"La date limite est dépassée : votre inscription n'a pas pu être clôturée."</p>
                        </Show>
                        <crate::franceconnect::OutcomeNotice />
                        <crate::closure::ClosureStatus dossier=d.clone() missing />
                        {(!d.corrections.is_empty()).then(|| view! {
                            <section class="corrections" aria-labelledby="corrections-titre">
                                <h2 id="corrections-titre">"Corrections demandées par le service concours"</h2>
                                <ul>
                                    {d.corrections.iter().map(|c| view! {
                                        <li data-correction=c.piece.clone()>
                                            <a href=format!("/espace/pieces/{}", c.piece)>{c.label.clone()}</a>
                                            {format!(" : à corriger {}. Motif : {}", c.until, c.reason)}
                                        </li>
                                    }).collect_view()}
                                </ul>
                                <p class="hint">"Ouvrez chaque pièce pour remplacer son fichier ; vos autres pièces restent clôturées."</p>
                                <form method="post" action="/api/espace/correction-terminee">
                                    <p class="hint">"Quand tout est déposé : les pièces à corriger se referment, le service concours est prévenu et un accusé de réception à jour vous est envoyé."</p>
                                    <button type="submit" class="button primary">"J'ai terminé ma correction"</button>
                                </form>
                            </section>
                        })}
                        <p class="messages-link">
                            <a href="/espace/messages" data-messages=d.messages.to_string()>{format!("Messages avec le service concours ({})", d.messages)}</a>
                            {d.service_wrote_at.clone().map(|at| format!(" · dernier message du service le {at}"))}
                        </p>
                        <section class="dossier-card" aria-labelledby="numero-titre">
                            <h2 id="numero-titre">"Votre n° de dossier"</h2>
                            <p class="dossier-number" data-dossier-number>{d.number.clone()}</p>
                            <p>"C'est votre identifiant de connexion : notez-le ou imprimez cette page."</p>
                            <dl>
                                <dt>"Concours"</dt><dd>{d.exam_title.clone()}</dd>
                                <dt>"Candidat"</dt><dd>{d.candidate.clone()}</dd>
                                {d.certified.clone().map(|c| view! { <dt>"Identité"</dt><dd data-certified>{c}</dd> })}
                                <dt>"Préinscription le"</dt><dd>{domain::french::paris_date_time_ms(d.created_at_ms)}</dd>
                                <dt>"État"</dt><dd>{if d.withdrawn_at.is_some() { "désisté : inscription annulée" } else { state_label(&d.status, d.closes_at_ms <= d.now_ms) }}</dd>
                            </dl>
                            <p class="print-hint"><a href="/espace/dossier-d-inscription.pdf" data-dossier-sheet>"Télécharger mon dossier d'inscription (PDF)"</a>" : il a aussi été joint au message de préinscription."</p>
                        </section>
                        <PieceList pieces />
                        {(d.certified.is_none() && crate::franceconnect::enabled()).then(|| view! {
                            <section class="franceconnect-link" aria-labelledby="lier-titre">
                                <h2 id="lier-titre">"Se connecter avec FranceConnect"</h2>
                                <p>"Liez votre dossier à FranceConnect pour vous connecter sans n° de dossier ni mot de passe. Il faut que l'identité de FranceConnect (nom de naissance, prénoms, date de naissance) soit celle de votre dossier."</p>
                                <crate::franceconnect::FranceConnectButton pour="lien" label="Lier mon dossier avec" />
                            </section>
                        })}
                        <section class="my-data" aria-labelledby="donnees-titre">
                            <h2 id="donnees-titre">"Mes données"</h2>
                            <p>
                                <a href="/espace/mes-donnees.zip" data-my-data>"Télécharger toutes mes données (ZIP)"</a>
                                " : vos réponses, vos pièces et leur empreinte, vos messages, les courriels envoyés et vos connexions en cours."
                            </p>
                            <p><a href="/donnees-personnelles">"Ce que le service fait de vos données, et vos droits"</a></p>
                        </section>
                        {d.withdrawn_at.is_none().then(|| view! {
                            <section class="withdraw" aria-labelledby="desistement-titre">
                                <h2 id="desistement-titre">"Me désister"</h2>
                                {if d.may_withdraw {
                                    view! { <p>"Vous ne souhaitez plus vous présenter à ce concours ? "<a href="/espace/desistement">"Annuler mon inscription"</a></p> }.into_any()
                                } else {
                                    view! { <p>"Pour vous désister, "<a href="/espace/messages">"écrivez au service concours"</a>" : il enregistrera votre désistement."</p> }.into_any()
                                }}
                            </section>
                        })}
                        {(!behind_window).then(|| view! { <FocusReturn /> })}
                    }.into_any()
                    }
                    Ok(None) => view! { <Redirect path="/connexion?info=session" /> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{crate::catalogue::error_message(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
        </div>
    }
}
