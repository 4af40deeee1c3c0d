//! Document clients in use: the consent page (host, loopback warning), code + PKCE with a
//! public client, an RFC 7523 assertion from a `private_key_jwt` client, discovery's flag,
//! the admin API's view (listed, disabled, deleted), the switch off, the anonymous
//! policies (max-clients, trusted hosts' URI check without its address check), and URL
//! client ids refused everywhere else.

use axum::http::StatusCode;
use latchkey_core::keys::{self, Alg, SigningKey};
use serde_json::json;

use super::cache::sign_in_and_redeem;
use super::{
    Documents, REALM, REDIRECT, VERIFIER, auth_url, auth_url_to, authorize, events, listed,
    page_error, realm,
};
use crate::support::browser::{Browser, location, query};
use crate::support::{TestApp, unix_now};

const ISSUER: &str = "http://localhost:8080/realms/acme";

/// The consent page names the document's host and warns about a loopback-only client; a
/// full code + PKCE flow follows.
async fn a_public_client_signs_a_user_in(app: &TestApp) {
    realm(app, false, json!({})).await;
    let docs = Documents::start().await;
    let url = docs.serve_client("/tool.json", json!({"client_name": "<b>Tool</b>"}));
    let mut browser = Browser::default();
    let login = browser.get(app, &auth_url(&url)).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let consent = browser
        .submit(
            app,
            &login,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text);
    assert!(
        consent
            .text
            .contains("<strong class=\"host\">127.0.0.1</strong>"),
        "{}",
        consent.text
    );
    assert!(
        consent.text.contains("class=\"warning\""),
        "loopback warning"
    );
    assert!(
        consent.text.contains("&lt;b&gt;Tool&lt;/b&gt;"),
        "escaped name"
    );
    assert!(!consent.text.contains("<b>Tool</b>"));
    let done = browser
        .submit(app, &consent, &[("consent", "accept")])
        .await;
    let to = location(&done);
    let q = query(&to);
    assert_eq!(q["state"], "st-cimd");
    let token = app
        .form(
            &format!("/realms/{REALM}/protocol/openid-connect/token"),
            &[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &url),
            ],
            None,
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    let claims = app
        .verify(REALM, token.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["azp"], url.as_str());

    // A loopback redirect URI matches any port (RFC 8252 §7.3); another path does not.
    let any_port = Browser::default()
        .get(app, &auth_url_to(&url, "http://127.0.0.1:51234/callback"))
        .await;
    assert_eq!(any_port.status, StatusCode::OK, "{}", any_port.text);
    let other = Browser::default()
        .get(app, &auth_url_to(&url, "http://127.0.0.1/elsewhere"))
        .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);

    // A client with a web redirect URI gets no loopback warning.
    let web = docs.serve_client(
        "/web.json",
        json!({"redirect_uris": [REDIRECT, "https://tool.example/cb"]}),
    );
    let mut browser = Browser::default();
    let login = browser.get(app, &auth_url(&web)).await;
    let consent = browser
        .submit(
            app,
            &login,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    assert!(consent.text.contains("class=\"host\""), "{}", consent.text);
    assert!(!consent.text.contains("class=\"warning\""));
}

/// A `private_key_jwt` document client redeems its code with an RFC 7523 assertion signed
/// by a key of its document's `jwks`; its `client_id` alone is not enough.
async fn a_private_key_jwt_client_authenticates_with_an_assertion(app: &TestApp) {
    realm(app, false, json!({})).await;
    let docs = Documents::start().await;
    let generated = keys::generate(Alg::Es256).unwrap();
    let key = SigningKey::from_pkcs8(generated.kid.clone(), Alg::Es256, &generated.pkcs8).unwrap();
    let url = docs.serve_client(
        "/signed.json",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [generated.public_jwk]}}),
    );
    let mut browser = Browser::default();
    let login = browser.get(app, &auth_url(&url)).await;
    let consent = browser
        .submit(
            app,
            &login,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    let done = browser
        .submit(app, &consent, &[("consent", "accept")])
        .await;
    let code = query(&location(&done))["code"].clone();
    let redeem = async |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        pairs.extend_from_slice(extra);
        app.form(
            &format!("/realms/{REALM}/protocol/openid-connect/token"),
            &pairs,
            None,
        )
        .await
    };
    let bare = redeem(&[("client_id", &url)]).await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED, "{}", bare.text);
    assert_eq!(bare.body["error"], "invalid_client");
    let now = unix_now();
    let claims = json!({"iss": url, "sub": url, "aud": ISSUER, "exp": now + 60, "iat": now, "jti": "cimd-1"});
    let assertion = latchkey_core::jwt::sign(&key, &claims).unwrap();
    let ok = redeem(&[
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", &assertion),
    ])
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);

    // The same with the keys behind the document's jwks_uri.
    docs.serve(
        "/keys.json",
        super::Answer::json(&json!({"keys": [generated.public_jwk]})),
    );
    let by_uri = docs.serve_client(
        "/by-uri.json",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": docs.url("/keys.json")}),
    );
    let mut browser = Browser::default();
    let login = browser.get(app, &auth_url(&by_uri)).await;
    let consent = browser
        .submit(
            app,
            &login,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    let done = browser
        .submit(app, &consent, &[("consent", "accept")])
        .await;
    let code = query(&location(&done))["code"].clone();
    let claims = json!({"iss": by_uri, "sub": by_uri, "aud": ISSUER, "exp": now + 60, "iat": now, "jti": "cimd-2"});
    let assertion = latchkey_core::jwt::sign(&key, &claims).unwrap();
    let ok = app
        .form(
            &format!("/realms/{REALM}/protocol/openid-connect/token"),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ],
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(docs.hits("/keys.json"), 1);
}

