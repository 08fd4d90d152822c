//! Server-side helpers of the server functions: cookies, the session's dossier, the
//! client's address, and the one place where internal errors become a French message.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use http::{HeaderValue, header, request::Parts};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use services::dossiers::Dossier;

use crate::{
    refusal::{Refusal, refuse},
    state::AppState,
};

/// The espace sécurisé's session cookie.
pub const SESSION_COOKIE: &str = "espace";
/// The espace sécurisé's door.
pub const ESPACE: Door = Door {
    cookie: SESSION_COOKIE,
    lifetime_secs: services::access::accounts::SESSION_LIFETIME.as_secs(),
    home: "/espace",
    login_page: "/connexion",
    kept: "numero",
};
/// The préinscription draft's cookie.
pub const DRAFT_COOKIE: &str = "brouillon";

pub fn state() -> AppState {
    expect_context::<AppState>()
}

/// Logs the cause and gives the candidate a message they can act on; a form post is
/// sent back to its page, which says so (`crate::refusal`).
pub fn internal(error: impl std::fmt::Display) -> ServerFnError {
    tracing::error!(%error, "server function failed");
    refuse(
        Refusal::Erreur,
        http::StatusCode::INTERNAL_SERVER_ERROR,
        None,
    );
    ServerFnError::new("Une erreur est survenue de notre côté. Réessayez dans quelques instants.")
}

/// The words and the wait of « too busy »: hashing queues full (503, `Retry-After`).
pub const BUSY_MESSAGE: &str = domain::BUSY_MESSAGE;
pub const BUSY_RETRY_AFTER_SECS: u32 = 5;

/// Answers 503 with `Retry-After` at once, rather than an endless wait.
pub fn busy() -> ServerFnError {
    refuse(
        Refusal::Occupe,
        http::StatusCode::SERVICE_UNAVAILABLE,
        Some(BUSY_RETRY_AFTER_SECS.into()),
    );
    ServerFnError::new(BUSY_MESSAGE)
}

/// Answers 429 with the real wait: the limit opens again at `retry_at_ms`.
pub fn too_many(refusal: Refusal, retry_at_ms: i64) -> ServerFnError {
    let now = state().clock.now().as_millisecond();
    let wait = (retry_at_ms - now).max(1000) as u64;
    refuse(
        refusal,
        http::StatusCode::TOO_MANY_REQUESTS,
        Some(wait.div_ceil(1000)),
    );
    ServerFnError::new(refusal.message())
}

/// Counts a new password to hash for this client (wizard, reset); past the limit,
/// answers 429 without hashing.
pub async fn count_hashing() -> Result<(), ServerFnError> {
    count(
        services::access::throttle::hashing_limit(&client_ip()),
        Refusal::MotsDePasse,
    )
    .await
    .map(|_| ())
}

/// Counts this request against `limit`; past it, answers 429 (as `refusal`, with the
/// real wait) without doing anything. The attempt can be taken back
/// (`throttle::forgive`) when nothing was made after all.
pub async fn count(
    limit: services::access::throttle::Limit,
    refusal: Refusal,
) -> Result<services::access::throttle::Attempt, ServerFnError> {
    let state = state();
    let now = state.clock.now().as_millisecond();
    match services::access::throttle::attempt(&state.db, &[limit], now)
        .await
        .map_err(internal)?
    {
        Ok(attempt) => Ok(attempt),
        Err(retry_at) => Err(too_many(refusal, retry_at)),
    }
}

pub fn cookie(name: &str) -> Option<String> {
    cookie_in(&use_context::<Parts>()?.headers, name)
}

/// A cookie's value from request headers; for plain axum handlers too.
pub fn cookie_in(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// HttpOnly, SameSite=Lax, Secure over HTTPS. `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64) {
    let secure = if state().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    if let (Some(response), Ok(value)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(&cookie),
    ) {
        response.append_header(header::SET_COOKIE, value);
    }
}

/// A door to a private space (the candidates' espace sécurisé, the service's pages):
/// its session cookie and its pages. Both log in and out the same way here.
pub struct Door {
    pub cookie: &'static str,
    pub lifetime_secs: i64,
    /// Where a login leads.
    pub home: &'static str,
    /// The login page, which words the refusals (`?erreur=…`) and the logout.
    pub login_page: &'static str,
    /// The query parameter in which a refused login's identifier goes back to the
    /// login page, so it need not be typed again.
    pub kept: &'static str,
}

