//! Health (`/health/live`, `/health/ready`) and Prometheus metrics (`/metrics`), with the
//! clients per realm and registration kind counted at each scrape.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::metrics::render_clients;
use crate::routes::{self, Route, route};
use crate::state::SharedState;

/// Operations probes, outside the API the OpenAPI document describes.
pub fn routes() -> Vec<Route> {
    const PROBE: &str = "an operations probe";
    vec![
        route!(GET routes::HEALTH_LIVE => live, hidden PROBE),
        route!(GET routes::HEALTH_READY => ready, hidden PROBE),
        route!(GET routes::METRICS => metrics, hidden PROBE),
    ]
}

async fn live() -> impl IntoResponse {
    axum::Json(json!({"status": "UP"}))
}

/// Ready once the database answers (migrations ran before the server was built).
async fn ready(State(state): State<SharedState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(json!({"status": "UP", "checks": [{"name": "database", "status": "UP"}]})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    json!({"status": "DOWN", "checks": [{"name": "database", "status": "DOWN"}]}),
                ),
            )
        }
    }
}

/// The counters, then the clients per realm and registration kind, counted now by one
/// grouped query (left out, with a warning, when the database does not answer).
async fn metrics(State(state): State<SharedState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    match state.store.clients_per_kind().await {
        Ok(rows) => text.push_str(&render_clients(&rows)),
        Err(e) => tracing::warn!(error = %e, "could not count clients for the metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
