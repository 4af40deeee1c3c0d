//! Clients' last-used day: one write per client and day on a node whatever the traffic,
//! recorded by each way a client is used, shown in the admin representation
//! (`attributes."client.last.used"`).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use latchkey_core::last_used::{day, iso_date};
use latchkey_core::store::Store;
use latchkey_server::state::now_millis;
use serde_json::{Value, json};

use crate::support::{TestApp, json_request, send_to, serde_urlencoded_pairs, user};

const DAY: i64 = 86_400_000;

fn today() -> String {
    iso_date(day(now_millis()))
}

pub async fn admin_rep(app: &TestApp, admin: &str, uuid: &str) -> Value {
    let r = app
        .get(&format!("/admin/realms/acme/clients/{uuid}"), admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// The client's `client.last.used` once it shows (the write is queued, not awaited).
pub async fn last_used(app: &TestApp, admin: &str, uuid: &str) -> Option<String> {
    for _ in 0..100 {
        let rep = admin_rep(app, admin, uuid).await;
        if let Some(d) = rep["attributes"]["client.last.used"].as_str() {
            return Some(d.to_string());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Waits until the store has written `n` last-used days in all, then a little longer, so
/// that a write too many would be seen.
pub async fn settled_touches(app: &TestApp, n: u64) -> u64 {
    let stats = app.store.group_commit_stats();
    for _ in 0..100 {
        if stats.touches() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stats.touches()
}

async fn one_write_a_day_under_thousands_of_token_requests(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (uuid, secret) = app.create_service_client(&admin, "acme", "svc").await;
    assert!(
        admin_rep(app, &admin, &uuid).await["attributes"]
            .get("client.last.used")
            .is_none(),
        "a client never used shows no last-used date"
    );
    let before = app.store.group_commit_stats().touches();
    let body = serde_urlencoded_pairs(&[
        ("grant_type", "client_credentials"),
        ("client_id", "svc"),
        ("client_secret", &secret),
    ]);
    for _ in 0..40 {
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let mut req = json_request(
                    Method::POST,
                    "/realms/acme/protocol/openid-connect/token",
                    None,
                    None,
                );
                *req.body_mut() = body.clone().into();
                req.headers_mut().insert(
                    "content-type",
                    "application/x-www-form-urlencoded".parse().unwrap(),
                );
                tokio::spawn(send_to(app.router.clone(), req))
            })
            .collect();
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
    }
    assert_eq!(
        settled_touches(app, before + 1).await,
        before + 1,
        "2,000 token requests write the last-used day once"
    );
    assert_eq!(
        last_used(app, &admin, &uuid).await.as_deref(),
        Some(today().as_str())
    );

    // The next day (time passed in), one more write, and the date moves on.
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let record = app.store.client(&realm.id, &uuid).await.unwrap().unwrap();
    let tomorrow = now_millis() + DAY;
    for _ in 0..100 {
        app.state.client_used(&record, tomorrow);
    }
    assert_eq!(settled_touches(app, before + 2).await, before + 2);
    assert_eq!(
        admin_rep(app, &admin, &uuid).await["attributes"]["client.last.used"],
        iso_date(day(tomorrow))
    );
    // A day already recorded is never written back to an earlier one.
    app.store
        .touch_client(&realm.id, &uuid, day(now_millis()) - 3);
    settled_touches(app, before + 3).await;
    assert_eq!(
        admin_rep(app, &admin, &uuid).await["attributes"]["client.last.used"],
        iso_date(day(tomorrow))
    );
}

async fn every_way_a_client_is_used_is_recorded(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    app.create_user(&admin, "acme", user("alice", "alice-pw"))
        .await;
    let today = today();

    // The password grant (a public client).
    let pw = app
        .create_client(
            &admin,
            "acme",
            json!({"clientId": "pw", "publicClient": true, "directAccessGrantsEnabled": true}),
        )
        .await;
    let r = app.password_grant("acme", "pw", "alice", "alice-pw").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(last_used(app, &admin, &pw).await.as_deref(), Some(&*today));

    // The authorization endpoint, before anyone signs in.
    let web = app
        .create_client(
            &admin,
            "acme",
            json!({"clientId": "web", "publicClient": true, "redirectUris": ["https://app.example/cb"]}),
        )
        .await;
    let r = app
        .get_public("/realms/acme/protocol/openid-connect/auth?client_id=web&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fapp.example%2Fcb")
        .await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}: {}",
        r.status,
        r.text
    );
    assert_eq!(last_used(app, &admin, &web).await.as_deref(), Some(&*today));

    // Its registration access token: registering is no use; reading the registration is.
    let iat = app
        .initial_access_token(&admin, "acme", json!({"count": 1}))
        .await;
    let r = app
        .register(
            "acme",
            Some(&iat),
            json!({"grant_types": ["client_credentials"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let client_id = r.body["client_id"].as_str().unwrap().to_string();
    let rat = r.body["registration_access_token"].as_str().unwrap();
    let dcr = app.client_uuid(&admin, "acme", &client_id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        admin_rep(app, &admin, &dcr).await["attributes"]
            .get("client.last.used")
            .is_none()
    );
    let r = app
        .get(
            &format!("/realms/acme/clients-registrations/openid-connect/{client_id}"),
            rat,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(last_used(app, &admin, &dcr).await.as_deref(), Some(&*today));

    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    // An admin's edit that sends the date back does not store it.
    let mut rep = admin_rep(app, &admin, &pw).await;
    rep["attributes"]["client.last.used"] = json!("1999-01-01");
    let r = app
        .put(&format!("/admin/realms/acme/clients/{pw}"), &admin, rep)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        admin_rep(app, &admin, &pw).await["attributes"]["client.last.used"],
        today
    );
    let record = app.store.client(&realm.id, &pw).await.unwrap().unwrap();
    assert!(
        record
            .rep
            .attributes
            .as_ref()
            .is_none_or(|a| !a.contains_key("client.last.used"))
    );
}

crate::on_both_backends!(
    one_write_a_day_under_thousands_of_token_requests,
    every_way_a_client_is_used_is_recorded,
);
