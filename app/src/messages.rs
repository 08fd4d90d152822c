//! The dossier's conversation with the service concours, as both sides see it: the
//! candidate's page (`/espace/messages`) and the messages part of the staff's dossier
//! page share [`Conversation`] and [`MessageForm`]. Plain HTML: the form posts to
//! `server::messages` (multipart, with an optional file) and comes back with a code.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};
use serde::{Deserialize, Serialize};

/// One message as a page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub from_service: bool,
    /// Which staff member wrote it: shown to staff only.
    pub staff_name: Option<String>,
    pub body: String,
    pub file: Option<MessageFile>,
    /// A correction request: the pièces' labels, and until when.
    pub correction: Option<(Vec<String>, String)>,
    pub at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageFile {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub scan: domain::antivirus::VirusScan,
}

/// The dossier's messages as pages show them, the pièces named by their labels.
#[cfg(feature = "ssr")]
pub fn views(
    history: Vec<services::dossiers::messages::Message>,
    pieces: &[domain::PieceSpec],
) -> Vec<MessageView> {
    use services::dossiers::messages::Author;
    let label = |code: &str| {
        pieces
            .iter()
            .find(|p| p.code == code)
            .map_or_else(|| code.to_string(), |p| p.label.clone())
    };
    history
        .into_iter()
        .map(|m| MessageView {
            from_service: m.author == Author::Service,
            staff_name: m.staff_name,
            body: m.body,
            file: m.file.map(|f| MessageFile {
                id: f.id,
                name: f.name,
                size: f.size,
                scan: f.scan,
            }),
            correction: m.correction.map(|(codes, until)| {
                (
                    codes.iter().map(|c| label(c)).collect(),
                    domain::french::deadline_ms(until),
                )
            }),
            at: domain::french::paris_date_time_ms(m.created_at),
        })
        .collect()
}

