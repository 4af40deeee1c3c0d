//! Realm → Resource servers: list, add (the admin API's rules and errors next to the
//! field), delete; `view-realm` sees the list without the forms, and each change records
//! the admin event of its REST twin.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::browser::{Browser, location};
use crate::support::{TestApp, user};

const PAGE: &str = "/admin/console/realms/acme/resource-servers";
const MCP: &str = "https://mcp.example/mcp";

async fn resource_servers_are_listed_added_and_deleted(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    app.update_realm(&admin, "acme", json!({"adminEventsEnabled": true}))
        .await;
    app.create_client_scope(
        &admin,
        "acme",
        json!({"name": "mcp", "protocol": "openid-connect"}),
    )
    .await;
    let mut b = Browser::default();
    let csrf = b.sign_in_as_admin(app).await;
    let page = b.get(app, PAGE).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("No resource servers"), "{}", page.text);
    assert!(
        page.text
            .contains("aria-current=\"page\">Resource servers<")
    );

    let add = |uri: &'static str, scopes: &'static str| {
        [("uri", uri), ("name", "The MCP server"), ("scopes", scopes)]
    };
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(add(MCP, "mcp"));
    let r = b.post(app, PAGE, &form, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let listed = b.get(app, &location(&r)).await;
    assert!(
        listed.text.contains("Resource server added."),
        "{}",
        listed.text
    );
    assert!(listed.text.contains(MCP) && listed.text.contains("The MCP server"));
    let api = app.get("/admin/realms/acme/resource-servers", &admin).await;
    assert_eq!(api.body[0]["uri"], MCP);
    assert_eq!(api.body[0]["scopes"], json!(["mcp"]));
    let id = api.body[0]["id"].as_str().unwrap().to_string();

    // Refusals come back next to the field, with what was typed.
    for (uri, scopes, status, message) in [
        (MCP, "", StatusCode::CONFLICT, "already exists"),
        ("/relative", "", StatusCode::BAD_REQUEST, "absolute URI"),
        (
            "https://b.example",
            "nope",
            StatusCode::BAD_REQUEST,
            "no client scope named",
        ),
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(add(uri, scopes));
        let r = b.post(app, PAGE, &form, None).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text);
        assert!(r.text.contains(message), "{uri}: {}", r.text);
        assert!(r.text.contains("field-error"), "{}", r.text);
    }
    // Without the CSRF token nothing happens.
    let r = b.post(app, PAGE, &add("https://c.example", ""), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = b
        .post(
            app,
            &format!("{PAGE}/{id}/delete"),
            &[("csrf", csrf.as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let listed = b.get(app, &location(&r)).await;
    assert!(listed.text.contains("Resource server deleted."));
    assert!(!listed.text.contains(MCP));
    let events = app
        .get(
            "/admin/realms/acme/admin-events?resourceTypes=RESOURCE_SERVER",
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
    assert_eq!(ops, ["CREATE", "DELETE"], "{}", events.text);
}

async fn viewers_see_the_list_without_forms(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let r = app
        .post(
            "/admin/realms/acme/resource-servers",
            &admin,
            json!({"uri": MCP}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let vera = app
        .create_user(&admin, "acme", user("vera", "vera-pass"))
        .await;
    app.grant_realm_management(&admin, "acme", &vera, &["view-realm"])
        .await;
    let mut b = Browser::default();
    let home = b.sign_in(app, "acme", "vera", "vera-pass").await;
    let csrf = super::input_value(&home.text, "csrf").unwrap();
    let page = b.get(app, PAGE).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(MCP));
    assert!(!page.text.contains("Add resource server"));
    assert!(!page.text.contains("/delete"));
    let r = b
        .post(
            app,
            PAGE,
            &[("csrf", csrf.as_str()), ("uri", "https://b.example")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Without view-realm the page is refused.
    let carl = app
        .create_user(&admin, "acme", user("carl", "carl-pass"))
        .await;
    app.grant_realm_management(&admin, "acme", &carl, &["manage-clients"])
        .await;
    let mut b = Browser::default();
    b.sign_in(app, "acme", "carl", "carl-pass").await;
    assert_eq!(b.get(app, PAGE).await.status, StatusCode::FORBIDDEN);
}

crate::on_both_backends!(
    resource_servers_are_listed_added_and_deleted,
    viewers_see_the_list_without_forms,
);
