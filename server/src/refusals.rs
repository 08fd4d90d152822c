//! Every form ends on a page of the site. A plain form post (the browser asks for
//! HTML) that is refused anywhere on its way (the flood gate, the body limit, the staff
//! gate, a limit, our own error, a busy server) would otherwise show the refusal's raw
//! body (`ServerError|…`, without a charset). It is sent back instead, `303 See Other`,
//! to the page it came from with the refusal's code and wait in the address
//! (`?refus=…&attente=…`), where `app::refusal::RefusalNotice` words them above the
//! page as it was: a wizard step shows the draft's answers, a login page the number.
//! Scripts (`fetch`, tus) ask for JSON and keep their statuses.

use app::refusal::{HEADER, Refusal};
use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// What a previous answer left in the page's address, dropped on the way back: the new
/// refusal is the news, not the last outcome.
const OUTCOMES: [&str; 12] = [
    "refus", "attente", "__err", "__path", "erreur", "info", "envoye", "jusqua", "nouveau",
    "cloture", "deja", "message",
];

pub async fn as_pages(request: Request, next: Next) -> Response {
    let plain_form = request.method() == Method::POST
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    if !plain_form {
        return next.run(request).await;
    }
    let back = back_to(request.headers(), request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    // A server function's error without a status of its own: leptos redirects to the
    // Referer with the error in the address, which no page reads.
    let unread_error = status.is_redirection()
        && response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.contains("__err="));
    // 403: a post from another site, forged; it gets no page of ours.
    let refused = (status.is_client_error() && status != StatusCode::FORBIDDEN)
        || status.is_server_error()
        || unread_error;
    if !refused {
        return response;
    }
    let headers = response.headers();
    let refusal = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(Refusal::from_code)
        .unwrap_or_else(|| Refusal::of_status(status.as_u16()));
    let wait = headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    tracing::info!(%status, refusal = refusal.code(), "form refused: back to its page");
    let mut to = back;
    to.push(if to.contains('?') { '&' } else { '?' });
    to.push_str("refus=");
    to.push_str(refusal.code());
    if let Some(wait) = wait {
        to.push_str(&format!("&attente={wait}"));
    }
    let mut answer = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&to) {
        answer.headers_mut().insert(header::LOCATION, location);
    }
    // A cookie set on the way (a new draft) is kept; the refusal's status stays
    // readable by scripts and tests that do not follow the redirect.
    for cookie in headers.get_all(header::SET_COOKIE) {
        answer
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    if let Ok(code) = HeaderValue::from_str(refusal.code()) {
        answer.headers_mut().insert(HEADER, code);
    }
    answer
}

/// The page the form was on: the Referer when it is this site's (path and query, the
/// last outcome dropped), otherwise the home of the form's side of the site.
fn back_to(headers: &HeaderMap, path: &str) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same_site = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|referer| {
            let rest = referer.split_once("://")?.1;
            let (authority, local) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            (Some(authority) == host).then(|| local.to_string())
        })
        .filter(|local| local.starts_with('/') && !local.starts_with("//"));
    let Some(local) = same_site else {
        return if path.starts_with("/api/service") || path.starts_with("/service") {
            "/service".into()
        } else if path.starts_with("/api/espace") || path.starts_with("/espace") {
            "/espace".into()
        } else {
            "/".into()
        };
    };
    let local = local.split('#').next().unwrap_or_default();
    let (path, query) = local.split_once('?').unwrap_or((local, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            !OUTCOMES.contains(&name)
        })
        .collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(referer: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("concours.test"));
        h.insert(header::REFERER, HeaderValue::from_str(referer).unwrap());
        h
    }

    #[test]
    fn back_to_the_same_page_without_its_last_outcome() {
        assert_eq!(
            back_to(
                &headers("http://concours.test/connexion?erreur=identifiants&numero=26-AB"),
                "/api/espace/connexion"
            ),
            "/connexion?numero=26-AB"
        );
        assert_eq!(
            back_to(
                &headers("https://concours.test/service/concours/x?q=dupont&refus=occupe#liste"),
                "/api/service/decision"
            ),
            "/service/concours/x?q=dupont"
        );
        assert_eq!(
            back_to(
                &headers("http://concours.test/inscription/demo/verification"),
                "/x"
            ),
            "/inscription/demo/verification"
        );
    }

    #[test]
    fn never_back_to_another_site() {
        assert_eq!(
            back_to(
                &headers("https://evil.test/connexion"),
                "/api/espace/connexion"
            ),
            "/espace"
        );
        assert_eq!(
            back_to(
                &headers("http://concours.test//evil.test/x"),
                "/api/service/x"
            ),
            "/service"
        );
        assert_eq!(back_to(&HeaderMap::new(), "/api/inscription/creer"), "/");
    }
}
