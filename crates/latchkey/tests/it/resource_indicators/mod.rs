//! Resource indicators (RFC 8707), one file per surface: the token endpoint's grants,
//! refresh and introspection (`tokens.rs`), the authorization endpoint and codes
//! (`codes.rs`), the admin API's resource servers (`admin.rs`). Every scenario runs on
//! both backends.

mod admin;
mod codes;
mod tokens;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Resp, TestApp, serde_urlencoded_pairs, user};

const REALM: &str = "rs";
const TOKEN: &str = "/realms/rs/protocol/openid-connect/token";
const AUTH: &str = "/realms/rs/protocol/openid-connect/auth";
const INTROSPECT: &str = "/realms/rs/protocol/openid-connect/token/introspect";
const SERVERS: &str = "/admin/realms/rs/resource-servers";
const CB: &str = "https://app.example/cb";
/// Resource servers every client may ask for.
const A: &str = "https://a.example/mcp";
const B: &str = "http://127.0.0.1:9000/api";
/// A resource server only for clients with the client scope `mcp`.
const GATED: &str = "https://gated.example/mcp";
/// On no list.
const UNKNOWN: &str = "https://unknown.example/mcp";

/// The realm's clients and their secrets.
struct Setup {
    admin: String,
    /// service account, without the `mcp` scope; its service account holds
    /// realm-management's `view-realm`, so its tokens have Keycloak's audience
    /// `realm-management`
    svc: String,
    /// service account with the optional scope `mcp`
    svc_mcp: String,
    /// code flow and password grant (user alice), without `mcp`
    web: String,
}

/// Realm `rs`: the client scope `mcp`, resource servers A, B and GATED, the clients of
/// [`Setup`], user alice.
async fn setup(app: &TestApp) -> Setup {
    let admin = app.admin_with_realm(REALM).await;
    app.create_client_scope(
        &admin,
        REALM,
        json!({"name": "mcp", "protocol": "openid-connect"}),
    )
    .await;
    for (uri, scopes) in [(A, json!([])), (B, json!([])), (GATED, json!(["mcp"]))] {
        let r = app
            .post(
                SERVERS,
                &admin,
                json!({"uri": uri, "name": uri, "scopes": scopes}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let (svc_id, svc) = app.create_service_client(&admin, REALM, "svc").await;
    let account = app.service_account_id(&admin, REALM, &svc_id).await;
    app.grant_realm_management(&admin, REALM, &account, &["view-realm"])
        .await;
    let id = app
        .create_client(
            &admin,
            REALM,
            json!({"clientId": "svc-mcp", "serviceAccountsEnabled": true, "publicClient": false,
                "optionalClientScopes": ["mcp"]}),
        )
        .await;
    let svc_mcp = app.client_secret(&admin, REALM, &id).await;
    let id = app
        .create_client(
            &admin,
            REALM,
            json!({"clientId": "web", "redirectUris": [CB], "publicClient": false,
                "directAccessGrantsEnabled": true}),
        )
        .await;
    let web = app.client_secret(&admin, REALM, &id).await;
    app.create_user(&admin, REALM, user("alice", "alice-pass"))
        .await;
    Setup {
        admin,
        svc,
        svc_mcp,
        web,
    }
}

/// A token request for `client`: `pairs`, then one `resource` per entry of `resources`.
async fn token_request(
    app: &TestApp,
    client: (&str, &str),
    pairs: &[(&str, &str)],
    resources: &[&str],
) -> Resp {
    let mut all = pairs.to_vec();
    all.extend(resources.iter().map(|r| ("resource", *r)));
    app.form(TOKEN, &all, Some(client)).await
}

/// A client credentials grant asking for `resources`.
async fn client_credentials(app: &TestApp, client: (&str, &str), resources: &[&str]) -> Resp {
    token_request(
        app,
        client,
        &[("grant_type", "client_credentials")],
        resources,
    )
    .await
}

/// The claims of a successful token response's access token.
async fn access_claims(app: &TestApp, r: &Resp) -> Value {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.verify(
        REALM,
        r.body["access_token"].as_str().expect("access_token"),
    )
    .await
}

/// `?resource=…&resource=…` for an authorization URL.
fn resource_query(resources: &[&str]) -> String {
    let pairs: Vec<(&str, &str)> = resources.iter().map(|r| ("resource", *r)).collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("&{}", serde_urlencoded_pairs(&pairs))
    }
}
