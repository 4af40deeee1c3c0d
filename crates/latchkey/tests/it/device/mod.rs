//! The device authorization grant (RFC 8628) through the router, both backends: the whole
//! flow over the HTML forms and the polls (`flow.rs`), each error of the device and token
//! endpoints and the user code page's guessing limit (`errors.rs`), registration with the
//! grant (`registration.rs`) and clients known by their metadata document (`cimd.rs`).

mod cimd;
mod errors;
mod flow;
mod registration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::browser::Browser;
use crate::support::{Resp, TestApp, user};

const REALM: &str = "dev";
const DEVICE: &str = "/realms/dev/protocol/openid-connect/auth/device";
const TOKEN: &str = "/realms/dev/protocol/openid-connect/token";
const VERIFY: &str = "/realms/dev/device";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const ENABLED: &str = "oauth2.device.authorization.grant.enabled";
const ALICE: [(&str, &str); 2] = [("username", "alice"), ("password", "alice-pass")];

/// Realm `dev` with user alice; returns the admin's token.
async fn realm(app: &TestApp) -> String {
    let admin = app.admin_with_realm(REALM).await;
    app.create_user(&admin, REALM, user("alice", "alice-pass"))
        .await;
    admin
}

/// A public client `client_id` with the device grant and these extra attributes.
async fn device_client(app: &TestApp, admin: &str, client_id: &str, attrs: &[(&str, &str)]) {
    let mut attributes = json!({ ENABLED: "true" });
    for (k, v) in attrs {
        attributes[*k] = json!(v);
    }
    app.create_client(
        admin,
        REALM,
        json!({"clientId": client_id, "publicClient": true, "standardFlowEnabled": false,
            "attributes": attributes}),
    )
    .await;
}

/// A device authorization request of the public client `client_id` with `extra` pairs.
async fn authorize(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> Resp {
    let mut pairs = vec![("client_id", client_id)];
    pairs.extend_from_slice(extra);
    app.form(DEVICE, &pairs, None).await
}

/// A successful device authorization's `(device_code, user_code)`.
fn codes(r: &Resp) -> (String, String) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (
        r.body["device_code"].as_str().unwrap().to_string(),
        r.body["user_code"].as_str().unwrap().to_string(),
    )
}

/// One poll of the public client `client_id` with `device_code`.
async fn poll(app: &TestApp, client_id: &str, device_code: &str) -> Resp {
    app.form(
        TOKEN,
        &[
            ("grant_type", GRANT),
            ("client_id", client_id),
            ("device_code", device_code),
        ],
        None,
    )
    .await
}

/// The user at the verification page: types `typed`, signs in as alice, and answers the
/// consent page with `consent` (`accept` or `deny`); returns the last page.
async fn answer(app: &TestApp, b: &mut Browser, typed: &str, consent: &str) -> Resp {
    let page = b.get(app, VERIFY).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("name=\"user_code\""), "{}", page.text);
    let login = b.post(app, VERIFY, &[("user_code", typed)], None).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert!(login.text.contains("name=\"password\""), "{}", login.text);
    let consent_page = b.submit(app, &login, &ALICE).await;
    assert_eq!(consent_page.status, StatusCode::OK, "{}", consent_page.text);
    assert!(
        consent_page.text.contains("a device"),
        "{}",
        consent_page.text
    );
    b.submit(app, &consent_page, &[("consent", consent)]).await
}

/// The error code of a refused poll or request (400 unless `status` says otherwise).
fn error_of(r: &Resp) -> &str {
    r.body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.text))
}

/// The claims of the access token in a successful token response, verified through the
/// realm's JWKS.
async fn access_claims(app: &TestApp, r: &Resp) -> Value {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.verify(REALM, r.body["access_token"].as_str().unwrap())
        .await
}
