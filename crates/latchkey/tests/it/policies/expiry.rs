//! `unused-client-expiration`: the sweep deletes exactly the registered clients unused for
//! their set's period (never one an administrator created, never one used since the sweep
//! read it), each once across nodes, with a `CLIENT_DELETE` event and its tokens dead.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use latchkey_core::crypto::{SecretBox, new_row_id};
use latchkey_core::last_used::day;
use latchkey_core::store::{EventRecord, Store};
use latchkey_server::service::expiry::{expire_unused_clients, expire_unused_clients_in_pages};
use latchkey_server::state::now_millis;
use latchkey_server::{AppState, Limits, ServerSettings};
use latchkey_store::SqlStore;
use serde_json::{Value, json};

use super::{add_policy, iat, open_anonymous, switches};
use crate::support::{Backend, POLICY_TYPE, TestApp, send_to, serde_urlencoded_pairs, user};

const DAY: i64 = 86_400_000;

/// Makes the client look last active `days` ago: created then, never used since.
async fn age(app: &TestApp, uuid: &str, days: i64) {
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let n = sqlx::query("UPDATE clients SET created_at = $1, last_used = NULL WHERE id = $2")
        .bind(now_millis() - days * DAY)
        .bind(uuid)
        .execute(&pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 1);
    pool.close().await;
}

