//! Every registration operation, allowed or refused, is an event with Keycloak's filters.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Provider, create, created, events, new_iat};
use crate::support::{TestApp, assert_error_body};

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
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 3, &[]).await;
    let p = Provider::Oidc;
    let c = created(app, p, Some(&iat), p.body("audited")).await;
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
    // A year beyond yyyy is as malformed as a word (a 14-digit year overflowed the day
    // count: a panic and a dropped connection).
    for (name, value) in [
        ("dateFrom", "yesterday"),
        ("dateFrom", "99999999999999-12-31"),
        ("dateTo", "9223372036854775807-01-01"),
    ] {
        let r = app
            .get(&format!("/admin/realms/acme/events?{name}={value}"), &admin)
            .await;
        assert_error_body(
            &r,
            StatusCode::BAD_REQUEST,
            json!({"error": format!("Invalid value for '{name}', expected format is yyyy-MM-dd or an Epoch timestamp")}),
        );
    }
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

crate::on_both_backends!(registration_operations_are_events,);
