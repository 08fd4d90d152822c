//! Downloads of many dossiers at once (a dossier's or an exam's ZIP, the CSV and XLSX
//! exports): at most [`PER_AGENT`] at once for each agent on a server. Each reads an
//! exam's list and streams for as long as the agent's link takes; an agent who clicks
//! again and again, or a script with a stolen staff session, would otherwise hold as
//! many as it likes, each with its list in memory and its share of the disk, on the
//! evening the candidates need the server.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use services::access::staff::Staff;

use crate::counts::Counts;

/// Downloads one agent may have under way at once: one long archive and a quick
/// export beside it.
pub const PER_AGENT: u32 = 2;

/// The downloads under way on this server, by agent.
#[derive(Clone, Default)]
pub struct Downloads(Counts);

/// The layer on the download routes. A download counts until its last byte is sent
/// or the agent's browser gives up: its body carries it.
pub async fn limited(State(downloads): State<Downloads>, request: Request, next: Next) -> Response {
    // The gate puts the agent there before any staff address answers.
    let Some(agent) = request.extensions().get::<Staff>().map(|s| s.id.clone()) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(held) = downloads.0.take(&agent, PER_AGENT) else {
        tracing::info!(%agent, "staff download refused: already {PER_AGENT} under way");
        return too_many();
    };
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _counted = &held;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

fn too_many() -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "Vous avez déjà {PER_AGENT} téléchargements en cours (archives ou exports). Attendez que l'un d'eux se termine dans votre navigateur, puis recommencez."
        ),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    response
}

#[cfg(test)]
mod tests {
    use axum::{Extension, Router, routing::get};
    use tower::ServiceExt;

    use super::*;

    fn agent(id: &str) -> Staff {
        Staff {
            id: id.into(),
            email: format!("{id}@cdg.test"),
            name: id.into(),
        }
    }

    /// A download whose body never ends until the agent's side drops it.
    fn router(downloads: Downloads) -> Router {
        Router::new()
            .route(
                "/archive",
                get(|| async {
                    let endless =
                        futures_util::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
                    Body::from_stream(endless)
                }),
            )
            .route_layer(axum::middleware::from_fn_with_state(downloads, limited))
    }

    async fn ask(downloads: &Downloads, who: &str) -> Response {
        router(downloads.clone())
            .layer(Extension(agent(who)))
            .oneshot(Request::get("/archive").body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_agent_has_two_downloads_at_once_and_a_third_when_one_ends() {
        let downloads = Downloads::default();
        let first = ask(&downloads, "agent-a").await;
        let second = ask(&downloads, "agent-a").await;
        assert_eq!(
            (first.status(), second.status()),
            (StatusCode::OK, StatusCode::OK)
        );
        let third = ask(&downloads, "agent-a").await;
        assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(third.headers()[header::RETRY_AFTER], "10");
        let words = axum::body::to_bytes(third.into_body(), 1024).await.unwrap();
        assert!(
            std::str::from_utf8(&words)
                .unwrap()
                .contains("déjà 2 téléchargements en cours")
        );
        // Another agent is not touched.
        let other = ask(&downloads, "agent-b").await;
        assert_eq!(other.status(), StatusCode::OK);
        // The browser gives up one download: its place is free again.
        drop(first);
        assert_eq!(downloads.0.of("agent-a"), Some(1));
        let again = ask(&downloads, "agent-a").await;
        assert_eq!(again.status(), StatusCode::OK);
        drop((second, again, other));
        assert!(downloads.0.is_empty());
    }

    #[tokio::test]
    async fn a_download_sent_to_its_end_frees_its_place() {
        let downloads = Downloads::default();
        let finished = Router::new()
            .route("/export", get(|| async { "numero;nom\r\n" }))
            .route_layer(axum::middleware::from_fn_with_state(
                downloads.clone(),
                limited,
            ))
            .layer(Extension(agent("agent-a")));
        for _ in 0..3 {
            let response = finished
                .clone()
                .oneshot(Request::get("/export").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            assert_eq!(&body[..], b"numero;nom\r\n");
        }
        assert_eq!(downloads.0.of("agent-a"), None);
    }
}
