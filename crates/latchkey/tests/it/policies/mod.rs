//! Client registration policies (Keycloak's providers, two sets per realm) over HTTP, one
//! file per concern: Keycloak's defaults, the components API and the dry-run explainer
//! (`components.rs`); Trusted Hosts and the anonymous set's effects (`trusted_hosts.rs`);
//! the other providers and the policies switch (`providers.rs`); exact max-clients under
//! concurrency (`concurrency.rs`); expiring and rotating client secrets
//! (`secret_expiration.rs`). Each provider refuses through both registration
//! providers.

mod components;
mod concurrency;
mod expiry;
mod providers;
mod secret_expiration;
mod trusted_hosts;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{POLICY_TYPE, Resp, TestApp};

const OIDC: &str = "/realms/acme/clients-registrations/openid-connect";
const DEFAULT: &str = "/realms/acme/clients-registrations/default";

async fn components(app: &TestApp, admin: &str) -> Vec<Value> {
    app.registration_policies(admin, "acme").await
}

/// Replaces a policy's config.
async fn configure(app: &TestApp, admin: &str, name: &str, sub_type: &str, config: Value) {
    app.configure_policy(admin, "acme", name, sub_type, config)
        .await;
}

async fn add_policy(
    app: &TestApp,
    admin: &str,
    provider: &str,
    sub_type: &str,
    name: &str,
    config: Value,
) -> String {
    let r = app
        .post("/admin/realms/acme/components", admin, json!({"name": name, "providerId": provider, "providerType": POLICY_TYPE, "subType": sub_type, "config": config}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.location_id()
}

async fn switches(app: &TestApp, admin: &str, attrs: Value) {
    app.update_realm(admin, "acme", json!({"attributes": attrs}))
        .await;
}

/// Anonymous registration on, with the test peer (127.0.0.1) and `*.example.com` trusted.
async fn open_anonymous(app: &TestApp, admin: &str) {
    switches(
        app,
        admin,
        json!({"clientRegistrationAnonymousEnabled": "true"}),
    )
    .await;
    configure(
        app,
        admin,
        "Trusted Hosts",
        "anonymous",
        json!({
            "trusted-hosts": ["127.0.0.1", "*.example.com"],
            "host-sending-registration-request-must-match": ["true"],
            "client-uris-must-match": ["true"],
        }),
    )
    .await;
}

async fn register(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> Resp {
    app.json(Method::POST, path, token, Some(body)).await
}

async fn iat(app: &TestApp, admin: &str, count: i64) -> String {
    app.initial_access_token(admin, "acme", json!({"count": count}))
        .await
}

#[track_caller]
fn assert_refused(r: &Resp, policy: &str, why: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.body["error"], "insufficient_scope");
    assert_eq!(
        r.body["error_description"],
        format!(
            "Policy '{policy}' rejected request to client-registration service. Details: {why}"
        ),
        "{}",
        r.text
    );
}

/// The admin view of a client registered through either provider.
async fn admin_view(app: &TestApp, admin: &str, client_id: &str) -> Value {
    app.find_client(admin, "acme", client_id).await
}
