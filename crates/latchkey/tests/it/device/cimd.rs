//! Clients known by their metadata document (CIMD) and the device grant: the same rule as
//! registration, a document that lists the grant makes a client with Keycloak's switch on;
//! one that does not gets `unauthorized_client`.

use axum::http::StatusCode;
use serde_json::json;

use super::*;
use crate::cimd::Documents;

crate::on_both_backends!(a_document_client_listing_the_grant_runs_the_flow);

async fn a_document_client_listing_the_grant_runs_the_flow(app: &TestApp) {
    let admin = crate::cimd::realm(app, false, json!({})).await;
    let docs = Documents::start().await;
    let tv = docs.serve_client(
        "/tv.json",
        json!({"grant_types": ["authorization_code", GRANT], "token_endpoint_auth_method": "none"}),
    );
    let web = docs.serve_client("/web.json", json!({"token_endpoint_auth_method": "none"}));
    let device_endpoint = "/realms/acme/protocol/openid-connect/auth/device";

    let refused = app
        .form(device_endpoint, &[("client_id", &web)], None)
        .await;
    assert_eq!(
        error_of(&refused),
        "unauthorized_client",
        "{}",
        refused.text
    );

    let r = app.form(device_endpoint, &[("client_id", &tv)], None).await;
    let (device_code, code) = codes(&r);
    let stored = crate::cimd::listed(app, &admin, &tv).await.unwrap();
    assert_eq!(stored["attributes"][ENABLED], "true", "{stored}");
    assert_eq!(
        r.body["verification_uri"],
        "http://localhost:8080/realms/acme/device"
    );

    let mut b = Browser::default();
    let login = b
        .post(app, "/realms/acme/device", &[("user_code", &code)], None)
        .await;
    let consent = b.submit(app, &login, &ALICE).await;
    // The consent page names the document's host, as for any document client.
    assert!(
        consent.text.contains("Client published at"),
        "{}",
        consent.text
    );
    let done = b.submit(app, &consent, &[("consent", "accept")]).await;
    assert!(done.text.contains("Device connected"), "{}", done.text);
    let token = app
        .form(
            "/realms/acme/protocol/openid-connect/token",
            &[
                ("grant_type", GRANT),
                ("client_id", &tv),
                ("device_code", &device_code),
            ],
            None,
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    let claims = app
        .verify("acme", token.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["azp"], tv.as_str());
}
