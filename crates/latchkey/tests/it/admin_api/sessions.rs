//! User sessions (Keycloak's admin API): a user's sessions listed with their clients, one
//! session ended leaving the others, a user's logout ending all of them (offline tokens
//! too, as Keycloak's not-before does), `view-users` to list and `manage-users` to end,
//! unknown ids 404, and the admin events.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Resp, TestApp, user};

const R: &str = "/admin/realms/acme";
const TOKEN: &str = "/realms/acme/protocol/openid-connect/token";

/// A sign-in of alice through `admin-cli` (password grant, with `scope`): the refresh
/// token and the session id (`sid`).
async fn sign_in(app: &TestApp, scope: &str) -> (String, String) {
    let r = app
        .form(
            TOKEN,
            &[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", "alice"),
                ("password", "pw"),
                ("scope", scope),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "sign-in: {}", r.text);
    let access = r.body["access_token"].as_str().unwrap();
    let sid = app.verify("acme", access).await["sid"]
        .as_str()
        .expect("sid")
        .to_string();
    (r.body["refresh_token"].as_str().unwrap().to_string(), sid)
}

async fn refresh(app: &TestApp, token: &str) -> Resp {
    app.form(
        TOKEN,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "admin-cli"),
            ("refresh_token", token),
        ],
        None,
    )
    .await
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

async fn sessions_are_listed_and_ended(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    app.update_realm(&admin, "acme", json!({"adminEventsEnabled": true}))
        .await;
    let uid = app.create_user(&admin, "acme", user("alice", "pw")).await;
    let cli = app.client_uuid(&admin, "acme", "admin-cli").await;
    let viewer = app
        .user_token(&admin, "acme", "viewer", &["view-users"])
        .await;
    let (first, first_sid) = sign_in(app, "openid").await;
    let (second, second_sid) = sign_in(app, "openid").await;
    let (offline, _) = sign_in(app, "openid offline_access").await;

    // The two online sessions, oldest first, in Keycloak's shape; the offline one is not
    // among them (Keycloak lists it under offline-sessions).
    let list = app.get(&format!("{R}/users/{uid}/sessions"), &viewer).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(ids(&list.body), [first_sid.as_str(), second_sid.as_str()]);
    let s = &list.body[0];
    assert_eq!(s["username"], "alice");
    assert_eq!(s["userId"], uid.as_str());
    assert_eq!(s["clients"], json!({ cli.as_str(): "admin-cli" }));
    let (start, last) = (
        s["start"].as_i64().unwrap(),
        s["lastAccess"].as_i64().unwrap(),
    );
    let now = crate::support::unix_now() * 1000;
    assert!(start > now - 60_000 && start <= now + 1_000, "{s}");
    assert!(last >= start && last <= now + 1_000, "{s}");

    // Ending needs manage-users.
    let refused = [
        app.delete(&format!("{R}/sessions/{first_sid}"), &viewer)
            .await,
        app.post(&format!("{R}/users/{uid}/logout"), &viewer, json!({}))
            .await,
    ];
    for r in refused {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }

    // One session ended: its refresh token is refused, the other session's is not.
    let r = app
        .delete(&format!("{R}/sessions/{first_sid}"), &admin)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(refresh(app, &first).await.status, StatusCode::BAD_REQUEST);
    let kept = refresh(app, &second).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
    let second = kept.body["refresh_token"].as_str().unwrap().to_string();
    let list = app.get(&format!("{R}/users/{uid}/sessions"), &admin).await;
    assert_eq!(ids(&list.body), [second_sid.as_str()]);
    let again = app
        .delete(&format!("{R}/sessions/{first_sid}"), &admin)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.text);

    // The user's logout ends every session, the offline token included.
    let r = app
        .post(&format!("{R}/users/{uid}/logout"), &admin, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    for token in [&second, &offline] {
        let r = refresh(app, token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.body["error"], "invalid_grant");
    }
    let list = app.get(&format!("{R}/users/{uid}/sessions"), &admin).await;
    assert_eq!(list.body, json!([]));

    // Unknown ids.
    for r in [
        app.get(&format!("{R}/users/no-such-user/sessions"), &admin)
            .await,
        app.post(&format!("{R}/users/no-such-user/logout"), &admin, json!({}))
            .await,
        app.delete(&format!("{R}/sessions/no-such-session"), &admin)
            .await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }

    // One admin event per change.
    let events = app
        .get(&format!("{R}/admin-events?direction=asc"), &admin)
        .await
        .body;
    let changes: Vec<(&str, &str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resourceType"] != "USER" || e["operationType"] != "CREATE")
        .filter(|e| e["resourceType"] != "CLIENT_ROLE_MAPPING")
        .map(|e| {
            (
                e["operationType"].as_str().unwrap(),
                e["resourceType"].as_str().unwrap(),
                e["resourcePath"].as_str().unwrap(),
            )
        })
        .collect();
    let (deleted, logout) = (
        format!("sessions/{first_sid}"),
        format!("users/{uid}/logout"),
    );
    assert_eq!(
        changes,
        [
            ("DELETE", "USER_SESSION", deleted.as_str()),
            ("ACTION", "USER", logout.as_str()),
        ]
    );
}

/// `isOffline=true` ends the offline session: its offline token is refused afterwards,
/// while a plain `DELETE` of a session with only offline tokens finds no online session.
async fn an_offline_session_is_ended_with_is_offline(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    app.create_user(&admin, "acme", user("alice", "pw")).await;
    let (offline, sid) = sign_in(app, "openid offline_access").await;
    let online = app.delete(&format!("{R}/sessions/{sid}"), &admin).await;
    assert_eq!(online.status, StatusCode::NOT_FOUND, "{}", online.text);
    let kept = refresh(app, &offline).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
    let offline = kept.body["refresh_token"].as_str().unwrap().to_string();
    let r = app
        .delete(&format!("{R}/sessions/{sid}?isOffline=true"), &admin)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = refresh(app, &offline).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

crate::on_both_backends!(
    sessions_are_listed_and_ended,
    an_offline_session_is_ended_with_is_offline,
);
