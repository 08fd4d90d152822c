//! A first, cheap gate against one client flooding the site with posts: a token bucket
//! per client (the key the limits use), in this process's memory. A client past its
//! rate is answered 429 before any database or password work, so a flood costs the
//! server little and the other candidates nothing. The limits that matter (logins,
//! mails, drafts) are still counted in the database; this only keeps their doors from
//! being knocked on thousands of times a second. A reverse proxy's own rate limit
//! (nginx `limit_req`) does the same earlier; this holds without one.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use app::state::AppState;
use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Posts a client may send per second, sustained, and at once. A candidate sends a few
/// per page; an address shared by a whole school or a mobile operator stays far below.
pub const POSTS_PER_SECOND: f64 = 30.0;
pub const BURST: f64 = 100.0;
/// Past this many clients remembered, those whose bucket is full again are forgotten.
const REMEMBERED: usize = 50_000;

/// The buckets of one server.
#[derive(Clone, Default)]
pub struct Buckets(Arc<Mutex<HashMap<String, (f64, Instant)>>>);

impl Buckets {
    /// Takes one token from `client`'s bucket; `false` when it is empty.
    pub fn take(&self, client: &str, now: Instant) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= REMEMBERED {
            map.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * POSTS_PER_SECOND < BURST
            });
            // Still full (a flood from many addresses at once): start afresh rather than
            // scan the whole table again on every request.
            if map.len() >= REMEMBERED / 2 {
                map.clear();
            }
        }
        let (tokens, at) = map.entry(client.to_string()).or_insert((BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * POSTS_PER_SECOND).min(BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub async fn limit_posts(
    State((state, buckets)): State<(AppState, Buckets)>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let client = app::session::client_of(
        request.headers(),
        request.extensions(),
        &state.trusted_proxies,
    );
    if buckets.take(&client, Instant::now()) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        "Trop de requêtes depuis cette adresse : réessayez dans un instant.",
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    // Names the gate, so a form is sent back to its page with these words, and a test
    // tells this 429 from the limits' ones.
    headers.insert(
        app::refusal::HEADER,
        HeaderValue::from_static(app::refusal::Refusal::Afflux.code()),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_its_rate_and_others_are_not_touched() {
        let buckets = Buckets::default();
        let start = Instant::now();
        let taken = (0..200).filter(|_| buckets.take("flood", start)).count();
        assert_eq!(taken, BURST as usize);
        assert!(buckets.take("candidate", start));
        // A second later, a second's worth more.
        let later = start + Duration::from_secs(1);
        let more = (0..200).filter(|_| buckets.take("flood", later)).count();
        assert_eq!(more, POSTS_PER_SECOND as usize);
    }

    #[test]
    fn many_clients_at_once_keep_the_table_bounded() {
        let buckets = Buckets::default();
        let now = Instant::now();
        for n in 0..3 * REMEMBERED {
            // Each spends a token, so none is forgotten for being full again.
            assert!(buckets.take(&format!("2001:db8:{n:x}::/64"), now));
        }
        assert!(buckets.0.lock().unwrap().len() <= REMEMBERED);
    }
}
