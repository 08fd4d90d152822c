//! A first, cheap gate against one client flooding the site: token buckets per client
//! (the key the limits use), in this process's memory, one for posts and one for
//! reads. A post past its client's rate is answered 429 before any database or
//! password work, so a flood costs the server little and the other candidates nothing.
//! A read (a page, a PDF, a file) past its client's rate waits its turn instead, as
//! nginx's `limit_req … burst` does: a refused read would come straight back, and a
//! client looping from many connections would then cost the server as much in
//! refusals as in answers; waiting, it gets no more than its rate whatever it sends.
//! The limits that matter (logins, mails, drafts) are still counted in the database;
//! this only keeps their doors from being knocked on thousands of times a second. A
//! reverse proxy's own rate limit does the same earlier; this holds without one.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use app::state::AppState;
use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// How many requests of one sort a client may send per second, sustained, and at once.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

/// Posts: a candidate sends a few per page; an address shared by a whole school or a
/// mobile operator stays far below.
pub const POSTS: Rate = Rate {
    per_second: 30.0,
    burst: 100.0,
};
/// Reads: a page is one (its scripts, styles and pictures are not counted), the
/// antivirus watch one every 3 s.
pub const READS: Rate = Rate {
    per_second: 30.0,
    burst: 100.0,
};
/// A candidate's downloads (a file, the dossier d'inscription, the accusé de
/// réception): each reads megabytes from the store, so fewer. A candidate looks at a
/// few files in a minute; a whole class downloading its receipts at once waits seconds.
pub const DOWNLOADS: Rate = Rate {
    per_second: 2.0,
    burst: 20.0,
};
/// The longest a read waits for its turn; a client further behind is answered 429.
pub const LONGEST_WAIT: Duration = Duration::from_secs(30);
/// A request refused (a post past its rate, a read too far behind) is answered only
/// after this pause, so a client looping on refusals cannot make them cost the server
/// more than its waiting requests do.
pub const REFUSAL_PAUSE: Duration = Duration::from_secs(1);
/// Past this many buckets remembered, some are forgotten (see [`forget_some`]).
const REMEMBERED: usize = 50_000;

/// Reads made to wait, since the process started (a metric).
static DELAYED: AtomicU64 = AtomicU64::new(0);

pub fn delayed() -> u64 {
    DELAYED.load(Ordering::Relaxed)
}

/// The buckets of one server, for one sort of request.
#[derive(Clone)]
pub struct Buckets {
    rate: Rate,
    map: Arc<Mutex<HashMap<String, (f64, Instant)>>>,
}

impl Buckets {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            map: Arc::default(),
        }
    }

    /// Takes one token from `client`'s bucket, and from those of its wider networks
    /// (an IPv6 /56 and /48, whose rate and burst are 4 and 16 times a client's:
    /// `services::access::clients::wider_networks`); `false` when one of them is empty.
    pub fn take(&self, client: &str, now: Instant) -> bool {
        self.reserve(client, now, Duration::ZERO).is_some()
    }

    /// Takes one token as [`Self::take`] does, or one still to come: how long to wait
    /// for it (zero when there is one now), or `None` when that is longer than
    /// `longest` (and nothing is taken). Each waiting request holds its own future
    /// token, so requests are let through at the rate, in the order they came.
    pub fn reserve(&self, client: &str, now: Instant, longest: Duration) -> Option<Duration> {
        let Rate { per_second, burst } = self.rate;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= REMEMBERED {
            forget_some(&mut map, now, self.rate);
        }
        let keys: Vec<(String, f64)> = std::iter::once((client.to_string(), 1.0))
            .chain(
                services::access::clients::wider_networks(client)
                    .into_iter()
                    .map(|(network, times)| (network, times as f64)),
            )
            .collect();
        let mut wait: f64 = 0.0;
        for (key, times) in &keys {
            let (tokens, at) = map.entry(key.clone()).or_insert((burst * times, now));
            // A bucket in debt (tokens below zero) carries its waiting requests' turns.
            let refill = now.saturating_duration_since(*at).as_secs_f64() * per_second * times;
            *tokens = (*tokens + refill).min(burst * times);
            *at = now.max(*at);
            let after = *tokens - 1.0;
            if after < 0.0 {
                wait = wait.max(-after / (per_second * times));
            }
        }
        if wait > longest.as_secs_f64() {
            return None;
        }
        for (key, _) in &keys {
            if let Some((tokens, _)) = map.get_mut(key) {
                *tokens -= 1.0;
            }
        }
        Some(Duration::from_secs_f64(wait))
    }
}

