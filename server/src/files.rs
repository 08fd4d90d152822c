//! Uploading, serving and deleting attachments: plain axum handlers, because an upload
//! is a streamed multipart body whose size we count ourselves.
//!
//! Forms without JavaScript get a redirect back to the document page with the outcome
//! in its address; `fetch` / XHR callers (`Accept: application/json`) get a status and
//! a JSON `{"message": …}` instead: 413 past the size limit, 415 for a wrong kind, 422
//! for another refusal, 409 when the pièce is full, 423 when the dossier is locked.

use app::{account::urlencode, session::session_dossier, state::AppState};
use axum::{
    Extension, Json, Router,
    body::Body,
    extract::{Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use domain::attachment::{self, UploadError, upload_code};
use services::{dossiers::Dossier, files::attachments, files::attachments::AttachmentError};

use crate::{
    multipart::{Malformed, Multipart},
    pacing::{self, BodyGate, Cut, CutFlag, Gates, Refused},
};

/// Above any pièce's limit (50 Mo at most) plus the multipart envelope, counted by
/// `multipart::Multipart`; each pièce's own limit is enforced while streaming.
const BODY_LIMIT: usize = 51 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/espace/pieces/{piece}/fichiers", post(upload))
        .route("/espace/pieces/{piece}/analyses", get(scans))
        .route("/espace/fichiers/{id}", get(serve))
        .route("/espace/dossier-d-inscription.pdf", get(dossier_sheet))
        .route("/espace/accuse-de-reception.pdf", get(receipt))
        .route("/espace/mes-donnees.zip", get(my_data))
        .route("/espace/fichiers/{id}/supprimer", post(delete))
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// A refusal: its status and French text for `fetch` callers; for a form, a redirect
/// carrying only its code, which the page maps back to a fixed message.
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) text: String,
}

impl Refusal {
    /// One of the upload's own refusals, whose text is fixed.
    pub(crate) fn of(status: StatusCode, code: &'static str) -> Self {
        Self {
            status,
            code,
            text: attachment::upload_code_message(code).to_string(),
        }
    }

    pub(crate) fn answer(self, json: bool, back: &str) -> Response {
        if !json {
            return Redirect::to(&format!("{back}?erreur={}", self.code)).into_response();
        }
        let mut response = (
            self.status,
            Json(serde_json::json!({ "message": self.text })),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(app::session::BUSY_RETRY_AFTER_SECS),
            );
        }
        response
    }
}

