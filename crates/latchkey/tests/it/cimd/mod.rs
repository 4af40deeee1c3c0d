//! Client ID Metadata Documents: clients whose `client_id` is the URL of their metadata,
//! served by a real loopback HTTP server the test starts (`Documents`), which counts the
//! requests for each path. In-process apps run in dev mode, where the fetcher may reach
//! loopback over http.

mod cache;
mod flow;
mod rules;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::support::browser::{Browser, challenge, unescape};
use crate::support::{Resp, TestApp, serde_urlencoded_pairs, serve_locally, user};

pub const REALM: &str = "acme";
pub const VERIFIER: &str = "cimd-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
pub const REDIRECT: &str = "http://127.0.0.1/callback";

/// What the document server answers at one path.
#[derive(Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
    /// Milliseconds to wait before answering (so concurrent requests overlap).
    pub delay_ms: u64,
}

impl Answer {
    pub fn json(doc: &Value) -> Answer {
        Answer {
            status: StatusCode::OK,
            body: doc.to_string(),
            headers: vec![("content-type", "application/json".into())],
            delay_ms: 0,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Answer {
        self.headers.push((name, value.to_string()));
        self
    }
}

#[derive(Default)]
struct Served {
    answers: HashMap<String, Answer>,
    hits: HashMap<String, usize>,
}

/// A loopback HTTP server of metadata documents.
#[derive(Clone)]
pub struct Documents {
    pub base: String,
    served: Arc<Mutex<Served>>,
}

async fn answer(State(served): State<Arc<Mutex<Served>>>, uri: Uri) -> Response {
    let path = uri.path().to_string();
    let found = {
        let mut s = served.lock().unwrap();
        *s.hits.entry(path.clone()).or_default() += 1;
        s.answers.get(&path).cloned()
    };
    let Some(a) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if a.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(a.delay_ms)).await;
    }
    let mut headers = HeaderMap::new();
    for (k, v) in &a.headers {
        headers.insert(
            HeaderName::from_static(k),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    (a.status, headers, a.body).into_response()
}

impl Documents {
    pub async fn start() -> Documents {
        let served = Arc::new(Mutex::new(Served::default()));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(served.clone());
        let addr = serve_locally(app).await;
        Documents {
            base: format!("http://{addr}"),
            served,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn serve(&self, path: &str, answer: Answer) {
        self.served
            .lock()
            .unwrap()
            .answers
            .insert(path.to_string(), answer);
    }

    /// Serves a public client's document at `path` (its `client_id` is that URL), with
    /// `extra` members merged in; returns the URL.
    pub fn serve_client(&self, path: &str, extra: Value) -> String {
        let url = self.url(path);
        let mut doc =
            json!({"client_id": url, "client_name": "Test Tool", "redirect_uris": [REDIRECT]});
        for (k, v) in extra.as_object().unwrap() {
            doc[k] = v.clone();
        }
        self.serve(path, Answer::json(&doc));
        url
    }

    pub fn forget(&self, path: &str) {
        self.served.lock().unwrap().answers.remove(path);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.served
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// Realm `acme` with metadata documents on, the registration policies off unless
/// `policies`, the user alice, and `extra` realm attributes; returns the admin token.
pub async fn realm(app: &TestApp, policies: bool, extra: Value) -> String {
    let admin = app.admin_with_realm(REALM).await;
    let mut attrs = json!({
        "clientIdMetadataDocumentEnabled": "true",
        "clientRegistrationPoliciesEnabled": policies.to_string(),
    });
    for (k, v) in extra.as_object().unwrap() {
        attrs[k] = v.clone();
    }
    app.update_realm(&admin, REALM, json!({"attributes": attrs}))
        .await;
    app.create_user(&admin, REALM, user("alice", "alice-pass"))
        .await;
    admin
}

/// The authorization request of `client_id` with PKCE through `REDIRECT`.
pub fn auth_url(client_id: &str) -> String {
    auth_url_to(client_id, REDIRECT)
}

pub fn auth_url_to(client_id: &str, redirect: &str) -> String {
    format!(
        "/realms/{REALM}/protocol/openid-connect/auth?{}",
        serde_urlencoded_pairs(&[
            ("client_id", client_id),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", "openid"),
            ("state", "st-cimd"),
            ("code_challenge", &challenge(VERIFIER)),
            ("code_challenge_method", "S256"),
        ])
    )
}

/// The first page of an authorization request by `client_id` (a fresh browser).
pub async fn authorize(app: &TestApp, client_id: &str) -> Resp {
    Browser::default().get(app, &auth_url(client_id)).await
}

/// The error page's message, unescaped.
pub fn page_error(r: &Resp) -> String {
    unescape(
        r.text
            .split("role=\"alert\">")
            .nth(1)
            .and_then(|t| t.split("</p>").next())
            .unwrap_or(""),
    )
}

/// The realm's events of `kind`, newest first.
pub async fn events(app: &TestApp, admin: &str, kind: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/admin/realms/{REALM}/events?type={kind}"), admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

/// The realm's client `client_id` as the admin API lists it (`None`: not there).
pub async fn listed(app: &TestApp, admin: &str, client_id: &str) -> Option<Value> {
    let r = app
        .get(
            &format!(
                "/admin/realms/{REALM}/clients?clientId={}",
                serde_urlencoded_pairs(&[("x", client_id)]).trim_start_matches("x=")
            ),
            admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clientId"] == client_id)
        .cloned()
}
