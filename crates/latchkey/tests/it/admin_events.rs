//! Admin events (the audit of admin API changes): changes made through the admin API,
//! recorded when the
//! realm's `adminEventsEnabled` is on and read back with Keycloak's filters.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, user};

fn kinds(events: &Value) -> Vec<(String, String, String)> {
    events
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["operationType"].as_str().unwrap().to_string(),
                e["resourceType"].as_str().unwrap().to_string(),
                e["resourcePath"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn admin_changes_are_recorded_when_enabled(app: &TestApp) {
    let admin = app.admin_with_realm("audited").await;
    const R: &str = "/admin/realms/audited";

    // Off by default, as in Keycloak: nothing is recorded.
    app.create_client(&admin, "audited", json!({"clientId": "before"}))
        .await;
    let none = app.get(&format!("{R}/admin-events"), &admin).await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.body, json!([]));

    app.update_realm(
        &admin,
        "audited",
        json!({"adminEventsEnabled": true, "adminEventsDetailsEnabled": true}),
    )
    .await;

    let client = app
        .create_client(
            &admin,
            "audited",
            json!({"clientId": "audited-app", "secret": "given-secret-123"}),
        )
        .await;
    // A refused change is not an event.
    let dup = app
        .post(
            &format!("{R}/clients"),
            &admin,
            json!({"clientId": "audited-app"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let r = app
        .post(
            &format!("{R}/clients/{client}/client-secret"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let user = app
        .create_user(&admin, "audited", user("ann", "ann-password-1"))
        .await;
    let r = app
        .put(
            &format!("{R}/users/{user}/reset-password"),
            &admin,
            json!({"type": "password", "value": "ann-password-2", "temporary": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.delete(&format!("{R}/clients/{client}"), &admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    let all = app
        .get(&format!("{R}/admin-events?direction=asc"), &admin)
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(
        kinds(&all.body),
        vec![
            (
                "CREATE".into(),
                "CLIENT".into(),
                format!("clients/{client}")
            ),
            (
                "ACTION".into(),
                "CLIENT".into(),
                format!("clients/{client}/client-secret")
            ),
            ("CREATE".into(), "USER".into(), format!("users/{user}")),
            (
                "ACTION".into(),
                "USER".into(),
                format!("users/{user}/reset-password")
            ),
            (
                "DELETE".into(),
                "CLIENT".into(),
                format!("clients/{client}")
            ),
        ]
    );
    let first = &all.body[0];
    let audited_id = app.get(R, &admin).await.body["id"].clone();
    assert_eq!(first["realmId"], audited_id);
    let master = app.get("/admin/realms/master", &admin).await.body;
    assert_eq!(first["authDetails"]["realmId"], master["id"]);
    let admin_cli = app
        .get("/admin/realms/master/clients?clientId=admin-cli", &admin)
        .await
        .body[0]["id"]
        .clone();
    assert_eq!(first["authDetails"]["clientId"], admin_cli);
    let me = app
        .get(
            "/admin/realms/master/users?username=admin&exact=true",
            &admin,
        )
        .await
        .body[0]["id"]
        .clone();
    assert_eq!(first["authDetails"]["userId"], me);
    assert_eq!(first["authDetails"]["ipAddress"], "127.0.0.1");
    // Details are kept without credentials; actions carry none.
    let rep: Value = serde_json::from_str(first["representation"].as_str().unwrap()).unwrap();
    assert_eq!(rep["clientId"], "audited-app");
    assert!(!all.text.contains("given-secret-123"), "{}", all.text);
    assert!(!all.text.contains("ann-password"), "{}", all.text);
    assert!(all.body[1].get("representation").is_none());

    // Filters.
    let q = |query: &str| {
        let path = format!("{R}/admin-events?{query}");
        let admin = admin.clone();
        async move { app.get(&path, &admin).await }
    };
    let created = q("operationTypes=CREATE&operationTypes=DELETE&direction=asc").await;
    assert_eq!(
        kinds(&created.body)
            .iter()
            .map(|k| k.0.as_str())
            .collect::<Vec<_>>(),
        ["CREATE", "CREATE", "DELETE"]
    );
    assert_eq!(kinds(&q("resourceTypes=USER").await.body).len(), 2);
    assert_eq!(kinds(&q("resourcePath=clients/*").await.body).len(), 3);
    assert_eq!(
        kinds(&q(&format!("resourcePath=users/{user}")).await.body).len(),
        1
    );
    assert_eq!(
        kinds(&q(&format!("authUser={}", me.as_str().unwrap())).await.body).len(),
        5
    );
    assert_eq!(kinds(&q("authUser=someone-else").await.body).len(), 0);
    assert_eq!(kinds(&q("authIpAddress=127.0.0.1").await.body).len(), 5);
    let page = q("first=1&max=2&direction=asc").await;
    assert_eq!(page.body.as_array().unwrap().len(), 2);
    assert_eq!(page.body[0]["id"], all.body[1]["id"]);
    let newest = q("max=1").await;
    assert_eq!(newest.body[0]["id"], all.body[4]["id"], "newest first");
    assert_eq!(
        kinds(&q("dateFrom=2000-01-01&dateTo=2999-12-31").await.body).len(),
        5
    );
    assert_eq!(kinds(&q("dateTo=2000-01-01").await.body).len(), 0);
    let bad = q("dateFrom=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body["error"],
        "Invalid value for 'dateFrom', expected format is yyyy-MM-dd or an Epoch timestamp"
    );
    assert_eq!(q("direction=up").await.status, StatusCode::BAD_REQUEST);

    // Clearing.
    let r = app.delete(&format!("{R}/admin-events"), &admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(q("").await.body, json!([]));
    let r = app.delete(&format!("{R}/events"), &admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

async fn realm_creation_is_recorded_in_the_callers_realm(app: &TestApp) {
    let admin = app.admin_token().await;
    app.update_realm(&admin, "master", json!({"adminEventsEnabled": true}))
        .await;
    app.create_realm(&admin, "newcomer").await;
    let events = app.get("/admin/realms/master/admin-events", &admin).await;
    assert_eq!(
        kinds(&events.body),
        vec![("CREATE".into(), "REALM".into(), "newcomer".into())]
    );
    assert!(
        events.body[0].get("representation").is_none(),
        "details are off"
    );
}

async fn admin_events_need_view_events(app: &TestApp) {
    let admin = app.admin_with_realm("quiet").await;
    app.create_user(&admin, "quiet", user("viewer", "viewer-pw"))
        .await;
    let token = app
        .password_token("quiet", "admin-cli", "viewer", "viewer-pw")
        .await;
    let r = app.get("/admin/realms/quiet/admin-events", &token).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.delete("/admin/realms/quiet/admin-events", &token).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// As in Keycloak's realm update, the realm as it was when the request came decides:
/// turning admin events on is not recorded, turning them off is (the last event).
async fn switching_admin_events_is_judged_by_the_realm_before(app: &TestApp) {
    let admin = app.admin_with_realm("switched").await;
    const R: &str = "/admin/realms/switched";
    app.update_realm(&admin, "switched", json!({"adminEventsEnabled": true}))
        .await;
    let after_on = app.get(&format!("{R}/admin-events"), &admin).await;
    assert_eq!(after_on.body, json!([]), "turning on is not recorded");
    app.update_realm(&admin, "switched", json!({"adminEventsEnabled": false}))
        .await;
    let after_off = app.get(&format!("{R}/admin-events"), &admin).await;
    assert_eq!(
        kinds(&after_off.body),
        vec![("UPDATE".into(), "REALM".into(), String::new())],
        "{}",
        after_off.text
    );
}

crate::on_both_backends!(
    switching_admin_events_is_judged_by_the_realm_before,
    admin_changes_are_recorded_when_enabled,
    realm_creation_is_recorded_in_the_callers_realm,
    admin_events_need_view_events,
);
