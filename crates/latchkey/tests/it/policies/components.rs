//! The policies as components: Keycloak's default sets and provider metadata, the
//! components API, and the dry-run explainer.

use axum::http::StatusCode;
use serde_json::json;

use super::{add_policy, components};
use crate::support::{POLICY_TYPE, TestApp, assert_error_body, assert_oauth_error, strings};

async fn defaults_and_provider_metadata(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let all = components(app, &admin).await;
    let realm_id = app.get("/admin/realms/acme", &admin).await.body["id"].clone();
    let names = |sub: &str| -> Vec<String> {
        all.iter()
            .filter(|c| c["subType"] == sub)
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names("anonymous"),
        [
            "Trusted Hosts",
            "Consent Required",
            "Full Scope Disabled",
            "Max Clients Limit",
            "Allowed Protocol Mapper Types",
            "Allowed Client Scopes",
            "Allowed Registration Web Origins"
        ]
    );
    assert_eq!(
        names("authenticated"),
        [
            "Allowed Protocol Mapper Types",
            "Allowed Client Scopes",
            "Allowed Registration Web Origins"
        ]
    );
    assert!(
        all.iter()
            .all(|c| c["parentId"] == realm_id && c["providerType"] == POLICY_TYPE)
    );
    let max = all
        .iter()
        .find(|c| c["providerId"] == "max-clients")
        .unwrap();
    assert_eq!(max["config"]["max-clients"], json!(["200"]));

    let providers = app
        .get(
            "/admin/realms/acme/client-registration-policy/providers",
            &admin,
        )
        .await
        .body;
    let ids = strings(&providers, "id");
    assert_eq!(
        ids,
        [
            "trusted-hosts",
            "consent-required",
            "scope",
            "max-clients",
            "client-disabled",
            "allowed-protocol-mappers",
            "allowed-client-templates",
            "registration-web-origins",
            "client-secret-expiration",
            "unused-client-expiration"
        ]
    );
    let th = &providers[0];
    assert!(th["helpText"].is_string());
    let props = strings(&th["properties"], "name");
    assert_eq!(
        props,
        [
            "trusted-hosts",
            "host-sending-registration-request-must-match",
            "client-uris-must-match"
        ]
    );
    assert_eq!(th["properties"][1]["type"], "boolean");
    assert_eq!(th["properties"][1]["defaultValue"], "true");
}

async fn components_api_round_trip(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let id = add_policy(
        app,
        &admin,
        "max-clients",
        "authenticated",
        "Cap",
        json!({"max-clients": ["7"]}),
    )
    .await;
    let path = format!("/admin/realms/acme/components/{id}");
    let got = app.get(&path, &admin).await.body;
    assert_eq!(
        (
            got["name"].clone(),
            got["subType"].clone(),
            got["config"]["max-clients"].clone()
        ),
        (json!("Cap"), json!("authenticated"), json!(["7"]))
    );
    let filtered = app
        .get("/admin/realms/acme/components?name=Cap", &admin)
        .await
        .body;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(
        app.put(
            &path,
            &admin,
            json!({"name": "Cap 2", "config": {"max-clients": ["9"]}})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&path, &admin).await.body["config"]["max-clients"],
        json!(["9"])
    );
    let invalid = app
        .put(&path, &admin, json!({"config": {"max-clients": ["-1"]}}))
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert!(invalid.body["errorMessage"].is_string());
    assert_eq!(
        app.delete(&path, &admin).await.status,
        StatusCode::NO_CONTENT
    );
    let gone = app.get(&path, &admin).await;
    assert_error_body(
        &gone,
        StatusCode::NOT_FOUND,
        json!({"error": "Could not find component"}),
    );

    let both_off = app
        .post("/admin/realms/acme/components", &admin, json!({"name": "T", "providerId": "trusted-hosts", "providerType": POLICY_TYPE, "subType": "anonymous",
            "config": {"host-sending-registration-request-must-match": ["false"], "client-uris-must-match": ["false"]}}))
        .await;
    assert_eq!(both_off.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        both_off.body["errorMessage"],
        "At least one of hosts verification or client URIs validation must be enabled"
    );
    for bad in [
        json!({"providerId": "no-such", "providerType": POLICY_TYPE, "subType": "anonymous"}),
        json!({"providerId": "scope", "providerType": POLICY_TYPE, "subType": "everyone"}),
        json!({"providerId": "scope", "providerType": "org.keycloak.keys.KeyProvider", "subType": "anonymous"}),
    ] {
        assert_eq!(
            app.post("/admin/realms/acme/components", &admin, bad.clone())
                .await
                .status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

async fn the_explainer_shows_every_verdict(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let path = "/admin/realms/acme/client-registration-policy/evaluate";
    let r = app
        .post(path, &admin, json!({"auth": "anonymous", "sourceAddress": "203.0.113.9", "metadata": {"redirect_uris": ["https://app.example.com/cb"], "scope": "nope"}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["allowed"], false);
    let verdicts = r.body["policies"].as_array().unwrap();
    assert_eq!(verdicts.len(), 7, "the whole anonymous set");
    let th = verdicts
        .iter()
        .find(|v| v["name"] == "Trusted Hosts")
        .unwrap();
    assert_eq!(th["passed"], false);
    assert_eq!(
        th["message"],
        "Policy 'Trusted Hosts' rejected request to client-registration service. Details: Host not trusted."
    );
    let scopes = verdicts
        .iter()
        .find(|v| v["name"] == "Allowed Client Scopes")
        .unwrap();
    assert_eq!(scopes["passed"], false);
    assert_eq!(
        verdicts
            .iter()
            .find(|v| v["name"] == "Consent Required")
            .unwrap()["passed"],
        true
    );
    assert_eq!(r.body["client"]["consentRequired"], true);
    assert_eq!(r.body["maxClients"]["limit"], 200);
    let before = app.count_clients(&admin, "acme").await;
    let authed = app
        .post(
            path,
            &admin,
            json!({"auth": "authenticated", "metadata": {"grant_types": ["client_credentials"]}}),
        )
        .await;
    assert_eq!(authed.body["allowed"], true, "{}", authed.text);
    assert_eq!(
        app.count_clients(&admin, "acme").await,
        before,
        "nothing is created"
    );
    let invalid = app
        .post(
            path,
            &admin,
            json!({"metadata": {"redirect_uris": ["https://a.example/cb#frag"]}}),
        )
        .await;
    assert_oauth_error(&invalid, StatusCode::BAD_REQUEST, "invalid_redirect_uri");
}

crate::on_both_backends!(
    defaults_and_provider_metadata,
    components_api_round_trip,
    the_explainer_shows_every_verdict,
);
