//! Resumable uploads over the tus 1.0.0 protocol (core, creation, termination,
//! expiration), for each pièce of the session's dossier:
//!
//! - `POST /espace/pieces/{piece}/tus` with `Upload-Length` and `Upload-Metadata`
//!   (`filename`, base64) answers 201 and the upload's `Location`;
//! - `HEAD` on it gives `Upload-Offset`, the bytes the server holds;
//! - `PATCH` (`Content-Type: application/offset+octet-stream`, `Upload-Offset`) appends,
//!   409 when the offset is not the server's; the PATCH that brings the last byte
//!   answers with the stored file's id in `Fichier-Enregistre`;
//! - `DELETE` abandons; `OPTIONS` says what is served.
//!
//! Only the dossier's own session reaches its uploads: anyone else gets 404. PATCH
//! bodies pass the same gates and pacing as form uploads; refusals carry the same
//! statuses and French JSON messages (see [`crate::files`]).

use app::state::AppState;
use axum::{
    Extension, Json, Router,
    extract::{Path, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::Engine;
use services::{files::attachments::AttachmentError, files::uploads};

use crate::files;

pub const VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,termination,expiration";
pub const OFFSET_TYPE: &str = "application/offset+octet-stream";
/// The header of the PATCH that completed the file: the stored file's id.
pub const SAVED_FILE: &str = "fichier-enregistre";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/espace/pieces/{piece}/tus", post(create).options(options))
        .route(
            "/espace/pieces/{piece}/tus/{id}",
            axum::routing::head(offset)
                .patch(append)
                .delete(cancel)
                .options(options),
        )
        .layer(middleware::from_fn(protocol))
}

/// Every answer says `Tus-Resumable`; a request (but `OPTIONS`) that does not speak
/// our version is refused with 412 before anything else.
async fn protocol(request: Request, next: Next) -> Response {
    let speaks = request
        .headers()
        .get("tus-resumable")
        .is_some_and(|v| v == VERSION);
    let mut response = if speaks || request.method() == Method::OPTIONS {
        next.run(request).await
    } else {
        let mut refused = message(
            StatusCode::PRECONDITION_FAILED,
            "Version du protocole d'envoi non prise en charge.",
        );
        refused
            .headers_mut()
            .insert("tus-version", HeaderValue::from_static(VERSION));
        refused
    };
    response
        .headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(VERSION));
    response
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(serde_json::json!({ "message": text }))).into_response()
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The `filename` of `Upload-Metadata` (`key base64,key base64`).
fn file_name(headers: &HeaderMap) -> Option<String> {
    let metadata = headers.get("upload-metadata")?.to_str().ok()?;
    metadata.split(',').find_map(|pair| {
        let (key, value) = pair.trim().split_once(' ')?;
        if key != "filename" {
            return None;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        String::from_utf8(bytes).ok()
    })
}

/// `Upload-Expires`, as an HTTP date.
fn expires(at_ms: i64) -> Option<HeaderValue> {
    let at = jiff::Timestamp::from_millisecond(at_ms).ok()?;
    HeaderValue::from_str(&at.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok()
}

/// A refusal as JSON, with the offset the server holds when the client's was wrong.
fn refused(error: AttachmentError) -> Response {
    match error {
        AttachmentError::Offset(at) => {
            let mut response = message(
                StatusCode::CONFLICT,
                "L'envoi a repris au mauvais endroit : il reprend depuis le dernier octet reçu.",
            );
            response
                .headers_mut()
                .insert("upload-offset", HeaderValue::from(at));
            response
        }
        AttachmentError::Finishing => {
            let mut response = message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Le fichier est en cours d'enregistrement : patientez un instant.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            response
        }
        AttachmentError::PartTooSmall => message(
            StatusCode::BAD_REQUEST,
            "Chaque envoi doit porter au moins 64 Kio, sauf le dernier : rien n'a été gardé de celui-ci.",
        ),
        AttachmentError::TooManyUploads(wait) => {
            let mut response = message(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Trop d'envois commencés pour ce dossier : réessayez dans {}.",
                    domain::french::wait(wait)
                ),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            response
        }
        error => files::refusal(error).answer(true, ""),
    }
}

/// A PATCH brings at most this much (the browser sends 512 KiB): a body cannot hold a
/// reading slot for a whole file, and what one request costs stays bounded.
pub const MAX_PATCH: u64 = 4 * 1024 * 1024;

async fn options() -> Response {
    let max = domain::exam::MAX_SIZE_MIB_CEILING * domain::exam::MIB;
    (
        StatusCode::NO_CONTENT,
        [
            ("tus-version", HeaderValue::from_static(VERSION)),
            ("tus-extension", HeaderValue::from_static(EXTENSIONS)),
            ("tus-max-size", HeaderValue::from(max)),
        ],
    )
        .into_response()
}

async fn create(
    State(state): State<AppState>,
    Path(piece): Path<String>,
    headers: HeaderMap,
) -> Response {
    let dossier = match files::dossier(&state, &headers, true).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let Some(length) = header_u64(&headers, "upload-length") else {
        return message(
            StatusCode::BAD_REQUEST,
            "La taille du fichier n'est pas indiquée.",
        );
    };
    let name = file_name(&headers).unwrap_or_else(|| "document".into());
    let created = uploads::create(
        &state.db,
        &state.storage,
        &*state.clock,
        &dossier,
        &piece,
        &name,
        length,
    )
    .await;
    match created {
        Ok(upload) => {
            let mut response = StatusCode::CREATED.into_response();
            let h = response.headers_mut();
            let location = format!(
                "/espace/pieces/{}/tus/{}",
                app::account::urlencode(&piece),
                upload.id
            );
            if let Ok(location) = HeaderValue::from_str(&location) {
                h.insert(header::LOCATION, location);
            }
            if let Some(at) = expires(upload.expires_at) {
                h.insert("upload-expires", at);
            }
            response
        }
        Err(error) => refused(error),
    }
}

async fn offset(
    State(state): State<AppState>,
    Path((piece, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let dossier = match files::dossier(&state, &headers, true).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    match uploads::find(&state.db, &*state.clock, &dossier, &piece, &id).await {
        Ok(upload) => {
            let mut response = StatusCode::OK.into_response();
            let h = response.headers_mut();
            h.insert("upload-offset", HeaderValue::from(upload.received));
            h.insert("upload-length", HeaderValue::from(upload.length));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Some(at) = expires(upload.expires_at) {
                h.insert("upload-expires", at);
            }
            response
        }
        Err(error) => refused(error),
    }
}

async fn append(
    State(state): State<AppState>,
    Extension(gates): Extension<crate::pacing::Gates>,
    Path((piece, id)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    if headers
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v != OFFSET_TYPE)
    {
        return message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Type de contenu attendu : application/offset+octet-stream.",
        );
    }
    let Some(offset) = header_u64(headers, "upload-offset") else {
        return message(
            StatusCode::BAD_REQUEST,
            "La position de l'envoi n'est pas indiquée.",
        );
    };
    match header_u64(headers, header::CONTENT_LENGTH.as_str()) {
        None => {
            return message(
                StatusCode::LENGTH_REQUIRED,
                "La taille de l'envoi n'est pas indiquée.",
            );
        }
        Some(length) if length > MAX_PATCH => {
            return message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Envoi trop gros : 4 Mio au plus à la fois.",
            );
        }
        Some(_) => {}
    }
    let dossier = match files::dossier(&state, headers, true).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let gate = match files::body_gate(&state, &gates, &dossier, &parts, MAX_PATCH).await {
        Ok(gate) => gate,
        Err(refusal) => return refusal.answer(true, ""),
    };
    let (body, cut) = files::paced_body(&gates, &gate, body);
    // A task of its own: a phone whose connection drops once its last byte is sent
    // (a tunnel, at 23:58) must not cancel the file's making half-way, which would
    // leave it unfinished and claimed for minutes. It keeps the gate while it runs.
    let appending = tokio::spawn({
        let state = state.clone();
        let scan = state.first_scan();
        async move {
            let _gate = gate;
            let appended = uploads::append(
                &state.db,
                &state.storage,
                &*state.clock,
                &dossier,
                (&piece, &id),
                offset,
                scan,
                body,
            )
            .await;
            if appended.as_ref().is_ok_and(|a| a.file.is_some()) {
                state.file_stored(&dossier, &piece).await;
            }
            appended
        }
    });
    let appended = match appending.await {
        Ok(appended) => appended,
        Err(error) => {
            tracing::error!(%error, "upload part task failed");
            return files::refusal(AttachmentError::Interrupted(error.to_string()))
                .answer(true, "");
        }
    };
    match appended {
        Ok(appended) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let h = response.headers_mut();
            h.insert("upload-offset", HeaderValue::from(appended.received));
            if let Some(at) = expires(appended.expires_at) {
                h.insert("upload-expires", at);
            }
            if let Some(file) = appended.file
                && let Ok(id) = HeaderValue::from_str(&file.id)
            {
                h.insert(SAVED_FILE, id);
            }
            response
        }
        // The pacing cut the body: the bytes before the cut are kept all the same.
        Err(AttachmentError::Interrupted(_)) if cut.get().is_some() => {
            files::cut_short(cut.get().expect("checked")).answer(true, "")
        }
        Err(error) => refused(error),
    }
}

async fn cancel(
    State(state): State<AppState>,
    Path((piece, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let dossier = match files::dossier(&state, &headers, true).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    match uploads::cancel(
        &state.db,
        &state.storage,
        &*state.clock,
        &dossier,
        (&piece, &id),
    )
    .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refused(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_is_read_from_the_metadata_among_other_keys() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "upload-metadata",
            HeaderValue::from_static("filetype YXBwbGljYXRpb24vcGRm,filename w6l0w6kucGRm"),
        );
        assert_eq!(file_name(&headers).as_deref(), Some("été.pdf"));
        headers.insert("upload-metadata", HeaderValue::from_static("filename !!!"));
        assert_eq!(file_name(&headers), None);
    }

    #[test]
    fn expiry_is_an_http_date() {
        assert_eq!(
            expires(784_111_777_000).unwrap(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }
}
