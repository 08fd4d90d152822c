//! What operators watch: `/metrics` in the Prometheus text format, served only on its
//! own address (`APP_METRICS_ADDRESS`, a private interface), never on the public one.
//! Requests are counted by route template (bounded: never the raw path) and status;
//! the rest is read when scraped: uploads in flight and waiting, hashes waiting,
//! dossiers by status (closures), mails waiting, store and database health.

use std::{collections::BTreeMap, fmt::Write, sync::Arc, sync::Mutex};

use app::state::AppState;

use crate::pacing::Gates;
use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};

/// Responses by (route template, status).
#[derive(Default)]
pub struct Metrics {
    responses: Mutex<BTreeMap<(String, u16), u64>>,
}

/// Middleware: counts each response under its route's template.
pub async fn count(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |m| m.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    *metrics
        .responses
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry((route, status))
        .or_default() += 1;
    response
}

/// The metrics address's router: `/metrics` and nothing else.
pub fn router(
    state: AppState,
    metrics: Arc<Metrics>,
    gates: Gates,
    health: Arc<crate::health::Health>,
    open: crate::connections::Open,
) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let (state, metrics, gates) = (state.clone(), metrics.clone(), gates.clone());
            let (health, open) = (health.clone(), open.clone());
            async move {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    render(&state, &metrics, &gates, &health, &open).await,
                )
                    .into_response()
            }
        }),
    )
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn render(
    state: &AppState,
    metrics: &Metrics,
    gates: &Gates,
    health: &crate::health::Health,
    open: &crate::connections::Open,
) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "concours_http_responses_total",
        "counter",
        "Responses by route template and status.",
    );
    let responses = metrics
        .responses
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for ((route, status), n) in responses {
        let _ = writeln!(
            out,
            "concours_http_responses_total{{route=\"{}\",status=\"{status}\"}} {n}",
            label(&route)
        );
    }

    let uploads = gates.load();
    let (connections, busiest) = open.load();
    for (name, help, value) in [
        (
            "concours_uploads_reading",
            "Upload bodies being read now.",
            uploads.reading,
        ),
        (
            "concours_uploads_waiting",
            "Uploads waiting for a reading slot.",
            uploads.waiting,
        ),
        (
            "concours_uploads_fast",
            "Fast upload bodies holding a read permit.",
            uploads.fast,
        ),
        (
            "concours_connections_open",
            "Connections open now.",
            connections,
        ),
        (
            "concours_connections_busiest_client",
            "Connections open now by the client holding the most.",
            busiest,
        ),
    ] {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    family(
        &mut out,
        "concours_uploads_evicted_total",
        "counter",
        "Slow upload bodies that gave their reading slot to a new one.",
    );
    let _ = writeln!(out, "concours_uploads_evicted_total {}", uploads.evicted);
    family(
        &mut out,
        "concours_reads_delayed_total",
        "counter",
        "Reads made to wait for their client's turn (a client past its rate).",
    );
    let _ = writeln!(
        out,
        "concours_reads_delayed_total {}",
        crate::flood::delayed()
    );
    family(
        &mut out,
        "concours_pdfs_made_total",
        "counter",
        "PDFs made (printouts for candidates and letters), the kept copies apart.",
    );
    let _ = writeln!(
        out,
        "concours_pdfs_made_total {}",
        services::letters::printouts::made()
    );
    let (logins, others) = state.passwords.waiting();
    family(
        &mut out,
        "concours_password_hashes_waiting",
        "gauge",
        "Password hashes waiting for a hashing thread.",
    );
    let _ = writeln!(
        out,
        "concours_password_hashes_waiting{{queue=\"login\"}} {logins}\n\
         concours_password_hashes_waiting{{queue=\"other\"}} {others}"
    );

    family(
        &mut out,
        "concours_storage_errors_total",
        "counter",
        "Store operations that failed (a missing file excepted).",
    );
    let _ = writeln!(
        out,
        "concours_storage_errors_total {}",
        state.storage.errors()
    );
    family(
        &mut out,
        "concours_store_health_checks_total",
        "counter",
        "Store checks made for /healthz (at most one every few seconds).",
    );
    let _ = writeln!(
        out,
        "concours_store_health_checks_total {}",
        health.store_checks()
    );

    // What the database says; if it does not answer, that is the figure to see.
    let by_status = services::dossiers::count_by_status(&state.db).await;
    let mails = services::letters::outbox::waiting(&state.db).await;
    family(
        &mut out,
        "concours_database_up",
        "gauge",
        "1 when the database answered this scrape.",
    );
    let _ = writeln!(
        out,
        "concours_database_up {}",
        u8::from(by_status.is_ok() && mails.is_ok())
    );
    if let Ok(by_status) = by_status {
        family(
            &mut out,
            "concours_dossiers",
            "gauge",
            "Dossiers by status (closed: closures).",
        );
        for (status, n) in by_status {
            let _ = writeln!(
                out,
                "concours_dossiers{{status=\"{}\"}} {n}",
                label(&status)
            );
        }
    }
    if let Ok(mails) = mails {
        family(
            &mut out,
            "concours_mails_waiting",
            "gauge",
            "Mails promised and not yet sent.",
        );
        let _ = writeln!(out, "concours_mails_waiting {mails}");
    }
    out
}
