//! What a registration answers and stores: RFC 7591 metadata with its defaults,
//! Keycloak's representation through the `default` provider, machine clients that work at
//! once, and the realm's current scopes.

use axum::http::StatusCode;
use serde_json::json;

use super::{
    BASE, Provider, REDIRECT, admin_client, assert_created, assert_error, create, created, new_iat,
};
use crate::support::{Resp, TestApp, unix_now};

/// Create answers 201 with every registered and defaulted member, the server-managed
/// ones, and the stored fields; read returns the same.
async fn create_returns_the_full_registered_metadata(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 5, &[]).await;
    let p = Provider::Oidc;

    // Defaults.
    let r = created(app, p, Some(&iat), json!({"redirect_uris": [REDIRECT]})).await;
    let id = p.client_id(&r);
    let b = &r.body;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(
        b["registration_client_uri"],
        format!("{BASE}/realms/acme/clients-registrations/openid-connect/{id}")
    );
    assert_eq!(r.header("location"), b["registration_client_uri"].as_str());
    assert!(b["client_secret"].as_str().unwrap().len() >= 32);
    assert_eq!(b["client_secret_expires_at"], 0);
    let issued = b["client_id_issued_at"].as_i64().unwrap();
    let now = unix_now();
    assert!(
        (now - issued).abs() < 60,
        "client_id_issued_at {issued} vs now {now}"
    );
    assert!(b["registration_access_token"].as_str().unwrap().len() >= 43);
    assert_eq!(b["redirect_uris"], json!([REDIRECT]));
    assert_eq!(b["response_types"], json!(["code"]));
    assert_eq!(
        b["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(b["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(b["application_type"], "web");
    assert_eq!(b["id_token_signed_response_alg"], "RS256");
    let read = app
        .get(&p.client_path("acme", &id), p.rat(&r).as_str())
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["client_id_issued_at"], issued);
    assert_eq!(read.body["client_secret"], b["client_secret"]);

    // Every stored field, on create and on read; unknown members ignored.
    let stored = json!({
        "client_name": "Full",
        "contacts": ["ops@app.example", "dev@app.example"],
        "logo_uri": "https://app.example/logo.png",
        "client_uri": "https://app.example/",
        "policy_uri": "https://app.example/policy",
        "tos_uri": "https://app.example/tos",
        "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "use": "sig", "kid": "k1",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]},
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "software_version": "2.1.0",
        "software_statement": "eyJhbGciOiJub25lIn0.eyJzb2Z0d2FyZV9pZCI6InMifQ.",
        "post_logout_redirect_uris": ["https://app.example/bye"],
        "backchannel_logout_uri": "https://app.example/backchannel-logout",
        "default_max_age": 3600,
        "require_auth_time": true,
        "scope": "openid profile email",
        "subject_type": "public",
    });
    let mut body = stored.clone();
    body["redirect_uris"] = json!([REDIRECT]);
    body["x-vendor-extension"] = json!({"anything": [1, 2]});
    let r = created(app, p, Some(&iat), body).await;
    let id = p.client_id(&r);
    let read = app
        .get(&p.client_path("acme", &id), p.rat(&r).as_str())
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    for (which, resp) in [("create", &r), ("read", &read)] {
        for (key, value) in stored.as_object().unwrap() {
            assert_eq!(&resp.body[key], value, "{which}: {key} in {}", resp.text);
        }
        assert!(
            resp.body.get("x-vendor-extension").is_none(),
            "{which}: unknown members are not returned"
        );
        assert_eq!(resp.body["client_id"], id.as_str());
        assert!(resp.body["client_id_issued_at"].is_i64(), "{which}");
    }

    // The requested authentication method is echoed.
    let r = created(
        app,
        p,
        Some(&iat),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    assert_eq!(r.body["token_endpoint_auth_method"], "client_secret_post");
    assert!(r.body["client_secret"].is_string());
    let read = app
        .get(&p.client_path("acme", &p.client_id(&r)), p.rat(&r).as_str())
        .await;
    assert_eq!(
        read.body["token_endpoint_auth_method"],
        "client_secret_post"
    );
}

/// The `default` provider takes and returns Keycloak's representation; a body without
/// `protocol` or `publicClient` is a confidential client with a secret, as in Keycloak.
async fn default_provider_returns_keycloak_representations(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 2, &[]).await;
    let d = Provider::Default;
    let r = created(app,
        d,
        Some(&iat),
        json!({"clientId": "kc-style", "name": "KC", "redirectUris": [REDIRECT], "unknownMember": 1}),
    ).await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body["clientId"], "kc-style");
    assert_eq!(r.body["name"], "KC");
    assert!(r.body["registrationAccessToken"].as_str().unwrap().len() >= 43);
    assert_eq!(r.body["redirectUris"], json!([REDIRECT]));
    assert_eq!(r.body["protocol"], "openid-connect");
    assert!(r.body.get("unknownMember").is_none());
    let rat = d.rat(&r);
    let read = app.get(&d.client_path("acme", "kc-style"), &rat).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.body["clientId"], "kc-style");

    // Keycloak's default provider hands the caller's representation over as it is: without
    // `protocol` or `publicClient` the client is confidential, with a secret and no password
    // grant (reference/keycloak-admin-api.md; keycloak-dcr.md §1).
    assert_eq!(r.body["publicClient"], false, "{}", r.text);
    assert!(r.body["secret"].is_string(), "{}", r.text);
    assert_eq!(r.body["directAccessGrantsEnabled"], false, "{}", r.text);
    assert_eq!(read.body["secret"], r.body["secret"]);
}

