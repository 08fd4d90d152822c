//! FranceConnect over HTTP: the button's form starts a flow (`POST /franceconnect/connexion`),
//! the provider comes back to `/franceconnect/retour`, and after its logout to
//! `/franceconnect/deconnexion`. Plain redirects: it works without JavaScript. Every
//! outcome ends on one of our pages, with `?franceconnect=CODE` for
//! `app::franceconnect::Outcome` to word.
//!
//! Only when `APP_FRANCECONNECT_*` configure it; otherwise these addresses are 404.

use app::{
    franceconnect::{BROWSER_COOKIE, Outcome},
    session::{DRAFT_COOKIE, ESPACE, SESSION_COOKIE, client_of, cookie_in},
    state::AppState,
};
use axum::{
    Form, Router,
    extract::{ConnectInfo, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;
use services::access::{
    certified::{self, CertifiedError},
    franceconnect::{
        CALLBACK_PATH, Callback, FLOW_LIFETIME_MS, FranceConnectError, LOGOUT_RETURN_PATH, Purpose,
    },
    secrets::new_token,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/franceconnect/connexion", post(start))
        .route(CALLBACK_PATH, get(callback))
        .route(LOGOUT_RETURN_PATH, get(logged_out))
}

#[derive(Deserialize)]
struct Start {
    /// `connexion`, `inscription` or `lien`.
    #[serde(default)]
    pour: String,
    #[serde(default)]
    concours: String,
}

/// A redirect that also sets these cookies.
fn redirect_with(to: &str, cookies: Vec<String>) -> Response {
    let mut response = Redirect::to(to).into_response();
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// As `app::session::set_cookie` writes it: HttpOnly, SameSite=Lax (the provider's
/// redirect back is a top-level navigation, which carries it), Secure over https.
fn cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

fn back(to: &str, outcome: Outcome) -> Response {
    back_with(to, outcome, Vec::new())
}

/// Back to `to` with the outcome's code for the page to word.
fn back_with(to: &str, outcome: Outcome, cookies: Vec<String>) -> Response {
    let join = if to.contains('?') { '&' } else { '?' };
    redirect_with(
        &format!("{to}{join}franceconnect={}", outcome.code()),
        cookies,
    )
}

async fn start(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Start>,
) -> Response {
    let Some(fc) = state.franceconnect.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut extensions = axum::http::Extensions::new();
    extensions.insert(ConnectInfo(peer));
    let client = client_of(&headers, &extensions, &state.trusted_proxies);
    let (purpose, origin) = match form.pour.as_str() {
        "inscription" => {
            let exam = form.concours.clone();
            match services::dossiers::registrations::exam(&state.db, &*state.clock, &exam).await {
                Ok(open) if open.open => (
                    Purpose::Inscription(open.slug.to_string()),
                    format!("/inscription/{}/identite", open.slug),
                ),
                _ => return Redirect::to("/").into_response(),
            }
        }
        "lien" => match app::session::session_dossier(&state, &headers).await {
            Ok(Some(dossier)) => (Purpose::Lien(dossier.id), "/espace".to_string()),
            Ok(None) => return Redirect::to("/connexion?info=session").into_response(),
            Err(error) => {
                tracing::error!(%error, "session lookup failed");
                return back("/espace", Outcome::Erreur);
            }
        },
        _ => (Purpose::Connexion, "/connexion".to_string()),
    };
    // Each start writes a flow row: counted per client first (and kept counted).
    let limit = services::access::throttle::franceconnect_start_limit(&client);
    match services::access::throttle::attempt(
        &state.db,
        &[limit],
        state.clock.now().as_millisecond(),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => return back(&origin, Outcome::Limite),
        Err(error) => {
            tracing::error!(%error, "FranceConnect: the start could not be counted");
            return back(&origin, Outcome::Erreur);
        }
    }
    // The flow is bound to this browser: its cookie, kept or new.
    let browser = cookie_in(&headers, BROWSER_COOKIE).unwrap_or_else(new_token);
    match fc.start(&state.db, &*state.clock, &browser, &purpose).await {
        Ok(url) => redirect_with(
            &url,
            vec![cookie(
                &state,
                BROWSER_COOKIE,
                &browser,
                FLOW_LIFETIME_MS / 1000,
            )],
        ),
        Err(error) => {
            tracing::warn!(%error, "FranceConnect: the flow could not start");
            back(&origin, outcome_of(&error))
        }
    }
}

fn outcome_of(error: &FranceConnectError) -> Outcome {
    match error {
        FranceConnectError::Cancelled => Outcome::Annule,
        FranceConnectError::Unavailable(_) => Outcome::Indisponible,
        FranceConnectError::UnknownState | FranceConnectError::Expired => Outcome::Expire,
        FranceConnectError::CodeRefused(_) | FranceConnectError::Invalid(_) => Outcome::Refuse,
        FranceConnectError::Db(_) => Outcome::Erreur,
    }
}

#[derive(Deserialize)]
struct Answer {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

async fn callback(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let (headers, extensions) = (parts.headers, parts.extensions);
    let answer = Query::<Answer>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or(Answer {
            state: None,
            code: None,
            error: None,
        });
    let Some(fc) = state.franceconnect.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let browser = cookie_in(&headers, BROWSER_COOKIE);
    let finished = fc
        .finish(
            &state.db,
            &*state.clock,
            browser.as_deref(),
            &Callback {
                state: answer.state,
                code: answer.code,
                error: answer.error,
            },
        )
        .await;
    let origin = match &finished.purpose {
        Some(Purpose::Inscription(exam)) => format!("/inscription/{exam}/identite"),
        Some(Purpose::Lien(_)) => "/espace".into(),
        Some(Purpose::Connexion) | None => "/connexion".into(),
    };
    let certified = match finished.outcome {
        Ok(certified) => certified,
        Err(error) => return back(&origin, outcome_of(&error)),
    };
    let failed = |error: &dyn std::fmt::Display| {
        tracing::error!(%error, "FranceConnect: what the identity opens failed");
        back(&origin, Outcome::Erreur)
    };
    match finished.purpose {
        Some(Purpose::Connexion) | None => {
            let dossiers = match certified::dossiers_of(&state.db, &certified.subject).await {
                Ok(dossiers) => dossiers,
                Err(e) => return failed(&e),
            };
            match dossiers.as_slice() {
                [] => back("/connexion", Outcome::AucunDossier),
                [one] => {
                    match certified::open_session(
                        &state.db,
                        &*state.clock,
                        &one.id,
                        &certified.id_token,
                    )
                    .await
                    {
                        Ok(session) => {
                            end_old_session(&state, &headers).await;
                            redirect_with(
                                ESPACE.home,
                                vec![cookie(
                                    &state,
                                    SESSION_COOKIE,
                                    &session,
                                    ESPACE.lifetime_secs,
                                )],
                            )
                        }
                        Err(e) => failed(&e),
                    }
                }
                _ => {
                    let Some(browser) = browser else {
                        return back("/connexion", Outcome::Expire);
                    };
                    match certified::await_choice(&state.db, &*state.clock, &browser, &certified)
                        .await
                    {
                        Ok(choice) => Redirect::to(&format!("/franceconnect/choix?jeton={choice}"))
                            .into_response(),
                        Err(e) => failed(&e),
                    }
                }
            }
        }
        Some(Purpose::Inscription(slug)) => {
            let exam = match services::dossiers::registrations::exam(
                &state.db,
                &*state.clock,
                &slug,
            )
            .await
            {
                Ok(exam) => exam,
                Err(e) => return failed(&e),
            };
            let (draft, cookies) = match cookie_in(&headers, DRAFT_COOKIE) {
                Some(draft) => (draft, Vec::new()),
                None => {
                    // A new draft is a new row: counted per client, as the wizard does.
                    let client = client_of(&headers, &extensions, &state.trusted_proxies);
                    let limit = services::access::throttle::new_draft_limit(&client);
                    match services::access::throttle::attempt(
                        &state.db,
                        &[limit],
                        state.clock.now().as_millisecond(),
                    )
                    .await
                    {
                        Ok(Ok(_)) => {}
                        Ok(Err(_)) => return back(&origin, Outcome::Limite),
                        Err(e) => return failed(&e),
                    }
                    let draft = new_token();
                    let cookie = cookie(&state, DRAFT_COOKIE, &draft, 30 * 24 * 3600);
                    (draft, vec![cookie])
                }
            };
            match services::dossiers::registrations::certify_draft(
                &state.db,
                &*state.clock,
                &draft,
                &exam,
                &certified.subject,
                &certified.identity,
                &certified.id_token,
            )
            .await
            {
                Ok(()) => back_with(&origin, Outcome::Certifie, cookies),
                Err(services::dossiers::registrations::RegistrationError::Closed) => {
                    Redirect::to(&origin).into_response()
                }
                Err(e) => failed(&e),
            }
        }
        Some(Purpose::Lien(dossier_id)) => {
            // The dossier signed in when the flow started must still be this browser's.
            let session = cookie_in(&headers, SESSION_COOKIE);
            let current = app::session::session_dossier(&state, &headers).await;
            let (Some(session), Ok(Some(dossier))) = (session, current) else {
                return Redirect::to("/connexion?info=session").into_response();
            };
            if dossier.id != dossier_id {
                return Redirect::to("/connexion?info=session").into_response();
            }
            let linked = certified::link(
                &state.db,
                &*state.clock,
                &dossier.id,
                &certified.subject,
                &certified.identity,
            )
            .await;
            let outcome = match linked {
                Ok(()) => {
                    if let Err(e) =
                        certified::keep_id_token(&state.db, &session, &certified.id_token).await
                    {
                        return failed(&e);
                    }
                    Outcome::Lie
                }
                Err(CertifiedError::Mismatch) => Outcome::IdentiteDifferente,
                Err(CertifiedError::AlreadyLinked) => Outcome::DejaLie,
                Err(CertifiedError::SubjectTaken) => Outcome::AutreDossier,
                Err(e) => return failed(&e),
            };
            back("/espace", outcome)
        }
    }
}

/// A sign-in ends the browser's previous session, as a login with a password does.
async fn end_old_session(state: &AppState, headers: &HeaderMap) {
    if let Some(old) = cookie_in(headers, SESSION_COOKIE)
        && let Err(error) = services::access::accounts::close_session(&state.db, &old).await
    {
        tracing::warn!(%error, "the previous session could not be ended");
    }
}

/// Back from the provider's logout: the catalogue says both sessions are over.
async fn logged_out(State(state): State<AppState>) -> Response {
    if state.franceconnect.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    Redirect::to("/?franceconnect=deconnecte").into_response()
}
