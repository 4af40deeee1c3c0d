//! The `client-secret-expiration` provider: registered confidential clients' secrets
//! expire after the policy's days (`client_secret_expires_at`, Keycloak's
//! `client.secret.expiration.time`), a registration read in the last quarter of a
//! secret's life rotates it once, the previous secret works until its own expiry, and an
//! expired secret is `invalid_client` with every secret method. Time passes by moving the
//! stored times back (`age`), never by sleeping.

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::client_secrets::SECRET_EXPIRATION_TIME;
use latchkey_core::clients::SECRET_CREATION_TIME;
use latchkey_core::store::{ClientBundle, ClientRecord, Store, WriteGuard};
use serde_json::{Value, json};

use super::{DEFAULT, OIDC, add_policy, admin_view, iat, register};
use crate::support::{
    POLICY_TYPE, Resp, TestApp, assert_oauth_error, json_request, send_to, unix_now,
};

const DAY: i64 = 86_400;
const PROVIDER: &str = "client-secret-expiration";
const ISSUER: &str = "http://localhost:8080/realms/acme";

/// The realm `acme` with a `days` policy in the authenticated set; an admin token and an
/// initial access token.
async fn realm_with_policy(app: &TestApp, days: i64) -> (String, String) {
    let admin = app.admin_with_realm("acme").await;
    add_policy(
        app,
        &admin,
        PROVIDER,
        "authenticated",
        "Secret Expiration",
        json!({"days": [days.to_string()]}),
    )
    .await;
    let token = iat(app, &admin, 20).await;
    (admin, token)
}