/// Makes room: the buckets full again are forgotten (as good as new); if that is not
/// enough (a flood from many addresses at once), the half least recently used. Never
/// all of them: a flooding client, seen a moment ago, keeps its empty bucket.
fn forget_some(map: &mut HashMap<String, (f64, Instant)>, now: Instant, rate: Rate) {
    map.retain(|key, (tokens, at)| {
        let times = match key.rsplit_once('/') {
            Some((_, "56")) => 4.0,
            Some((_, "48")) => 16.0,
            _ => 1.0,
        };
        *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate.per_second * times
            < rate.burst * times
    });
    if map.len() >= REMEMBERED / 2 {
        let mut ages: Vec<Instant> = map.values().map(|(_, at)| *at).collect();
        ages.sort_unstable();
        let cut = ages[ages.len() / 2];
        map.retain(|_, (_, at)| *at > cut);
    }
}

/// One server's gate: its buckets for posts, reads and downloads.
#[derive(Clone)]
pub struct Gate {
    posts: Buckets,
    reads: Buckets,
    downloads: Buckets,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            posts: Buckets::new(POSTS),
            reads: Buckets::new(READS),
            downloads: Buckets::new(DOWNLOADS),
        }
    }
}

/// A candidate's download: counted in [`DOWNLOADS`] instead of [`READS`].
fn is_download(path: &str) -> bool {
    path.starts_with("/espace/fichiers/")
        || path == "/espace/dossier-d-inscription.pdf"
        || path == "/espace/accuse-de-reception.pdf"
        || path == "/espace/mes-donnees.zip"
}

/// What a page brings along (the site's scripts, styles, Wasm, icon) and the load
/// balancer's probe, when read: never kept waiting, and counted only when missing.
fn is_free(path: &str) -> bool {
    if path.starts_with("/pkg/") || path == "/healthz" {
        return true;
    }
    // A file at the site's root (public/): `/favicon.svg`, `/analyses.js`.
    let name = &path[1.min(path.len())..];
    !name.contains('/')
        && matches!(
            name.rsplit_once('.').map(|(_, ext)| ext),
            Some("js" | "css" | "svg" | "ico" | "png" | "txt" | "webmanifest")
        )
}