/// The session's dossier, or the answer for a request without one.
pub(crate) async fn dossier(
    state: &AppState,
    headers: &HeaderMap,
    json: bool,
) -> Result<Dossier, Response> {
    match session_dossier(state, headers).await {
        Ok(Some(dossier)) => Ok(dossier),
        Ok(None) if json => Err((
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "message": "Votre session a expiré : reconnectez-vous, puis déposez de nouveau le fichier." })),
        )
            .into_response()),
        Ok(None) => Err(Redirect::to("/connexion?info=session").into_response()),
        Err(error) => {
            tracing::error!(%error, "session lookup failed");
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

pub(crate) fn refusal(error: AttachmentError) -> Refusal {
    match error {
        AttachmentError::Refused(e) => {
            let status = match e {
                UploadError::TooLarge { .. } | UploadError::DossierFull { .. } => {
                    StatusCode::PAYLOAD_TOO_LARGE
                }
                UploadError::WrongKind { .. } | UploadError::KindNotAccepted { .. } => {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE
                }
                UploadError::TooManyFiles { .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            Refusal {
                status,
                code: e.code(),
                text: e.to_string(),
            }
        }
        AttachmentError::UnknownPiece | AttachmentError::NotFound => {
            Refusal::of(StatusCode::NOT_FOUND, upload_code::NOT_FOUND)
        }
        AttachmentError::Locked => Refusal::of(StatusCode::LOCKED, upload_code::LOCKED),
        AttachmentError::Interrupted(_) => {
            Refusal::of(StatusCode::BAD_REQUEST, upload_code::INTERRUPTED)
        }
        // The store does not answer (a bucket's outage): nothing was kept, try again.
        AttachmentError::Storage(error) => {
            tracing::error!(%error, "store unavailable");
            Refusal::of(StatusCode::SERVICE_UNAVAILABLE, upload_code::FAILED)
        }
        error => {
            tracing::error!(%error, "attachment operation failed");
            Refusal::of(StatusCode::INTERNAL_SERVER_ERROR, upload_code::FAILED)
        }
    }
}

async fn upload(
    State(state): State<AppState>,
    Extension(gates): Extension<Gates>,
    Path(piece): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers.clone();
    let json = wants_json(&headers);
    let back = format!("/espace/pieces/{}", urlencode(&piece));
    let dossier = match dossier(&state, &headers, json).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let gate = match body_gate(&state, &gates, &dossier, &parts, BODY_LIMIT as u64).await {
        Ok(gate) => gate,
        Err(refusal) => return refusal.answer(json, &back),
    };
    let (body, cut) = paced_body(&gates, &gate, body);
    let refused = |refusal: Refusal| match cut.get() {
        // The parser only saw an error: the pacing knows why.
        Some(why) => cut_short(why).answer(json, &back),
        None => refusal.answer(json, &back),
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let mut form = match Multipart::new(content_type, body, BODY_LIMIT) {
        Ok(form) => form,
        Err(_) => {
            return refused(Refusal::of(
                StatusCode::BAD_REQUEST,
                upload_code::INTERRUPTED,
            ));
        }
    };
    let file = match form.part_named("fichier").await {
        Ok(Some(part)) => part,
        Ok(None) => return refused(Refusal::of(StatusCode::BAD_REQUEST, upload_code::NO_FILE)),
        Err(Malformed::TooLarge(_)) => {
            return refused(Refusal {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "trop-gros",
                text: "Le fichier est trop volumineux.".into(),
            });
        }
        Err(_) => {
            return refused(Refusal::of(
                StatusCode::BAD_REQUEST,
                upload_code::INTERRUPTED,
            ));
        }
    };
    let name = file.file_name.unwrap_or_else(|| "document".into());
    let saved = attachments::upload(
        &state.db,
        &state.storage,
        &*state.clock,
        &dossier,
        &piece,
        &name,
        state.first_scan(),
        form.data(),
    )
    .await;
    if saved.is_ok() {
        state.file_stored(&dossier, &piece).await;
    }
    match saved {
        Ok(saved) if json => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "id": saved.id, "name": saved.name, "size": saved.size, "message": "fichier enregistré" })),
        )
            .into_response(),
        Ok(saved) => Redirect::to(&format!("{back}?enregistre={}", saved.id)).into_response(),
        Err(error) => refused(refusal(error)),
    }
}

/// Taken before a byte of an upload body is read (see `pacing::Gates::body`): a place
/// among the dossier's and the client's bodies, then a reading slot. A request past
/// the dossier's or the client's bodies waits for nothing and holds nothing; one that
/// gets no slot in time hears « busy », never silence.
pub(crate) async fn body_gate(
    state: &AppState,
    gates: &Gates,
    dossier: &Dossier,
    parts: &axum::http::request::Parts,
    largest: u64,
) -> Result<BodyGate, Refusal> {
    let client = app::session::client_of(&parts.headers, &parts.extensions, &state.trusted_proxies);
    // What the body announces buys it time to be read; without it, the most it may be.
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(largest)
        .min(largest);
    gates
        .body(&pacing::NIGHT, &dossier.id, &client, announced)
        .await
        .map_err(|refused| match refused {
            Refused::Dossier => {
                Refusal::of(StatusCode::TOO_MANY_REQUESTS, upload_code::TWO_AT_ONCE)
            }
            Refused::Client => Refusal::of(StatusCode::TOO_MANY_REQUESTS, upload_code::MANY_HERE),
            Refused::Busy => Refusal::of(StatusCode::SERVICE_UNAVAILABLE, upload_code::BUSY),
        })
}

/// An upload body read at the deadline night's pace, for as long as its gate allows,
/// and the flag that says why it was cut, if it was.
pub(crate) fn paced_body(
    gates: &Gates,
    gate: &BodyGate,
    body: Body,
) -> (
    impl futures_util::Stream<Item = Result<bytes::Bytes, Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + Unpin
    + use<>,
    CutFlag,
) {
    let cut = CutFlag::default();
    // Exact when the head announced a length (hyper checks the body against it).
    let length = axum::body::HttpBody::size_hint(&body).exact();
    let stream = pacing::paced(
        body.into_data_stream(),
        pacing::NIGHT,
        gates.read_permits(),
        (gate.progress(), gate.hold()),
        cut.clone(),
        length,
    );
    (Box::pin(stream), cut)
}

/// A body the pacing cut: too slow (408), or no reading slot in time (503, with
/// `Retry-After`). Nothing was saved either way.
pub(crate) fn cut_short(why: Cut) -> Refusal {
    match why {
        Cut::Busy => Refusal::of(StatusCode::SERVICE_UNAVAILABLE, upload_code::BUSY),
        Cut::TooSlow => Refusal::of(StatusCode::REQUEST_TIMEOUT, upload_code::TOO_SLOW),
    }
}

