//! Realm → Keys: the list, the Rotate button per algorithm (a new signing key, the old one
//! passive and still verifying), deleting a passive key; CSRF-checked, with admin events.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;
use crate::support::browser::{Browser, location};

const PAGE: &str = "/admin/console/realms/acme/keys";

async fn keys_are_listed_rotated_and_deleted(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    app.update_realm(&admin, "acme", json!({"adminEventsEnabled": true}))
        .await;
    let (_, secret) = app.create_service_client(&admin, "acme", "api").await;
    let before = app.client_token("acme", "api", &secret).await;
    let old = app.get("/admin/realms/acme/keys", &admin).await.body["active"]["RS256"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = Browser::default();
    let csrf = b.sign_in_as_admin(app).await;
    let page = b.get(app, PAGE).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&old) && page.text.contains("ACTIVE (signing)"));
    assert!(page.text.contains("Rotate RS256") && page.text.contains("Rotate ES256"));

    // Without the CSRF token nothing happens.
    let rotate = format!("{PAGE}/RS256/rotate");
    assert_eq!(
        b.post(app, &rotate, &[], None).await.status,
        StatusCode::FORBIDDEN
    );
    let r = b.post(app, &rotate, &[("csrf", csrf.as_str())], None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let listed = b.get(app, &location(&r)).await;
    assert!(listed.text.contains("Key rotated"), "{}", listed.text);
    let keys = app.get("/admin/realms/acme/keys", &admin).await.body;
    let new = keys["active"]["RS256"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let after = app.client_token("acme", "api", &secret).await;
    assert_eq!(
        latchkey_core::jwt::parse(&after).unwrap().kid(),
        Some(new.as_str())
    );
    app.verify("acme", &before).await;
    let old_status = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == old.as_str())
        .map(|k| k["status"].clone());
    assert_eq!(old_status, Some(json!("PASSIVE")));
    assert!(
        listed
            .text
            .contains(&format!("Delete<span class=\"skip\"> key {old}"))
    );

    let r = b
        .post(
            app,
            &format!("{PAGE}/{old}/delete"),
            &[("csrf", csrf.as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(
        !app.jwks("acme")
            .await
            .iter()
            .any(|k| k["kid"] == old.as_str())
    );
    // The signing key cannot be deleted from here.
    let r = b
        .post(
            app,
            &format!("{PAGE}/{new}/delete"),
            &[("csrf", csrf.as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let events = app
        .get(
            "/admin/realms/acme/admin-events?resourceTypes=COMPONENT",
            &admin,
        )
        .await;
    let mut ops: Vec<&str> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operationType"].as_str().unwrap())
        .collect();
    ops.sort();
    assert_eq!(ops, ["CREATE", "DELETE", "UPDATE"], "{}", events.text);
}

crate::on_both_backends!(keys_are_listed_rotated_and_deleted,);