/// The conversation, oldest first. `files` is where a file is served (`/espace/fichiers`
/// or `/service/fichiers`).
#[component]
pub fn Conversation(
    messages: Vec<MessageView>,
    for_staff: bool,
    files: &'static str,
) -> impl IntoView {
    if messages.is_empty() {
        return view! { <p>"Aucun message pour l'instant."</p> }.into_any();
    }
    view! {
        <ol class="conversation">
            {messages.into_iter().map(|m| {
                let who = match (m.from_service, for_staff) {
                    (true, true) => format!("{} (service concours)", m.staff_name.clone().unwrap_or_default()),
                    (true, false) => "Le service concours".to_string(),
                    (false, true) => "Le candidat".to_string(),
                    (false, false) => "Vous".to_string(),
                };
                view! {
                    <li class="message" class:from-service=m.from_service data-from-service=m.from_service.to_string()>
                        <p class="message-head"><strong>{who}</strong>" · le "{m.at.clone()}</p>
                        {m.correction.clone().map(|(labels, until)| view! {
                            <p class="message-correction"><strong>"Correction demandée"</strong>{format!(" au plus tard {until} : {}", labels.join(", "))}</p>
                        })}
                        <p class="message-body">{m.body.clone()}</p>
                        {m.file.clone().map(|f| {
                            let text = format!("{} ({})", f.name, domain::french::size(f.size));
                            if f.scan.counts() {
                                // On the staff's page, a file opens in the dossier's preview frame.
                                view! { <p class="message-file"><a href=format!("{files}/{}", f.id) target=for_staff.then_some("apercu")>{format!("Pièce jointe : {text}")}</a></p> }.into_any()
                            } else {
                                view! { <p class="message-file alert">{format!("Pièce jointe : {text}. {}", f.scan.for_candidate().unwrap_or_default())}</p> }.into_any()
                            }
                        })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
    .into_any()
}

/// What the last post of the form did, from the page's address.
fn outcome() -> Option<(&'static str, String)> {
    use domain::{FileKind, attachment, conversation::Refusal};
    let query = use_query_map();
    let q = query.read_untracked();
    let code = q.get("message")?;
    if code != "envoye" {
        let text = Refusal::from_code(&code)
            .map(|r| r.text().to_string())
            .unwrap_or_else(|| attachment::upload_code_message(&code).to_string());
        return Some(("alert", format!("Le message n'est pas envoyé. {text}")));
    }
    Some(match q.get("fichier") {
        None => ("notice", "Message envoyé.".to_string()),
        Some(code) => {
            use domain::conversation::{FILE_MAX_BYTES, MAX_FILES};
            let why = attachment::refusal_message(
                &code,
                &[FileKind::Pdf, FileKind::Jpeg],
                FILE_MAX_BYTES,
                MAX_FILES,
            )
            .unwrap_or_else(|| attachment::upload_code_message("erreur").to_string());
            (
                "alert",
                format!(
                    "Message envoyé, mais sans son fichier. {why} Envoyez le fichier dans un nouveau message."
                ),
            )
        }
    })
}

/// The form to write a message, with a file if wanted.
#[component]
pub fn MessageForm(action: String, for_staff: bool) -> impl IntoView {
    let label = if for_staff {
        "Message au candidat"
    } else {
        "Votre message au service concours"
    };
    view! {
        {outcome().map(|(class, text)| view! { <crate::form::Outcome class text /> })}
        <form method="post" action=action enctype="multipart/form-data" class="message-form">
            <div class="field">
                <label for="texte">{label}</label>
                <p class="hint" id="texte-aide">"5 000 caractères au plus."</p>
                <textarea id="texte" name="texte" rows="5" maxlength="5000" required aria-describedby="texte-aide"></textarea>
            </div>
            <div class="field">
                <label for="fichier">"Joindre un fichier (facultatif)"</label>
                <p class="hint" id="fichier-aide">"PDF ou JPEG, 10 Mo au plus."</p>
                <input id="fichier" name="fichier" type="file" accept=".pdf,.jpg,.jpeg,application/pdf,image/jpeg" aria-describedby="fichier-aide" />
            </div>
            <button type="submit" class="button primary">"Envoyer le message"</button>
        </form>
    }
}

/// The session's conversation, for its page.
#[server(endpoint = "espace/conversation")]
pub async fn my_messages() -> Result<Option<(String, Vec<MessageView>)>, ServerFnError> {
    use crate::session::{current_dossier, internal, state};
    let Some(dossier) = current_dossier().await? else {
        return Ok(None);
    };
    let state = state();
    let pieces = services::files::attachments::requested_pieces(&state.db, &dossier)
        .await
        .map_err(internal)?;
    let history = services::dossiers::messages::history(&state.db, &dossier.id)
        .await
        .map_err(internal)?;
    let mut messages = views(history, &pieces);
    // Which staff member wrote is the service's own business.
    for m in &mut messages {
        m.staff_name = None;
    }
    Ok(Some((dossier.number.to_string(), messages)))
}

/// The candidate's messages with the service concours.
#[component]
pub fn MessagesPage() -> impl IntoView {
    let conversation = Resource::new(|| (), |_| my_messages());
    view! {
        <Title text="Messages avec le service concours" />
        <Suspense fallback=|| view! { <crate::Loading /> }>
            {move || Suspend::new(async move {
                match conversation.await {
                    Ok(Some((number, messages))) => view! {
                        <p class="breadcrumb"><a href="/espace">"Mon dossier"</a>" › Messages"</p>
                        <h1>"Messages avec le service concours"</h1>
                        <p>{format!("Dossier {number}. Le service concours vous répond ici ; un courriel vous prévient de chaque nouveau message.")}</p>
                        <section aria-labelledby="historique-titre">
                            <h2 id="historique-titre">"Historique"</h2>
                            <Conversation messages for_staff=false files="/espace/fichiers" />
                        </section>
                        <section id="messages" aria-labelledby="ecrire-titre">
                            <h2 id="ecrire-titre">"Écrire au service concours"</h2>
                            <MessageForm action="/espace/messages".to_string() for_staff=false />
                        </section>
                    }.into_any(),
                    Ok(None) => view! { <Redirect path="/connexion?info=session" /> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{crate::catalogue::error_message(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
