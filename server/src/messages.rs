//! Messages over HTTP: the candidate's and the service's message form (multipart: the
//! `texte` first, then an optional `fichier`), and the service's correction request
//! (urlencoded: one `piece` per checked pièce, `motif`, `jusqua`). Plain forms that
//! answer with a redirect carrying a code (`?message=envoye`, `?message=<refusal>`,
//! and `&fichier=<refusal>` for a file that did not go): codes of their own, so the
//! staff's dossier page never mistakes them for the instruction's `?erreur=`.
//!
//! The text is written before the file is read: a file refused (wrong kind, too large,
//! a cut connection) never costs the candidate what they typed; the page says the file
//! did not go, and the message did.

use crate::{multipart::Multipart, pacing::Gates};
use app::state::AppState;
use axum::{
    Extension, Router,
    body::Bytes,
    extract::{Path, Request, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
    routing::post,
};
use futures_util::StreamExt;
use services::{
    access::staff::Staff,
    dossiers::Dossier,
    dossiers::instruction,
    dossiers::messages::{self, MessageError, Sender},
};

use crate::files;

/// A message's file (10 Mo at most) and its text, with the multipart envelope (counted
/// by `multipart::Multipart`).
const BODY_LIMIT: usize = 11 * 1024 * 1024;
/// The text's bytes at most: [`domain::conversation::MAX_CHARS`] characters of up to
/// four bytes each; longer is refused as too long without reading further.
const TEXT_BYTES: usize = domain::conversation::MAX_CHARS * 4;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/espace/messages", post(from_candidate))
        .route("/service/dossiers/{number}/messages", post(from_service))
        .route("/service/dossiers/{number}/correction", post(correction))
}

async fn from_candidate(State(state): State<AppState>, request: Request) -> Response {
    let dossier = match files::dossier(&state, request.headers(), false).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    written(
        &state,
        &dossier,
        Sender::Candidate,
        request,
        "/espace/messages",
    )
    .await
}

async fn from_service(
    State(state): State<AppState>,
    Path(number): Path<String>,
    // Put there by the gate, which every staff address passes.
    Extension(member): Extension<Staff>,
    request: Request,
) -> Response {
    let dossier = match staff_dossier(&state, &number).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let back = format!("/service/dossiers/{}", dossier.number);
    written(&state, &dossier, Sender::Service(&member), request, &back).await
}

async fn staff_dossier(state: &AppState, number: &str) -> Result<Dossier, Response> {
    match instruction::dossier(&state.db, &*state.clock, number).await {
        Ok(Some((dossier, _))) => Ok(dossier),
        Ok(None) => Err(Redirect::to("/service").into_response()),
        Err(error) => {
            tracing::error!(%error, "dossier lookup failed");
            Err(failed())
        }
    }
}

fn failed() -> Response {
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "Le message n'a pas pu être envoyé : réessayez dans quelques instants.",
    )
        .into_response()
}

/// Back to the conversation with the outcome's code.
fn back_to(back: &str, query: &str) -> Response {
    Redirect::to(&format!("{back}?{query}#messages")).into_response()
}

fn refused(back: &str, error: MessageError) -> Response {
    match error {
        MessageError::Refused(r) => back_to(back, &format!("message={}", r.code())),
        MessageError::File(e) => back_to(back, &format!("message={}", files::refusal(e).code)),
        error => {
            tracing::error!(%error, "message not written");
            failed()
        }
    }
}

