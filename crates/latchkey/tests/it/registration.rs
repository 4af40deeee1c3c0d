//! Dynamic client registration over HTTP (RFC 7591/7592, Keycloak's providers): who may
//! register, the realm switches,
//! initial and registration access tokens, RFC 7591/7592 responses and PUT semantics,
//! validation, concurrency, events, CORS, `install` and discovery. Both providers
//! (`openid-connect` with RFC 7591 bodies, `default` with Keycloak's representation) where
//! the behaviour is shared.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use latchkey_core::crypto::{hash_token, new_uuid, random_token};
use latchkey_core::store::{InitialAccessRecord, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{Backend, Resp, TestApp};

const ANONYMOUS: &str = "clientRegistrationAnonymousEnabled";
const AUTHENTICATED: &str = "clientRegistrationAuthenticatedEnabled";
const POLICIES: &str = "clientRegistrationPoliciesEnabled";
const BASE: &str = "http://localhost:8080";
const REDIRECT: &str = "https://app.example/cb";
const IATS: &str = "/admin/realms/acme/clients-initial-access";
const TOKEN: &str = "/realms/acme/protocol/openid-connect/token";

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
    let resp = router.oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Creates the realm `acme`; returns the master admin's token.
async fn setup(app: &TestApp) -> String {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    admin
}

/// Sets one realm attribute (a registration switch) through the admin API.
async fn set_switch(app: &TestApp, admin: &str, realm: &str, name: &str, value: &str) {
    let r = app
        .put(
            &format!("/admin/realms/{realm}"),
            admin,
            json!({"attributes": {name: value}}),
        )
        .await;
    assert!(
        r.status.is_success(),
        "realm update: {} {}",
        r.status,
        r.text
    );
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

/// The `realm-management` client's role representations, by name.
async fn rm_roles(app: &TestApp, admin: &str, realm: &str, names: &[&str]) -> (String, Vec<Value>) {
    let rm = app
        .get(
            &format!("/admin/realms/{realm}/clients?clientId=realm-management"),
            admin,
        )
        .await
        .body;
    let rm_id = rm[0]["id"].as_str().unwrap().to_string();
    let mut roles = Vec::new();
    for name in names {
        let r = app
            .get(
                &format!("/admin/realms/{realm}/clients/{rm_id}/roles/{name}"),
                admin,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        roles.push(r.body);
    }
    (rm_id, roles)
}

async fn map_rm_roles(app: &TestApp, admin: &str, realm: &str, user_id: &str, names: &[&str]) {
    if names.is_empty() {
        return;
    }
    let (rm_id, roles) = rm_roles(app, admin, realm, names).await;
    let r = app
        .post(
            &format!("/admin/realms/{realm}/users/{user_id}/role-mappings/clients/{rm_id}"),
            admin,
            json!(roles),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

/// A user of `realm` holding the named `realm-management` roles; returns its access token.
async fn user_token(
    app: &TestApp,
    admin: &str,
    realm: &str,
    username: &str,
    roles: &[&str],
) -> String {
    let r = app
        .post(
            &format!("/admin/realms/{realm}/users"),
            admin,
            json!({"username": username, "enabled": true,
                "credentials": [{"type": "password", "value": "pw", "temporary": false}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    map_rm_roles(app, admin, realm, &r.location_id(), roles).await;
    app.password_token(realm, "admin-cli", username, "pw").await
}

/// The service-account user id of a client (by uuid).
async fn service_account_id(app: &TestApp, admin: &str, uuid: &str) -> String {
    let r = app
        .get(
            &format!("/admin/realms/acme/clients/{uuid}/service-account-user"),
            admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

/// The admin API's view of a client, by `clientId`.
async fn admin_client(app: &TestApp, admin: &str, client_id: &str) -> Value {
    let r = app
        .get(
            &format!("/admin/realms/acme/clients?clientId={client_id}"),
            admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body[0].clone()
}

async fn count_clients(app: &TestApp, admin: &str) -> usize {
    let r = app.get("/admin/realms/acme/clients", admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body.as_array().unwrap().len()
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

// ---------------------------------------------------------------------------------------
// Who may register: nobody (anonymous, create only), an initial access token (create),
// a bearer token with the client roles, a registration access token (its own client)
// ---------------------------------------------------------------------------------------

/// Anonymous creation only while `clientRegistrationAnonymousEnabled` is on (off by default).
async fn anonymous_registration_follows_its_switch(app: &TestApp) {
    let admin = setup(app).await;
    let realm = app.get("/admin/realms/acme", &admin).await.body;
    assert_eq!(realm["attributes"][ANONYMOUS], "false");
    assert_eq!(realm["attributes"][AUTHENTICATED], "true");
    assert_eq!(realm["attributes"][POLICIES], "true");

    let before = count_clients(app, &admin).await;
    for p in Provider::ALL {
        let r = create(app, p, None, p.body("anon")).await;
        assert_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some(ANONYMOUS),
        );
    }
    assert_eq!(count_clients(app, &admin).await, before);

    set_switch(app, &admin, "acme", ANONYMOUS, "true").await;
    // Keycloak's default anonymous policies trust no host: the switch alone still leaves
    // anonymous registration refused, by the Trusted Hosts policy.
    for p in Provider::ALL {
        let r = create(app, p, None, p.body("anon")).await;
        assert_error(
            &r,
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            Some("Policy 'Trusted Hosts' rejected request to client-registration service."),
        );
    }
    assert_eq!(count_clients(app, &admin).await, before);
    set_switch(app, &admin, "acme", POLICIES, "false").await;
    for p in Provider::ALL {
        let r = create(app, p, None, p.body("anon")).await;
        assert_created(p, &r);
        let id = p.client_id(&r);
        // Anonymous callers may create, nothing else.
        let read = app
            .json(Method::GET, &p.client_path("acme", &id), None, None)
            .await;
        assert_error(
            &read,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Not authorized to view client"),
        );
        let del = app
            .json(Method::DELETE, &p.client_path("acme", &id), None, None)
            .await;
        assert_error(
            &del,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Not authorized to update client"),
        );
        // Its registration access token reads it.
        let rat = p.rat(&r);
        let read = app.get(&p.client_path("acme", &id), &rat).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    }
    assert_eq!(count_clients(app, &admin).await, before + 2);
}

/// Initial access tokens: created once with their token, listed without it, counted down,
/// refused when used up, unknown or deleted; negative values are Keycloak's 400s.
async fn initial_access_tokens_count_down_and_run_out(app: &TestApp) {
    let admin = setup(app).await;
    let r = app
        .post(
            IATS,
            &admin,
            json!({"count": 2, "expiration": 0, "webOrigins": ["https://app.example"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("{BASE}{IATS}/{id}").as_str())
    );
    let token = r.body["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 43, "a high-entropy token: {token}");
    assert_eq!(r.body["count"], 2);
    assert_eq!(r.body["remainingCount"], 2);
    assert_eq!(r.body["expiration"], 0);
    assert_eq!(r.body["webOrigins"], json!(["https://app.example"]));

    for (used, p) in Provider::ALL.into_iter().enumerate() {
        let c = create(app, p, Some(&token), p.body("via-iat")).await;
        assert_created(p, &c);
        let listed = list_iats(app, &admin).await;
        let me = listed
            .iter()
            .find(|t| t["id"] == id.as_str())
            .expect("listed");
        assert_eq!(me["remainingCount"], 2 - (used as i64 + 1));
        assert_eq!(me["count"], 2);
        assert!(
            me.get("token").is_none(),
            "the token is shown only once: {me}"
        );
    }
    for p in Provider::ALL {
        let r = create(app, p, Some(&token), p.body("one-too-many")).await;
        assert_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("No remaining count on initial access token"),
        );
    }
    // A used-up token stays listed with 0.
    assert_eq!(remaining(app, &admin, &id).await, Some(0));

    for p in Provider::ALL {
        let r = create(app, p, Some("not-a-real-initial-access-token"), p.body("x")).await;
        assert_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Initial Access Token not found"),
        );
    }

    // An initial access token belongs to its realm.
    app.create_realm(&admin, "other").await;
    let (_, fresh) = new_iat(app, &admin, 3, &[]).await;
    for p in Provider::ALL {
        let r = app
            .json(
                Method::POST,
                &p.path("other"),
                Some(&fresh),
                Some(p.body("elsewhere")),
            )
            .await;
        assert_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Initial Access Token not found"),
        );
    }

    // Deleted: gone from the list and refused.
    let (id2, token2) = new_iat(app, &admin, 5, &[]).await;
    let del = app.delete(&format!("{IATS}/{id2}"), &admin).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{}", del.text);
    assert_eq!(remaining(app, &admin, &id2).await, None);
    for p in Provider::ALL {
        let r = create(app, p, Some(&token2), p.body("after-delete")).await;
        assert_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Initial Access Token not found"),
        );
    }

    // A count of 0 is allowed and admits nobody.
    let (_, empty) = new_iat(app, &admin, 0, &[]).await;
    let r = create(
        app,
        Provider::Oidc,
        Some(&empty),
        Provider::Oidc.body("zero"),
    )
    .await;
    assert_error(
        &r,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        Some("No remaining count on initial access token"),
    );

    // Keycloak's defaults: no count means 1, no expiration means never.
    let r = app.post(IATS, &admin, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        (r.body["count"].clone(), r.body["expiration"].clone()),
        (json!(1), json!(0))
    );

    let bad = app.post(IATS, &admin, json!({"count": -1})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body,
        json!({"error": "Invalid value for count", "error_description": "The count cannot be less than 0"})
    );
    let bad = app.post(IATS, &admin, json!({"expiration": -1})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body,
        json!({"error": "Invalid value for expiration", "error_description": "The expiration time interval cannot be less than 0"})
    );
}

/// An initial access token past its expiration is refused and no longer listed (the token
/// is backdated in the store, so no test has to wait).
async fn expired_initial_access_token_is_refused(app: &TestApp) {
    let admin = setup(app).await;
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let token = random_token::<32>();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let record = InitialAccessRecord {
        id: new_uuid(),
        realm_id: realm.id.clone(),
        token_hash: hash_token(&token),
        created_at: now - 120,
        expiration: 60,
        count: 5,
        remaining: 5,
        web_origins: vec![],
    };
    app.store.create_initial_access(&record).await.unwrap();
    for p in Provider::ALL {
        let r = create(app, p, Some(&token), p.body("late")).await;
        assert_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Expired initial access token"),
        );
    }
    assert_eq!(remaining(app, &admin, &record.id).await, None);
}

/// The same in real time, through the admin API (SQLite only: it sleeps 2.1 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_access_token_expires_in_real_time_sqlite() {
    let Some(app) = TestApp::new(Backend::Sqlite).await else {
        return;
    };
    let admin = setup(&app).await;
    let r = app
        .post(IATS, &admin, json!({"count": 3, "expiration": 1}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = create(
        &app,
        Provider::Oidc,
        Some(&token),
        Provider::Oidc.body("late"),
    )
    .await;
    assert_error(
        &r,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        Some("Expired initial access token"),
    );
}

/// Bearer access tokens of the realm: `create-client` creates, `view-clients` reads,
/// `manage-clients` does everything; no role is 403; another realm's token is 401.
async fn bearer_tokens_need_realm_management_roles(app: &TestApp) {
    let admin = setup(app).await;
    app.create_realm(&admin, "other").await;
    let creator = user_token(app, &admin, "acme", "creator", &["create-client"]).await;
    let viewer = user_token(app, &admin, "acme", "viewer", &["view-clients"]).await;
    let manager = user_token(app, &admin, "acme", "manager", &["manage-clients"]).await;
    let nobody = user_token(app, &admin, "acme", "nobody", &[]).await;
    let foreign = user_token(app, &admin, "other", "foreign", &["manage-clients"]).await;
    // A service account holding only `create-client`, as the Keycloak guide recommends.
    let (ci_uuid, ci_secret) = app.create_service_client(&admin, "acme", "ci").await;
    let sa = service_account_id(app, &admin, &ci_uuid).await;
    map_rm_roles(app, &admin, "acme", &sa, &["create-client"]).await;
    let t = app
        .form(
            TOKEN,
            &[("grant_type", "client_credentials")],
            Some(("ci", &ci_secret)),
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let ci = t.body["access_token"].as_str().unwrap().to_string();

    for p in Provider::ALL {
        let c = create(app, p, Some(&creator), p.body("by-creator")).await;
        assert_created(p, &c);
        let id = p.client_id(&c);
        let rat = p.rat(&c);
        let path = p.client_path("acme", &id);
        assert_created(p, &create(app, p, Some(&ci), p.body("by-ci")).await);
        assert_created(
            p,
            &create(app, p, Some(&manager), p.body("by-manager")).await,
        );

        let r = create(app, p, Some(&nobody), p.body("x")).await;
        assert_error(
            &r,
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            Some("Forbidden"),
        );
        let r = create(app, p, Some(&viewer), p.body("x")).await;
        assert_error(&r, StatusCode::FORBIDDEN, "insufficient_scope", None);
        let r = create(app, p, Some(&foreign), p.body("x")).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);

        // create-client may create but not read.
        for (who, token) in [("creator", &creator), ("ci", &ci), ("nobody", &nobody)] {
            let r = app.get(&path, token).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} read: {}", r.text);
            assert_error(&r, StatusCode::FORBIDDEN, "insufficient_scope", None);
        }
        let r = app.get(&path, &foreign).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        let r = app.get(&path, &viewer).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(p.name(&r), "by-creator");
        assert_eq!(p.client_id(&r), id);
        assert_eq!(app.get(&path, &manager).await.status, StatusCode::OK);

        // Update and delete need manage-clients.
        for token in [&creator, &viewer, &nobody] {
            let r = app.put(&path, token, p.update_body(&id, "nope")).await;
            assert_error(&r, StatusCode::FORBIDDEN, "insufficient_scope", None);
            let r = app.delete(&path, token).await;
            assert_error(&r, StatusCode::FORBIDDEN, "insufficient_scope", None);
        }
        let r = app.put(&path, &foreign, p.update_body(&id, "nope")).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        let r = app
            .put(&path, &manager, p.update_body(&id, "renamed"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(p.name(&r), "renamed");
        // Every successful PUT rotates the registration access token.
        let new_rat = p.rat(&r);
        assert_ne!(new_rat, rat);
        assert_eq!(app.get(&path, &rat).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.get(&path, &new_rat).await.status, StatusCode::OK);
        assert_eq!(p.name(&app.get(&path, &viewer).await), "renamed");

        // A valid bearer token and an unknown client: 404.
        let missing = p.client_path("acme", "no-such-client");
        for token in [&viewer, &manager] {
            let r = app.get(&missing, token).await;
            assert_error(
                &r,
                StatusCode::NOT_FOUND,
                "invalid_request",
                Some("Client not found"),
            );
        }
        let r = app.delete(&missing, &manager).await;
        assert_error(&r, StatusCode::NOT_FOUND, "invalid_request", None);

        let r = app.delete(&path, &manager).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let r = app.get(&path, &viewer).await;
        assert_error(&r, StatusCode::NOT_FOUND, "invalid_request", None);
    }
}

/// With authenticated registration off, initial access and bearer tokens may not create,
/// but clients already registered keep their registration access tokens.
async fn authenticated_switch_off_blocks_creation_not_registration_tokens(app: &TestApp) {
    let admin = setup(app).await;
    let (iat_id, iat) = new_iat(app, &admin, 5, &[]).await;
    let creator = user_token(app, &admin, "acme", "creator", &["manage-clients"]).await;
    let mut registered = Vec::new();
    for p in Provider::ALL {
        let c = create(app, p, Some(&iat), p.body("before")).await;
        assert_created(p, &c);
        registered.push((p, p.client_id(&c), p.rat(&c)));
    }
    set_switch(app, &admin, "acme", AUTHENTICATED, "false").await;
    let before = count_clients(app, &admin).await;
    for p in Provider::ALL {
        for token in [&iat, &creator] {
            let r = create(app, p, Some(token), p.body("after")).await;
            assert_error(
                &r,
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                Some(AUTHENTICATED),
            );
        }
        // Anonymous registration is still governed by its own switch.
        let r = create(app, p, None, p.body("after")).await;
        assert_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some(ANONYMOUS),
        );
    }
    assert_eq!(count_clients(app, &admin).await, before);
    assert_eq!(
        remaining(app, &admin, &iat_id).await,
        Some(3),
        "refusals spend nothing"
    );

    for (p, id, rat) in registered {
        let path = p.client_path("acme", &id);
        let r = app.get(&path, &rat).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = app.put(&path, &rat, p.update_body(&id, "still-mine")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(p.name(&r), "still-mine");
        let rat = p.rat(&r);
        let r = app.delete(&path, &rat).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    }
    assert_eq!(count_clients(app, &admin).await, before - 2);
}

/// Registration access tokens: GET does not rotate, PUT does (the old one dies at once),
/// DELETE ends it; an initial access token cannot read.
async fn registration_access_tokens_read_rotate_and_die(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 5, &[]).await;
    let neighbour = create(
        app,
        Provider::Oidc,
        Some(&iat),
        Provider::Oidc.body("neighbour"),
    )
    .await;
    assert_created(Provider::Oidc, &neighbour);
    let neighbour_rat = Provider::Oidc.rat(&neighbour);
    // Initial and registration access tokens are stored only as hashes.
    assert_not_stored(app, &[&iat, &neighbour_rat]);
    for p in Provider::ALL {
        let c = create(app, p, Some(&iat), p.body("rat")).await;
        assert_created(p, &c);
        let id = p.client_id(&c);
        let rat = p.rat(&c);
        assert!(rat.len() >= 43, "high entropy: {rat}");
        let path = p.client_path("acme", &id);

        for _ in 0..2 {
            let r = app.get(&path, &rat).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert_eq!(p.client_id(&r), id);
            assert!(
                r.body.get(p.rat_key()).is_none(),
                "GET does not return a new token: {}",
                r.text
            );
            assert_eq!(r.header("cache-control"), Some("no-store"));
        }

        let r = app.get(&path, &iat).await;
        assert_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Not initial access token allowed"),
        );
        let r = app.get(&path, &neighbour_rat).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        let r = app
            .put(&path, &neighbour_rat, p.update_body(&id, "hijacked"))
            .await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        let r = app.get(&path, "some-opaque-garbage").await;
        assert_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Not authorized to view client"),
        );
        let r = app.json(Method::GET, &path, None, None).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);

        let u = app.put(&path, &rat, p.update_body(&id, "rotated")).await;
        assert_eq!(u.status, StatusCode::OK, "{}", u.text);
        let rat2 = p.rat(&u);
        assert!(rat2.len() >= 43 && rat2 != rat);
        assert_eq!(p.name(&u), "rotated");
        let r = app.get(&path, &rat).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        let r = app.put(&path, &rat, p.update_body(&id, "stale")).await;
        assert_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some("Not authorized to update client"),
        );
        let r = app.delete(&path, &rat).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        let r = app.get(&path, &rat2).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(p.name(&r), "rotated");

        // A registration access token and an unknown client: 401, nothing revealed.
        let r = app
            .get(&p.client_path("acme", "no-such-client"), &rat2)
            .await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);

        let r = app.delete(&path, &rat2).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let r = app.get(&path, &rat2).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        let r = app.delete(&path, &rat2).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        assert!(
            admin_client(app, &admin, &id).await.is_null(),
            "the client is gone"
        );
    }
}

/// An admin mints a new registration access token; the old one stops working.
async fn admin_mints_a_new_registration_access_token(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 1, &[]).await;
    let c = create(
        app,
        Provider::Oidc,
        Some(&iat),
        Provider::Oidc.body("minted"),
    )
    .await;
    assert_created(Provider::Oidc, &c);
    let id = Provider::Oidc.client_id(&c);
    let old = Provider::Oidc.rat(&c);
    let uuid = admin_client(app, &admin, &id).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/admin/realms/acme/clients/{uuid}/registration-access-token");
    let r = app.json(Method::POST, &path, Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["clientId"], id.as_str());
    let minted = r.body["registrationAccessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(minted.len() >= 43 && minted != old);

    for p in Provider::ALL {
        let path = p.client_path("acme", &id);
        let r = app.get(&path, &old).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", None);
        let r = app.get(&path, &minted).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(p.client_id(&r), id);
    }
    // Without the right, no token.
    let viewer = user_token(app, &admin, "acme", "viewer", &["view-clients"]).await;
    let r = app.json(Method::POST, &path, Some(&viewer), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

/// Create answers 201 with every registered and defaulted member, the server-managed
/// ones, and the stored fields; read returns the same.
async fn create_returns_the_full_registered_metadata(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 5, &[]).await;
    let p = Provider::Oidc;

    // Defaults.
    let r = create(app, p, Some(&iat), json!({"redirect_uris": [REDIRECT]})).await;
    assert_created(p, &r);
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
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
    let r = create(app, p, Some(&iat), body).await;
    assert_created(p, &r);
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
    let r = create(
        app,
        p,
        Some(&iat),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    assert_created(p, &r);
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
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 2, &[]).await;
    let d = Provider::Default;
    let r = create(
        app,
        d,
        Some(&iat),
        json!({"clientId": "kc-style", "name": "KC", "redirectUris": [REDIRECT], "unknownMember": 1}),
    )
    .await;
    assert_created(d, &r);
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

/// Keycloak's update through the `default` provider: members sent replace the stored
/// ones, `clientId` may not change (a sent `secret` is ignored: see
/// `registration_ignores_a_chosen_secret`), the token rotates, refusals change nothing.
async fn default_provider_updates_like_keycloak(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 1, &[]).await;
    let d = Provider::Default;
    let r = create(
        app,
        d,
        Some(&iat),
        json!({"clientId": "kc-app", "name": "A", "redirectUris": [REDIRECT]}),
    )
    .await;
    assert_created(d, &r);
    let path = d.client_path("acme", "kc-app");
    let rat = d.rat(&r);

    for (body, error) in [
        (json!({"clientId": "kc-other"}), "invalid_client_metadata"),
        (
            json!({"redirectUris": ["https://a.example/*"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirectUris": ["https://a.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
    ] {
        let u = app.put(&path, &rat, body.clone()).await;
        assert_error(&u, StatusCode::BAD_REQUEST, error, None);
    }
    let u = app.put(&path, &rat, json!({"clientId": "kc-other"})).await;
    assert_error(
        &u,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        Some("Client Identifier modified"),
    );
    let read = app.get(&path, &rat).await;
    assert_eq!(
        read.status,
        StatusCode::OK,
        "refusals keep the token: {}",
        read.text
    );
    assert_eq!(read.body["name"], "A");
    assert_eq!(read.body["redirectUris"], json!([REDIRECT]));

    let u = app.put(&path, &rat, json!({"name": "B"})).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["name"], "B");
    assert_eq!(u.body["redirectUris"], json!([REDIRECT]), "partial update");
    let rat2 = d.rat(&u);
    assert_ne!(rat2, rat);
    assert_eq!(app.get(&path, &rat).await.status, StatusCode::UNAUTHORIZED);
    let read = app.get(&path, &rat2).await;
    assert_eq!(read.body["name"], "B");
    assert!(read.body.get("registrationAccessToken").is_none());
    // The same client through the openid-connect provider, with the same token.
    let oidc = app
        .get(&Provider::Oidc.client_path("acme", "kc-app"), &rat2)
        .await;
    assert_eq!(oidc.status, StatusCode::OK, "{}", oidc.text);
    assert_eq!(oidc.body["client_id"], "kc-app");
    assert_eq!(oidc.body["client_name"], "B");
}

/// `{"grant_types":["client_credentials"]}` registers a working machine client; deleting
/// it through the registration endpoint ends its secret and its issued tokens.
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
    let admin = setup(app).await;
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

    let r = app
        .post(
            "/admin/realms/acme/client-scopes",
            &admin,
            json!({"name": "orders:read", "protocol": "openid-connect"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let scope_id = r.location_id();
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

async fn registered_machine_clients_work_at_once(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 2, &[]).await;
    let p = Provider::Oidc;
    let r = create(
        app,
        p,
        Some(&iat),
        json!({"grant_types": ["client_credentials"]}),
    )
    .await;
    assert_created(p, &r);
    assert_eq!(r.body["response_types"], json!([]));
    assert_eq!(r.body["grant_types"], json!(["client_credentials"]));
    assert_eq!(r.body["redirect_uris"], json!([]));
    let id = p.client_id(&r);
    let secret = p.secret(&r).unwrap();
    let rat = p.rat(&r);

    let t = app
        .form(
            TOKEN,
            &[("grant_type", "client_credentials")],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let claims = app
        .verify("acme", t.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["azp"], id.as_str());

    let post = create(
        app,
        p,
        Some(&iat),
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    assert_created(p, &post);
    assert_eq!(
        post.body["token_endpoint_auth_method"],
        "client_secret_post"
    );
    let post_id = p.client_id(&post);
    let post_secret = p.secret(&post).unwrap();
    let t = app
        .form(
            TOKEN,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &post_id),
                ("client_secret", &post_secret),
            ],
            None,
        )
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
    let sa = service_account_id(app, &admin, uuid).await;
    map_rm_roles(app, &admin, "acme", &sa, &["manage-clients"]).await;
    let t = app
        .form(
            TOKEN,
            &[("grant_type", "client_credentials")],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let access = t.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/admin/realms/acme/clients", &access).await.status,
        StatusCode::OK
    );

    // …until the client is deleted through the registration endpoint.
    let r = app.delete(&p.client_path("acme", &id), &rat).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let t = app
        .form(
            TOKEN,
            &[("grant_type", "client_credentials")],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(t.status, StatusCode::UNAUTHORIZED, "{}", t.text);
    assert_eq!(t.body["error"], "invalid_client");
    let r = app.get("/admin/realms/acme/clients", &access).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(admin_client(app, &admin, &id).await.is_null());
}

// ---------------------------------------------------------------------------------------
// PUT semantics (RFC 7592 §2.2)
// ---------------------------------------------------------------------------------------

async fn put_replaces_the_registration(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 1, &[]).await;
    let p = Provider::Oidc;
    let c = create(
        app,
        p,
        Some(&iat),
        json!({"redirect_uris": [REDIRECT], "client_name": "One",
            "logo_uri": "https://app.example/logo.png"}),
    )
    .await;
    assert_created(p, &c);
    let id = p.client_id(&c);
    let secret = p.secret(&c).unwrap();
    let issued = c.body["client_id_issued_at"].clone();
    let path = p.client_path("acme", &id);
    let mut rat = p.rat(&c);

    // No client_id: the client in the path. Omitted members fall back to defaults.
    let r = app
        .put(
            &path,
            &rat,
            json!({"redirect_uris": [REDIRECT], "client_name": "Two"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["client_id"], id.as_str());
    assert_eq!(r.body["client_name"], "Two");
    assert!(r.body.get("logo_uri").is_none(), "omitted: {}", r.text);
    assert_eq!(
        r.body["client_secret"],
        secret.as_str(),
        "the secret is kept"
    );
    assert_eq!(r.body["client_secret_expires_at"], 0);
    assert_eq!(r.body["client_id_issued_at"], issued);
    assert_eq!(r.body["registration_client_uri"], format!("{BASE}{path}"));
    assert_eq!(r.body["response_types"], json!(["code"]));
    rat = p.rat(&r);

    // Refusals leave the token and the client as they were.
    let refusals = [
        (
            json!({"client_id": "someone-else", "redirect_uris": [REDIRECT]}),
            "Client Identifier modified",
        ),
        (
            json!({"client_secret": "not-the-secret", "redirect_uris": [REDIRECT]}),
            "client_secret",
        ),
        (
            json!({"registration_client_uri": "https://evil.example/x", "redirect_uris": [REDIRECT]}),
            "registration_client_uri",
        ),
        (
            json!({"client_id_issued_at": 12345, "redirect_uris": [REDIRECT]}),
            "client_id_issued_at",
        ),
        (
            json!({"client_secret_expires_at": 99, "redirect_uris": [REDIRECT]}),
            "client_secret_expires_at",
        ),
        (
            json!({"registration_access_token": "forged", "redirect_uris": [REDIRECT]}),
            "registration_access_token",
        ),
    ];
    for (body, why) in refusals {
        let r = app.put(&path, &rat, body).await;
        assert_error(
            &r,
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            Some(why),
        );
    }
    let r = app
        .put(
            &path,
            &rat,
            json!({"redirect_uris": ["https://app.example/cb#frag"], "client_name": "Bad"}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_redirect_uri", None);
    let r = app
        .put(
            &path,
            &rat,
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_client_metadata", None);
    let current = app.get(&path, &rat).await;
    assert_eq!(
        current.status,
        StatusCode::OK,
        "the old token still works: {}",
        current.text
    );
    assert_eq!(current.body["client_name"], "Two");
    assert_eq!(current.body["redirect_uris"], json!([REDIRECT]));

    // Server-managed members repeated unchanged: the GET body, renamed, goes back.
    let mut body = current.body.clone();
    body["client_name"] = json!("Three");
    let r = app.put(&path, &rat, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["client_name"], "Three");
    rat = p.rat(&r);
    // …also with the current registration access token repeated.
    let mut body = r.body.clone();
    body["client_name"] = json!("Four");
    let r = app.put(&path, &rat, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    rat = p.rat(&r);

    // Without client_name the name is gone, on read too.
    let r = app
        .put(&path, &rat, json!({"redirect_uris": [REDIRECT]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body.get("client_name").is_none(), "{}", r.text);
    rat = p.rat(&r);
    let r = app.get(&path, &rat).await;
    assert!(r.body.get("client_name").is_none(), "{}", r.text);
    assert_eq!(r.body["client_id_issued_at"], issued);
    assert_eq!(admin_client(app, &admin, &id).await.get("name"), None);

    // Becoming a machine client works at once, with the same secret.
    let r = app
        .put(&path, &rat, json!({"grant_types": ["client_credentials"]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["grant_types"], json!(["client_credentials"]));
    assert_eq!(r.body["response_types"], json!([]));
    assert_eq!(r.body["client_secret"], secret.as_str());
    let t = app
        .form(
            TOKEN,
            &[("grant_type", "client_credentials")],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    assert_eq!(
        admin_client(app, &admin, &id).await["serviceAccountsEnabled"],
        true
    );
}

/// Two PUTs racing with one registration access token: exactly one wins.
async fn concurrent_puts_with_one_token_rotate_once(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 2, &[]).await;
    for p in Provider::ALL {
        let c = create(app, p, Some(&iat), p.body("race")).await;
        assert_created(p, &c);
        let id = p.client_id(&c);
        let rat = p.rat(&c);
        let path = p.client_path("acme", &id);
        let put = |name: &str| {
            tokio::spawn(send_on(
                app.router.clone(),
                Method::PUT,
                path.clone(),
                Some(rat.clone()),
                Some(p.update_body(&id, name)),
            ))
        };
        let (a, b) = tokio::join!(put("a"), put("b"));
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::UNAUTHORIZED],
            "{a:?} {b:?}"
        );
        let (winner, loser) = if a.0 == StatusCode::OK {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(loser.1["error"], "invalid_token");
        let new_rat = winner.1[p.rat_key()].as_str().unwrap().to_string();
        let r = app.get(&path, &new_rat).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(p.name(&r), winner.1[p.name_key()]);
        assert_eq!(app.get(&path, &rat).await.status, StatusCode::UNAUTHORIZED);
    }
}

// ---------------------------------------------------------------------------------------
// Validation over HTTP
// ---------------------------------------------------------------------------------------

/// Bad metadata, bodies and content types are refused with RFC 7591 errors and leave no
/// client behind.
async fn invalid_registrations_are_refused_and_leave_nothing(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 50, &[]).await;
    let auth = format!("Bearer {iat}");
    let before = count_clients(app, &admin).await;
    let post = |p: Provider, content_type: &'static str, body: String| {
        let auth = auth.clone();
        async move {
            raw(
                app,
                Method::POST,
                &p.path("acme"),
                &[
                    ("authorization", auth.as_str()),
                    ("content-type", content_type),
                ],
                Some(body),
            )
            .await
        }
    };
    let json_post = |p: Provider, body: Value| post(p, "application/json", body.to_string());

    let oidc = Provider::Oidc;
    let cases = [
        (
            json!({"redirect_uris": ["https://a.example/cb#frag"]}),
            "invalid_redirect_uri",
            "fragment",
        ),
        (
            json!({"redirect_uris": ["https://a.example/*"]}),
            "invalid_redirect_uri",
            "wildcard",
        ),
        (
            json!({"redirect_uris": ["/relative/cb"]}),
            "invalid_redirect_uri",
            "absolute",
        ),
        (
            json!({"redirect_uris": ["http://a.example/cb"]}),
            "invalid_redirect_uri",
            "https",
        ),
        (
            json!({"client_name": "no redirect"}),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
            "invalid_client_metadata",
            "token",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "client_id": "chosen"}),
            "invalid_client_metadata",
            "Client Identifier included",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "magic"}),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            json!({"redirect_uris": "https://a.example/cb"}),
            "invalid_client_metadata",
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "jwks": {"keys": []}, "jwks_uri": "https://a.example/jwks"}),
            "invalid_client_metadata",
            "jwks",
        ),
    ];
    for (body, error, why) in cases {
        let r = json_post(oidc, body.clone()).await;
        assert_error(&r, StatusCode::BAD_REQUEST, error, Some(why));
    }
    let d = Provider::Default;
    for (body, error) in [
        (
            json!({"redirectUris": ["https://a.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirectUris": ["https://a.example/*"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirectUris": "not-a-list"}),
            "invalid_client_metadata",
        ),
    ] {
        let r = json_post(d, body).await;
        assert_error(&r, StatusCode::BAD_REQUEST, error, None);
    }
    for p in Provider::ALL {
        let r = post(p, "application/json", "{not json".into()).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_client_metadata", None);
        let r = post(p, "text/plain", p.body("typed").to_string()).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_client_metadata", None);
        let huge = match p {
            Provider::Oidc => {
                json!({"redirect_uris": [REDIRECT], "client_name": "x".repeat(70_000)})
            }
            Provider::Default => json!({"redirectUris": [REDIRECT], "name": "x".repeat(70_000)}),
        };
        let r = json_post(p, huge).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{p:?}: {}", r.text);
    }
    assert_eq!(
        count_clients(app, &admin).await,
        before,
        "refusals leave nothing"
    );

    // Default provider: a duplicate clientId.
    let r = json_post(d, json!({"clientId": "dup", "redirectUris": [REDIRECT]})).await;
    assert_created(d, &r);
    let r = json_post(d, json!({"clientId": "dup", "redirectUris": [REDIRECT]})).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        Some("Client Identifier in use"),
    );
    assert_eq!(count_clients(app, &admin).await, before + 1);

    // A media type with parameters is still JSON.
    for p in Provider::ALL {
        let r = post(
            p,
            "application/json; charset=utf-8",
            p.body("charset").to_string(),
        )
        .await;
        assert_created(p, &r);
    }
    assert_eq!(count_clients(app, &admin).await, before + 3);
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

/// 50 parallel creates with one initial access token of count 10: exactly 10 succeed.
async fn initial_access_count_is_never_overdrawn(app: &TestApp) {
    let admin = setup(app).await;
    let (iat_id, iat) = new_iat(app, &admin, 10, &[]).await;
    let before = count_clients(app, &admin).await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            tokio::spawn(send_on(
                app.router.clone(),
                Method::POST,
                Provider::Oidc.path("acme"),
                Some(iat.clone()),
                Some(json!({"redirect_uris": [REDIRECT], "client_name": format!("racer-{i}")})),
            ))
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::UNAUTHORIZED => {
                assert_eq!(body["error"], "invalid_token", "{body}");
                assert_eq!(
                    body["error_description"],
                    "No remaining count on initial access token"
                );
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, refused), (10, 40));
    assert_eq!(count_clients(app, &admin).await, before + 10);
    assert_eq!(remaining(app, &admin, &iat_id).await, Some(0));
    // Each acknowledged registration has its event, stored with the client; each refusal
    // has its error event.
    let registered = events(app, &admin, "?type=CLIENT_REGISTER&max=1000").await;
    let racers = |evs: &[Value]| {
        evs.iter()
            .filter(|e| e["details"]["auth_method"] == "initial_access_token")
            .count()
    };
    assert_eq!(racers(&registered), 10);
    let refusals = events(app, &admin, "?type=CLIENT_REGISTER_ERROR&max=1000").await;
    assert_eq!(refusals.len(), 40);
}

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

async fn events(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/admin/realms/acme/events{query}"), admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    r.body.as_array().unwrap().clone()
}

fn types(events: &[Value]) -> Vec<String> {
    let mut t: Vec<String> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

/// Every registration operation, allowed or refused, is an event with Keycloak's filters.
async fn registration_operations_are_events(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 3, &[]).await;
    let p = Provider::Oidc;
    let c = create(app, p, Some(&iat), p.body("audited")).await;
    assert_created(p, &c);
    let id = p.client_id(&c);
    let path = p.client_path("acme", &id);
    let rat = p.rat(&c);
    assert_eq!(app.get(&path, &rat).await.status, StatusCode::OK);
    let u = app.put(&path, &rat, p.update_body(&id, "audited-2")).await;
    assert_eq!(u.status, StatusCode::OK);
    let rat = p.rat(&u);
    let bad = create(
        app,
        p,
        Some(&iat),
        json!({"redirect_uris": ["https://a.example/cb#x"]}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // A refused read of an existing registration (the rotated-out token).
    let refused = app.get(&path, p.rat(&c).as_str()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.delete(&path, &rat).await.status, StatusCode::NO_CONTENT);

    let all = events(app, &admin, "").await;
    let find = |kind: &str| -> Value {
        all.iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {all:?}"))
            .clone()
    };
    for (kind, auth) in [
        ("CLIENT_REGISTER", "initial_access_token"),
        ("CLIENT_INFO", "registration_access_token"),
        ("CLIENT_UPDATE", "registration_access_token"),
        ("CLIENT_DELETE", "registration_access_token"),
    ] {
        let e = find(kind);
        assert_eq!(e["clientId"], id.as_str(), "{e}");
        assert_eq!(e["details"]["auth_method"], auth, "{e}");
        assert!(e.get("error").is_none(), "{e}");
        assert!(e["time"].as_i64().unwrap() > 0);
        assert!(e["id"].is_string());
    }
    let e = find("CLIENT_REGISTER_ERROR");
    assert_eq!(e["error"], "invalid_redirect_uri", "{e}");
    assert_eq!(e["details"]["auth_method"], "initial_access_token", "{e}");
    let e = find("CLIENT_INFO_ERROR");
    assert_eq!(e["error"], "invalid_token", "{e}");
    assert_eq!(e["clientId"], id.as_str(), "the path's client id: {e}");

    // Filters.
    let only = events(app, &admin, "?type=CLIENT_UPDATE").await;
    assert_eq!(types(&only), ["CLIENT_UPDATE"]);
    let two = events(app, &admin, "?type=CLIENT_UPDATE&type=CLIENT_DELETE").await;
    assert_eq!(types(&two), ["CLIENT_DELETE", "CLIENT_UPDATE"]);
    let mine = events(app, &admin, &format!("?client={id}")).await;
    assert_eq!(
        types(&mine),
        [
            "CLIENT_DELETE",
            "CLIENT_INFO",
            "CLIENT_INFO_ERROR",
            "CLIENT_REGISTER",
            "CLIENT_UPDATE"
        ]
    );
    assert_eq!(events(app, &admin, "?max=1").await.len(), 1);
    assert_eq!(
        events(app, &admin, "?dateFrom=2000-01-01").await.len(),
        all.len()
    );
    assert!(events(app, &admin, "?dateFrom=2999-01-01").await.is_empty());
    let r = app
        .get("/admin/realms/acme/events?dateFrom=yesterday", &admin)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"error": "Invalid value for 'dateFrom', expected format is yyyy-MM-dd or an Epoch timestamp"})
    );
    // The master realm's events are its own.
    let master = app.get("/admin/realms/master/events", &admin).await;
    assert!(
        master
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["type"].as_str().unwrap().starts_with("CLIENT_REGISTER")),
        "{}",
        master.text
    );
}

// ---------------------------------------------------------------------------------------
// CORS, install, discovery
// ---------------------------------------------------------------------------------------

/// Preflights are answered for origins an initial access token allows, and only those.
async fn cors_allows_initial_access_token_origins(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 2, &["https://app.example"]).await;
    let path = Provider::Oidc.path("acme");
    let preflight = |origin: &'static str, path: String| async move {
        raw(
            app,
            Method::OPTIONS,
            &path,
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
            None,
        )
        .await
    };
    let ok = preflight("https://app.example", path.clone()).await;
    assert!(ok.status.is_success(), "{}", ok.status);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let methods = ok.header("access-control-allow-methods").unwrap_or("");
    for m in ["POST", "GET", "PUT", "DELETE"] {
        assert!(methods.contains(m), "{m} in {methods:?}");
    }
    let headers = ok
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("content-type"));

    let evil = preflight("https://evil.example", path.clone()).await;
    assert_eq!(evil.header("access-control-allow-origin"), None);

    // The actual request carries the header for the allowed origin only.
    let auth = format!("Bearer {iat}");
    let body = Provider::Oidc.body("from-browser").to_string();
    let r = raw(
        app,
        Method::POST,
        &path,
        &[
            ("origin", "https://app.example"),
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let id = Provider::Oidc.client_id(&r);
    let ok = preflight(
        "https://app.example",
        Provider::Oidc.client_path("acme", &id),
    )
    .await;
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let r = raw(
        app,
        Method::POST,
        &path,
        &[
            ("origin", "https://evil.example"),
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        Some(body),
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), None, "{}", r.text);
}

/// `install/{client_id}`: keycloak.json for the registration access token, the client's
/// own Basic credentials, or nobody for a public client.
async fn install_gives_the_adapter_config(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 2, &[]).await;
    let p = Provider::Oidc;
    let c = create(app, p, Some(&iat), p.body("adapter")).await;
    assert_created(p, &c);
    let id = p.client_id(&c);
    let secret = p.secret(&c).unwrap();
    let path = format!("/realms/acme/clients-registrations/install/{id}");

    let r = app.get(&path, p.rat(&c).as_str()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["realm"], "acme");
    assert_eq!(r.body["resource"], id.as_str());
    assert_eq!(r.body["credentials"]["secret"], secret.as_str());
    assert_eq!(r.body["auth-server-url"], "http://localhost:8080/");
    assert!(r.body.get("public-client").is_none());

    let with_basic = raw(
        app,
        Method::GET,
        &path,
        &[("authorization", basic(&id, &secret).as_str())],
        None,
    )
    .await;
    assert_eq!(with_basic.status, StatusCode::OK, "{}", with_basic.text);
    assert_eq!(with_basic.body, r.body);

    let wrong = raw(
        app,
        Method::GET,
        &path,
        &[("authorization", basic(&id, "wrong").as_str())],
        None,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    let nothing = app.json(Method::GET, &path, None, None).await;
    assert_error(&nothing, StatusCode::UNAUTHORIZED, "invalid_token", None);

    let public = create(
        app,
        p,
        Some(&iat),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_created(p, &public);
    assert!(
        public.body.get("client_secret").is_none(),
        "{}",
        public.text
    );
    assert_eq!(public.body["token_endpoint_auth_method"], "none");
    let pid = p.client_id(&public);
    let r = app
        .json(
            Method::GET,
            &format!("/realms/acme/clients-registrations/install/{pid}"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["public-client"], true);
    assert_eq!(r.body["resource"], pid.as_str());
    assert!(r.body.get("credentials").is_none());
}

/// Discovery advertises the `openid-connect` registration endpoint.
async fn discovery_advertises_the_registration_endpoint(app: &TestApp) {
    setup(app).await;
    let r = app
        .json(
            Method::GET,
            "/realms/acme/.well-known/openid-configuration",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["registration_endpoint"],
        "http://localhost:8080/realms/acme/clients-registrations/openid-connect"
    );
    for p in Provider::ALL {
        let r = app
            .json(Method::POST, &p.path("nope"), None, Some(p.body("x")))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{p:?}: {}", r.text);
    }
}

/// A registrant cannot choose a client id that differs from a built-in client's only by
/// case or surrounding whitespace; nobody can create one with surrounding whitespace.
async fn registrants_cannot_pose_as_built_in_clients(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 20, &[]).await;
    let d = Provider::Default;
    for id in [
        "Admin-CLI",
        "admin-cli ",
        " security-admin-console",
        "Security-Admin-Console",
        "REALM-MANAGEMENT",
        "Account",
        "account-console",
        "broker",
        "Master-Realm",
        "app\u{a0}",
    ] {
        let r = create(
            app,
            d,
            Some(&iat),
            json!({"clientId": id, "redirectUris": [REDIRECT]}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{id:?}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_client_metadata", "{id:?}");
    }
    let ok = create(
        app,
        d,
        Some(&iat),
        json!({"clientId": "acme-realm", "redirectUris": [REDIRECT]}),
    )
    .await;
    assert_created(d, &ok);
    // In master, `<realm>-realm` is the built-in client of every realm.
    let r = app
        .post(
            "/admin/realms/master/clients-initial-access",
            &admin,
            json!({"count": 1}),
        )
        .await;
    let master_iat = r.body["token"].as_str().unwrap().to_string();
    let r = app
        .json(
            Method::POST,
            &d.path("master"),
            Some(&master_iat),
            Some(json!({"clientId": "Acme-Realm"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // The admin API refuses surrounding whitespace on create and on a rename.
    for id in ["app ", " app", "\tapp"] {
        let r = app
            .post(
                "/admin/realms/acme/clients",
                &admin,
                json!({"clientId": id}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{id:?}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_input");
    }
    let r = app
        .post(
            "/admin/realms/acme/clients",
            &admin,
            json!({"clientId": "plain"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!("/admin/realms/acme/clients/{}", r.location_id());
    let r = app
        .put(&path, &admin, json!({"clientId": "admin-cli "}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(app.get(&path, &admin).await.body["clientId"], "plain");
}

/// A registration's secret is the server's: one the registrant sends is ignored on create
/// and on update, and does not authenticate.
async fn registration_ignores_a_chosen_secret(app: &TestApp) {
    let admin = setup(app).await;
    let (_, iat) = new_iat(app, &admin, 1, &[]).await;
    let d = Provider::Default;
    let chosen = "chosen-by-the-registrant-0123456789";
    let r = create(
        app,
        d,
        Some(&iat),
        json!({"clientId": "kc-sec", "secret": chosen, "serviceAccountsEnabled": true, "publicClient": false}),
    )
    .await;
    assert_created(d, &r);
    let issued = d.secret(&r).unwrap();
    assert_ne!(issued, chosen);
    assert_eq!(issued.len(), 43, "256 random bits, base64url");
    let grant = |secret: String| async move {
        app.form(
            TOKEN,
            &[("grant_type", "client_credentials")],
            Some(("kc-sec", &secret)),
        )
        .await
    };
    assert_eq!(
        grant(chosen.to_string()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let ok = grant(issued.clone()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);

    let path = d.client_path("acme", "kc-sec");
    let again = "chosen-again-by-the-registrant-0123";
    let u = app
        .put(
            &path,
            &d.rat(&r),
            json!({"clientId": "kc-sec", "secret": again}),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(d.secret(&u).unwrap(), issued, "the secret did not change");
    assert_eq!(
        grant(again.to_string()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(grant(issued).await.status, StatusCode::OK);
    // The admin API may still set one.
    let id = app
        .get("/admin/realms/acme/clients?clientId=kc-sec", &admin)
        .await
        .body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .put(
            &format!("/admin/realms/acme/clients/{id}"),
            &admin,
            json!({"secret": chosen}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(grant(chosen.to_string()).await.status, StatusCode::OK);
}

crate::on_both_backends!(
    registrants_cannot_pose_as_built_in_clients,
    registration_ignores_a_chosen_secret,
    anonymous_registration_follows_its_switch,
    initial_access_tokens_count_down_and_run_out,
    expired_initial_access_token_is_refused,
    bearer_tokens_need_realm_management_roles,
    authenticated_switch_off_blocks_creation_not_registration_tokens,
    registration_access_tokens_read_rotate_and_die,
    admin_mints_a_new_registration_access_token,
    create_returns_the_full_registered_metadata,
    default_provider_returns_keycloak_representations,
    default_provider_updates_like_keycloak,
    registered_machine_clients_work_at_once,
    registrations_follow_the_realms_scope_changes,
    put_replaces_the_registration,
    concurrent_puts_with_one_token_rotate_once,
    invalid_registrations_are_refused_and_leave_nothing,
    initial_access_count_is_never_overdrawn,
    registration_operations_are_events,
    cors_allows_initial_access_token_origins,
    install_gives_the_adapter_config,
    discovery_advertises_the_registration_endpoint,
);
