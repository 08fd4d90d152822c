//! Uploading, serving and deleting attachments: plain axum handlers, because an upload
//! is a streamed multipart body whose size we count ourselves.
//!
//! Forms without JavaScript get a redirect back to the document page with the outcome
//! in its address; `fetch` / XHR callers (`Accept: application/json`) get a status and
//! a JSON `{"message": …}` instead: 413 past the size limit, 415 for a wrong kind, 422
//! for another refusal, 409 when the pièce is full, 423 when the dossier is locked.

use app::{account::urlencode, session::session_dossier, state::AppState};
use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, Multipart, Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use domain::attachment::UploadError;
use services::{attachments, attachments::AttachmentError, dossiers::Dossier};
use tokio_util::io::ReaderStream;

/// Above any pièce's limit (50 Mo at most) plus the multipart envelope; each pièce's own
/// limit is enforced while streaming.
const BODY_LIMIT: usize = 51 * 1024 * 1024;

/// Bodies read at once. Each upload being read holds about a megabyte of buffers
/// (hyper's read buffer, the parser's, the file's), so a hundred photos arriving
/// together would hold a hundred; past this many, an upload waits for its turn before
/// its body is read (its bytes wait in the kernel's socket buffer meanwhile). Two
/// cores are kept busy by a handful already: hashing and writing are the work.
fn uploads_at_once() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(4 * cores)
    })
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/espace/pieces/{piece}/fichiers",
            post(upload).layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .route("/espace/fichiers/{id}", get(serve))
        .route("/espace/fichiers/{id}/supprimer", post(delete))
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

fn message(status: StatusCode, text: String, json: bool, back: &str) -> Response {
    if json {
        (status, Json(serde_json::json!({ "message": text }))).into_response()
    } else {
        Redirect::to(&format!("{back}?erreur={}", urlencode(&text))).into_response()
    }
}

/// The session's dossier, or the answer for a request without one.
async fn dossier(state: &AppState, headers: &HeaderMap) -> Result<Dossier, Response> {
    match session_dossier(state, headers).await {
        Ok(Some(dossier)) => Ok(dossier),
        Ok(None) if wants_json(headers) => Err((
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

fn refusal(error: AttachmentError) -> (StatusCode, String) {
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
            (status, e.to_string())
        }
        AttachmentError::UnknownPiece | AttachmentError::NotFound => (
            StatusCode::NOT_FOUND,
            "Cette pièce ou ce fichier n'existe pas dans votre dossier.".into(),
        ),
        AttachmentError::Locked => (
            StatusCode::LOCKED,
            "Votre dossier n'accepte plus de modification pour cette pièce.".into(),
        ),
        AttachmentError::Interrupted(_) => (
            StatusCode::BAD_REQUEST,
            "Le fichier n'a pas pu être envoyé en entier : réessayez.".into(),
        ),
        error => {
            tracing::error!(%error, "attachment operation failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Le fichier n'a pas pu être enregistré : réessayez dans quelques instants.".into(),
            )
        }
    }
}

async fn upload(
    State(state): State<AppState>,
    Path(piece): Path<String>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let json = wants_json(&headers);
    let back = format!("/espace/pieces/{}", urlencode(&piece));
    let dossier = match dossier(&state, &headers).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let _turn = uploads_at_once()
        .acquire()
        .await
        .expect("the semaphore is never closed");
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => {
                let (status, text) = if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    (
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Le fichier est trop volumineux.".to_string(),
                    )
                } else {
                    (
                        StatusCode::BAD_REQUEST,
                        "Le fichier n'a pas pu être envoyé en entier : réessayez.".to_string(),
                    )
                };
                return message(status, text, json, &back);
            }
        };
        if field.name() != Some("fichier") {
            continue;
        }
        let name = field.file_name().unwrap_or("document").to_string();
        return match attachments::upload(&state.db, &state.storage, &*state.clock, &dossier, &piece, &name, field).await {
            Ok(saved) if json => (
                StatusCode::CREATED,
                Json(serde_json::json!({ "id": saved.id, "name": saved.name, "size": saved.size, "message": "fichier enregistré" })),
            )
                .into_response(),
            Ok(saved) => Redirect::to(&format!("{back}?enregistre={}", saved.id)).into_response(),
            Err(error) => {
                let (status, text) = refusal(error);
                message(status, text, json, &back)
            }
        };
    }
    message(
        StatusCode::BAD_REQUEST,
        "Choisissez un fichier avant de cliquer sur « ajouter le fichier ».".into(),
        json,
        &back,
    )
}

/// Sends a file back to its owner only; any other session gets 404, whatever the id.
async fn serve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let dossier = match dossier(&state, &headers).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let attachment = match attachments::get(&state.db, &dossier.id, &id).await {
        Ok(a) => a,
        Err(AttachmentError::NotFound) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => return refusal(error).0.into_response(),
    };
    file_response(&state, &attachment, false).await
}

/// A stored file as a response: its own type, never sniffed (set globally), never
/// cached by a shared cache, framed by our pages only, under its cleaned name (RFC
/// 6266 / 5987, so accents survive and nothing in the name can break the header);
/// shown in the page, or saved when `download`.
pub async fn file_response(
    state: &AppState,
    attachment: &attachments::Attachment,
    download: bool,
) -> Response {
    let file = match state.storage.read(&attachment.storage_key).await {
        Ok(f) => f,
        Err(error) => {
            tracing::error!(%error, id = %attachment.id, "stored file missing");
            return StatusCode::NOT_FOUND.into_response();
        }
    };
    let mut response = Body::from_stream(ReaderStream::new(file)).into_response();
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
        HeaderValue::from_static("frame-ancestors 'self'"),
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
    let dossier = match dossier(&state, &headers).await {
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
        Err(error) => {
            let (status, text) = refusal(error);
            message(status, text, json, &back)
        }
    }
}
