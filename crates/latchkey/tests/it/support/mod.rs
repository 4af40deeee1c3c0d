//! Test harness: a store on a fresh SQLite file or a fresh PostgreSQL schema, the router
//! in process, request helpers and the assertions on error bodies every surface shares;
//! fixtures made through the admin API in `fixtures.rs`, a browser for the HTML pages in
//! `browser.rs`.

pub mod browser;
mod fixtures;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine;
pub use fixtures::{POLICY_TYPE, user};
use latchkey_core::crypto::SecretBox;
use latchkey_core::realm_setup::BootstrapAdmin;
use latchkey_core::store::Store;
use latchkey_server::bootstrap::bootstrap_master;
use latchkey_server::{AppState, Limits, ServerSettings};
pub use latchkey_store::Backend;
use latchkey_store::SqlStore;
pub use latchkey_store::testing::{TestDb, pg_url};
use serde_json::Value;
use tower::ServiceExt;

/// The peer address in-process requests come from.
pub const TEST_PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password";

pub async fn store(backend: Backend) -> Option<(Arc<SqlStore>, TestDb)> {
    let db = TestDb::new(backend).await?;
    let store = SqlStore::connect(&db.url).await.expect("connect store");
    Some((Arc::new(store), db))
}

/// The application in process, with a bootstrapped master realm and admin.
pub struct TestApp {
    pub router: Router,
    /// The router's state, for what runs beside the requests (the sweeps).
    pub state: Arc<AppState>,
    pub store: Arc<SqlStore>,
    pub db: TestDb,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The last path segment of `Location`.
    pub fn location_id(&self) -> String {
        self.header("location")
            .and_then(|l| l.rsplit('/').next())
            .expect("Location header")
            .to_string()
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> Option<TestApp> {
        Self::with_relative_path(backend, "").await
    }

    pub async fn with_relative_path(backend: Backend, relative_path: &str) -> Option<TestApp> {
        Self::with_settings(backend, relative_path, true).await
    }

    /// `dev_mode: false` serves as `latchkey start` would (Secure cookies, strict URIs).
    pub async fn with_settings(
        backend: Backend,
        relative_path: &str,
        dev_mode: bool,
    ) -> Option<TestApp> {
        Self::with_limits(backend, relative_path, dev_mode, Limits::off()).await
    }

    /// As `with_settings`, with the given abuse limits (off everywhere else).
    pub async fn with_limits(
        backend: Backend,
        relative_path: &str,
        dev_mode: bool,
        limits: Limits,
    ) -> Option<TestApp> {
        Self::with_server_settings(backend, |s| {
            s.relative_path = relative_path.into();
            s.dev_mode = dev_mode;
            s.limits = limits;
        })
        .await
    }

    /// A server whose settings `adjust` changes from the test default (dev mode, no relative
    /// path, no proxy, limits off).
    pub async fn with_server_settings(
        backend: Backend,
        adjust: impl FnOnce(&mut ServerSettings),
    ) -> Option<TestApp> {
        Self::with_state(backend, adjust, |_| {}).await
    }

    /// As `with_server_settings`, then `adjust_state` changes the state before the router
    /// takes it (another outbound fetcher, say).
    pub async fn with_state(
        backend: Backend,
        adjust: impl FnOnce(&mut ServerSettings),
        adjust_state: impl FnOnce(&mut AppState),
    ) -> Option<TestApp> {
        let (store, db) = store(backend).await?;
        let sealer = Arc::new(SecretBox::new(&[9u8; 32]).expect("key"));
        bootstrap_master(
            store.as_ref(),
            sealer.clone(),
            Some(BootstrapAdmin {
                username: ADMIN.into(),
                password: ADMIN_PASSWORD.into(),
            }),
        )
        .await
        .expect("bootstrap");
        let mut settings = ServerSettings {
            hostname: None,
            relative_path: String::new(),
            proxy_headers: None,
            proxy_trusted: Default::default(),
            dev_mode: true,
            max_body_size: latchkey_server::DEFAULT_BODY_LIMIT,
            limits: Limits::off(),
        };
        adjust(&mut settings);
        let dyn_store: Arc<dyn Store> = store.clone();
        let mut state = AppState::new(dyn_store, sealer, settings);
        adjust_state(&mut state);
        let state = Arc::new(state);
        Some(TestApp {
            router: latchkey_server::router(state.clone()),
            state,
            store,
            db,
        })
    }

    /// Sends a request in process (see [`send_to`]).
    pub async fn send(&self, req: Request<Body>) -> Resp {
        send_to(self.router.clone(), req).await
    }

    /// A JSON request (`body` `None`: no body) with an optional bearer token.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.send(json_request(method, path, token, body)).await
    }

