//! Initial access tokens (counted down, expired, deleted, Keycloak's defaults) and
//! registration access tokens (read, rotated on update, ended on delete, minted by an admin).

use axum::http::{Method, StatusCode};
use latchkey_core::crypto::{hash_token, new_uuid, random_token};
use latchkey_core::store::{InitialAccessRecord, Store};
use serde_json::json;

use super::{
    BASE, IATS, Provider, admin_client, assert_both_refuse, assert_error, assert_not_stored,
    create, created, list_iats, new_iat, remaining,
};
use crate::support::{Backend, TestApp, assert_error_body, unix_now};

/// Initial access tokens: created once with their token, listed without it, counted down,
/// refused when used up, unknown or deleted; negative values are Keycloak's 400s.
async fn initial_access_tokens_count_down_and_run_out(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
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
        created(app, p, Some(&token), p.body("via-iat")).await;
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
    assert_both_refuse(
        app,
        Some(&token),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        Some("No remaining count on initial access token"),
    )
    .await;
    // A used-up token stays listed with 0.
    assert_eq!(remaining(app, &admin, &id).await, Some(0));

    assert_both_refuse(
        app,
        Some("not-a-real-initial-access-token"),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        Some("Initial Access Token not found"),
    )
    .await;

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
    assert_both_refuse(
        app,
        Some(&token2),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        Some("Initial Access Token not found"),
    )
    .await;

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
    assert_error_body(
        &bad,
        StatusCode::BAD_REQUEST,
        json!({"error": "Invalid value for count", "error_description": "The count cannot be less than 0"}),
    );
    let bad = app.post(IATS, &admin, json!({"expiration": -1})).await;
    assert_error_body(
        &bad,
        StatusCode::BAD_REQUEST,
        json!({"error": "Invalid value for expiration", "error_description": "The expiration time interval cannot be less than 0"}),
    );
    // Keycloak's Integer: beyond 32 bits the body does not parse (an i64::MAX expiration
    // overflowed the expiry check of every registration with the token); the largest
    // 32-bit values make a token that registers.
    for body in [
        json!({"expiration": i64::MAX}),
        json!({"count": 1_i64 << 31}),
    ] {
        let bad = app.post(IATS, &admin, body.clone()).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{body}: {}", bad.text);
    }
    let r = app
        .post(
            IATS,
            &admin,
            json!({"expiration": i32::MAX, "count": i32::MAX}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/realms/acme/clients-registrations/openid-connect",
            &token,
            json!({"redirect_uris": ["https://app.example.com/cb"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// An initial access token past its expiration is refused and no longer listed (the token
/// is backdated in the store, so no test has to wait).
async fn expired_initial_access_token_is_refused(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let token = random_token::<32>();
    let now = unix_now();
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
    assert_both_refuse(
        app,
        Some(&token),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        Some("Expired initial access token"),
    )
    .await;
    assert_eq!(remaining(app, &admin, &record.id).await, None);
}

/// Registration access tokens: GET does not rotate, PUT does (the old one dies at once),
/// DELETE ends it; an initial access token cannot read.
async fn registration_access_tokens_read_rotate_and_die(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 5, &[]).await;
    let neighbour = created(
        app,
        Provider::Oidc,
        Some(&iat),
        Provider::Oidc.body("neighbour"),
    )
    .await;
    let neighbour_rat = Provider::Oidc.rat(&neighbour);
    // Initial and registration access tokens are stored only as hashes.
    assert_not_stored(app, &[&iat, &neighbour_rat]);
    for p in Provider::ALL {
        let c = created(app, p, Some(&iat), p.body("rat")).await;
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
        let r = app.get_public(&path).await;
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
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 1, &[]).await;
    let c = created(
        app,
        Provider::Oidc,
        Some(&iat),
        Provider::Oidc.body("minted"),
    )
    .await;
    let id = Provider::Oidc.client_id(&c);
    let old = Provider::Oidc.rat(&c);
    let uuid = app.client_uuid(&admin, "acme", &id).await;
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
    let viewer = app
        .user_token(&admin, "acme", "viewer", &["view-clients"])
        .await;
    let r = app.json(Method::POST, &path, Some(&viewer), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

crate::on_both_backends!(
    initial_access_tokens_count_down_and_run_out,
    expired_initial_access_token_is_refused,
    registration_access_tokens_read_rotate_and_die,
    admin_mints_a_new_registration_access_token,
);

/// The same in real time, through the admin API (SQLite only: it sleeps 2.1 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_access_token_expires_in_real_time_sqlite() {
    let Some(app) = TestApp::new(Backend::Sqlite).await else {
        return;
    };
    let admin = app.admin_with_realm("acme").await;
    let token = app
        .initial_access_token(&admin, "acme", json!({"count": 3, "expiration": 1}))
        .await;
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
