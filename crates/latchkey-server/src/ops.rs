//! Health (`/health/live`, `/health/ready`) and Prometheus metrics (`/metrics`).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::routes;
use crate::state::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route(routes::HEALTH_LIVE, get(live))
        .route(routes::HEALTH_READY, get(ready))
        .route(routes::METRICS, get(metrics))
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

async fn metrics(State(state): State<SharedState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