/// Registers a confidential client-credentials client; returns (uuid, client_id, secret).
async fn registered(app: &TestApp, admin: &str, token: Option<&str>) -> (String, String, String) {
    let r = app
        .register(
            "acme",
            token,
            json!({"grant_types": ["client_credentials"], "client_name": "dcr"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let client_id = r.body["client_id"].as_str().unwrap().to_string();
    let secret = r.body["client_secret"].as_str().unwrap().to_string();
    let uuid = app.client_uuid(admin, "acme", &client_id).await;
    (uuid, client_id, secret)
}

async fn exists(app: &TestApp, admin: &str, uuid: &str) -> bool {
    let r = app
        .get(&format!("/admin/realms/acme/clients/{uuid}"), admin)
        .await;
    match r.status {
        StatusCode::OK => true,
        StatusCode::NOT_FOUND => false,
        other => panic!("{other}: {}", r.text),
    }
}

/// The realm's `CLIENT_DELETE` events.
async fn deletions(app: &TestApp, admin: &str) -> Vec<Value> {
    let r = app.get("/admin/realms/acme/events?max=1000", admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "CLIENT_DELETE")
        .cloned()
        .collect()
}

async fn used_and_recorded(app: &TestApp, client_id: &str, secret: &str) {
    let before = app.store.group_commit_stats().touches();
    let r = app.client_credentials("acme", client_id, secret).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    crate::last_used::settled_touches(app, before + 1).await;
}

fn expired_event(realm_id: &str, client_id: &str) -> EventRecord {
    EventRecord {
        id: new_row_id(),
        realm_id: realm_id.into(),
        time: now_millis(),
        kind: "CLIENT_DELETE".into(),
        client_id: Some(client_id.into()),
        user_id: None,
        ip_address: None,
        error: None,
        details: BTreeMap::from([("reason".to_string(), "expired".to_string())]),
    }
}

async fn expiry_deletes_exactly_the_unused_registered_clients(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    open_anonymous(app, &admin).await;
    add_policy(
        app,
        &admin,
        "unused-client-expiration",
        "authenticated",
        "Expire authenticated",
        json!({"days": ["30"]}),
    )
    .await;
    add_policy(
        app,
        &admin,
        "unused-client-expiration",
        "anonymous",
        "Expire anonymous",
        json!({"days": ["7"]}),
    )
    .await;
    let token = iat(app, &admin, 10).await;
    let (auth_old, ..) = registered(app, &admin, Some(&token)).await;
    let (auth_recent, ..) = registered(app, &admin, Some(&token)).await;
    let (anon_old, ..) = registered(app, &admin, None).await;
    let (anon_recent, ..) = registered(app, &admin, None).await;
    let (used, used_id, used_secret) = registered(app, &admin, Some(&token)).await;
    let (admin_old, _) = app.create_service_client(&admin, "acme", "by-admin").await;
    age(app, &auth_old, 31).await;
    age(app, &auth_recent, 29).await;
    age(app, &anon_old, 8).await;
    age(app, &anon_recent, 6).await;
    age(app, &used, 31).await;
    age(app, &admin_old, 400).await;
    used_and_recorded(app, &used_id, &used_secret).await;

    // With the realm's policies switched off, no policy runs, this one included.
    let policies = |on: &str| json!({"clientRegistrationPoliciesEnabled": on});
    switches(app, &admin, policies("false")).await;
    assert_eq!(
        expire_unused_clients(&app.state, now_millis())
            .await
            .unwrap(),
        0
    );
    switches(app, &admin, policies("true")).await;

    let n = expire_unused_clients(&app.state, now_millis())
        .await
        .unwrap();
    assert_eq!(n, 2);
    for (uuid, kept) in [
        (&auth_old, false),
        (&auth_recent, true),
        (&anon_old, false),
        (&anon_recent, true),
        (&used, true),
        (&admin_old, true),
    ] {
        assert_eq!(exists(app, &admin, uuid).await, kept, "{uuid}");
    }
    let events = deletions(app, &admin).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e["details"]["reason"] == "expired"));
    let metrics = app.get_public("/metrics").await.text;
    assert!(
        metrics.contains("latchkey_clients_expired_total 2"),
        "{metrics}"
    );
    // A second sweep finds nothing more.
    assert_eq!(
        expire_unused_clients(&app.state, now_millis())
            .await
            .unwrap(),
        0
    );
    // Time passed in: 30 days on, the client used today is still inside its period; the
    // two last active 29 and 6 days ago are not.
    let later = now_millis() + 30 * DAY;
    assert_eq!(expire_unused_clients(&app.state, later).await.unwrap(), 2);
    assert!(!exists(app, &admin, &anon_recent).await);
    assert!(!exists(app, &admin, &auth_recent).await);
    assert!(exists(app, &admin, &used).await);
    assert!(exists(app, &admin, &admin_old).await);
    assert_eq!(deletions(app, &admin).await.len(), 4);
}

async fn a_use_after_the_sweep_read_keeps_the_client(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    add_policy(
        app,
        &admin,
        "unused-client-expiration",
        "authenticated",
        "Expire",
        json!({"days": ["30"]}),
    )
    .await;
    let token = iat(app, &admin, 1).await;
    let (uuid, client_id, secret) = registered(app, &admin, Some(&token)).await;
    age(app, &uuid, 31).await;
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let cutoff = day(now_millis()) - 30;
    let read = app
        .store
        .unused_clients(&realm.id, cutoff, None, 1000)
        .await
        .unwrap();
    assert!(
        read.iter().any(|c| c.id == uuid),
        "the sweep reads it as unused"
    );
    used_and_recorded(app, &client_id, &secret).await;
    let deleted = app
        .store
        .expire_client(
            &realm.id,
            &uuid,
            cutoff,
            &expired_event(&realm.id, &client_id),
        )
        .await
        .unwrap();
    assert!(!deleted, "a use recorded after the read keeps the client");
    assert!(exists(app, &admin, &uuid).await);
    assert!(deletions(app, &admin).await.is_empty());
}

async fn an_expired_clients_tokens_stop_working(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    add_policy(
        app,
        &admin,
        "unused-client-expiration",
        "authenticated",
        "Expire",
        json!({"days": ["30"]}),
    )
    .await;
    app.create_user(&admin, "acme", user("alice", "alice-pw"))
        .await;
    let token = iat(app, &admin, 1).await;
    let (uuid, client_id, secret) = registered(app, &admin, Some(&token)).await;
    let r = app
        .put(
            &format!("/admin/realms/acme/clients/{uuid}"),
            &admin,
            json!({"directAccessGrantsEnabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .form(
            "/realms/acme/protocol/openid-connect/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pw"),
                ("scope", "openid"),
            ],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let access = r.body["access_token"].as_str().unwrap().to_string();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    let userinfo = |t: String| async move {
        app.get("/realms/acme/protocol/openid-connect/userinfo", &t)
            .await
            .status
    };
    assert_eq!(userinfo(access.clone()).await, StatusCode::OK);
    age(app, &uuid, 31).await;
    assert_eq!(
        expire_unused_clients(&app.state, now_millis())
            .await
            .unwrap(),
        1
    );
    assert_eq!(userinfo(access).await, StatusCode::UNAUTHORIZED);
    let r = app
        .form(
            "/realms/acme/protocol/openid-connect/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some((&client_id, &secret)),
        )
        .await;
    assert!(r.status.is_client_error(), "{}: {}", r.status, r.text);
    let r = app.client_credentials("acme", &client_id, &secret).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
}

async fn the_provider_is_listed_and_checks_days(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let providers = app
        .get(
            "/admin/realms/acme/client-registration-policy/providers",
            &admin,
        )
        .await
        .body;
    let p = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "unused-client-expiration")
        .expect("listed");
    assert!(p["helpText"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(p["properties"][0]["name"], "days");
    assert!(p["properties"][0]["label"].is_string());
    for set in ["anonymous", "authenticated"] {
        for bad in [
            json!({"days": ["0"]}),
            json!({"days": ["-3"]}),
            json!({"days": ["ten"]}),
            json!({"days": ["1.5"]}),
            json!({}),
        ] {
            let r = app
                .post("/admin/realms/acme/components", &admin, json!({"name": "x", "providerId": "unused-client-expiration", "providerType": POLICY_TYPE, "subType": set, "config": bad}))
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        }
        add_policy(
            app,
            &admin,
            "unused-client-expiration",
            set,
            &format!("Expire {set}"),
            json!({"days": ["90"]}),
        )
        .await;
    }
}

/// A sweep reads its candidates a page at a time and goes on to the last page: seven
/// unused clients, pages of two (and one kept client among them), all seven expire.
async fn a_sweep_pages_through_every_candidate(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    add_policy(
        app,
        &admin,
        "unused-client-expiration",
        "authenticated",
        "Expire",
        json!({"days": ["30"]}),
    )
    .await;
    let token = iat(app, &admin, 10).await;
    let mut old = Vec::new();
    for _ in 0..7 {
        let (uuid, ..) = registered(app, &admin, Some(&token)).await;
        age(app, &uuid, 31).await;
        old.push(uuid);
    }
    let (recent, ..) = registered(app, &admin, Some(&token)).await;
    let n = expire_unused_clients_in_pages(&app.state, now_millis(), 2)
        .await
        .unwrap();
    assert_eq!(n, 7);
    for uuid in &old {
        assert!(!exists(app, &admin, uuid).await, "{uuid}");
    }
    assert!(exists(app, &admin, &recent).await);
    assert_eq!(deletions(app, &admin).await.len(), 7);
}

crate::on_both_backends!(
    expiry_deletes_exactly_the_unused_registered_clients,
    a_use_after_the_sweep_read_keeps_the_client,
    an_expired_clients_tokens_stop_working,
    the_provider_is_listed_and_checks_days,
    a_sweep_pages_through_every_candidate,
);

/// Two nodes (two stores and states on one PostgreSQL database) sweep at once, each also
/// expiring what a sweep that began before a use read, while that client is used on both:
/// each expired client goes once, with one event, and the used one stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_sweeps_on_two_nodes_expire_each_client_once() {
    let Some(app) = TestApp::new(Backend::Postgres).await else {
        return;
    };
    let store2 = Arc::new(SqlStore::connect(&app.db.url).await.unwrap());
    let settings = ServerSettings {
        hostname: None,
        relative_path: String::new(),
        proxy_headers: None,
        proxy_trusted: Default::default(),
        dev_mode: true,
        max_body_size: latchkey_server::DEFAULT_BODY_LIMIT,
        limits: Limits::off(),
    };
    let sealer = Arc::new(SecretBox::new(&[9u8; 32]).unwrap());
    let state2 = Arc::new(AppState::new(store2.clone(), sealer, settings));
    let router2 = latchkey_server::router(state2.clone());

    let admin = app.admin_with_realm("acme").await;
    add_policy(
        &app,
        &admin,
        "unused-client-expiration",
        "authenticated",
        "Expire",
        json!({"days": ["30"]}),
    )
    .await;
    let token = iat(&app, &admin, 30).await;
    let mut expiring = Vec::new();
    for _ in 0..20 {
        let (uuid, ..) = registered(&app, &admin, Some(&token)).await;
        age(&app, &uuid, 31).await;
        expiring.push(uuid);
    }
    let (used, used_id, used_secret) = registered(&app, &admin, Some(&token)).await;
    age(&app, &used, 31).await;
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let cutoff = day(now_millis()) - 30;
    // The sweep began: it read every one of them as unused.
    let read = app
        .store
        .unused_clients(&realm.id, cutoff, None, 1000)
        .await
        .unwrap();
    assert_eq!(read.len(), 21);
    // Then the client is used, on node 2, and the use is recorded there.
    let before = store2.group_commit_stats().touches();
    let use_on = |router: axum::Router| {
        let body = serde_urlencoded_pairs(&[
            ("grant_type", "client_credentials"),
            ("client_id", &used_id),
            ("client_secret", &used_secret),
        ]);
        async move {
            let req = axum::http::Request::post("/realms/acme/protocol/openid-connect/token")
                .header("host", "localhost:8080")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap();
            send_to(router, req).await.status
        }
    };
    assert_eq!(use_on(router2.clone()).await, StatusCode::OK);
    for _ in 0..100 {
        if store2.group_commit_stats().touches() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(store2.group_commit_stats().touches() > before);

    // Both nodes expire what was read, in opposite orders, and sweep, while the client
    // keeps being used on both.
    let stale = |store: Arc<dyn Store>, reversed: bool| {
        let mut ids: Vec<(String, String)> = read
            .iter()
            .map(|c| (c.id.clone(), c.client_id.clone()))
            .collect();
        if reversed {
            ids.reverse();
        }
        let realm_id = realm.id.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            for (id, client_id) in ids {
                let e = expired_event(&realm_id, &client_id);
                if store
                    .expire_client(&realm_id, &id, cutoff, &e)
                    .await
                    .unwrap()
                {
                    n += 1;
                }
            }
            n
        })
    };
    let sweep = |state: Arc<AppState>| {
        tokio::spawn(async move { expire_unused_clients(&state, now_millis()).await.unwrap() })
    };
    let users: Vec<_> = (0..10)
        .map(|i| {
            tokio::spawn(use_on(if i % 2 == 0 {
                app.router.clone()
            } else {
                router2.clone()
            }))
        })
        .collect();
    let tasks = [
        stale(app.store.clone(), false),
        stale(store2.clone(), true),
        sweep(app.state.clone()),
        sweep(state2.clone()),
    ];
    let mut deleted = 0;
    for t in tasks {
        deleted += t.await.unwrap();
    }
    for u in users {
        assert_eq!(u.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(deleted, 20, "each expired client deleted exactly once");
    for uuid in &expiring {
        assert!(!exists(&app, &admin, uuid).await);
    }
    assert!(exists(&app, &admin, &used).await, "the used client is kept");
    let events = deletions(&app, &admin).await;
    assert_eq!(events.len(), 20);
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["clientId"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "one CLIENT_DELETE event per client");
    assert!(!ids.contains(&used_id.as_str()));
}
