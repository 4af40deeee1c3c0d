//! Latchkey's HTTP surface (axum): OIDC protocol endpoints (`oidc`), the Keycloak admin
//! REST API (`admin`), the admin console (`console`), health and metrics (`ops`). Only this crate knows HTTP.

pub mod admin;
pub mod bearer;
pub mod bootstrap;
pub mod boundary;
pub mod brute_force;
pub mod console;
pub mod error;
pub mod extract;
pub mod fetch;
pub mod limits;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod ops;
pub mod realm_keys;
pub mod registration;
pub mod routes;
pub mod service;
pub mod settings;
pub mod state;
pub mod urls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::limit::RequestBodyLimitLayer;
use tracing::Instrument;

use crate::routes::{Table, mount};

pub use limits::Limits;
pub use settings::{ProxyHeaders, ServerSettings};
pub use state::{AppState, SharedState};

/// The default request body limit (`--max-request-size`): 64 KiB, ample for any client
/// metadata or admin representation.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Every route the server serves: the one table the router mounts and `/openapi.json`
/// describes.
pub fn table() -> Table {
    let mut table = Table {
        ops: ops::routes(),
        oidc: oidc::routes(),
        admin: admin::routes(),
        console: console::routes(),
        registration: registration::routes(),
        openapi: Vec::new(),
    };
    table.openapi = openapi::routes(&table);
    table
}

/// The whole application, nested under the relative path.
pub fn router(state: SharedState) -> Router {
    let Table {
        ops,
        oidc,
        admin,
        console,
        registration,
        openapi,
    } = table();
    let api = Router::new()
        .merge(mount(ops))
        .merge(mount(oidc))
        .merge(mount(admin))
        .merge(mount(console))
        .merge(mount(registration))
        .merge(mount(openapi))
        .with_state(state.clone());
    let app = match state.settings.relative_path.as_str() {
        "" => api,
        prefix => Router::new().nest(prefix, api),
    };
    let app = boundary::with_trailing_slash(app);
    let limit = state.settings.max_body_size;
    let check = middleware::from_fn_with_state(state.clone(), boundary::check);
    app.layer(check)
        .layer(middleware::from_fn(boundary::unrouted))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(middleware::from_fn_with_state(state, boundary::guard))
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(0);

/// One request id per request (the caller's `X-Request-Id` if it sent a sane one), a
/// tracing span carrying it, and the request counted in the metrics.
async fn observe(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "{:08x}-{}",
                std::process::id(),
                REQUEST_SEQ.fetch_add(1, Ordering::Relaxed)
            )
        });
    let span = tracing::info_span!("request", id = %request_id, method = %method, path = %req.uri().path());
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    span.in_scope(|| tracing::debug!(status, ms = elapsed * 1000.0, "served"));
    state
        .metrics
        .observe_request(&method, &route, status, elapsed);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
