//! Security headers on every response, and the CSP nonce shared with the renderer.

use app::state::AppState;
use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use leptos::nonce::Nonce;

/// The nonce of one response, minted before routing so that the page renderer (through
/// [`provide_request_nonce`]) and the `Content-Security-Policy` header agree on it.
#[derive(Clone)]
struct RequestNonce(Nonce);

/// Cookies whose presence makes a response one person's: never kept by a cache.
const PERSONAL_COOKIES: [&str; 3] = [
    app::session::SESSION_COOKIE,
    app::session::DRAFT_COOKIE,
    app::staff::STAFF_COOKIE,
];

/// Whether the request carries a session or draft cookie.
fn is_personal(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| !value.is_empty() && PERSONAL_COOKIES.contains(&name))
}

/// The compiled front end and public assets: the same for everyone, cacheable.
fn is_asset(response: &Response) -> bool {
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    [
        "application/wasm",
        "text/javascript",
        "application/javascript",
        "text/css",
        "image/",
        "font/",
    ]
    .iter()
    .any(|asset| kind.starts_with(asset))
}

pub async fn headers(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(RequestNonce(nonce.clone()));
    let personal = is_personal(&request);
    // The front end's own bundle (Wasm, JavaScript, CSS) is never a document: the
    // document policies (CSP, framing, referrer, permissions) do nothing there, and on
    // a phone each would cost half a kilobyte per file on every page. An SVG or a
    // candidate's file can be opened as a document: those keep them.
    let bundle = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    // A page or answer for one person (or one that opens a session) stays in their
    // browser's memory only: not on a shared computer's disk, not in a proxy.
    let sets_cookie = response.headers().contains_key(header::SET_COOKIE);
    if (personal || sets_cookie) && !is_asset(&response) {
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    if state.secure_cookies {
        // Served over HTTPS (APP_BASE_URL): browsers never try plain HTTP again.
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if bundle && is_asset(&response) {
        // A hashed name changes with its content: a browser keeps it a year and never
        // asks again (not even to revalidate) on a reload or another page.
        if state.leptos_options.hash_files && response.status().is_success() {
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
        }
        return response;
    }
    // FranceConnect's button and the logout are forms whose answer redirects to the
    // provider: browsers hold such a redirect to `form-action` too.
    let provider = state
        .franceconnect
        .as_ref()
        .and_then(|fc| origin_of(&fc.settings().issuer))
        .map(|origin| format!(" {origin}"))
        .unwrap_or_default();
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'{provider}; \
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

/// `scheme://host[:port]` of an http(s) URL, in lower case, without a default port:
/// what a browser sends as `Origin` for a page of that URL. `None` for anything else.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}"))
}

/// Refuses state-changing requests sent from another site (CSRF): browsers send
/// `Origin` (and `Sec-Fetch-Site`) with every form post and fetch, so a post whose
/// origin is not this site's is forged. This site's origin is `APP_BASE_URL`'s when it
/// is set (scheme, host and port: an http page of the same host is another origin),
/// else the request's `Host`. Requests without either header do not come from a
/// browser page, and carry no cookie a page could abuse.
pub async fn same_origin(
    State(public): State<Option<std::sync::Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
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
        Some(origin) => match &public {
            Some(public) => origin_of(origin).is_some_and(|o| *o == **public),
            None => {
                let origin_host = origin.split_once("://").map(|(_, rest)| rest);
                origin_host.is_some() && origin_host == host
            }
        },
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

/// Server functions take small forms (a login, a wizard step, an exam's settings): at
/// most this many bytes, whatever the `server_fn` version reads by default.
pub const SERVER_FN_BODY_LIMIT: usize = 64 * 1024;

/// A server-function body must arrive within this time (a form is a few kilobytes).
const SERVER_FN_BODY_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads a server-function body before the function runs: 413 past
/// [`SERVER_FN_BODY_LIMIT`] (at once when the length is announced), 408 when it does not
/// arrive within 30 s. A form is small, so holding it whole costs little.
pub async fn server_fn_body_limit(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let too_large =
        || (StatusCode::PAYLOAD_TOO_LARGE, "Formulaire trop volumineux.").into_response();
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > SERVER_FN_BODY_LIMIT as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, SERVER_FN_BODY_LIMIT);
    let read = tokio::time::timeout(SERVER_FN_BODY_TIME, limited.collect()).await;
    match read {
        Ok(Ok(collected)) => {
            let body = axum::body::Body::from(collected.to_bytes());
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => too_large(),
        Ok(Err(_)) => StatusCode::BAD_REQUEST.into_response(),
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn an_origin_is_scheme_host_and_port_as_a_browser_sends_it() {
        let o = |u| origin_of(u);
        assert_eq!(
            o("https://Concours.Example/inscription").as_deref(),
            Some("https://concours.example")
        );
        assert_eq!(
            o("https://concours.example:443").as_deref(),
            Some("https://concours.example")
        );
        assert_eq!(
            o("http://127.0.0.1:3000").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(
            o("http://concours.example:80/").as_deref(),
            Some("http://concours.example")
        );
        // Another port, another scheme: another origin.
        assert_ne!(
            o("https://concours.example:8443"),
            o("https://concours.example")
        );
        assert_ne!(o("http://concours.example"), o("https://concours.example"));
        for bad in [
            "ftp://x",
            "concours.example",
            "https://",
            "https://user@evil.example",
            "null",
        ] {
            assert_eq!(o(bad), None, "{bad}");
        }
    }
}
