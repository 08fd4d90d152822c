//! `/healthz`, for the load balancer: the database answers, and the store took a file
//! lately.

use app::state::AppState;
use axum::{extract::State, http::StatusCode};

/// What `/healthz` knows of the store: checking it writes and deletes an object, so it
/// is checked at most every [`Health::STORE_EVERY`], once for all the requests that
/// ask meanwhile; anyone may call `/healthz`, and it must not be a way to write.
#[derive(Default)]
pub struct Health {
    last: tokio::sync::Mutex<Option<(std::time::Instant, bool)>>,
    store_checks: std::sync::atomic::AtomicU64,
}

impl Health {
    const STORE_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

    async fn store_ok(&self, storage: &services::files::storage::Storage) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && at.elapsed() < Self::STORE_EVERY
        {
            return ok;
        }
        self.store_checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ok = match storage.check().await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "health check failed: storage");
                false
            }
        };
        *last = Some((std::time::Instant::now(), ok));
        ok
    }

    /// How many times the store was checked, for `/metrics`.
    pub fn store_checks(&self) -> u64 {
        self.store_checks.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The database answers (a read, each time), and the store took a file lately.
pub async fn healthz(
    State(state): State<AppState>,
    health: std::sync::Arc<Health>,
    instance: String,
) -> (StatusCode, [(&'static str, String); 1], &'static str) {
    let named = [("x-instance", instance)];
    if let Err(error) = state.db.ping().await {
        tracing::error!(%error, "health check failed: database");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            named,
            "database unavailable",
        );
    }
    if !health.store_ok(&state.storage).await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            named,
            "storage unavailable",
        );
    }
    (StatusCode::OK, named, "ok")
}
