//! The service concours' side of the router: the gate in front of every staff address,
//! the staff pages (rendered without hydration), and the plain handlers that stream
//! files, ZIP archives and the CSV and XLSX exports. Every file served to staff is audited.

use app::{
    session::cookie_in,
    staff::{STAFF_COOKIE, shell},
    state::AppState,
};
use axum::{
    Extension, Router,
    extract::{Path, Query, Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use leptos::prelude::provide_context;
use services::{
    access::staff::{self, Staff},
    dossiers::export,
    files::attachments,
};

use crate::{files, security};

mod downloads;
mod exports;
use exports::{columns_asked, csv_export, dossier_zip, exam_zip, xlsx_export};

/// Whether an address belongs to the service concours.
fn is_staff_path(path: &str) -> bool {
    path == "/service" || path.starts_with("/service/") || path.starts_with("/api/service/")
}

/// No staff address answers without a live staff session, but the login page and its
/// form. A candidate's session is not one: the two live in different tables under
/// different cookies. Pages go to the login page; anything else is refused.
pub async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !is_staff_path(path) {
        return next.run(request).await;
    }
    let open = matches!(path, "/service/connexion" | "/api/service/connexion");
    let found = match cookie_in(request.headers(), STAFF_COOKIE) {
        Some(token) => staff::session_staff(&state.db, &*state.clock, &token).await,
        None => Ok(None),
    };
    match found {
        Ok(Some(member)) => {
            request.extensions_mut().insert(member);
            next.run(request).await
        }
        Ok(None) if open => next.run(request).await,
        Ok(None) if request.method() == Method::GET || request.method() == Method::HEAD => {
            Redirect::to("/service/connexion?info=session").into_response()
        }
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            "Réservé au service concours : connectez-vous.",
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "staff session lookup failed");
            // A page asked for leads to one that renders without the database and
            // says so; a post gets its page back through `refusals`.
            if open {
                next.run(request).await
            } else if request.method() == Method::GET {
                Redirect::to("/service/connexion?refus=erreur").into_response()
            } else {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
    }
}

/// The staff pages and files. Server functions (login, logout) are routed with the
/// candidates' ones; the gate covers both.
pub fn routes(state: &AppState) -> Router<AppState> {
    let pages = {
        let state = state.clone();
        leptos_axum::render_app_async_with_context(
            move || {
                provide_context(state.clone());
                security::provide_request_nonce();
            },
            shell,
        )
    };
    let many_dossiers = Router::new()
        .route("/service/dossiers/{number}/fichiers.zip", get(dossier_zip))
        .route("/service/concours/{exam}/dossiers.csv", get(csv_export))
        .route("/service/concours/{exam}/dossiers.xlsx", get(xlsx_export))
        .route("/service/concours/{exam}/dossiers.zip", get(exam_zip))
        .route_layer(axum::middleware::from_fn_with_state(
            downloads::Downloads::default(),
            downloads::limited,
        ));
    Router::new()
        .merge(many_dossiers)
        .route("/service/fichiers/{id}", get(file))
        // The confirmation page at the same address as the action it confirms.
        .route(
            "/service/concours/{exam}/lot",
            get(pages.clone()).post(bulk_action),
        )
        .route(
            "/service/concours/{exam}/modeles",
            axum::routing::post(export_model),
        )
        .route("/service", get(pages.clone()))
        .route("/service/{*rest}", get(pages))
}

fn failed(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "staff request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Une erreur est survenue de notre côté. Réessayez dans quelques instants.",
    )
        .into_response()
}