impl Door {
    /// Answers a login: a new session (a new identifier at each login, the browser's
    /// old one ended by `end_old`) and the home page; or back to the login page saying
    /// why; or « busy ».
    /// `typed` is the identifier to show again after a refusal (already checked for its
    /// shape by the caller, or empty).
    pub async fn enter<E, F>(
        &self,
        login: Result<String, E>,
        typed: &str,
        end_old: impl FnOnce(String) -> F,
    ) -> Result<(), ServerFnError>
    where
        E: services::access::login::LoginError + std::fmt::Display,
        F: std::future::Future<Output = Result<(), E>>,
    {
        use services::access::login::Refusal;
        let kept = if typed.is_empty() {
            String::new()
        } else {
            format!("&{}={}", self.kept, crate::account::urlencode(typed))
        };
        let token = match login {
            Ok(token) => token,
            Err(error) => {
                match error.refusal() {
                    Some(Refusal::InvalidCredentials) => {
                        redirect(&format!("{}?erreur=identifiants{kept}", self.login_page))
                    }
                    Some(Refusal::TooManyAttempts { retry_at_ms }) => redirect(&format!(
                        "{}?erreur=tentatives&jusqua={retry_at_ms}{kept}",
                        self.login_page
                    )),
                    None if error.busy() => return Err(busy()),
                    None => return Err(internal(error)),
                }
                return Ok(());
            }
        };
        if let Some(old) = cookie(self.cookie) {
            end_old(old).await.map_err(internal)?;
        }
        set_cookie(self.cookie, &token, self.lifetime_secs);
        redirect(self.home);
        Ok(())
    }

    /// Ends this browser's session, on the server (`end`) and in its cookie, and goes
    /// back to the login page.
    pub async fn leave<E, F>(&self, end: impl FnOnce(String) -> F) -> Result<(), ServerFnError>
    where
        E: std::fmt::Display,
        F: std::future::Future<Output = Result<(), E>>,
    {
        if let Some(token) = cookie(self.cookie) {
            end(token).await.map_err(internal)?;
        }
        set_cookie(self.cookie, "", 0);
        redirect(&format!("{}?info=deconnecte", self.login_page));
        Ok(())
    }
}

/// The dossier of the request's session, if any. Without a session cookie nothing is
/// asked of the state, so a view rendered outside a request (the router lists the
/// routes at start-up, with no state) gets « nobody » rather than a panic.
pub async fn current_dossier() -> Result<Option<Dossier>, ServerFnError> {
    let headers = use_context::<Parts>()
        .map(|p| p.headers)
        .unwrap_or_default();
    if cookie_in(&headers, SESSION_COOKIE).is_none() {
        return Ok(None);
    }
    session_dossier(&state(), &headers).await.map_err(internal)
}

/// The dossier whose session cookie these headers carry, if it is live.
pub async fn session_dossier(
    state: &AppState,
    headers: &http::HeaderMap,
) -> Result<Option<Dossier>, services::access::accounts::AccountError> {
    let Some(token) = cookie_in(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    services::access::accounts::session_dossier(&state.db, &*state.clock, &token).await
}

/// The client the limits count this request against: the peer, or behind a trusted
/// reverse proxy the address it forwarded (see `services::access::clients`).
pub fn client_ip() -> String {
    match use_context::<Parts>() {
        Some(parts) => client_of(&parts.headers, &parts.extensions, &state().trusted_proxies),
        None => "unknown".into(),
    }
}

/// The same from a request's headers and extensions (for axum middleware).
pub fn client_of(
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
    trusted: &[services::access::clients::IpNet],
) -> String {
    let Some(peer) = extensions.get::<ConnectInfo<SocketAddr>>() else {
        return "unknown".into();
    };
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    services::access::clients::client_key(peer.0.ip(), forwarded, trusted)
}

/// Answers with a redirect: the browser (with or without JavaScript) loads `to`.
pub fn redirect(to: &str) {
    leptos_axum::redirect(to);
}