/// `{"grant_types":["client_credentials"]}` registers a working machine client; deleting
/// it through the registration endpoint ends its secret and its issued tokens.
async fn registered_machine_clients_work_at_once(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 2, &[]).await;
    let p = Provider::Oidc;
    let r = created(
        app,
        p,
        Some(&iat),
        json!({"grant_types": ["client_credentials"]}),
    )
    .await;
    assert_eq!(r.body["response_types"], json!([]));
    assert_eq!(r.body["grant_types"], json!(["client_credentials"]));
    assert_eq!(r.body["redirect_uris"], json!([]));
    let id = p.client_id(&r);
    let secret = p.secret(&r).unwrap();
    let rat = p.rat(&r);

    let access = app.client_token("acme", &id, &secret).await;
    let claims = app.verify("acme", &access).await;
    assert_eq!(claims["azp"], id.as_str());

    let post = created(app,
        p,
        Some(&iat),
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"}),
    ).await;
    assert_eq!(
        post.body["token_endpoint_auth_method"],
        "client_secret_post"
    );
    let post_id = p.client_id(&post);
    let post_secret = p.secret(&post).unwrap();
    let t = app
        .client_credentials_post("acme", &post_id, &post_secret)
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let claims = app
        .verify("acme", t.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["azp"], post_id.as_str());

    // The admin API sees it as a service-account client.
    let kc = admin_client(app, &admin, &id).await;
    assert_eq!(kc["clientId"], id.as_str());
    assert_eq!(kc["serviceAccountsEnabled"], true);
    assert_eq!(kc["publicClient"], false);

    // Its service account gets manage-clients: its token works at the admin API…
    let uuid = kc["id"].as_str().unwrap();
    let sa = app.service_account_id(&admin, "acme", uuid).await;
    app.grant_realm_management(&admin, "acme", &sa, &["manage-clients"])
        .await;
    let access = app.client_token("acme", &id, &secret).await;
    assert_eq!(
        app.get("/admin/realms/acme/clients", &access).await.status,
        StatusCode::OK
    );

    // …until the client is deleted through the registration endpoint.
    let r = app.delete(&p.client_path("acme", &id), &rat).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let t = app.client_credentials("acme", &id, &secret).await;
    assert_eq!(t.status, StatusCode::UNAUTHORIZED, "{}", t.text);
    assert_eq!(t.body["error"], "invalid_client");
    let r = app.get("/admin/realms/acme/clients", &access).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(admin_client(app, &admin, &id).await.is_null());
}

/// Registers a machine client asking for `scope`: the response, and the default and
/// optional scopes it was stored with (empty if it was refused).
async fn register_with_scope(
    app: &TestApp,
    admin: &str,
    iat: &str,
    scope: Option<&str>,
) -> (Resp, Vec<String>, Vec<String>) {
    let p = Provider::Oidc;
    let mut body = json!({"grant_types": ["client_credentials"]});
    if let Some(s) = scope {
        body["scope"] = json!(s);
    }
    let r = create(app, p, Some(iat), body).await;
    if r.status != StatusCode::CREATED {
        return (r, Vec::new(), Vec::new());
    }
    let client = admin_client(app, admin, &p.client_id(&r)).await;
    let names = |key: &str| -> Vec<String> {
        client[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let (defaults, optional) = (names("defaultClientScopes"), names("optionalClientScopes"));
    (r, defaults, optional)
}

/// Each registration sees the realm's scopes as they are now: the server keeps the scope
/// names it derived while the store's lists stay the same, so a new scope, a new optional
/// or default link and a removed one must each reach the next registration (the
/// allowed-client-scopes policy admits only the realm's default and optional scopes).
async fn registrations_follow_the_realms_scope_changes(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 20, &[]).await;
    let register = |scope| register_with_scope(app, &admin, &iat, scope);
    let has = |names: &[String]| names.iter().any(|s| s == "orders:read");
    let refused = |r: &Resp| {
        assert_error(r, StatusCode::FORBIDDEN, "insufficient_scope", None);
    };
    let linked = |r: Resp| assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let (r, defaults, _) = register(None).await;
    assert_created(Provider::Oidc, &r);
    assert!(!has(&defaults));
    refused(&register(Some("orders:read")).await.0);

    let scope_id = app
        .create_client_scope(
            &admin,
            "acme",
            json!({"name": "orders:read", "protocol": "openid-connect"}),
        )
        .await;
    // A scope of the realm but neither default nor optional: still not admitted.
    refused(&register(Some("orders:read")).await.0);

    let optional_link = format!("/admin/realms/acme/default-optional-client-scopes/{scope_id}");
    linked(app.put(&optional_link, &admin, json!({})).await);
    let (r, defaults, optional) = register(Some("orders:read")).await;
    assert_created(Provider::Oidc, &r);
    assert!(
        has(&optional) && !has(&defaults),
        "{optional:?} {defaults:?}"
    );
    let (_, defaults, optional) = register(None).await;
    assert!(
        has(&optional) && !has(&defaults),
        "realm optional: {optional:?}"
    );

    linked(app.delete(&optional_link, &admin).await);
    let default_link = format!("/admin/realms/acme/default-default-client-scopes/{scope_id}");
    linked(app.put(&default_link, &admin, json!({})).await);
    let (_, defaults, optional) = register(None).await;
    assert!(
        has(&defaults) && !has(&optional),
        "realm default: {defaults:?}"
    );

    linked(app.delete(&default_link, &admin).await);
    let (r, defaults, optional) = register(None).await;
    assert_created(Provider::Oidc, &r);
    assert!(
        !has(&defaults) && !has(&optional),
        "{defaults:?} {optional:?}"
    );
    refused(&register(Some("orders:read")).await.0);
}

crate::on_both_backends!(
    create_returns_the_full_registered_metadata,
    default_provider_returns_keycloak_representations,
    registered_machine_clients_work_at_once,
    registrations_follow_the_realms_scope_changes,
);
