//! `/admin/realms/{r}/resource-servers`: create (201 + `Location`), list, read, update,
//! delete; a URI unique in the realm (409), the URI rule (400), the rights it takes
//! (`view-realm` to read, `manage-realm` to change), an admin event for each change.

use axum::http::StatusCode;
use serde_json::json;

use super::*;
use crate::support::{assert_error_body, assert_error_message};

const MCP: &str = "https://mcp.example/mcp";

async fn resource_servers_crud(app: &TestApp) {
    let admin = app.admin_with_realm(REALM).await;
    app.update_realm(
        &admin,
        REALM,
        json!({"adminEventsEnabled": true, "adminEventsDetailsEnabled": true}),
    )
    .await;
    app.create_client_scope(
        &admin,
        REALM,
        json!({"name": "mcp", "protocol": "openid-connect"}),
    )
    .await;
    let empty = app.get(SERVERS, &admin).await;
    assert_eq!(
        (empty.status, empty.body.clone()),
        (StatusCode::OK, json!([]))
    );

    let r = app
        .post(
            SERVERS,
            &admin,
            json!({"uri": MCP, "name": "MCP", "scopes": ["mcp"], "extra": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let location = r.header("location").unwrap().to_string();
    let id = r.location_id();
    assert_eq!(location, format!("http://localhost:8080{SERVERS}/{id}"));
    let one = app.get(&format!("{SERVERS}/{id}"), &admin).await;
    assert_eq!(
        one.body,
        json!({"id": id, "uri": MCP, "name": "MCP", "scopes": ["mcp"]})
    );
    let r = app
        .post(SERVERS, &admin, json!({"uri": "http://localhost:3000"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "a loopback one: {}", r.text);
    let local = r.location_id();
    let local_rep = app.get(&format!("{SERVERS}/{local}"), &admin).await.body;
    assert_eq!(
        local_rep,
        json!({"id": local, "uri": "http://localhost:3000", "name": "http://localhost:3000", "scopes": []}),
        "defaults: the URI as name, no scope"
    );
    let list = app.get(SERVERS, &admin).await;
    assert_eq!(list.body, json!([local_rep, one.body]), "by URI");

    // 409 on a URI the realm has, on create and on update.
    let dup = app.post(SERVERS, &admin, json!({"uri": MCP})).await;
    assert_error_message(
        &dup,
        StatusCode::CONFLICT,
        &format!("Resource server with uri {MCP} already exists"),
    );
    let r = app
        .put(&format!("{SERVERS}/{local}"), &admin, json!({"uri": MCP}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    let r = app
        .put(
            &format!("{SERVERS}/{id}"),
            &admin,
            json!({"name": "Renamed", "scopes": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let one = app.get(&format!("{SERVERS}/{id}"), &admin).await;
    assert_eq!(
        one.body,
        json!({"id": id, "uri": MCP, "name": "Renamed", "scopes": []}),
        "a member left out keeps its value"
    );

    let r = app.delete(&format!("{SERVERS}/{id}"), &admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    for r in [
        app.get(&format!("{SERVERS}/{id}"), &admin).await,
        app.delete(&format!("{SERVERS}/{id}"), &admin).await,
        app.put(&format!("{SERVERS}/{id}"), &admin, json!({"name": "x"}))
            .await,
    ] {
        assert_error_body(
            &r,
            StatusCode::NOT_FOUND,
            json!({"error": "Resource server not found"}),
        );
    }

    // Each change recorded its admin event.
    let events = app
        .get(
            "/admin/realms/rs/admin-events?resourceTypes=RESOURCE_SERVER&direction=asc",
            &admin,
        )
        .await;
    let mut seen: Vec<(String, String)> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operationType"].as_str().unwrap().to_string(),
                e["resourcePath"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let path = |i: &str| format!("resource-servers/{i}");
    let mut expected = vec![
        ("CREATE".to_string(), path(&id)),
        ("CREATE".to_string(), path(&local)),
        ("UPDATE".to_string(), path(&id)),
        ("DELETE".to_string(), path(&id)),
    ];
    // (events in the same millisecond come in either order)
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected, "{}", events.text);
    let created = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["operationType"] == "CREATE" && e["resourcePath"] == path(&id))
        .unwrap();
    assert_eq!(created["resourceType"], "RESOURCE_SERVER");
    let sent: Value = serde_json::from_str(created["representation"].as_str().unwrap()).unwrap();
    assert_eq!(sent["uri"], MCP, "the representation sent: {sent}");
}

async fn bad_resource_servers_are_400(app: &TestApp) {
    let admin = app.admin_with_realm(REALM).await;
    let long = format!("https://a.example/{}", "x".repeat(300));
    for (body, message) in [
        (json!({"name": "no uri"}), "uri is required"),
        (
            json!({"uri": "/mcp"}),
            "resource must be an absolute URI: /mcp",
        ),
        (
            json!({"uri": "https://a.example/mcp#x"}),
            "resource must not have a fragment: https://a.example/mcp#x",
        ),
        (
            json!({"uri": "https://a.example/mcp?x=1"}),
            "uri must not have a query",
        ),
        (
            json!({"uri": "http://a.example/mcp"}),
            "uri must use https (or http to a loopback address)",
        ),
        (json!({"uri": "urn:example:mcp"}), "uri must have a host"),
        (
            json!({"uri": "https://a.example", "scopes": ["nope"]}),
            "scopes: no client scope named \"nope\" in this realm",
        ),
        (json!({"uri": long}), "uri is longer than 255 characters"),
        (
            json!({"uri": "https://a.example/\u{7}"}),
            "uri contains a control character",
        ),
    ] {
        let r = app.post(SERVERS, &admin, body.clone()).await;
        assert_error_message(&r, StatusCode::BAD_REQUEST, message);
    }
    let r = app
        .post(SERVERS, &admin, json!({"uri": ["not", "a", "string"]}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.post(SERVERS, &admin, json!({"uri": MCP})).await;
    let id = r.location_id();
    let r = app
        .put(
            &format!("{SERVERS}/{id}"),
            &admin,
            json!({"uri": "relative"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.get("/admin/realms/nope/resource-servers", &admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

async fn reading_takes_view_realm_and_changing_manage_realm(app: &TestApp) {
    let admin = app.admin_with_realm(REALM).await;
    let r = app.post(SERVERS, &admin, json!({"uri": MCP})).await;
    let id = r.location_id();
    let clients_only = app
        .user_token(&admin, REALM, "clients", &["manage-clients"])
        .await;
    let viewer = app
        .user_token(&admin, REALM, "viewer", &["view-realm"])
        .await;
    let manager = app
        .user_token(&admin, REALM, "manager", &["manage-realm"])
        .await;
    let one = format!("{SERVERS}/{id}");
    let forbidden = |r: &Resp| {
        assert_error_body(
            r,
            StatusCode::FORBIDDEN,
            json!({"error": "HTTP 403 Forbidden"}),
        )
    };
    forbidden(&app.get(SERVERS, &clients_only).await);
    forbidden(&app.get(&one, &clients_only).await);
    forbidden(
        &app.post(SERVERS, &clients_only, json!({"uri": "https://b.example"}))
            .await,
    );
    assert_eq!(app.get(SERVERS, &viewer).await.status, StatusCode::OK);
    assert_eq!(app.get(&one, &viewer).await.status, StatusCode::OK);
    forbidden(
        &app.post(SERVERS, &viewer, json!({"uri": "https://b.example"}))
            .await,
    );
    forbidden(&app.put(&one, &viewer, json!({"name": "x"})).await);
    forbidden(&app.delete(&one, &viewer).await);
    assert_eq!(app.get(SERVERS, &manager).await.status, StatusCode::OK);
    let r = app
        .post(SERVERS, &manager, json!({"uri": "https://b.example"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        app.put(&one, &manager, json!({"name": "x"})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&one, &manager).await.status,
        StatusCode::NO_CONTENT
    );
    let r = app.get(SERVERS, "not-a-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Another realm's admin has no rights here.
    app.create_realm(&admin, "other").await;
    let foreign = app
        .user_token(&admin, "other", "boss", &["manage-realm"])
        .await;
    forbidden(&app.get(SERVERS, &foreign).await);
}

crate::on_both_backends!(
    resource_servers_crud,
    bad_resource_servers_are_400,
    reading_takes_view_realm_and_changing_manage_realm,
);
