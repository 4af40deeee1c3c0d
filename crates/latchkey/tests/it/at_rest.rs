//! Secrets at rest (a database dump alone reveals no usable credential):
//! registers clients, creates initial access
//! tokens, logs users in (authorization code, refresh, offline), mints admin tokens,
//! starts a device flow (device and user codes); then
//! scans the raw database (the SQLite file and its WAL; a `pg_dump` of the PostgreSQL
//! schema plus every row of every table as text) for every credential handed out: none
//! may be found.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::browser::{Browser, challenge, location, query};
use crate::support::{ADMIN_PASSWORD, TestApp, pg_url};

const CB: &str = "https://app.example/cb";
const TOKEN: &str = "/realms/acme/protocol/openid-connect/token";

/// Every credential handed out, by what it is.
#[derive(Default)]
struct Handed(Vec<(String, String)>);

impl Handed {
    fn add(&mut self, what: &str, value: &Value) {
        let v = value
            .as_str()
            .unwrap_or_else(|| panic!("{what}: not a string: {value}"));
        assert!(v.len() >= 8, "{what}: too short to be a credential: {v}");
        self.0.push((what.to_string(), v.to_string()));
    }
}

/// Logs `alice` in through the login form; returns the redirect's query.
async fn login(app: &TestApp, scope: &str, verifier: &str) -> HashMap<String, String> {
    let url = format!(
        "/realms/acme/protocol/openid-connect/auth?client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope={scope}&state=s&code_challenge={}&code_challenge_method=S256",
        challenge(verifier)
    );
    let mut b = Browser::default();
    let page = b.get(app, &url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let r = b
        .submit(
            app,
            &page,
            &[("username", "alice"), ("password", "alice-pass-Zq8")],
        )
        .await;
    query(&location(&r))
}

async fn no_credential_is_stored_in_clear(app: &TestApp) {
    let mut h = Handed::default();
    h.0.push(("bootstrap admin password".into(), ADMIN_PASSWORD.into()));
    let r = app
        .form(
            "/realms/master/protocol/openid-connect/token",
            &[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
            ],
            None,
        )
        .await;
    h.add("admin access token", &r.body["access_token"]);
    h.add("admin refresh token", &r.body["refresh_token"]);
    let admin = r.body["access_token"].as_str().unwrap().to_string();
    // Events and admin events with details on: what they record is scanned too.
    let r = app
        .post(
            "/admin/realms",
            &admin,
            json!({"realm": "acme", "enabled": true, "eventsEnabled": true,
                "adminEventsEnabled": true, "adminEventsDetailsEnabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Users and their passwords (created, then reset).
    let r = app
        .post(
            "/admin/realms/acme/users",
            &admin,
            json!({"username": "alice", "enabled": true,
            "credentials": [{"type": "password", "value": "first-pass-Kd3", "temporary": false}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    h.0.push(("user password".into(), "first-pass-Kd3".into()));
    let r = app
        .put(
            &format!(
                "/admin/realms/acme/users/{}/reset-password",
                r.location_id()
            ),
            &admin,
            json!({"type": "password", "value": "alice-pass-Zq8", "temporary": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    h.0.push(("reset user password".into(), "alice-pass-Zq8".into()));

    // Admin-made clients: a web client (code flow) and a service client, secrets regenerated.
    let r = app
        .post(
            "/admin/realms/acme/clients",
            &admin,
            json!({"clientId": "web", "publicClient": false,
            "redirectUris": [CB], "directAccessGrantsEnabled": true}),
        )
        .await;
    let web = r.location_id();
    let s = app
        .get(
            &format!("/admin/realms/acme/clients/{web}/client-secret"),
            &admin,
        )
        .await;
    h.add("admin-created client secret", &s.body["value"]);
    let s = app
        .json(
            Method::POST,
            &format!("/admin/realms/acme/clients/{web}/client-secret"),
            Some(&admin),
            None,
        )
        .await;
    h.add("regenerated client secret", &s.body["value"]);
    let web_secret = s.body["value"].as_str().unwrap().to_string();
    let (_, svc_secret) = app.create_service_client(&admin, "acme", "svc").await;
    h.0.push(("service client secret".into(), svc_secret.clone()));
    let r = app.client_credentials("acme", "svc", &svc_secret).await;
    h.add("client_credentials access token", &r.body["access_token"]);

    // Initial access tokens and registrations through both providers.
    let mut iats = Vec::new();
    for count in [3, 2] {
        let r = app
            .post(
                "/admin/realms/acme/clients-initial-access",
                &admin,
                json!({"count": count, "expiration": 0}),
            )
            .await;
        h.add("initial access token", &r.body["token"]);
        iats.push(r.body["token"].as_str().unwrap().to_string());
    }
    for (provider, body, id_key, secret_key, rat_key) in [
        (
            "openid-connect",
            json!({"client_name": "r1", "redirect_uris": [CB]}),
            "client_id",
            "client_secret",
            "registration_access_token",
        ),
        (
            "default",
            json!({"name": "r2", "redirectUris": [CB]}),
            "clientId",
            "secret",
            "registrationAccessToken",
        ),
    ] {
        let path = format!("/realms/acme/clients-registrations/{provider}");
        let r = app.post(&path, &iats[0], body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        h.add("registered client secret", &r.body[secret_key]);
        h.add("registration access token", &r.body[rat_key]);
        let id = r.body[id_key].as_str().unwrap().to_string();
        // A read and an update rotate or re-sign the token: every version handed out counts.
        let read = app
            .get(&format!("{path}/{id}"), r.body[rat_key].as_str().unwrap())
            .await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
        let rat = match read.body[rat_key].as_str() {
            Some(_) => {
                h.add(
                    "registration access token (after read)",
                    &read.body[rat_key],
                );
                read.body[rat_key].as_str().unwrap().to_string()
            }
            None => r.body[rat_key].as_str().unwrap().to_string(),
        };
        let mut update = read.body.clone();
        update.as_object_mut().unwrap().remove(rat_key);
        let u = app.put(&format!("{path}/{id}"), &rat, update).await;
        assert_eq!(u.status, StatusCode::OK, "{}", u.text);
        h.add("rotated registration access token", &u.body[rat_key]);
        // The admin mints one too.
        let uuid = app.client_uuid(&admin, "acme", &id).await;
        let m = app
            .json(
                Method::POST,
                &format!("/admin/realms/acme/clients/{uuid}/registration-access-token"),
                Some(&admin),
                None,
            )
            .await;
        h.add(
            "admin-minted registration access token",
            &m.body["registrationAccessToken"],
        );
    }

    // Users logging in: authorization code (+ PKCE), refresh, offline; password grant.
    for (scope, verifier) in [
        (
            "openid%20profile",
            "verifier-one-0123456789-0123456789-0123456789",
        ),
        (
            "openid%20offline_access",
            "verifier-two-0123456789-0123456789-0123456789",
        ),
    ] {
        let q = login(app, scope, verifier).await;
        h.add("authorization code", &json!(q["code"]));
        let t = app
            .form(
                TOKEN,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &q["code"]),
                    ("redirect_uri", CB),
                    ("code_verifier", verifier),
                ],
                Some(("web", &web_secret)),
            )
            .await;
        assert_eq!(t.status, StatusCode::OK, "{}", t.text);
        h.add("access token", &t.body["access_token"]);
        h.add("refresh or offline token", &t.body["refresh_token"]);
        h.add("id token", &t.body["id_token"]);
        let r = app
            .form(
                TOKEN,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", t.body["refresh_token"].as_str().unwrap()),
                ],
                Some(("web", &web_secret)),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        h.add("refreshed access token", &r.body["access_token"]);
        h.add("rotated refresh token", &r.body["refresh_token"]);
    }
    let r = app
        .form(
            TOKEN,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pass-Zq8"),
            ],
            Some(("web", &web_secret)),
        )
        .await;
    h.add("password grant refresh token", &r.body["refresh_token"]);

    // A device flow (RFC 8628) left at the consent page: the flow, its user code and the
    // pending browser request are all in the database.
    let r = app
        .post(
            "/admin/realms/acme/clients",
            &admin,
            json!({"clientId": "tv", "publicClient": true,
                "attributes": {"oauth2.device.authorization.grant.enabled": "true"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .form(
            "/realms/acme/protocol/openid-connect/auth/device",
            &[("client_id", "tv")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    h.add("device code", &r.body["device_code"]);
    h.add("user code", &r.body["user_code"]);
    let user_code = r.body["user_code"].as_str().unwrap().replace('-', "");
    h.add("user code without its dash", &json!(user_code));
    let mut b = Browser::default();
    let login = b
        .post(
            app,
            "/realms/acme/device",
            &[("user_code", &user_code)],
            None,
        )
        .await;
    let consent = b
        .submit(
            app,
            &login,
            &[("username", "alice"), ("password", "alice-pass-Zq8")],
        )
        .await;
    assert!(consent.text.contains("a device"), "{}", consent.text);

    let recorded = app.get("/admin/realms/acme/admin-events", &admin).await;
    assert!(
        recorded.body.as_array().is_some_and(|a| !a.is_empty()),
        "admin events are recorded: {}",
        recorded.text
    );
    let raw = raw_database(app).await;
    let contains = |needle: &str| raw.windows(needle.len()).any(|w| w == needle.as_bytes());
    // The scan reads the real data: what must be there is found.
    assert!(
        contains("alice") && contains("$argon2id$"),
        "the scan sees the data"
    );
    assert!(
        !contains("PRIVATE KEY") && !contains("\"d\":"),
        "no private key material in clear"
    );
    let found: Vec<_> = h.0.iter().filter(|(_, v)| contains(v)).collect();
    eprintln!(
        "secrets at rest ({}): {} credentials handed out, {} found in {} bytes of raw database",
        if app.db.sqlite_path.is_some() {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        h.0.len(),
        found.len(),
        raw.len()
    );
    assert!(found.is_empty(), "stored in clear: {found:#?}");
}

/// The database's raw bytes: the SQLite file and WAL, or a PostgreSQL dump of the schema
/// plus every row of every table as text.
async fn raw_database(app: &TestApp) -> Vec<u8> {
    if let Some(path) = &app.db.sqlite_path {
        let mut bytes = std::fs::read(path).unwrap();
        let wal = format!("{}-wal", path.display());
        if let Ok(w) = std::fs::read(&wal) {
            bytes.extend(w);
        }
        return bytes;
    }
    let schema = app
        .db
        .url
        .split("search_path%3D")
        .nth(1)
        .unwrap()
        .to_string();
    let mut out = Vec::new();
    match std::process::Command::new("pg_dump")
        .args(["--data-only", "--schema", &schema, "--dbname", &pg_url()])
        .output()
    {
        Ok(o) if o.status.success() => out.extend(o.stdout),
        Ok(o) if std::env::var_os("CI").is_some() => {
            panic!("pg_dump failed: {}", String::from_utf8_lossy(&o.stderr))
        }
        other => eprintln!("pg_dump unavailable ({other:?}); scanning rows only"),
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(tables.len() > 5, "tables of {schema}: {tables:?}");
    for (t,) in tables {
        let rows: Vec<(String,)> = sqlx::query_as(&format!("SELECT CAST(t AS TEXT) FROM {t} t"))
            .fetch_all(&pool)
            .await
            .unwrap();
        for (r,) in rows {
            out.extend(r.into_bytes());
            out.push(b'\n');
        }
    }
    pool.close().await;
    out
}

crate::on_both_backends!(no_credential_is_stored_in_clear);
