//! Users (lowercase usernames, duplicates, search, passwords), realm and client roles, and
//! role mappings with their composites.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, assert_error_body, strings};

async fn users_roles_and_mappings(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let uid = app
        .create_user(
            &admin,
            "acme",
            json!({"username": "Alice", "email": "alice@example.com", "enabled": true}),
        )
        .await;
    let u = app
        .get(&format!("/admin/realms/acme/users/{uid}"), &admin)
        .await
        .body;
    assert_eq!(u["username"], "alice", "usernames are stored lowercase");
    assert!(u["createdTimestamp"].is_i64());
    assert!(u.get("credentials").is_none());
    let dup = app
        .post(
            "/admin/realms/acme/users",
            &admin,
            json!({"username": "alice"}),
        )
        .await;
    assert_error_body(
        &dup,
        StatusCode::CONFLICT,
        json!({"errorMessage": "User exists with same username"}),
    );
    let dup = app
        .post(
            "/admin/realms/acme/users",
            &admin,
            json!({"username": "al2", "email": "ALICE@example.com"}),
        )
        .await;
    assert_eq!(
        dup.body,
        json!({"errorMessage": "User exists with same email"})
    );
    let nameless = app
        .post("/admin/realms/acme/users", &admin, json!({"email": "x@y"}))
        .await;
    assert_eq!(
        nameless.body,
        json!({"errorMessage": "User name is missing"})
    );
    app.create_user(
        &admin,
        "acme",
        json!({"username": "alfred", "lastName": "Pennyworth"}),
    )
    .await;

    let exact = app
        .get(
            "/admin/realms/acme/users?username=alice&exact=True&max=1",
            &admin,
        )
        .await
        .body;
    assert_eq!(exact.as_array().unwrap().len(), 1);
    let fuzzy = app
        .get("/admin/realms/acme/users?username=al", &admin)
        .await
        .body;
    assert_eq!(fuzzy.as_array().unwrap().len(), 2);
    let search = app
        .get("/admin/realms/acme/users?search=penny", &admin)
        .await
        .body;
    assert_eq!(search[0]["username"], "alfred");
    assert_eq!(
        app.get("/admin/realms/acme/users/count", &admin).await.body,
        json!(2)
    );
    assert_eq!(
        app.get("/admin/realms/acme/users?first=1&max=5", &admin)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let r = app
        .put(
            &format!("/admin/realms/acme/users/{uid}"),
            &admin,
            json!({"firstName": "Alice"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/admin/realms/acme/users/{uid}"), &admin)
            .await
            .body["email"],
        "alice@example.com"
    );
    let r = app
        .put(
            &format!("/admin/realms/acme/users/{uid}/reset-password"),
            &admin,
            json!({"type": "password"}),
        )
        .await;
    assert_error_body(
        &r,
        StatusCode::BAD_REQUEST,
        json!({"error": "No password provided"}),
    );

    // Realm role: create, 409, map by id and name, read back.
    let r = app
        .post(
            "/admin/realms/acme/roles",
            &admin,
            json!({"name": "reader", "description": "reads"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        r.header("location"),
        Some("http://localhost:8080/admin/realms/acme/roles/reader")
    );
    let dup = app
        .post(
            "/admin/realms/acme/roles",
            &admin,
            json!({"name": "reader"}),
        )
        .await;
    assert_eq!(
        dup.body,
        json!({"errorMessage": "Role with name reader already exists"})
    );
    let role = app
        .get("/admin/realms/acme/roles/reader", &admin)
        .await
        .body;
    assert_eq!(role["clientRole"], false);
    let missing = app.get("/admin/realms/acme/roles/nope", &admin).await;
    assert_error_body(
        &missing,
        StatusCode::NOT_FOUND,
        json!({"error": "Could not find role"}),
    );
    let mapping_path = format!("/admin/realms/acme/users/{uid}/role-mappings/realm");
    let bad = app
        .post(
            &mapping_path,
            &admin,
            json!([{"id": "nope", "name": "reader"}]),
        )
        .await;
    assert_error_body(
        &bad,
        StatusCode::NOT_FOUND,
        json!({"error": "Role not found"}),
    );
    let r = app
        .post(
            &mapping_path,
            &admin,
            json!([{"id": role["id"], "name": "reader"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let direct = app.get(&mapping_path, &admin).await.body;
    let names = strings(&direct, "name");
    assert!(
        names.contains(&"reader") && names.contains(&"default-roles-acme"),
        "{names:?}"
    );
    let composite = app
        .get(&format!("{mapping_path}/composite"), &admin)
        .await
        .body;
    let names = strings(&composite, "name");
    assert!(
        names.contains(&"offline_access"),
        "composites expand: {names:?}"
    );

    // Client role mapping.
    let (cid, _) = app.create_service_client(&admin, "acme", "api").await;
    let r = app
        .post(
            &format!("/admin/realms/acme/clients/{cid}/roles"),
            &admin,
            json!({"name": "invoke"}),
        )
        .await;
    assert_eq!(
        r.header("location").unwrap(),
        format!("http://localhost:8080/admin/realms/acme/clients/{cid}/roles/invoke")
    );
    let invoke = app
        .get(
            &format!("/admin/realms/acme/clients/{cid}/roles/invoke"),
            &admin,
        )
        .await
        .body;
    assert_eq!(invoke["clientRole"], true);
    assert_eq!(invoke["containerId"], json!(cid));
    let cm = format!("/admin/realms/acme/users/{uid}/role-mappings/clients/{cid}");
    assert_eq!(
        app.post(&cm, &admin, json!([invoke])).await.status,
        StatusCode::NO_CONTENT
    );
    let all = app
        .get(
            &format!("/admin/realms/acme/users/{uid}/role-mappings"),
            &admin,
        )
        .await
        .body;
    assert_eq!(
        all["clientMappings"]["api"]["mappings"][0]["name"],
        "invoke"
    );
    assert_eq!(all["clientMappings"]["api"]["id"], json!(cid));
    assert_eq!(
        app.json(Method::DELETE, &cm, Some(&admin), Some(json!([invoke])))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&cm, &admin).await.body, json!([]));

    let r = app
        .put(
            "/admin/realms/acme/roles/reader",
            &admin,
            json!({"description": "changed"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/admin/realms/acme/roles/reader", &admin)
            .await
            .body["description"],
        "changed"
    );
    assert_eq!(
        app.delete("/admin/realms/acme/roles/reader", &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let direct = app.get(&mapping_path, &admin).await.body;
    assert!(
        !direct.to_string().contains("reader"),
        "deleting a role removes its mappings"
    );
    assert_eq!(
        app.delete(&format!("/admin/realms/acme/users/{uid}"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/admin/realms/acme/users/{uid}"), &admin)
            .await
            .body,
        json!({"error": "User not found"})
    );
}

crate::on_both_backends!(users_roles_and_mappings,);
