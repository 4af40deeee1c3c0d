//! Dynamic client registration over HTTP (RFC 7591/7592, Keycloak's providers), one file
//! per concern: who may register and the realm switches (`access.rs`), initial and
//! registration access tokens (`tokens.rs`), RFC 7591/7592 responses (`responses.rs`) and
//! updates (`updates.rs`), validation (`validation.rs`), concurrency (`concurrency.rs`),
//! events (`events.rs`), CORS, `install` and discovery (`cors_and_install.rs`), real MCP
//! hosts' requests (`hosts.rs`). Both providers (`openid-connect` with RFC 7591 bodies,
//! `default` with Keycloak's representation) where the behaviour is shared.

mod access;
mod concurrency;
mod cors_and_install;
mod events;
mod hosts;
mod responses;
mod tokens;
mod updates;
mod validation;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use serde_json::{Value, json};

use crate::support::{Resp, TestApp, send_to};

const ANONYMOUS: &str = "clientRegistrationAnonymousEnabled";
const AUTHENTICATED: &str = "clientRegistrationAuthenticatedEnabled";
const POLICIES: &str = "clientRegistrationPoliciesEnabled";
const BASE: &str = "http://localhost:8080";
const REDIRECT: &str = "https://app.example/cb";
const IATS: &str = "/admin/realms/acme/clients-initial-access";

/// The two registration providers that create clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Oidc,
    Default,
}

impl Provider {
    const ALL: [Provider; 2] = [Provider::Oidc, Provider::Default];

    fn path(self, realm: &str) -> String {
        match self {
            Provider::Oidc => format!("/realms/{realm}/clients-registrations/openid-connect"),
            Provider::Default => format!("/realms/{realm}/clients-registrations/default"),
        }
    }

    fn client_path(self, realm: &str, client_id: &str) -> String {
        format!("{}/{client_id}", self.path(realm))
    }

    /// A minimal valid registration with a display name.
    fn body(self, name: &str) -> Value {
        match self {
            Provider::Oidc => json!({"client_name": name, "redirect_uris": [REDIRECT]}),
            Provider::Default => json!({"name": name, "redirectUris": [REDIRECT]}),
        }
    }

    /// An update renaming the client (RFC 7592 full replacement, Keycloak partial update).
    fn update_body(self, client_id: &str, name: &str) -> Value {
        match self {
            Provider::Oidc => {
                json!({"client_id": client_id, "client_name": name, "redirect_uris": [REDIRECT]})
            }
            Provider::Default => json!({"clientId": client_id, "name": name}),
        }
    }

    fn client_id(self, r: &Resp) -> String {
        let key = match self {
            Provider::Oidc => "client_id",
            Provider::Default => "clientId",
        };
        r.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in {}", r.text))
            .to_string()
    }

    fn name_key(self) -> &'static str {
        match self {
            Provider::Oidc => "client_name",
            Provider::Default => "name",
        }
    }

    fn name(self, r: &Resp) -> Value {
        r.body[self.name_key()].clone()
    }

    fn rat_key(self) -> &'static str {
        match self {
            Provider::Oidc => "registration_access_token",
            Provider::Default => "registrationAccessToken",
        }
    }

    fn rat(self, r: &Resp) -> String {
        r.body[self.rat_key()]
            .as_str()
            .unwrap_or_else(|| panic!("{} in {}", self.rat_key(), r.text))
            .to_string()
    }

    fn secret(self, r: &Resp) -> Option<String> {
        let key = match self {
            Provider::Oidc => "client_secret",
            Provider::Default => "secret",
        };
        r.body[key].as_str().map(str::to_string)
    }
}

/// Asserts a registration error: status, `error`, and an `error_description` containing
/// `description` (when given).
#[track_caller]
fn assert_error(r: &Resp, status: StatusCode, error: &str, description: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"], error, "{}", r.text);
    let got = r.body["error_description"]
        .as_str()
        .unwrap_or_else(|| panic!("error_description missing: {}", r.text));
    if let Some(want) = description {
        assert!(
            got.contains(want),
            "error_description {got:?} should contain {want:?}"
        );
    }
    if status == StatusCode::UNAUTHORIZED {
        let challenge = r.header("www-authenticate").unwrap_or("");
        assert!(
            challenge.starts_with("Bearer"),
            "401 without a Bearer challenge: {challenge:?}"
        );
    }
}