/// Where the antivirus stands for each of this pièce's files, for the document window
/// to update itself: `[{"id", "scan" (its code), "text" (the candidate's words, or
/// null)}]`. The session's own files only.
async fn scans(
    State(state): State<AppState>,
    Path(piece): Path<String>,
    headers: HeaderMap,
) -> Response {
    let dossier = match dossier(&state, &headers, true).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    match attachments::list(&state.db, &dossier.id).await {
        Ok(files) => {
            let scans: Vec<_> = files
                .iter()
                .filter(|f| f.piece_code == piece)
                .map(|f| {
                    serde_json::json!({
                        "id": f.id,
                        "scan": f.scan.code(),
                        "text": f.scan.for_candidate(),
                    })
                })
                .collect();
            ([(header::CACHE_CONTROL, "no-store")], Json(scans)).into_response()
        }
        Err(error) => refusal(error).answer(true, ""),
    }
}

/// Sends a file back to its owner only; any other session gets 404, whatever the id.
async fn serve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let dossier = match dossier(&state, &headers, wants_json(&headers)).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let attachment = match attachments::get(&state.db, &dossier.id, &id).await {
        Ok(a) => a,
        Err(AttachmentError::NotFound) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => return refusal(error).status.into_response(),
    };
    file_response(&state, &attachment, false).await
}

/// The dossier d'inscription of the session's dossier, as a PDF.
async fn dossier_sheet(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let dossier = match dossier(&state, &headers, false).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let pieces = match attachments::requested_pieces(&state.db, &dossier).await {
        Ok(p) => p,
        Err(error) => return refusal(error).status.into_response(),
    };
    let printout =
        services::letters::printouts::dossier_sheet(&dossier, &pieces, &state.letterhead());
    pdf_response(
        services::letters::printouts::kept(&state.storage, &dossier.id, "dossier", printout).await,
        &format!("dossier-inscription-{}.pdf", dossier.number),
    )
}

