//! Every admin operation that changes a realm records one admin event with Keycloak's
//! operation type, resource type and resource path (the admin API path of the resource
//! below the realm, as the caller addressed it), whichever aggregate it changes; reads,
//! dry runs and refused changes record none.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Resp, TestApp};

const R: &str = "/admin/realms/paths";

/// Sends one admin request, checks its status, and notes the event it must record.
struct Walk<'a> {
    app: &'a TestApp,
    token: String,
    expected: Vec<(String, String, String)>,
}

impl Walk<'_> {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
        event: Option<(&str, &str, &str)>,
    ) -> Resp {
        let r = self
            .app
            .json(
                method.clone(),
                &format!("{R}{path}"),
                Some(&self.token),
                body,
            )
            .await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text);
        if let Some((op, kind, path)) = event {
            self.expected.push((op.into(), kind.into(), path.into()));
        }
        r
    }
}

async fn every_change_names_its_resource(app: &TestApp) {
    let token = app.admin_token().await;
    app.create_realm(&token, "paths").await;
    let r = app
        .put(
            R,
            &token,
            json!({"adminEventsEnabled": true, "adminEventsDetailsEnabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let mut w = Walk {
        app,
        token: token.clone(),
        expected: Vec::new(),
    };
    use Method as M;
    use StatusCode as S;

    // Clients and client roles.
    let c = w
        .send(
            M::POST,
            "/clients",
            Some(json!({"clientId": "app"})),
            S::CREATED,
            None,
        )
        .await
        .location_id();
    let client = format!("clients/{c}");
    w.expected
        .push(("CREATE".into(), "CLIENT".into(), client.clone()));
    let body = Some(json!({"description": "changed"}));
    w.send(
        M::PUT,
        &format!("/{client}"),
        body,
        S::NO_CONTENT,
        Some(("UPDATE", "CLIENT", &client)),
    )
    .await;
    let rat = format!("{client}/registration-access-token");
    w.send(
        M::POST,
        &format!("/{rat}"),
        None,
        S::OK,
        Some(("ACTION", "CLIENT", &rat)),
    )
    .await;
    let reader = format!("{client}/roles/reader");
    let body = Some(json!({"name": "reader"}));
    w.send(
        M::POST,
        &format!("/{client}/roles"),
        body,
        S::CREATED,
        Some(("CREATE", "CLIENT_ROLE", &reader)),
    )
    .await;
    let body = Some(json!({"description": "reads"}));
    w.send(
        M::PUT,
        &format!("/{reader}"),
        body,
        S::NO_CONTENT,
        Some(("UPDATE", "CLIENT_ROLE", &reader)),
    )
    .await;

    // Realm roles: a renamed role's event names it as the caller addressed it.
    let body = Some(json!({"name": "staff"}));
    w.send(
        M::POST,
        "/roles",
        body,
        S::CREATED,
        Some(("CREATE", "REALM_ROLE", "roles/staff")),
    )
    .await;
    let body = Some(json!({"name": "crew"}));
    w.send(
        M::PUT,
        "/roles/staff",
        body,
        S::NO_CONTENT,
        Some(("UPDATE", "REALM_ROLE", "roles/staff")),
    )
    .await;
    w.send(
        M::DELETE,
        "/roles/default-roles-paths",
        None,
        S::BAD_REQUEST,
        None,
    )
    .await;

    // Users and their role mappings.
    let u = w
        .send(
            M::POST,
            "/users",
            Some(json!({"username": "bo"})),
            S::CREATED,
            None,
        )
        .await
        .location_id();
    let user = format!("users/{u}");
    w.expected
        .push(("CREATE".into(), "USER".into(), user.clone()));
    let body = Some(json!({"firstName": "Bo"}));
    w.send(
        M::PUT,
        &format!("/{user}"),
        body,
        S::NO_CONTENT,
        Some(("UPDATE", "USER", &user)),
    )
    .await;
    let crew = w.send(M::GET, "/roles/crew", None, S::OK, None).await.body;
    let realm_mappings = format!("{user}/role-mappings/realm");
    let body = Some(json!([{"id": crew["id"], "name": "crew"}]));
    w.send(
        M::POST,
        &format!("/{realm_mappings}"),
        body,
        S::NO_CONTENT,
        Some(("CREATE", "REALM_ROLE_MAPPING", &realm_mappings)),
    )
    .await;
    let role = w
        .send(M::GET, &format!("/{reader}"), None, S::OK, None)
        .await
        .body;
    let client_mappings = format!("{user}/role-mappings/clients/{c}");
    let body = Some(json!([{"id": role["id"], "name": "reader"}]));
    w.send(
        M::POST,
        &format!("/{client_mappings}"),
        body.clone(),
        S::NO_CONTENT,
        Some(("CREATE", "CLIENT_ROLE_MAPPING", &client_mappings)),
    )
    .await;
    w.send(
        M::DELETE,
        &format!("/{client_mappings}"),
        body,
        S::NO_CONTENT,
        Some(("DELETE", "CLIENT_ROLE_MAPPING", &client_mappings)),
    )
    .await;
    w.send(
        M::DELETE,
        "/roles/crew",
        None,
        S::NO_CONTENT,
        Some(("DELETE", "REALM_ROLE", "roles/crew")),
    )
    .await;
    w.send(
        M::DELETE,
        &format!("/{reader}"),
        None,
        S::NO_CONTENT,
        Some(("DELETE", "CLIENT_ROLE", &reader)),
    )
    .await;

    // Client scopes and the realm's scope sets.
    let s = w
        .send(
            M::POST,
            "/client-scopes",
            Some(json!({"name": "extra"})),
            S::CREATED,
            None,
        )
        .await
        .location_id();
    let scope = format!("client-scopes/{s}");
    w.expected
        .push(("CREATE".into(), "CLIENT_SCOPE".into(), scope.clone()));
    let body = Some(json!({"description": "more"}));
    w.send(
        M::PUT,
        &format!("/{scope}"),
        body,
        S::NO_CONTENT,
        Some(("UPDATE", "CLIENT_SCOPE", &scope)),
    )
    .await;
    let optional = format!("default-optional-client-scopes/{s}");
    w.send(
        M::PUT,
        &format!("/{optional}"),
        None,
        S::NO_CONTENT,
        Some(("UPDATE", "REALM_SCOPE_MAPPING", &optional)),
    )
    .await;
    w.send(
        M::DELETE,
        &format!("/{optional}"),
        None,
        S::NO_CONTENT,
        Some(("DELETE", "REALM_SCOPE_MAPPING", &optional)),
    )
    .await;
    let default = format!("default-default-client-scopes/{s}");
    w.send(
        M::PUT,
        &format!("/{default}"),
        None,
        S::NO_CONTENT,
        Some(("UPDATE", "REALM_SCOPE_MAPPING", &default)),
    )
    .await;
    w.send(
        M::DELETE,
        &format!("/{default}"),
        None,
        S::NO_CONTENT,
        Some(("DELETE", "REALM_SCOPE_MAPPING", &default)),
    )
    .await;
    w.send(
        M::DELETE,
        &format!("/{scope}"),
        None,
        S::NO_CONTENT,
        Some(("DELETE", "CLIENT_SCOPE", &scope)),
    )
    .await;

    // Initial access tokens and registration policies; a dry run changes nothing.
    let t = w
        .send(
            M::POST,
            "/clients-initial-access",
            Some(json!({"count": 2})),
            S::CREATED,
            None,
        )
        .await
        .location_id();
    let iat = format!("clients-initial-access/{t}");
    w.expected.push((
        "CREATE".into(),
        "CLIENT_INITIAL_ACCESS_MODEL".into(),
        iat.clone(),
    ));
    w.send(
        M::DELETE,
        &format!("/{iat}"),
        None,
        S::NO_CONTENT,
        Some(("DELETE", "CLIENT_INITIAL_ACCESS_MODEL", &iat)),
    )
    .await;
    let policy = json!({"name": "cap", "providerId": "max-clients", "subType": "anonymous",
        "providerType": "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy",
        "config": {"max-clients": ["50"]}});
    let p = w
        .send(M::POST, "/components", Some(policy), S::CREATED, None)
        .await
        .location_id();
    let component = format!("components/{p}");
    w.expected
        .push(("CREATE".into(), "COMPONENT".into(), component.clone()));
    let body = Some(json!({"config": {"max-clients": ["60"]}}));
    w.send(
        M::PUT,
        &format!("/{component}"),
        body,
        S::NO_CONTENT,
        Some(("UPDATE", "COMPONENT", &component)),
    )
    .await;
    w.send(
        M::DELETE,
        &format!("/{component}"),
        None,
        S::NO_CONTENT,
        Some(("DELETE", "COMPONENT", &component)),
    )
    .await;
    // Resource servers (RFC 8707); a refused one records nothing.
    let rs = w
        .send(
            M::POST,
            "/resource-servers",
            Some(json!({"uri": "https://mcp.example/mcp"})),
            S::CREATED,
            None,
        )
        .await
        .location_id();
    let server = format!("resource-servers/{rs}");
    w.expected
        .push(("CREATE".into(), "RESOURCE_SERVER".into(), server.clone()));
    w.send(
        M::POST,
        "/resource-servers",
        Some(json!({"uri": "https://mcp.example/mcp"})),
        S::CONFLICT,
        None,
    )
    .await;
    w.send(
        M::PUT,
        &format!("/{server}"),
        Some(json!({"name": "MCP"})),
        S::NO_CONTENT,
        Some(("UPDATE", "RESOURCE_SERVER", &server)),
    )
    .await;
    w.send(
        M::DELETE,
        &format!("/{server}"),
        None,
        S::NO_CONTENT,
        Some(("DELETE", "RESOURCE_SERVER", &server)),
    )
    .await;
    let body = Some(json!({"metadata": {"redirect_uris": ["https://app.example/cb"]}}));
    w.send(
        M::POST,
        "/client-registration-policy/evaluate",
        body,
        S::OK,
        None,
    )
    .await;

    // The realm itself, then what goes.
    let body = Some(json!({"displayName": "Paths"}));
    w.send(
        M::PUT,
        "",
        body,
        S::NO_CONTENT,
        Some(("UPDATE", "REALM", "")),
    )
    .await;
    w.send(
        M::DELETE,
        &format!("/{user}"),
        None,
        S::NO_CONTENT,
        Some(("DELETE", "USER", &user)),
    )
    .await;
    w.send(
        M::DELETE,
        &format!("/{client}"),
        None,
        S::NO_CONTENT,
        Some(("DELETE", "CLIENT", &client)),
    )
    .await;

    let events = app
        .get(&format!("{R}/admin-events?direction=asc&max=1000"), &token)
        .await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    let list = events.body.as_array().expect("array");
    // Events are ordered by their millisecond; several may share one.
    let mut recorded: Vec<(String, String, String)> = list
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().expect(k).to_string();
            (s("operationType"), s("resourceType"), s("resourcePath"))
        })
        .collect();
    recorded.sort();
    w.expected.sort();
    assert_eq!(recorded, w.expected);

    // Details: what was sent, without credentials; none for an action or a scope set.
    let rep = |path: &str, op: &str| -> Option<Value> {
        let e = list
            .iter()
            .find(|e| e["resourcePath"] == path && e["operationType"] == op)
            .expect("event");
        e.get("representation")
            .map(|r| serde_json::from_str(r.as_str().expect("string")).expect("JSON"))
    };
    assert_eq!(
        rep(&client, "UPDATE"),
        Some(json!({"description": "changed"}))
    );
    assert_eq!(
        rep(&realm_mappings, "CREATE"),
        Some(json!([{"id": crew["id"], "name": "crew"}]))
    );
    assert_eq!(rep(&rat, "ACTION"), None);
    assert_eq!(rep(&optional, "UPDATE"), None);
    assert_eq!(rep(&iat, "CREATE"), Some(json!({"count": 2})));
}

crate::on_both_backends!(every_change_names_its_resource);
