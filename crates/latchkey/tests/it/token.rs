//! The token endpoint: client authentication, grants, claims, RFC 6749 §5.2 errors.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{ADMIN, ADMIN_PASSWORD, Resp, TestApp, assert_oauth_error, user};

const TOKEN: &str = "/realms/acme/protocol/openid-connect/token";
const MASTER_TOKEN: &str = "/realms/master/protocol/openid-connect/token";

/// A realm `acme` with a service-account client `svc`; returns (admin token, uuid, secret).
async fn setup(app: &TestApp) -> (String, String, String) {
    let admin = app.admin_with_realm("acme").await;
    let (id, secret) = app.create_service_client(&admin, "acme", "svc").await;
    (admin, id, secret)
}

/// The master admin's password grant on `admin-cli`, scope `openid`.
async fn admin_login(app: &TestApp) -> Resp {
    app.form(
        MASTER_TOKEN,
        &[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", ADMIN),
            ("password", ADMIN_PASSWORD),
            ("scope", "openid"),
        ],
        None,
    )
    .await
}

/// A refresh grant on master's public `admin-cli`, asking for `scope` when given.
async fn admin_cli_refresh(app: &TestApp, refresh_token: &str, scope: Option<&str>) -> Resp {
    let mut pairs = vec![
        ("grant_type", "refresh_token"),
        ("client_id", "admin-cli"),
        ("refresh_token", refresh_token),
    ];
    if let Some(scope) = scope {
        pairs.push(("scope", scope));
    }
    app.form(MASTER_TOKEN, &pairs, None).await
}

async fn client_credentials_with_basic_and_post(app: &TestApp) {
    let (_, _, secret) = setup(app).await;
    let basic = app.client_credentials("acme", "svc", &secret).await;
    assert_eq!(basic.status, StatusCode::OK, "{}", basic.text);
    assert_eq!(basic.header("cache-control"), Some("no-store"));
    assert_eq!(basic.body["token_type"], "Bearer");
    assert_eq!(basic.body["expires_in"], 300);
    assert!(
        basic.body.get("refresh_token").is_none(),
        "no refresh token for client_credentials"
    );
    let post = app.client_credentials_post("acme", "svc", &secret).await;
    assert_eq!(post.status, StatusCode::OK, "{}", post.text);

    let claims = app
        .verify("acme", basic.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["iss"], "http://localhost:8080/realms/acme");
    assert_eq!(claims["azp"], "svc");
    assert_eq!(claims["typ"], "Bearer");
    assert_eq!(claims["preferred_username"], "service-account-svc");
    assert_eq!(claims["scope"], "email profile");
    let roles = claims["realm_access"]["roles"].as_array().unwrap();
    assert!(
        roles.contains(&json!("default-roles-acme")) && roles.contains(&json!("offline_access"))
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    assert!(claims["jti"].is_string() && claims["sub"].is_string());
}

async fn bad_client_credentials_are_invalid_client(app: &TestApp) {
    let (admin, id, secret) = setup(app).await;
    let wrong = app.client_credentials("acme", "svc", "wrong").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["error"], "invalid_client");
    assert!(
        wrong
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic"),
        "Basic gets a challenge"
    );
    let post = app.client_credentials_post("acme", "svc", "wrong").await;
    assert_oauth_error(&post, StatusCode::UNAUTHORIZED, "invalid_client");
    let unknown = app.client_credentials("acme", "ghost", "x").await;
    assert_oauth_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_client");
    let none = app
        .form(TOKEN, &[("grant_type", "client_credentials")], None)
        .await;
    assert_eq!(none.body["error"], "invalid_client");

    // Disabled, then deleted: both invalid_client.
    let r = app
        .put(
            &format!("/admin/realms/acme/clients/{id}"),
            &admin,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let disabled = app.client_credentials("acme", "svc", &secret).await;
    assert_oauth_error(&disabled, StatusCode::UNAUTHORIZED, "invalid_client");
    app.put(
        &format!("/admin/realms/acme/clients/{id}"),
        &admin,
        json!({"enabled": true}),
    )
    .await;
    assert_eq!(
        app.client_credentials("acme", "svc", &secret).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&format!("/admin/realms/acme/clients/{id}"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let deleted = app.client_credentials("acme", "svc", &secret).await;
    assert_oauth_error(&deleted, StatusCode::UNAUTHORIZED, "invalid_client");
}

async fn malformed_requests_are_invalid_request(app: &TestApp) {
    let (_, _, secret) = setup(app).await;
    let missing = app.form(TOKEN, &[], Some(("svc", &secret))).await;
    assert_oauth_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
    let unsupported = app
        .form(TOKEN, &[("grant_type", "implicit")], Some(("svc", &secret)))
        .await;
    assert_eq!(unsupported.body["error"], "unsupported_grant_type");
    let dup = app
        .form(
            TOKEN,
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "password"),
            ],
            Some(("svc", &secret)),
        )
        .await;
    assert_oauth_error(&dup, StatusCode::BAD_REQUEST, "invalid_request");
    let json_body = app
        .json(
            axum::http::Method::POST,
            TOKEN,
            None,
            Some(json!({"grant_type": "client_credentials"})),
        )
        .await;
    assert_oauth_error(&json_body, StatusCode::BAD_REQUEST, "invalid_request");
    let scope = app
        .form(
            TOKEN,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "no-such-scope"),
            ],
            Some(("svc", &secret)),
        )
        .await;
    assert_eq!(scope.body["error"], "invalid_scope");
    let unknown_realm = app.client_credentials("nope", "svc", &secret).await;
    assert_eq!(unknown_realm.status, StatusCode::NOT_FOUND);
    let optional = app
        .form(
            TOKEN,
            &[("grant_type", "client_credentials"), ("scope", "phone")],
            Some(("svc", &secret)),
        )
        .await;
    assert_eq!(optional.status, StatusCode::OK);
    assert_eq!(optional.body["scope"], "email profile phone");
}