/// Reads the form of a message: its text, written at once, then its file, if any.
async fn written(
    state: &AppState,
    dossier: &Dossier,
    sender: Sender<'_>,
    request: Request,
    back: &str,
) -> Response {
    // The server's upload gates, which its router put in every request.
    let Some(gates) = request.extensions().get::<Gates>().cloned() else {
        return failed();
    };
    let (parts, body) = request.into_parts();
    let gate = match files::body_gate(state, &gates, dossier, &parts, BODY_LIMIT as u64).await {
        Ok(gate) => gate,
        Err(refusal) => return refusal.answer(false, back),
    };
    let (body, cut) = files::paced_body(&gates, &gate, body);
    let interrupted = || match cut.get() {
        Some(why) => files::cut_short(why).answer(false, back),
        None => back_to(back, "message=interrompu"),
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let Ok(mut form) = Multipart::new(content_type, body, BODY_LIMIT) else {
        return interrupted();
    };
    let mut text: Option<String> = None;
    loop {
        let part = match form.next_part().await {
            Ok(Some(part)) => part,
            Ok(None) => break,
            Err(_) => return interrupted(),
        };
        match part.name.as_str() {
            "texte" => {
                let mut bytes = Vec::new();
                let mut data = form.data();
                while let Some(chunk) = data.next().await {
                    let Ok(chunk) = chunk else {
                        return interrupted();
                    };
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > TEXT_BYTES {
                        return back_to(back, "message=long");
                    }
                }
                text = Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            "fichier" => {
                // The text comes first in the form; a file alone is no message.
                let Some(text) = text.take() else {
                    return back_to(back, "message=vide");
                };
                let id = match send(state, dossier, sender, &text).await {
                    Ok(id) => id,
                    Err(error) => return refused(back, error),
                };
                let name = part.file_name.unwrap_or_default();
                // No file chosen: the browser still sends the part, empty and unnamed.
                if name.is_empty() {
                    return back_to(back, "message=envoye");
                }
                let scan = state.first_scan();
                return match messages::attach(
                    &state.db,
                    &state.storage,
                    &*state.clock,
                    dossier,
                    &id,
                    &name,
                    scan,
                    form.data(),
                )
                .await
                {
                    Ok(_) => {
                        state.file_arrived();
                        back_to(back, "message=envoye")
                    }
                    // The message went; its file did not, and the page says why.
                    Err(MessageError::File(e)) => {
                        let code = match cut.get() {
                            Some(why) => files::cut_short(why).code,
                            None => files::refusal(e).code,
                        };
                        back_to(back, &format!("message=envoye&fichier={code}"))
                    }
                    Err(error) => {
                        tracing::error!(%error, "message file not joined");
                        back_to(back, "message=envoye&fichier=echec")
                    }
                };
            }
            _ => continue,
        }
    }
    match text {
        Some(text) => match send(state, dossier, sender, &text).await {
            Ok(_) => back_to(back, "message=envoye"),
            Err(error) => refused(back, error),
        },
        None => back_to(back, "message=vide"),
    }
}

async fn send(
    state: &AppState,
    dossier: &Dossier,
    sender: Sender<'_>,
    text: &str,
) -> Result<String, MessageError> {
    messages::send(
        &state.db,
        &*state.clock,
        &state.base_url,
        state.service_email.as_deref(),
        dossier,
        sender,
        text,
    )
    .await
}

/// The service asks for a correction of some pièces, until a day.
async fn correction(
    State(state): State<AppState>,
    Path(number): Path<String>,
    Extension(member): Extension<Staff>,
    body: Bytes,
) -> Response {
    let dossier = match staff_dossier(&state, &number).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let back = format!("/service/dossiers/{}", dossier.number);
    let (mut pieces, mut reason, mut day) = (Vec::new(), String::new(), String::new());
    for (name, value) in form_urlencoded::parse(&body) {
        match name.as_ref() {
            "piece" => pieces.push(value.into_owned()),
            "motif" => reason = value.into_owned(),
            "jusqua" => day = value.into_owned(),
            _ => {}
        }
    }
    let fields: services::access::kept_forms::Fields = form_urlencoded::parse(&body)
        .filter(|(k, _)| matches!(k.as_ref(), "piece" | "motif" | "jusqua"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // A refusal keeps what was typed, for the form that says why.
    let keep = || async {
        let kept = services::access::kept_forms::keep(
            &state.db,
            &*state.clock,
            &member,
            &dossier.id,
            services::access::kept_forms::CORRECTION,
            &fields,
        )
        .await;
        if let Err(error) = kept {
            tracing::error!(%error, "refused correction form not kept");
        }
    };
    let back_with =
        |query: &str| Redirect::to(&format!("{back}?{query}#correction")).into_response();
    // `<input type="date">` sends AAAA-MM-JJ; typed by hand, JJ/MM/AAAA.
    let Some(day) = day
        .parse::<jiff::civil::Date>()
        .ok()
        .or_else(|| domain::candidate::parse_date(&day))
    else {
        keep().await;
        return back_with("correction=date");
    };
    match messages::request_correction(
        &state.db,
        &*state.clock,
        &state.base_url,
        &member,
        &dossier,
        &pieces,
        &reason,
        day,
    )
    .await
    {
        Ok(_) => {
            let _ = services::access::kept_forms::forget(
                &state.db,
                &member,
                &dossier.id,
                services::access::kept_forms::CORRECTION,
            )
            .await;
            back_with("correction=ok")
        }
        Err(MessageError::Refused(r)) => {
            keep().await;
            back_with(&format!("correction={}", r.code()))
        }
        Err(error) => {
            tracing::error!(%error, "correction request failed");
            failed()
        }
    }
}
