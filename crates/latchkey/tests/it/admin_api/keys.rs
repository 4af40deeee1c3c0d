//! `GET /admin/realms/{realm}/keys`: Keycloak's `KeysMetadataRepresentation`, agreeing
//! with the JWKS and with the `kid` of the tokens the realm issues.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::support::TestApp;

/// The keys API lists every published key once, names the signing key per algorithm under
/// `active`, and gives each public key as DER SubjectPublicKeyInfo.
async fn keys_api_has_keycloaks_shape(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let r = app.get("/admin/realms/acme/keys", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let active = r.body["active"].as_object().expect("active");
    let keys = r.body["keys"].as_array().expect("keys");
    let jwks = app.jwks("acme").await;
    assert_eq!(keys.len(), jwks.len());
    assert_eq!(active.len(), 2, "{active:?}");
    for (alg, kty) in [("RS256", "RSA"), ("ES256", "EC")] {
        let kid = active[alg].as_str().expect("an active kid");
        let key = keys.iter().find(|k| k["kid"] == kid).expect("listed");
        assert_eq!(key["status"], "ACTIVE");
        assert_eq!(key["algorithm"], alg);
        assert_eq!(key["type"], kty);
        // Keycloak's providerId is the provider component's id, here the kid.
        assert_eq!(key["providerId"], kid);
        assert_eq!(key["providerPriority"], 100);
        assert_eq!(key["use"], "SIG");
        let der = STANDARD
            .decode(key["publicKey"].as_str().expect("publicKey"))
            .expect("base64");
        assert_eq!(der[0], 0x30, "a DER SEQUENCE");
        assert!(jwks.iter().any(|j| j["kid"] == kid), "{kid} in the JWKS");
    }
    let (_, secret) = app.create_service_client(&admin, "acme", "api").await;
    let token = app.client_token("acme", "api", &secret).await;
    let jwt = latchkey_core::jwt::parse(&token).expect("a JWT");
    assert_eq!(
        jwt.kid(),
        active["RS256"].as_str(),
        "tokens carry the active kid"
    );

    // Reading needs an admin token; the realm must exist.
    assert_eq!(
        app.get_public("/admin/realms/acme/keys").await.status,
        StatusCode::UNAUTHORIZED
    );
    let missing = app.get("/admin/realms/nope/keys", &admin).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.get("error").is_some_and(Value::is_string));
}

crate::on_both_backends!(keys_api_has_keycloaks_shape,);