async fn grant_switches_are_enforced(app: &TestApp) {
    let (admin, id, secret) = setup(app).await;
    // No direct access grants on this client.
    let pw = app
        .form(
            TOKEN,
            &[
                ("grant_type", "password"),
                ("username", "x"),
                ("password", "y"),
            ],
            Some(("svc", &secret)),
        )
        .await;
    assert_oauth_error(&pw, StatusCode::BAD_REQUEST, "unauthorized_client");
    // Service accounts switched off.
    app.put(
        &format!("/admin/realms/acme/clients/{id}"),
        &admin,
        json!({"serviceAccountsEnabled": false}),
    )
    .await;
    let cc = app.client_credentials("acme", "svc", &secret).await;
    assert_eq!(cc.body["error"], "unauthorized_client");
    // A public client cannot use client_credentials.
    let cc = app
        .form(
            "/realms/master/protocol/openid-connect/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "admin-cli"),
            ],
            None,
        )
        .await;
    assert_eq!(cc.body["error"], "unauthorized_client");
}

async fn password_grant_refreshes_and_rotates(app: &TestApp) {
    let r = admin_login(app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    assert!(refresh.len() >= 43, "256-bit opaque refresh token");
    let id_token = app
        .verify("master", r.body["id_token"].as_str().unwrap())
        .await;
    assert_eq!(id_token["aud"], "admin-cli");
    assert_eq!(id_token["typ"], "ID");
    assert!(id_token["at_hash"].is_string() && id_token["auth_time"].is_i64());
    let access = app
        .verify("master", r.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(access["sid"], id_token["sid"]);
    assert!(
        access["realm_access"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("admin"))
    );

    let again = admin_cli_refresh(app, &refresh, None).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let next = again.body["refresh_token"].as_str().unwrap();
    assert_ne!(next, refresh);
    let claims = app
        .verify("master", again.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["sid"], access["sid"], "the session carries over");
    // The old one is spent.
    let reuse = admin_cli_refresh(app, &refresh, None).await;
    assert_oauth_error(&reuse, StatusCode::BAD_REQUEST, "invalid_grant");
    // Wrong password: 401 invalid_grant, as Keycloak.
    let bad = app
        .password_grant("master", "admin-cli", "admin", "nope")
        .await;
    assert_oauth_error(&bad, StatusCode::UNAUTHORIZED, "invalid_grant");
    let nobody = app
        .password_grant("master", "admin-cli", "ghost", "nope")
        .await;
    assert_eq!(nobody.body["error"], "invalid_grant");
}

async fn user_passwords_and_required_actions(app: &TestApp) {
    let (admin, _, _) = setup(app).await;
    let mut bob = user("Bob", "first-pass");
    bob["email"] = json!("BOB@example.com");
    bob["firstName"] = json!("Bob");
    let user_id = app.create_user(&admin, "acme", bob).await;
    // admin-cli of acme has direct grants; log in by username and by email.
    let t = app
        .password_token("acme", "admin-cli", "bob", "first-pass")
        .await;
    let claims = app.verify("acme", &t).await;
    assert_eq!(claims["preferred_username"], "bob");
    assert_eq!(claims["email"], "bob@example.com");
    assert_eq!(claims["given_name"], "Bob");
    app.password_token("acme", "admin-cli", "bob@example.com", "first-pass")
        .await;
    // A temporary password blocks the direct grant until the user changes it.
    let r = app
        .put(
            &format!("/admin/realms/acme/users/{user_id}/reset-password"),
            &admin,
            json!({"type": "password", "value": "temp-pass", "temporary": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let blocked = app
        .password_grant("acme", "admin-cli", "bob", "temp-pass")
        .await;
    assert_eq!(blocked.body["error"], "invalid_grant");
    app.put(
        &format!("/admin/realms/acme/users/{user_id}/reset-password"),
        &admin,
        json!({"type": "password", "value": "final-pass", "temporary": false}),
    )
    .await;
    app.password_token("acme", "admin-cli", "bob", "final-pass")
        .await;
    // Disabled users cannot log in.
    app.put(
        &format!("/admin/realms/acme/users/{user_id}"),
        &admin,
        json!({"enabled": false}),
    )
    .await;
    let disabled = app
        .password_grant("acme", "admin-cli", "bob", "final-pass")
        .await;
    assert_eq!(disabled.body["error"], "invalid_grant");
}

async fn es256_realms_sign_with_es256(app: &TestApp) {
    let admin = app.admin_token().await;
    let r = app
        .post(
            "/admin/realms",
            &admin,
            json!({"realm": "ec", "enabled": true, "defaultSignatureAlgorithm": "ES256"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let (_, secret) = app.create_service_client(&admin, "ec", "svc").await;
    let token = app.client_token("ec", "svc", &secret).await;
    let header = latchkey_core::jwt::parse(&token).unwrap().header;
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "JWT");
    app.verify("ec", &token).await;
    // A token of one realm is worthless in another.
    let claims_in_acme = latchkey_core::jwt::parse(&token)
        .unwrap()
        .verify(&app.jwks("master").await);
    assert!(claims_in_acme.is_err());

    // ID tokens: a client an admin created signs with the realm's algorithm too, as in
    // Keycloak, on login and on refresh, until its own attribute names another.
    app.create_user(&admin, "ec", user("erin", "erin-pass"))
        .await;
    let client = app
        .create_client(
            &admin,
            "ec",
            json!({"clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true}),
        )
        .await;
    let id_token_alg = |r: &Resp| {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let id_token = r.body["id_token"].as_str().unwrap();
        latchkey_core::jwt::parse(id_token).unwrap().header["alg"].clone()
    };
    let login = || {
        app.form(
            "/realms/ec/protocol/openid-connect/token",
            &[
                ("grant_type", "password"),
                ("client_id", "cli"),
                ("username", "erin"),
                ("password", "erin-pass"),
                ("scope", "openid"),
            ],
            None,
        )
    };
    let first = login().await;
    assert_eq!(id_token_alg(&first), "ES256");
    let refreshed = app
        .form(
            "/realms/ec/protocol/openid-connect/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "cli"),
                (
                    "refresh_token",
                    first.body["refresh_token"].as_str().unwrap(),
                ),
            ],
            None,
        )
        .await;
    assert_eq!(id_token_alg(&refreshed), "ES256");
    let r = app
        .put(
            &format!("/admin/realms/ec/clients/{client}"),
            &admin,
            json!({"attributes": {"id.token.signed.response.alg": "RS256"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(id_token_alg(&login().await), "RS256");
}

/// An offline token needs the `offline_access` role (Keycloak: 400 `not_allowed`), at the
/// grant and at each refresh: a user who loses the role loses offline access.
async fn offline_tokens_need_the_offline_access_role(app: &TestApp) {
    let admin = app.admin_with_realm("off").await;
    let id = app
        .create_user(&admin, "off", user("olga", "olga-pass"))
        .await;
    app.create_client(
        &admin,
        "off",
        json!({"clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true}),
    )
    .await;
    let grant = async |scope: &str| {
        app.form(
            "/realms/off/protocol/openid-connect/token",
            &[
                ("grant_type", "password"),
                ("client_id", "cli"),
                ("username", "olga"),
                ("password", "olga-pass"),
                ("scope", scope),
            ],
            None,
        )
        .await
    };
    let offline = grant("openid offline_access").await;
    assert_eq!(
        offline.status,
        StatusCode::OK,
        "the default roles hold it: {}",
        offline.text
    );
    let mappings = format!("/admin/realms/off/users/{id}/role-mappings/realm");
    let held = app.get(&mappings, &admin).await;
    let r = app
        .json(
            Method::DELETE,
            &mappings,
            Some(&admin),
            Some(held.body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let refused = grant("openid offline_access").await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "not_allowed");
    let refresh = app
        .form(
            "/realms/off/protocol/openid-connect/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "cli"),
                (
                    "refresh_token",
                    offline.body["refresh_token"].as_str().unwrap(),
                ),
            ],
            None,
        )
        .await;
    assert_oauth_error(&refresh, StatusCode::BAD_REQUEST, "not_allowed");
    let online = grant("openid").await;
    assert_eq!(online.status, StatusCode::OK, "{}", online.text);
}

/// Keycloak refuses a direct grant to a client that requires consent: the user would never
/// see the consent page (400 `invalid_client`, "Client requires user consent").
async fn password_grant_refuses_clients_that_require_consent(app: &TestApp) {
    let (admin, _, _) = setup(app).await;
    app.create_user(&admin, "acme", user("carol", "carol-pass"))
        .await;
    let client = app
        .create_client(
            &admin,
            "acme",
            json!({"clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true, "consentRequired": true}),
        )
        .await;
    let grant = || app.password_grant("acme", "cli", "carol", "carol-pass");
    let refused = grant().await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_client");
    assert_eq!(
        refused.body["error_description"],
        "Client requires user consent"
    );
    // The same client without the requirement gets its token.
    let r = app
        .put(
            &format!("/admin/realms/acme/clients/{client}"),
            &admin,
            json!({"consentRequired": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let ok = grant().await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

/// A refresh refused for its scope spends nothing: the same refresh token still works
/// (ARCHITECTURE: a token is checked before it is spent).
async fn refused_refresh_scope_does_not_spend_the_token(app: &TestApp) {
    let r = admin_login(app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    let wider = admin_cli_refresh(app, &refresh, Some("openid offline_access")).await;
    assert_oauth_error(&wider, StatusCode::BAD_REQUEST, "invalid_scope");
    let again = admin_cli_refresh(app, &refresh, Some("openid")).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "the refused request spent the token: {}",
        again.text
    );
}

crate::on_both_backends!(
    client_credentials_with_basic_and_post,
    bad_client_credentials_are_invalid_client,
    malformed_requests_are_invalid_request,
    grant_switches_are_enforced,
    password_grant_refreshes_and_rotates,
    user_passwords_and_required_actions,
    es256_realms_sign_with_es256,
    password_grant_refuses_clients_that_require_consent,
    refused_refresh_scope_does_not_spend_the_token,
    offline_tokens_need_the_offline_access_role,
);