/// The accusé de réception of the session's dossier, as a PDF, once it is closed.
async fn receipt(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let dossier = match dossier(&state, &headers, false).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    match services::dossiers::closure::receipt(&state.db, &dossier).await {
        Ok(Some(receipt)) => pdf_response(
            services::letters::printouts::kept(
                &state.storage,
                &dossier.id,
                "recu",
                services::letters::printouts::receipt(&receipt, &state.letterhead()),
            )
            .await,
            &format!("accuse-de-reception-{}.pdf", receipt.number),
        ),
        // Not closed yet: the page says when it will be there.
        Ok(None) => Redirect::to("/espace/accuse-de-reception").into_response(),
        Err(error) => {
            tracing::error!(%error, "receipt failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// A PDF made for the session's candidate: shown in the browser; or « busy » when too
/// many were being made (503, `Retry-After`).
/// « Mes données »: everything the service holds on the session's candidate, as a ZIP
/// (`services::dossiers::my_data`): the answers as JSON and as a page, the files with
/// their SHA-256, the messages' files, the dossier d'inscription and, once closed, the
/// accusé de réception.
async fn my_data(State(state): State<AppState>, headers: HeaderMap) -> Response {
    use services::letters::printouts;
    let dossier = match dossier(&state, &headers, false).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let failed = |error: &dyn std::fmt::Display| {
        tracing::error!(%error, "personal data export failed");
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    };
    let now = state.clock.now().as_millisecond();
    let data = match services::dossiers::my_data::gather(&state.db, &dossier, now).await {
        Ok(data) => data,
        Err(error) => return failed(&error),
    };
    let mut made = vec![
        ("donnees.json".to_string(), data.json.into_bytes()),
        ("donnees.html".to_string(), data.html.into_bytes()),
    ];
    let pieces = match attachments::requested_pieces(&state.db, &dossier).await {
        Ok(p) => p,
        Err(error) => return failed(&error),
    };
    let head = state.letterhead();
    let sheet = printouts::dossier_sheet(&dossier, &pieces, &head);
    match printouts::kept(&state.storage, &dossier.id, "dossier", sheet).await {
        Ok(pdf) => made.push(("dossier-inscription.pdf".into(), pdf)),
        Err(busy) => return pdf_response(Err(busy), ""),
    }
    match services::dossiers::closure::receipt(&state.db, &dossier).await {
        Ok(Some(receipt)) => {
            let printout = printouts::receipt(&receipt, &head);
            match printouts::kept(&state.storage, &dossier.id, "recu", printout).await {
                Ok(pdf) => made.push(("accuse-de-reception.pdf".into(), pdf)),
                Err(busy) => return pdf_response(Err(busy), ""),
            }
        }
        Ok(None) => {}
        Err(error) => return failed(&error),
    }
    private_file(
        crate::archive::zip_body(
            &state.storage,
            data.files,
            made,
            state.clock.now().as_millisecond(),
            format!("mes données {}", dossier.number),
        ),
        "application/zip",
        "attachment",
        &format!("mes-donnees-{}.zip", dossier.number),
    )
}

fn pdf_response(made: Result<Vec<u8>, services::letters::printouts::Busy>, name: &str) -> Response {
    match made {
        Ok(bytes) => private_file(bytes, "application/pdf", "inline", name),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(
                header::RETRY_AFTER,
                HeaderValue::from(app::session::BUSY_RETRY_AFTER_SECS),
            )],
            app::session::BUSY_MESSAGE,
        )
            .into_response(),
    }
}

/// A file made for one reader, under this name, `inline` or as an `attachment`, kept
/// out of any shared cache.
pub(crate) fn private_file(
    body: impl IntoResponse,
    content_type: &'static str,
    disposition: &str,
    name: &str,
) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(value) = HeaderValue::from_str(&content_disposition(disposition, name)) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

const STORE_UNAVAILABLE: &str =
    "Le fichier ne peut pas être affiché pour le moment : réessayez dans quelques instants.";

/// A stored file as a response: its own type, never sniffed (set globally), never
/// cached by a shared cache, framed by our pages only, under its cleaned name (RFC
/// 6266 / 5987, so accents survive and nothing in the name can break the header);
/// shown in the page, or saved when `download`.
pub async fn file_response(
    state: &AppState,
    attachment: &attachments::Attachment,
    download: bool,
) -> Response {
    // Its bytes are deleted, and would never be sent to anyone.
    if !attachment.scan.counts() {
        return (
            StatusCode::GONE,
            "Virus détecté : ce fichier a été supprimé.",
        )
            .into_response();
    }
    let file = match state.storage.read(&attachment.storage_key).await {
        Ok(f) => f,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tracing::error!(%error, id = %attachment.id, "stored file missing");
            return StatusCode::NOT_FOUND.into_response();
        }
        Err(error) => {
            tracing::error!(%error, id = %attachment.id, "store unavailable");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                STORE_UNAVAILABLE,
            )
                .into_response();
        }
    };
    // A PDF declaring JavaScript is never opened in a browser tab: saved, not shown.
    let download = download || attachment.script;
    let mut response = Body::from_stream(file).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(attachment.kind.mime()),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(attachment.size));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(file_policy(attachment.kind, download)),
    );
    let disposition = content_disposition(
        if download { "attachment" } else { "inline" },
        &attachment.name,
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The policy a candidate's file is served under: it never runs anything in the site's
/// origin. A photo, and any file saved rather than shown, is a sandboxed document that
/// may load nothing. A PDF shown in the preview keeps only `frame-ancestors`: the
/// browsers' own viewers refuse to run sandboxed (Chromium shows « page bloquée »,
/// Safari a blank page) and run apart from the page's origin anyway; a PDF that
/// declares JavaScript is never shown, only saved.
fn file_policy(kind: domain::file_kind::FileKind, download: bool) -> &'static str {
    match (kind, download) {
        (domain::file_kind::FileKind::Pdf, false) => "frame-ancestors 'self'",
        _ => "default-src 'none'; sandbox; frame-ancestors 'self'",
    }
}

/// `inline` or `attachment` with a file name: ASCII for old clients, UTF-8 for others.
pub fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .-_()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        urlencode(name)
    )
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let json = wants_json(&headers);
    let dossier = match dossier(&state, &headers, json).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let piece = attachments::get(&state.db, &dossier.id, &id)
        .await
        .map(|a| a.piece_code);
    let back = format!(
        "/espace/pieces/{}",
        urlencode(piece.as_deref().unwrap_or(""))
    );
    match attachments::delete(&state.db, &state.storage, &*state.clock, &dossier, &id).await {
        Ok(()) if json => StatusCode::NO_CONTENT.into_response(),
        Ok(()) => Redirect::to(&format!("{back}?supprime=1")).into_response(),
        Err(AttachmentError::NotFound) if !json => Redirect::to("/espace").into_response(),
        Err(error) => refusal(error).answer(json, &back),
    }
}