/// Discovery advertises the flag (both documents) only while the switch is on; with the
/// switch off an https client id is an unknown client, nothing is fetched.
async fn the_switch_governs_discovery_and_lookup(app: &TestApp) {
    let admin = app.admin_with_realm(REALM).await;
    let realm_attrs = app.get(&format!("/admin/realms/{REALM}"), &admin).await;
    assert_eq!(
        realm_attrs.body["attributes"]["clientIdMetadataDocumentEnabled"], "false",
        "shown in a new realm"
    );
    let paths = [
        format!("/realms/{REALM}/.well-known/openid-configuration"),
        format!("/.well-known/oauth-authorization-server/realms/{REALM}"),
    ];
    for p in &paths {
        let d = app.get_public(p).await;
        assert_eq!(d.status, StatusCode::OK);
        assert!(
            d.body
                .get("client_id_metadata_document_supported")
                .is_none()
        );
    }
    for bad in [
        json!({"clientIdMetadataDocumentEnabled": "yes"}),
        json!({"clientIdMetadataDocumentCacheMinSeconds": "600", "clientIdMetadataDocumentCacheMaxSeconds": "60"}),
        json!({"clientIdMetadataDocumentTrustedDomains": "https://tools.example"}),
        json!({"clientIdMetadataDocumentMaxBytes": "1000000"}),
    ] {
        let r = app
            .put(
                &format!("/admin/realms/{REALM}"),
                &admin,
                json!({"attributes": bad}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert!(r.text.contains("clientIdMetadataDocument"), "{}", r.text);
    }
    let docs = Documents::start().await;
    let url = docs.serve_client("/client.json", json!({}));
    let off = authorize(app, &url).await;
    assert_eq!(off.status, StatusCode::BAD_REQUEST);
    assert_eq!(page_error(&off), "Client not found.");
    assert_eq!(docs.hits("/client.json"), 0);

    app.update_realm(
        &admin,
        REALM,
        json!({"attributes": {"clientIdMetadataDocumentEnabled": "true", "clientRegistrationPoliciesEnabled": "false"}}),
    )
    .await;
    for p in &paths {
        let d = app.get_public(p).await;
        assert_eq!(d.body["client_id_metadata_document_supported"], true, "{p}");
    }
    assert_eq!(authorize(app, &url).await.status, StatusCode::OK);

    // Off again: the stored document client is unknown too.
    app.update_realm(
        &admin,
        REALM,
        json!({"attributes": {"clientIdMetadataDocumentEnabled": "false"}}),
    )
    .await;
    assert_eq!(page_error(&authorize(app, &url).await), "Client not found.");
}

/// The admin API lists a document client with its registration auth; a disabled one is
/// refused; a deleted one is registered again on its next use.
async fn admins_see_disable_and_delete_document_clients(app: &TestApp) {
    let admin = realm(app, false, json!({})).await;
    let docs = Documents::start().await;
    let url = docs.serve_client("/client.json", json!({}));
    assert_eq!(authorize(app, &url).await.status, StatusCode::OK);
    let client = listed(app, &admin, &url).await.expect("listed");
    assert_eq!(client["attributes"]["registration.auth"], "cimd");
    assert_eq!(client["publicClient"], true);
    assert_eq!(client["consentRequired"], true);
    let id = client["id"].as_str().unwrap().to_string();
    let path = format!("/admin/realms/{REALM}/clients/{id}");

    // Its document is its only source: no registration access token for it.
    let r = app
        .post(
            &format!("{path}/registration-access-token"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let r = app.put(&path, &admin, json!({"enabled": false})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(page_error(&authorize(app, &url).await), "Client not found.");

    let r = app.delete(&path, &admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(authorize(app, &url).await.status, StatusCode::OK);
    assert_eq!(
        docs.hits("/client.json"),
        2,
        "fetched again after the delete"
    );
    let again = listed(app, &admin, &url).await.expect("registered again");
    assert_ne!(again["id"], id.as_str());
    assert_eq!(again["enabled"], true);
    assert_eq!(events(app, &admin, "CLIENT_REGISTER").await.len(), 2);
}

/// The anonymous policy set applies: max-clients (named in the refusal and the event) and
/// trusted-hosts' check of the client's URIs, but not its check of the caller's address
/// (the browser's, here 127.0.0.1, which the list does not trust).
async fn the_anonymous_policies_apply(app: &TestApp) {
    let admin = realm(app, true, json!({})).await;
    app.configure_policy(
        &admin,
        REALM,
        "Trusted Hosts",
        "anonymous",
        json!({"trusted-hosts": ["tool.example"], "host-sending-registration-request-must-match": ["true"], "client-uris-must-match": ["true"]}),
    )
    .await;
    let docs = Documents::start().await;
    let trusted = docs.serve_client(
        "/trusted.json",
        json!({"redirect_uris": ["https://tool.example/cb"]}),
    );
    let page = Browser::default()
        .get(app, &auth_url_to(&trusted, "https://tool.example/cb"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);

    let untrusted = docs.serve_client("/untrusted.json", json!({}));
    let r = authorize(app, &untrusted).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        page_error(&r).contains("Policy 'Trusted Hosts' rejected"),
        "{}",
        r.text
    );

    let count = app.count_clients(&admin, REALM).await;
    app.configure_policy(
        &admin,
        REALM,
        "Max Clients Limit",
        "anonymous",
        json!({"max-clients": [count.to_string()]}),
    )
    .await;
    let over = docs.serve_client(
        "/over.json",
        json!({"redirect_uris": ["https://tool.example/cb"]}),
    );
    let r = Browser::default()
        .get(app, &auth_url_to(&over, "https://tool.example/cb"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(page_error(&r).contains("Max Clients Limit"), "{}", r.text);
    assert!(r.header("location").is_none());
    let errors = events(app, &admin, "CLIENT_REGISTER_ERROR").await;
    let policies: Vec<&str> = errors
        .iter()
        .filter_map(|e| e["details"]["policy"].as_str())
        .collect();
    assert!(policies.contains(&"Max Clients Limit"), "{errors:?}");
    assert!(policies.contains(&"Trusted Hosts"), "{errors:?}");
    assert_eq!(app.count_clients(&admin, REALM).await, count);
    // The stored one is still served.
    let page = Browser::default()
        .get(app, &auth_url_to(&trusted, "https://tool.example/cb"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
}

/// Only a document client may have a URL client id: the admin API and the Keycloak
/// registration provider refuse one, and registration never mints one.
async fn url_client_ids_are_reserved_to_document_clients(app: &TestApp) {
    let admin = realm(
        app,
        false,
        json!({"clientRegistrationAnonymousEnabled": "true"}),
    )
    .await;
    for id in ["https://app.example/c.json", "HTTP://app.example/c"] {
        let r = app
            .post(
                &format!("/admin/realms/{REALM}/clients"),
                &admin,
                json!({"clientId": id}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{id}: {}", r.text);
    }
    let r = app
        .json(
            axum::http::Method::POST,
            &format!("/realms/{REALM}/clients-registrations/default"),
            None,
            Some(json!({"clientId": "https://app.example/c.json"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .register(
            REALM,
            None,
            json!({"redirect_uris": ["https://app.example/cb"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.body["client_id"].as_str().unwrap().starts_with("http"));
    // An existing client cannot be renamed to a URL either.
    let client = listed(app, &admin, r.body["client_id"].as_str().unwrap())
        .await
        .unwrap();
    let renamed = app
        .put(
            &format!(
                "/admin/realms/{REALM}/clients/{}",
                client["id"].as_str().unwrap()
            ),
            &admin,
            json!({"clientId": "https://app.example/c.json"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::BAD_REQUEST, "{}", renamed.text);
}

/// A document client's access token works at userinfo (the public flow end to end).
async fn a_document_clients_token_is_an_ordinary_token(app: &TestApp) {
    realm(app, false, json!({})).await;
    let docs = Documents::start().await;
    let url = docs.serve_client("/client.json", json!({}));
    let access = sign_in_and_redeem(app, &url).await;
    let r = app
        .get(
            &format!("/realms/{REALM}/protocol/openid-connect/userinfo"),
            &access,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["preferred_username"], "alice");
}

crate::on_both_backends!(
    a_public_client_signs_a_user_in,
    a_private_key_jwt_client_authenticates_with_an_assertion,
    the_switch_governs_discovery_and_lookup,
    admins_see_disable_and_delete_document_clients,
    the_anonymous_policies_apply,
    url_client_ids_are_reserved_to_document_clients,
    a_document_clients_token_is_an_ordinary_token,
);