/// A request with arbitrary headers (always `Host: localhost:8080` and, with a body,
/// `Content-Length`, as a real client sends).
fn request(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost:8080");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let body = match body {
        Some(s) => {
            b = b.header(header::CONTENT_LENGTH, s.len());
            Body::from(s)
        }
        None => Body::empty(),
    };
    b.body(body).expect("request")
}

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Resp {
    app.send(request(method, path, headers, body)).await
}

/// A JSON request with an optional bearer token, on a router of its own (for tasks).
async fn send_on(
    router: Router,
    method: Method,
    path: String,
    token: Option<String>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let req = request(method, &path, &headers, body.map(|b| b.to_string()));
    let r = send_to(router, req).await;
    (r.status, r.body)
}

/// Sets one realm attribute (a registration switch) through the admin API.
async fn set_switch(app: &TestApp, admin: &str, realm: &str, name: &str, value: &str) {
    app.update_realm(admin, realm, json!({"attributes": {name: value}}))
        .await;
    let rep = app.get(&format!("/admin/realms/{realm}"), admin).await;
    assert_eq!(rep.body["attributes"][name], value);
}

/// An initial access token of `acme`: (id, token).
async fn new_iat(app: &TestApp, admin: &str, count: i64, origins: &[&str]) -> (String, String) {
    let r = app
        .post(
            IATS,
            admin,
            json!({"count": count, "expiration": 0, "webOrigins": origins}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["token"].as_str().unwrap().to_string(),
    )
}

/// The initial access tokens as the admin API lists them.
async fn list_iats(app: &TestApp, admin: &str) -> Vec<Value> {
    let r = app.get(IATS, admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

async fn remaining(app: &TestApp, admin: &str, id: &str) -> Option<i64> {
    crate::support::remaining_count(&list_iats(app, admin).await, id)
}

/// The admin API's view of a client of `acme`, by `clientId`.
async fn admin_client(app: &TestApp, admin: &str, client_id: &str) -> Value {
    app.find_client(admin, "acme", client_id).await
}

async fn count_clients(app: &TestApp, admin: &str) -> usize {
    app.count_clients(admin, "acme").await
}

/// On SQLite, asserts that none of `secrets` appears in the database files.
fn assert_not_stored(app: &TestApp, secrets: &[&str]) {
    let Some(path) = &app.db.sqlite_path else {
        return;
    };
    for suffix in ["", "-wal"] {
        let file = format!("{}{suffix}", path.display());
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} is stored in clear in {file}"
            );
        }
    }
}

async fn create(app: &TestApp, p: Provider, token: Option<&str>, body: Value) -> Resp {
    app.json(Method::POST, &p.path("acme"), token, Some(body))
        .await
}

#[track_caller]
fn assert_created(p: Provider, r: &Resp) {
    assert_eq!(r.status, StatusCode::CREATED, "{p:?}: {}", r.text);
    let id = p.client_id(r);
    assert_eq!(
        r.header("location"),
        Some(format!("{BASE}{}", p.client_path("acme", &id)).as_str())
    );
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// Registers `body` through `p` with `token`; asserts the 201 and its `Location`.
async fn created(app: &TestApp, p: Provider, token: Option<&str>, body: Value) -> Resp {
    let r = create(app, p, token, body).await;
    assert_created(p, &r);
    r
}

/// Asserts that both providers refuse to create a client with `token`, with `status`,
/// `error` and a description containing `description` (when given).
async fn assert_both_refuse(
    app: &TestApp,
    token: Option<&str>,
    status: StatusCode,
    error: &str,
    description: Option<&str>,
) {
    for p in Provider::ALL {
        let r = create(app, p, token, p.body("refused")).await;
        assert_error(&r, status, error, description);
    }
}

async fn events(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/admin/realms/acme/events{query}"), admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    r.body.as_array().unwrap().clone()
}