pub async fn limit(
    State((state, gate)): State<(AppState, Gate)>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    if method == Method::OPTIONS {
        return next.run(request).await;
    }
    let client = app::session::client_of(
        request.headers(),
        request.extensions(),
        &state.trusted_proxies,
    );
    let read = matches!(method, Method::GET | Method::HEAD);
    let path = request.uri().path();
    if read && is_free(path) {
        let response = next.run(request).await;
        // A missing asset is answered by the 404 page, made for nothing: it counts
        // as a read, its turn served before the page is sent, so a loop on made-up
        // asset names is paced like any other.
        if response.status() != StatusCode::NOT_FOUND {
            return response;
        }
        let turn = gate.reads.reserve(&client, Instant::now(), LONGEST_WAIT);
        return match wait_for(turn).await {
            Ok(()) => response,
            Err(refused) => refused,
        };
    }
    let now = Instant::now();
    let turn = if !read {
        gate.posts.take(&client, now).then_some(Duration::ZERO)
    } else if is_download(path) {
        gate.downloads.reserve(&client, now, LONGEST_WAIT)
    } else {
        gate.reads.reserve(&client, now, LONGEST_WAIT)
    };
    match wait_for(turn).await {
        Ok(()) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// Waits for a turn a bucket gave; without one, the refusal, after a pause: a client
/// looping on refusals sends no faster than its connections wait.
async fn wait_for(turn: Option<Duration>) -> Result<(), Response> {
    match turn {
        Some(wait) if wait.is_zero() => Ok(()),
        Some(wait) => {
            DELAYED.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            Ok(())
        }
        None => {
            tokio::time::sleep(REFUSAL_PAUSE).await;
            Err(too_many())
        }
    }
}

fn too_many() -> Response {
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
        let buckets = Buckets::new(POSTS);
        let start = Instant::now();
        let taken = (0..200).filter(|_| buckets.take("flood", start)).count();
        assert_eq!(taken, POSTS.burst as usize);
        assert!(buckets.take("candidate", start));
        // A second later, a second's worth more.
        let later = start + Duration::from_secs(1);
        let more = (0..200).filter(|_| buckets.take("flood", later)).count();
        assert_eq!(more, POSTS.per_second as usize);
    }

    #[test]
    fn many_clients_at_once_keep_the_table_bounded_and_a_flooder_its_empty_bucket() {
        let buckets = Buckets::new(POSTS);
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
        assert!(buckets.map.lock().unwrap().len() <= REMEMBERED);
    }

    #[test]
    fn the_slash_64s_of_one_slash_56_share_its_bucket() {
        let buckets = Buckets::new(POSTS);
        let now = Instant::now();
        // Each /64 has a burst of 100, its /56 of 400: past it, a new /64 waits too,
        // but not one of another /56.
        let mut taken = 0;
        for n in 0..40 {
            let client = format!("2001:db8:7:{n:x}::/64");
            taken += (0..200).filter(|_| buckets.take(&client, now)).count();
        }
        assert_eq!(taken, 4 * POSTS.burst as usize);
        assert!(!buckets.take("2001:db8:7:ff::/64", now));
        assert!(buckets.take("2001:db8:7:100::/64", now));
    }

    #[test]
    fn a_read_past_the_rate_waits_its_turn_and_one_too_far_behind_is_refused() {
        let buckets = Buckets::new(READS);
        let now = Instant::now();
        let longest = LONGEST_WAIT;
        let waits: Vec<Duration> = (0..2000)
            .map_while(|_| buckets.reserve("loop", now, longest))
            .collect();
        // The burst at once, then one turn every 1/30 s, up to 30 s ahead.
        let burst = READS.burst as usize;
        let queued = (READS.per_second * longest.as_secs_f64()) as usize;
        assert_eq!(waits.len(), burst + queued);
        assert!(waits[..burst].iter().all(|w| w.is_zero()));
        for (k, wait) in waits[burst..].iter().enumerate() {
            let turn = (k + 1) as f64 / READS.per_second;
            assert!((wait.as_secs_f64() - turn).abs() < 1e-6, "{k}: {wait:?}");
        }
        // The refused one took nothing: a second later, the next turn is the one it
        // would have had, a second nearer.
        let later = now + Duration::from_secs(1);
        let wait = buckets.reserve("loop", later, longest).unwrap();
        let turn = (queued + 1) as f64 / READS.per_second - 1.0;
        assert!((wait.as_secs_f64() - turn).abs() < 1e-6, "{wait:?}");
        // Another client does not wait.
        assert_eq!(
            buckets.reserve("candidate", now, longest),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_candidates_files_and_pdfs_are_downloads_and_pages_are_not() {
        for download in [
            "/espace/fichiers/0c9d",
            "/espace/dossier-d-inscription.pdf",
            "/espace/accuse-de-reception.pdf",
            "/espace/mes-donnees.zip",
        ] {
            assert!(is_download(download), "{download}");
        }
        for read in [
            "/espace",
            "/espace/pieces/diplome",
            "/service/fichiers/0c9d",
        ] {
            assert!(!is_download(read), "{read}");
        }
    }

    #[test]
    fn what_a_page_brings_along_is_free_and_the_pages_are_not() {
        for free in [
            "/pkg/app.wasm",
            "/pkg/app.css",
            "/favicon.svg",
            "/analyses.js",
            "/healthz",
        ] {
            assert!(is_free(free), "{free}");
        }
        for counted in [
            "/",
            "/espace",
            "/espace/dossier-d-inscription.pdf",
            "/espace/pieces/diplome",
            "/espace/x.js",
            "/accuse.svg/x",
        ] {
            assert!(!is_free(counted), "{counted}");
        }
    }
}
