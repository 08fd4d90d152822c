//! Security headers on every response, and the CSP nonce shared with the renderer.

use axum::{
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use leptos::nonce::Nonce;

/// The nonce of one response, minted before routing so that the page renderer (through
/// [`provide_request_nonce`]) and the `Content-Security-Policy` header agree on it.
#[derive(Clone)]
struct RequestNonce(Nonce);

pub async fn headers(mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(RequestNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    let headers = response.headers_mut();
    // A handler that set its own policy keeps it (a file framed by our preview page).
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("geolocation=(), microphone=(), payment=()"),
    );
    response
}

/// Replaces the nonce leptos_axum generated for this render with the one in the header.
pub fn provide_request_nonce() {
    use leptos::prelude::{provide_context, use_context};
    if let Some(RequestNonce(nonce)) = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<RequestNonce>().cloned())
    {
        provide_context(nonce);
    }
}

/// Refuses state-changing requests sent from another site (CSRF): browsers send
/// `Origin` (and `Sec-Fetch-Site`) with every form post and fetch, so a post whose
/// origin is not this host's is forged. Requests without either header do not come
/// from a browser page, and carry no cookie a page could abuse.
pub async fn same_origin(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_ok = match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true,
        Some(origin) => {
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            origin_host.is_some() && origin_host == host
        }
    };
    let fetch_site_ok = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v == "same-origin" || v == "none");
    if origin_ok && fetch_site_ok {
        next.run(request).await
    } else {
        tracing::warn!(?host, "cross-site request refused");
        (
            StatusCode::FORBIDDEN,
            "Requête refusée : elle ne vient pas de ce site.",
        )
            .into_response()
    }
}
