//! Registration metadata that makes the server fetch a URL (`sector_identifier_uri`),
//! served by a local document server. In-process apps run in dev mode, where the fetcher
//! may reach loopback over http; production refusals are unit-tested in `fetch/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Backend, Resp, TestApp, serve_locally};

/// Serves `doc` at `/sector` and a redirect at `/moved`; counts the hits.
async fn document_server(doc: Value) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new()
        .route(
            "/sector",
            axum::routing::get(move || {
                let doc = doc.clone();
                counter.fetch_add(1, Ordering::SeqCst);
                async move { axum::Json(doc) }
            }),
        )
        .route(
            "/moved",
            axum::routing::get(|| async { axum::response::Redirect::temporary("/sector") }),
        );
    let addr = serve_locally(app).await;
    (format!("http://{addr}"), hits)
}

async fn anonymous_realm(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    app.open_to_anonymous_registration(&admin, "acme").await;
}

/// An anonymous registration at `acme`.
async fn register(app: &TestApp, body: Value) -> Resp {
    app.register("acme", None, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sector_identifier_document_must_list_every_redirect_uri() {
    let app = TestApp::new(Backend::Sqlite).await.unwrap();
    anonymous_realm(&app).await;
    let (base, hits) =
        document_server(json!(["https://a.example/cb", "https://b.example/cb"])).await;
    let sector = format!("{base}/sector");

    let ok = register(&app, json!({"redirect_uris": ["https://a.example/cb"], "subject_type": "pairwise", "sector_identifier_uri": sector})).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    assert_eq!(ok.body["sector_identifier_uri"], json!(sector));
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the document was fetched");

    let missing = register(
        &app,
        json!({"redirect_uris": ["https://c.example/cb"], "sector_identifier_uri": sector}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["error"], "invalid_client_metadata");
    assert!(
        missing.body["error_description"]
            .as_str()
            .unwrap()
            .contains("https://c.example/cb")
    );

    // OIDC conformance `oidcc-registration-sector-bad`; redirects are not followed.
    let moved = register(&app, json!({"redirect_uris": ["https://a.example/cb"], "sector_identifier_uri": format!("{base}/moved")})).await;
    assert_eq!(moved.status, StatusCode::BAD_REQUEST, "{}", moved.text);
    assert_eq!(moved.body["error"], "invalid_client_metadata");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "the redirect target was never requested"
    );

    // A private address is refused before anything is sent.
    let private = register(&app, json!({"redirect_uris": ["https://a.example/cb"], "sector_identifier_uri": "https://10.0.0.1/sector"})).await;
    assert_eq!(private.status, StatusCode::BAD_REQUEST);
    assert!(
        private.body["error_description"]
            .as_str()
            .unwrap()
            .contains("10.0.0.1"),
        "{}",
        private.text
    );

    let clients = app
        .get(
            "/admin/realms/acme/clients?search=true&clientId=-",
            &app.admin_token().await,
        )
        .await;
    let registered = clients
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["attributes"]["registration.auth"].is_string())
        .count();
    assert_eq!(registered, 1, "refused registrations leave nothing behind");
}