    /// A GET without a token (discovery, JWKS, the pages and endpoints anyone may ask).
    pub async fn get_public(&self, path: &str) -> Resp {
        self.json(Method::GET, path, None, None).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.json(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.json(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.json(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.json(Method::DELETE, path, Some(token), None).await
    }

    /// A form POST (the token endpoint), optionally with HTTP Basic client credentials.
    pub async fn form(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Resp {
        self.send(form_request(path, pairs, basic)).await
    }

    /// Sends every request at once, each from a task of its own; the answers in order.
    pub async fn send_all(&self, requests: Vec<Request<Body>>) -> Vec<Resp> {
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|req| tokio::spawn(send_to(self.router.clone(), req)))
            .collect();
        let mut answers = Vec::with_capacity(tasks.len());
        for task in tasks {
            answers.push(task.await.expect("request task"));
        }
        answers
    }

    /// A token of the master admin (password grant on `admin-cli`).
    pub async fn admin_token(&self) -> String {
        self.password_token("master", "admin-cli", ADMIN, ADMIN_PASSWORD)
            .await
    }

    /// A password grant at `realm`'s token endpoint through the public client `client`.
    pub async fn password_grant(
        &self,
        realm: &str,
        client: &str,
        user: &str,
        password: &str,
    ) -> Resp {
        self.form(
            &format!("/realms/{realm}/protocol/openid-connect/token"),
            &[
                ("grant_type", "password"),
                ("client_id", client),
                ("username", user),
                ("password", password),
            ],
            None,
        )
        .await
    }

    /// The access token of a password grant (see [`TestApp::password_grant`]).
    pub async fn password_token(
        &self,
        realm: &str,
        client: &str,
        user: &str,
        password: &str,
    ) -> String {
        let r = self.password_grant(realm, client, user, password).await;
        assert_eq!(r.status, StatusCode::OK, "password grant: {}", r.text);
        r.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// Creates an enabled realm; returns nothing, panics on failure.
    pub async fn create_realm(&self, token: &str, name: &str) {
        let r = self
            .post(
                "/admin/realms",
                token,
                serde_json::json!({"realm": name, "enabled": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create realm: {}", r.text);
    }

    /// Creates a confidential service-account client; returns (uuid, secret).
    pub async fn create_service_client(
        &self,
        token: &str,
        realm: &str,
        client_id: &str,
    ) -> (String, String) {
        let id = self
            .create_client(
                token,
                realm,
                serde_json::json!({"clientId": client_id, "serviceAccountsEnabled": true, "publicClient": false}),
            )
            .await;
        let secret = self.client_secret(token, realm, &id).await;
        (id, secret)
    }

    pub async fn jwks(&self, realm: &str) -> Vec<Value> {
        let r = self
            .get_public(&format!("/realms/{realm}/protocol/openid-connect/certs"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        r.body["keys"].as_array().expect("keys").clone()
    }

    /// Verifies a JWT against the realm's published JWKS and returns its claims.
    pub async fn verify(&self, realm: &str, token: &str) -> Value {
        let jwks = self.jwks(realm).await;
        latchkey_core::jwt::parse(token)
            .expect("a JWT")
            .verify(&jwks)
            .expect("signature verifies against the realm's JWKS")
    }
}

/// A form POST (`TestApp::form`) to `localhost:8080`, optionally with HTTP Basic client
/// credentials.
pub fn form_request(
    path: &str,
    pairs: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Request<Body> {
    let body = serde_urlencoded_pairs(pairs);
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, "localhost:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        b = b.header(header::AUTHORIZATION, format!("Basic {v}"));
    }
    b.body(Body::from(body)).expect("request")
}

/// Sends a request to `router` in process (a clone of `TestApp::router`, for spawned
/// tasks). Unless the request says otherwise, the caller's address is `TEST_PEER` (what a
/// real connection would give the server).
pub async fn send_to(router: Router, mut req: Request<Body>) -> Resp {
    if req.extensions().get::<ConnectInfo<SocketAddr>>().is_none() {
        req.extensions_mut().insert(ConnectInfo(TEST_PEER));
    }
    let resp = router.oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).to_string();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        text,
    }
}

/// A JSON request (`body` `None`: no body) with an optional bearer token, addressed to
/// `localhost:8080`.
pub fn json_request(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost:8080");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    b.body(body).expect("request")
}

/// Asserts an OAuth error (RFC 6749 §5.2 and the surfaces that answer like it): the
/// status and the `error` code.
#[track_caller]
pub fn assert_oauth_error(r: &Resp, status: StatusCode, error: &str) {
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (status, Some(error)),
        "{}",
        r.text
    );
}

/// Asserts an admin API error: the status and the whole body (Keycloak's `error` or
/// `errorMessage` shapes).
#[track_caller]
pub fn assert_error_body(r: &Resp, status: StatusCode, body: Value) {
    assert_eq!((r.status, &r.body), (status, &body), "{}", r.text);
}

/// Asserts a Keycloak `errorMessage` answer: the status and the message.
#[track_caller]
pub fn assert_error_message(r: &Resp, status: StatusCode, message: &str) {
    assert_eq!(
        (r.status, r.body["errorMessage"].as_str()),
        (status, Some(message)),
        "{}",
        r.text
    );
}

/// Serves `router` on a loopback port of its own (a document the server fetches); returns
/// its address.
pub async fn serve_locally(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// Seconds since the Unix epoch, as the server's `iat`, `exp` and `*_issued_at` count them.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// The string members `key` of a JSON array's objects, in order (names, ids, …).
pub fn strings<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .expect("an array")
        .iter()
        .filter_map(|v| v[key].as_str())
        .collect()
}

pub fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Declares a scenario test for each backend: `<name>_sqlite` and `<name>_postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        pub mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::support::TestApp::new($crate::support::Backend::Sqlite).await {
                        super::$name(&app).await;
                    }
                }
            )*
        }
        pub mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::support::TestApp::new($crate::support::Backend::Postgres).await {
                        super::$name(&app).await;
                    }
                }
            )*
        }
    };
}

/// The `remainingCount` of initial access token `id` in the admin API's list of them.
pub fn remaining_count(list: &[Value], id: &str) -> Option<i64> {
    list.iter()
        .find(|t| t["id"] == id)
        .map(|t| t["remainingCount"].as_i64().expect("remainingCount"))
}
