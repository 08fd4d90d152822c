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
/// Past this many buckets remembered, some are forgotten (see [`forget_some`]).
const REMEMBERED: usize = 50_000;

/// The buckets of one server.
#[derive(Clone, Default)]
pub struct Buckets(Arc<Mutex<HashMap<String, (f64, Instant)>>>);

impl Buckets {
    /// Takes one token from `client`'s bucket, and from those of its wider networks
    /// (an IPv6 /56 and /48, whose rate and burst are 4 and 16 times a client's:
    /// `services::clients::wider_networks`); `false` when one of them is empty.
    pub fn take(&self, client: &str, now: Instant) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= REMEMBERED {
            forget_some(&mut map, now);
        }
        let keys: Vec<(String, f64)> = std::iter::once((client.to_string(), 1.0))
            .chain(
                services::clients::wider_networks(client)
                    .into_iter()
                    .map(|(network, times)| (network, times as f64)),
            )
            .collect();
        let mut all_have_one = true;
        for (key, times) in &keys {
            let (tokens, at) = map.entry(key.clone()).or_insert((BURST * times, now));
            let refill = now.duration_since(*at).as_secs_f64() * POSTS_PER_SECOND * times;
            *tokens = (*tokens + refill).min(BURST * times);
            *at = now;
            all_have_one &= *tokens >= 1.0;
        }
        if all_have_one {
            for (key, _) in &keys {
                if let Some((tokens, _)) = map.get_mut(key) {
                    *tokens -= 1.0;
                }
            }
        }
        all_have_one
    }
}

/// Makes room: the buckets full again are forgotten (as good as new); if that is not
/// enough (a flood from many addresses at once), the half least recently used. Never
/// all of them: a flooding client, seen a moment ago, keeps its empty bucket.
fn forget_some(map: &mut HashMap<String, (f64, Instant)>, now: Instant) {
    map.retain(|key, (tokens, at)| {
        let times = match key.rsplit_once('/') {
            Some((_, "56")) => 4.0,
            Some((_, "48")) => 16.0,
            _ => 1.0,
        };
        *tokens + now.duration_since(*at).as_secs_f64() * POSTS_PER_SECOND * times < BURST * times
    });
    if map.len() >= REMEMBERED / 2 {
        let mut ages: Vec<Instant> = map.values().map(|(_, at)| *at).collect();
        ages.sort_unstable();
        let cut = ages[ages.len() / 2];
        map.retain(|_, (_, at)| *at > cut);
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
    fn many_clients_at_once_keep_the_table_bounded_and_a_flooder_its_empty_bucket() {
        let buckets = Buckets::default();
        let start = Instant::now();
        let flooder = "198.51.100.66";
        while buckets.take(flooder, start) {}
        for n in 0..3 * REMEMBERED {
            // Each spends a token, so none is forgotten for being full again; the
            // flooder knocks now and then, and stays refused.
            let now = start + Duration::from_nanos(n as u64);
            assert!(buckets.take(
                &format!("198.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255),
                now
            ));
            if n % 1000 == 0 {
                assert!(!buckets.take(flooder, now), "forgotten after {n} others");
            }
        }
        assert!(buckets.0.lock().unwrap().len() <= REMEMBERED);
    }

    #[test]
    fn the_slash_64s_of_one_slash_56_share_its_bucket() {
        let buckets = Buckets::default();
        let now = Instant::now();
        // Each /64 has a burst of 100, its /56 of 400: past it, a new /64 waits too,
        // but not one of another /56.
        let mut taken = 0;
        for n in 0..40 {
            let client = format!("2001:db8:7:{n:x}::/64");
            taken += (0..200).filter(|_| buckets.take(&client, now)).count();
        }
        assert_eq!(taken, 4 * BURST as usize);
        assert!(!buckets.take("2001:db8:7:ff::/64", now));
        assert!(buckets.take("2001:db8:7:100::/64", now));
    }
}
