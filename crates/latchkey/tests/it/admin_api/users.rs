//! Users (lowercase usernames, duplicates, search, passwords), realm and client roles, and
//! role mappings with their composites; email uniqueness under concurrent writers; search
//! characters taken literally.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::{TestApp, assert_error_body, send_to, strings};

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

/// Sends one admin request with a JSON body on a task of its own.
fn spawn_json(
    app: &TestApp,
    method: Method,
    path: &str,
    admin: &str,
    body: serde_json::Value,
) -> tokio::task::JoinHandle<crate::support::Resp> {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost:8080")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    tokio::spawn(send_to(app.router.clone(), req))
}

/// Email uniqueness holds under concurrency: 16 users created at once with one address
/// give one user and 15 Keycloak 409s; two users renamed at once to one address, one
/// change; a realm that allows duplicates takes them all.
async fn concurrent_writers_of_one_email_make_one_user(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let creates: Vec<_> = (0..16)
        .map(|i| {
            spawn_json(
                app,
                Method::POST,
                "/admin/realms/acme/users",
                &admin,
                json!({"username": format!("racer{i}"), "email": "same@example.com"}),
            )
        })
        .collect();
    let mut created = 0;
    for t in creates {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::CREATED => created += 1,
            _ => assert_error_body(
                &r,
                StatusCode::CONFLICT,
                json!({"errorMessage": "User exists with same email"}),
            ),
        }
    }
    assert_eq!(created, 1);
    let found = app
        .get("/admin/realms/acme/users?email=same@example.com", &admin)
        .await;
    assert_eq!(
        found.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        found.text
    );

    for round in 0..4 {
        let ids = [
            app.create_user(&admin, "acme", json!({"username": format!("a{round}")}))
                .await,
            app.create_user(&admin, "acme", json!({"username": format!("b{round}")}))
                .await,
        ];
        let email = format!("renamed{round}@example.com");
        let updates: Vec<_> = ids
            .iter()
            .map(|id| {
                spawn_json(
                    app,
                    Method::PUT,
                    &format!("/admin/realms/acme/users/{id}"),
                    &admin,
                    json!({"email": email}),
                )
            })
            .collect();
        let mut statuses = Vec::new();
        for t in updates {
            statuses.push(t.await.unwrap().status);
        }
        statuses.sort();
        assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::CONFLICT]);
    }

    let r = app
        .put(
            "/admin/realms/acme",
            &admin,
            json!({"duplicateEmailsAllowed": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let creates: Vec<_> = (0..4)
        .map(|i| {
            spawn_json(
                app,
                Method::POST,
                "/admin/realms/acme/users",
                &admin,
                json!({"username": format!("twin{i}"), "email": "same@example.com"}),
            )
        })
        .collect();
    for t in creates {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
}

/// `%`, `_` and `\` in a search are the characters themselves, not `LIKE` wildcards,
/// for users (`search`, `username`) and clients (`clientId` with `search=true`).
async fn search_characters_are_literal(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    for name in ["a_b", "axb", "a%b", "ayyb", "a\\b", "plain"] {
        app.create_user(&admin, "acme", json!({"username": name}))
            .await;
        let r = app
            .post(
                "/admin/realms/acme/clients",
                &admin,
                json!({"clientId": format!("c-{name}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let query = |q: &str| url_escape(q);
    for (typed, found) in [("_", "a_b"), ("%", "a%b"), ("\\", "a\\b"), ("a_", "a_b")] {
        for path in [
            format!("/admin/realms/acme/users?search={}", query(typed)),
            format!("/admin/realms/acme/users?username={}", query(typed)),
        ] {
            let r = app.get(&path, &admin).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
            assert_eq!(strings(&r.body, "username"), [found], "{path}");
        }
        let path = format!(
            "/admin/realms/acme/clients?search=true&clientId={}",
            query(typed)
        );
        let r = app.get(&path, &admin).await;
        assert_eq!(
            strings(&r.body, "clientId"),
            [format!("c-{found}")],
            "{path}"
        );
    }
    let r = app
        .get("/admin/realms/acme/users/count?search=_", &admin)
        .await;
    assert_eq!(r.body, json!(1), "{}", r.text);
}

/// Percent-encodes everything but letters and digits.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

crate::on_both_backends!(
    users_roles_and_mappings,
    concurrent_writers_of_one_email_make_one_user,
    search_characters_are_literal,
);