/// A machine client registered through `openid-connect` with `method`.
async fn machine(app: &TestApp, token: &str, method: &str) -> Resp {
    let r = register(
        app,
        OIDC,
        Some(token),
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": method}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("string: {v}"))
        .to_string()
}

async fn stored(app: &TestApp, client_id: &str) -> ClientRecord {
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    app.store
        .client_by_client_id(&realm.id, client_id)
        .await
        .unwrap()
        .unwrap()
}

/// Lets `secs` pass for the client: moves its secret's creation and expiry times, and the
/// previous secret's expiry, back by `secs`, through the store.
async fn age(app: &TestApp, client_id: &str, secs: i64) {
    let mut client = stored(app, client_id).await;
    let attrs = client.rep.attributes.as_mut().unwrap();
    for key in [SECRET_CREATION_TIME, SECRET_EXPIRATION_TIME] {
        if let Some(v) = attrs.get_mut(key) {
            *v = (v.parse::<i64>().unwrap() - secs).to_string();
        }
    }
    if let Some(p) = client.previous_secret.as_mut() {
        p.expires_at -= secs;
    }
    let bundle = ClientBundle {
        client,
        service_account: None,
    };
    app.store
        .update_client(bundle, &WriteGuard::default())
        .await
        .unwrap();
}

fn read_request(client_id: &str, rat: &str) -> axum::http::Request<axum::body::Body> {
    json_request(Method::GET, &format!("{OIDC}/{client_id}"), Some(rat), None)
}

async fn read(app: &TestApp, client_id: &str, rat: &str) -> Resp {
    let r = send_to(app.router.clone(), read_request(client_id, rat)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r
}

async fn rotations(app: &TestApp) -> i64 {
    let m = app.get_public("/metrics").await.text;
    m.lines()
        .find_map(|l| l.strip_prefix("latchkey_client_secret_rotations_total "))
        .unwrap_or_else(|| panic!("no rotation counter in {m}"))
        .parse()
        .unwrap()
}

#[track_caller]
fn assert_near(got: i64, want: i64) {
    assert!((got - want).abs() <= 10, "{got} is not about {want}");
}

fn hs256(secret: &str, client_id: &str, jti: &str) -> String {
    let now = unix_now();
    let claims = json!({"iss": client_id, "sub": client_id, "aud": ISSUER, "exp": now + 60, "iat": now, "jti": jti});
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let sig = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// Whether `secret` authenticates the client with Basic and with the form (both agree).
async fn works(app: &TestApp, client_id: &str, secret: &str) -> bool {
    let basic = app.client_credentials("acme", client_id, secret).await;
    let post = app.client_credentials_post("acme", client_id, secret).await;
    assert_eq!(basic.status, post.status, "{} / {}", basic.text, post.text);
    if basic.status != StatusCode::OK {
        assert_oauth_error(&basic, StatusCode::UNAUTHORIZED, "invalid_client");
        assert!(
            basic
                .header("www-authenticate")
                .is_some_and(|c| c.starts_with("Basic")),
            "401 with Basic has a Basic challenge"
        );
        assert_oauth_error(&post, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    basic.status == StatusCode::OK
}

async fn works_as_jwt(app: &TestApp, client_id: &str, secret: &str, jti: &str) -> bool {
    let r = app
        .client_assertion_grant("acme", &hs256(secret, client_id, jti))
        .await;
    if r.status != StatusCode::OK {
        assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    r.status == StatusCode::OK
}

/// Registers a machine client under a 4-day policy and rotates its secret (a read in
/// the last quarter, a minute in); returns (client id, old secret, new secret).
async fn rotated(app: &TestApp, token: &str, method: &str) -> (String, String, String) {
    let r = machine(app, token, method).await;
    let (id, old, rat) = (
        s(&r.body["client_id"]),
        s(&r.body["client_secret"]),
        s(&r.body["registration_access_token"]),
    );
    age(app, &id, 3 * DAY + 60).await;
    let new = s(&read(app, &id, &rat).await.body["client_secret"]);
    assert_ne!(old, new, "rotated");
    (id, old, new)
}

async fn the_expiry_is_set_and_returned(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let token = iat(app, &admin, 20).await;
    // Without the policy, nothing expires.
    let plain = machine(app, &token, "client_secret_basic").await;
    assert_eq!(plain.body["client_secret_expires_at"], 0, "{}", plain.text);
    // Nor does a registrant choose an expiry for itself.
    let chosen = register(
        app,
        DEFAULT,
        Some(&token),
        json!({"clientId": "kc-chooser", "attributes": {SECRET_EXPIRATION_TIME: "1"}}),
    )
    .await;
    assert_eq!(chosen.status, StatusCode::CREATED, "{}", chosen.text);
    assert_eq!(
        chosen.body["attributes"][SECRET_EXPIRATION_TIME],
        Value::Null,
        "{}",
        chosen.text
    );
    add_policy(
        app,
        &admin,
        PROVIDER,
        "authenticated",
        "Secret Expiration",
        json!({"days": ["30"]}),
    )
    .await;
    let want = unix_now() + 30 * DAY;
    let r = machine(app, &token, "client_secret_basic").await;
    let expires = r.body["client_secret_expires_at"].as_i64().unwrap();
    assert_near(expires, want);
    let (id, rat) = (
        s(&r.body["client_id"]),
        s(&r.body["registration_access_token"]),
    );
    let got = read(app, &id, &rat).await;
    assert_eq!(got.body["client_secret_expires_at"], expires);
    assert_eq!(
        got.body["client_secret"], r.body["client_secret"],
        "no rotation yet"
    );
    // An update may repeat the expiry unchanged, not change it (RFC 7592 §2.2).
    let path = format!("{OIDC}/{id}");
    let mut body = json!({"client_id": id, "grant_types": ["client_credentials"], "client_secret_expires_at": expires + 1});
    let refused = app.put(&path, &rat, body.clone()).await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_client_metadata");
    body["client_secret_expires_at"] = json!(expires);
    let updated = app.put(&path, &rat, body).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.body["client_secret_expires_at"], expires);
    let view = admin_view(app, &admin, &id).await;
    assert_eq!(
        view["attributes"][SECRET_EXPIRATION_TIME],
        expires.to_string(),
        "{view}"
    );
    assert_eq!(
        admin_view(app, &admin, &s(&plain.body["client_id"])).await["attributes"]
            [SECRET_EXPIRATION_TIME],
        Value::Null
    );
    // Keycloak's provider: the attribute, which the client cannot move itself.
    let k = register(app, DEFAULT, Some(&token), json!({"clientId": "kc-app"})).await;
    assert_eq!(k.status, StatusCode::CREATED, "{}", k.text);
    let kc_expires: i64 = s(&k.body["attributes"][SECRET_EXPIRATION_TIME])
        .parse()
        .unwrap();
    assert_near(kc_expires, want);
    let krat = s(&k.body["registrationAccessToken"]);
    let moved = app
        .put(
            &format!("{DEFAULT}/kc-app"),
            &krat,
            json!({"clientId": "kc-app", "attributes": {SECRET_EXPIRATION_TIME: "4102444800"}}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(
        moved.body["attributes"][SECRET_EXPIRATION_TIME],
        kc_expires.to_string()
    );
    let kr = app
        .get(
            &format!("{DEFAULT}/kc-app"),
            &s(&moved.body["registrationAccessToken"]),
        )
        .await;
    assert_eq!(
        kr.body["attributes"][SECRET_EXPIRATION_TIME],
        kc_expires.to_string()
    );
    // The client registered before the policy: ten years on, its secret still works and a
    // read does not rotate it.
    let plain_id = s(&plain.body["client_id"]);
    let plain_secret = s(&plain.body["client_secret"]);
    age(app, &plain_id, 3650 * DAY).await;
    let again = read(app, &plain_id, &s(&plain.body["registration_access_token"])).await;
    assert_eq!(again.body["client_secret"], plain.body["client_secret"]);
    assert_eq!(again.body["client_secret_expires_at"], 0);
    assert!(works(app, &plain_id, &plain_secret).await);
    // A public client has no secret to expire.
    let public = register(
        app,
        OIDC,
        Some(&token),
        json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.text);
    assert!(
        public.body.get("client_secret_expires_at").is_none(),
        "{}",
        public.text
    );
}

async fn a_read_in_the_last_quarter_rotates_once(app: &TestApp) {
    let (_, token) = realm_with_policy(app, 4).await;
    let r = machine(app, &token, "client_secret_basic").await;
    let (id, old, rat) = (
        s(&r.body["client_id"]),
        s(&r.body["client_secret"]),
        s(&r.body["registration_access_token"]),
    );
    let before = rotations(app).await;
    // Just before the last quarter (3 days into 4): no rotation.
    age(app, &id, 3 * DAY - 60).await;
    assert_eq!(s(&read(app, &id, &rat).await.body["client_secret"]), old);
    assert_eq!(rotations(app).await, before);
    // In it: concurrent reads (16 racers) rotate once.
    age(app, &id, 120).await;
    let old_expiry = stored(app, &id).await.rep.attributes.unwrap()[SECRET_EXPIRATION_TIME]
        .parse::<i64>()
        .unwrap();
    let racers: Vec<_> = (0..16)
        .map(|_| tokio::spawn(send_to(app.router.clone(), read_request(&id, &rat))))
        .collect();
    let mut answers = Vec::new();
    for t in racers {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        answers.push(s(&r.body["client_secret"]));
    }
    assert_eq!(rotations(app).await, before + 1, "one rotation");
    let client = stored(app, &id).await;
    let previous = client
        .previous_secret
        .clone()
        .expect("the old secret is kept");
    assert_eq!(previous.expires_at, old_expiry, "until its own expiry");
    let now = read(app, &id, &rat).await;
    let new = s(&now.body["client_secret"]);
    assert_ne!(new, old);
    assert_near(
        now.body["client_secret_expires_at"].as_i64().unwrap(),
        unix_now() + 4 * DAY,
    );
    assert!(
        answers.iter().all(|got| *got == new || *got == old),
        "every read answers a secret that works"
    );
    assert!(
        answers.contains(&new),
        "the rotating read returns the new secret"
    );
    // Reads after the rotation do not rotate again.
    read(app, &id, &rat).await;
    assert_eq!(rotations(app).await, before + 1);
    assert!(works(app, &id, &new).await);
    assert!(
        works(app, &id, &old).await,
        "the old secret until its expiry"
    );
    // Keycloak's provider rotates the same way.
    let k = register(app, DEFAULT, Some(&token), json!({"clientId": "kc-app"})).await;
    let (kold, krat) = (s(&k.body["secret"]), s(&k.body["registrationAccessToken"]));
    age(app, "kc-app", 3 * DAY + 60).await;
    let kr = app.get(&format!("{DEFAULT}/kc-app"), &krat).await;
    assert_eq!(kr.status, StatusCode::OK, "{}", kr.text);
    assert_ne!(s(&kr.body["secret"]), kold);
    assert_eq!(rotations(app).await, before + 2);
}

async fn the_old_secret_works_until_its_expiry(app: &TestApp) {
    let (_, token) = realm_with_policy(app, 4).await;
    let (id, old, new) = rotated(app, &token, "client_secret_basic").await;
    let (jid, jold, jnew) = rotated(app, &token, "client_secret_jwt").await;
    assert!(works(app, &id, &old).await);
    assert!(works_as_jwt(app, &jid, &jold, "j1").await);
    // The old secret had a day minus a minute left: ten minutes before its end it still
    // works (a wide margin: a loaded machine takes seconds between these steps), a second
    // after it no longer does.
    age(app, &id, DAY - 660).await;
    age(app, &jid, DAY - 660).await;
    assert!(works(app, &id, &old).await);
    assert!(works_as_jwt(app, &jid, &jold, "j2").await);
    age(app, &id, 601).await;
    age(app, &jid, 601).await;
    assert!(!works(app, &id, &old).await, "expired: invalid_client");
    assert!(!works_as_jwt(app, &jid, &jold, "j3").await);
    assert!(works(app, &id, &new).await);
    assert!(works_as_jwt(app, &jid, &jnew, "j4").await);
}

async fn an_expired_secret_is_invalid_client(app: &TestApp) {
    let (_, token) = realm_with_policy(app, 4).await;
    let r = machine(app, &token, "client_secret_basic").await;
    let (id, secret, rat) = (
        s(&r.body["client_id"]),
        s(&r.body["client_secret"]),
        s(&r.body["registration_access_token"]),
    );
    let j = machine(app, &token, "client_secret_jwt").await;
    let (jid, jsecret) = (s(&j.body["client_id"]), s(&j.body["client_secret"]));
    assert!(works(app, &id, &secret).await);
    assert!(works_as_jwt(app, &jid, &jsecret, "e1").await);
    age(app, &id, 4 * DAY).await;
    age(app, &jid, 4 * DAY).await;
    assert!(!works(app, &id, &secret).await);
    assert!(!works_as_jwt(app, &jid, &jsecret, "e2").await);
    // The registration access token still reads the registration, which now carries a new
    // secret; the expired one is not kept.
    let now = read(app, &id, &rat).await;
    let fresh = s(&now.body["client_secret"]);
    assert!(works(app, &id, &fresh).await);
    assert!(!works(app, &id, &secret).await);
    assert!(stored(app, &id).await.previous_secret.is_none());
}

async fn days_is_a_positive_integer(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let path = "/admin/realms/acme/components";
    let component = |config: Value| json!({"name": "Secrets", "providerId": PROVIDER, "providerType": POLICY_TYPE, "subType": "anonymous", "config": config});
    for bad in [
        json!({"days": ["0"]}),
        json!({"days": ["-3"]}),
        json!({"days": ["1.5"]}),
        json!({"days": ["ninety"]}),
        json!({"days": [""]}),
        json!({"days": []}),
        json!({}),
    ] {
        let r = app.post(path, &admin, component(bad.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert!(r.text.contains("days"), "{}", r.text);
    }
    for set in ["anonymous", "authenticated"] {
        let mut ok = component(json!({"days": ["7"]}));
        ok["subType"] = json!(set);
        let r = app.post(path, &admin, ok).await;
        assert_eq!(r.status, StatusCode::CREATED, "{set}: {}", r.text);
    }
}

async fn the_provider_is_listed(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let r = app
        .get(
            "/admin/realms/acme/client-registration-policy/providers",
            &admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == PROVIDER)
        .unwrap_or_else(|| panic!("{PROVIDER} not listed: {}", r.text));
    assert!(p["helpText"].as_str().is_some_and(|h| !h.is_empty()));
    let days = &p["properties"][0];
    assert_eq!(days["name"], "days");
    assert_eq!(days["type"], "int");
    assert!(days["label"].as_str().is_some_and(|l| !l.is_empty()));
    assert!(days["helpText"].as_str().is_some_and(|h| !h.is_empty()));
}

async fn the_admin_api_reads_and_regenerates_under_the_policy(app: &TestApp) {
    let (admin, token) = realm_with_policy(app, 4).await;
    let (id, old, new) = rotated(app, &token, "client_secret_basic").await;
    let uuid = app.client_uuid(&admin, "acme", &id).await;
    assert_eq!(app.client_secret(&admin, "acme", &uuid).await, new);
    // A day later, an admin regenerates: a fresh expiry, and neither earlier secret works.
    age(app, &id, DAY).await;
    let path = format!("/admin/realms/acme/clients/{uuid}/client-secret");
    let r = app.post(&path, &admin, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let regenerated = s(&r.body["value"]);
    let view = admin_view(app, &admin, &id).await;
    let expires: i64 = s(&view["attributes"][SECRET_EXPIRATION_TIME])
        .parse()
        .unwrap();
    assert_near(expires, unix_now() + 4 * DAY);
    assert!(works(app, &id, &regenerated).await);
    assert!(!works(app, &id, &new).await);
    assert!(!works(app, &id, &old).await);
    // A client the admin created never gains an expiry.
    let created = app
        .create_client(
            &admin,
            "acme",
            json!({"clientId": "by-admin", "serviceAccountsEnabled": true}),
        )
        .await;
    let r = app
        .post(
            &format!("/admin/realms/acme/clients/{created}/client-secret"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let view = admin_view(app, &admin, "by-admin").await;
    assert_eq!(
        view["attributes"][SECRET_EXPIRATION_TIME],
        Value::Null,
        "{view}"
    );
    assert!(works(app, "by-admin", &s(&r.body["value"])).await);
}

/// An update racing a rotating read never puts the replaced secret back: every secret a
/// read or an update answers still authenticates afterwards, round after round, through
/// the registration endpoint and the admin API alike.
async fn an_update_racing_a_rotating_read_keeps_the_rotation(app: &TestApp) {
    let (admin, token) = realm_with_policy(app, 4).await;
    let r = machine(app, &token, "client_secret_basic").await;
    let (id, mut rat) = (
        s(&r.body["client_id"]),
        s(&r.body["registration_access_token"]),
    );
    let uuid = stored(app, &id).await.id;
    let path = format!("{OIDC}/{id}");
    let admin_path = format!("/admin/realms/acme/clients/{uuid}");
    for round in 0..12 {
        age(app, &id, 3 * DAY + 60).await;
        let reader = tokio::spawn(send_to(app.router.clone(), read_request(&id, &rat)));
        let writer = if round % 2 == 0 {
            let body = json!({"client_id": id, "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "client_secret_basic",
                "client_name": format!("round {round}")});
            json_request(Method::PUT, &path, Some(&rat), Some(body))
        } else {
            let body = json!({"description": format!("round {round}")});
            json_request(Method::PUT, &admin_path, Some(&admin), Some(body))
        };
        let writer = tokio::spawn(send_to(app.router.clone(), writer));
        let (read, written) = (reader.await.unwrap(), writer.await.unwrap());
        assert!(written.status.is_success(), "{}", written.text);
        // A registration update that commits first rotates the registration access token
        // the read presents (RFC 7592 §2.2): that read is refused and rotates nothing.
        if read.status == StatusCode::UNAUTHORIZED && round % 2 == 0 {
            assert_oauth_error(&read, StatusCode::UNAUTHORIZED, "invalid_token");
        } else {
            assert_eq!(read.status, StatusCode::OK, "{}", read.text);
            let answered = s(&read.body["client_secret"]);
            assert!(
                works(app, &id, &answered).await,
                "round {round}: the secret the read answered works"
            );
        }
        if round % 2 == 0 {
            assert!(works(app, &id, &s(&written.body["client_secret"])).await);
            rat = s(&written.body["registration_access_token"]);
        }
    }
}

crate::on_both_backends!(
    the_expiry_is_set_and_returned,
    a_read_in_the_last_quarter_rotates_once,
    an_update_racing_a_rotating_read_keeps_the_rotation,
    the_old_secret_works_until_its_expiry,
    an_expired_secret_is_invalid_client,
    days_is_a_positive_integer,
    the_provider_is_listed,
    the_admin_api_reads_and_regenerates_under_the_policy,
);