/// Saves the export page's columns as a named model, or deletes one (`supprimer`);
/// back to the export page, which says how it went.
async fn export_model(
    State(state): State<AppState>,
    Path(exam): Path<String>,
    Extension(member): Extension<Staff>,
    body: axum::body::Bytes,
) -> Response {
    let body = String::from_utf8_lossy(&body).into_owned();
    let value = |key: &str| {
        form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let list = app::staff::ListQuery::parse(&value("liste").unwrap_or_default()).to_query();
    let back = |query: &str| {
        Redirect::to(&format!("/service/concours/{exam}/export?{list}&{query}")).into_response()
    };
    if let Some(id) = value("supprimer") {
        return match export::models::delete(&state.db, &id).await {
            Ok(_) => back("modele-enregistre=supprime"),
            Err(e) => failed(e),
        };
    }
    // The ticked columns only: a model of all columns is what « Télécharger » gives.
    let columns = if body.split('&').any(|pair| pair.starts_with("c=")) {
        match columns_asked(&state, &body).await {
            Ok(columns) => columns,
            Err(response) => return response,
        }
    } else {
        Vec::new()
    };
    let name = value("nom").unwrap_or_default();
    match export::models::save(&state.db, &*state.clock, &member, &name, &columns).await {
        Ok(model) => back(&format!("modele={}&modele-enregistre=ok", model.id)),
        Err(export::models::ModelError::Db(e)) => failed(e),
        Err(refused) => back(&format!("modele-enregistre={}", refused.code())),
    }
}

/// A confirmed bulk action (`app::staff` shows its confirmation): each dossier decided
/// or written to on its own; back to the list with what was done and what was not.
async fn bulk_action(
    State(state): State<AppState>,
    Path(exam): Path<String>,
    Extension(member): Extension<Staff>,
    body: axum::body::Bytes,
) -> Response {
    use domain::instruction::{BULK_MAX, BulkAction};
    use services::dossiers::bulk::{self, Outcome};
    let (mut numbers, mut action, mut text, mut list) =
        (Vec::new(), String::new(), String::new(), String::new());
    for (name, value) in form_urlencoded::parse(&body) {
        match name.as_ref() {
            "n" if numbers.len() < BULK_MAX => numbers.push(value.into_owned()),
            "action" => action = value.into_owned(),
            "texte" => text = value.into_owned(),
            "liste" => list = value.into_owned(),
            _ => {}
        }
    }
    let list = app::staff::ListQuery::parse(&list).to_query();
    let Some(action) = BulkAction::from_code(&action) else {
        return Redirect::to(&format!("/service/concours/{exam}?{list}")).into_response();
    };
    if action.text_label().is_some() && text.trim().is_empty() {
        let selection: String = numbers
            .iter()
            .map(|n| format!("&n={}", app::account::urlencode(n)))
            .collect();
        return Redirect::to(&format!(
            "/service/concours/{exam}/lot?action={}&liste={}&erreur=texte{selection}",
            action.code(),
            app::account::urlencode(&list)
        ))
        .into_response();
    }
    let outcomes = match bulk::run(
        &state.db,
        &*state.clock,
        &state.base_url,
        &member,
        &exam,
        &numbers,
        action,
        &text,
    )
    .await
    {
        Ok(outcomes) => outcomes,
        Err(e) => return failed(e),
    };
    let done = outcomes.iter().filter(|(_, o)| *o == Outcome::Done).count();
    let refused: Vec<String> = outcomes
        .iter()
        .filter_map(|(n, o)| {
            let code = match o {
                Outcome::Done => return None,
                Outcome::Refused(r) => r.code(),
                Outcome::MessageRefused(r) => r.code(),
                Outcome::Unknown => "inconnu",
            };
            Some(format!("{}:{code}", app::account::urlencode(n)))
        })
        .take(100)
        .collect();
    Redirect::to(&format!(
        "/service/concours/{exam}?{list}&lot={}&faits={done}&refus={}",
        action.code(),
        refused.join(",")
    ))
    .into_response()
}

#[derive(serde::Deserialize)]
struct FileQuery {
    telecharger: Option<String>,
}

/// Any dossier's file, shown in the page or downloaded; recorded in its dossier's log.
async fn file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<FileQuery>,
    // Put there by the gate, which every staff address passes.
    Extension(member): Extension<Staff>,
) -> Response {
    let (dossier_id, attachment) = match attachments::for_staff(&state.db, &id).await {
        Ok(found) => found,
        Err(attachments::AttachmentError::NotFound) => {
            return StatusCode::NOT_FOUND.into_response();
        }
        Err(e) => return failed(e),
    };
    let download = query.telecharger.is_some();
    let action = if download {
        "fichier téléchargé"
    } else {
        "fichier consulté"
    };
    if let Err(e) = staff::audit(
        state.db.pool(),
        &*state.clock,
        &member,
        Some(&dossier_id),
        action,
        &attachment.name,
    )
    .await
    {
        // Not served unless recorded.
        return failed(e);
    }
    files::file_response(&state, &attachment, download).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_paths_are_recognised_and_nothing_else() {
        for p in [
            "/service",
            "/service/",
            "/service/dossiers/x",
            "/api/service/connexion",
        ] {
            assert!(is_staff_path(p), "{p}");
        }
        for p in [
            "/",
            "/services",
            "/espace",
            "/api/espace/connexion",
            "/servicex/a",
        ] {
            assert!(!is_staff_path(p), "{p}");
        }
    }

    #[test]
    fn zip_entry_names_cannot_escape_or_hide() {
        use domain::FileKind::{Jpeg, Pdf};
        use services::dossiers::export::entry_name;
        assert_eq!(
            entry_name("Copie du diplôme", "licence.pdf", Pdf),
            "Copie du diplôme - licence.pdf"
        );
        assert_eq!(
            entry_name("a/b", "../../etc/passwd", Pdf),
            "a-b - passwd.pdf"
        );
        assert_eq!(entry_name(".cache", "x", Jpeg), "cache - x.jpg");
        // Rows stored before names were forced to their kind.
        assert_eq!(
            entry_name("Diplôme", "scan.pdf.bat", Pdf),
            "Diplôme - scan.pdf"
        );
        assert_eq!(
            entry_name("Diplôme", "diplome\u{202E}fdp.hta", Pdf),
            "Diplôme - diplomefdp.pdf"
        );
    }
}
