//! The console's changes are the admin API's operations: each records the admin event its
//! REST twin records (same operation type, resource type and resource path, a
//! representation when the twin's has one), made by the console's client
//! (`security-admin-console`) and the signed-in user; its pages record nothing.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::input_value;
use crate::support::browser::{Browser, ORIGIN, location};
use crate::support::{ADMIN, ADMIN_PASSWORD, POLICY_TYPE, Resp, TestApp};

const REALM: &str = "twin";
const CONSOLE: &str = "/admin/console/realms/twin";
const API: &str = "/admin/realms/twin";

/// A realm's admin events, read through the admin API; the ones already seen are skipped.
struct Trail<'a> {
    app: &'a TestApp,
    token: String,
    realm: &'static str,
    seen: HashSet<String>,
}

impl<'a> Trail<'a> {
    /// Starts after the events `realm` holds now.
    async fn after_now(app: &'a TestApp, token: &str, realm: &'static str) -> Trail<'a> {
        let mut t = Trail {
            app,
            token: token.into(),
            realm,
            seen: HashSet::new(),
        };
        t.fresh().await;
        t
    }

    /// The events recorded since the last look.
    async fn fresh(&mut self) -> Vec<Value> {
        let r = self
            .app
            .get(
                &format!("/admin/realms/{}/admin-events?max=1000", self.realm),
                &self.token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let mut new = Vec::new();
        for e in r.body.as_array().expect("admin events") {
            let id = e["id"].as_str().expect("event id").to_string();
            if self.seen.insert(id) {
                new.push(e.clone());
            }
        }
        new
    }

    /// The one event `what` recorded.
    async fn one(&mut self, what: &str) -> Value {
        let mut new = self.fresh().await;
        assert_eq!(
            new.len(),
            1,
            "{what} records one event in {}: {new:?}",
            self.realm
        );
        new.remove(0)
    }

    async fn none(&mut self, what: &str) {
        let new = self.fresh().await;
        assert!(new.is_empty(), "{what} records nothing: {new:?}");
    }
}

/// Who made a change, as `authDetails` names them.
struct Caller {
    realm_id: String,
    client_id: String,
    user_id: String,
}

impl Caller {
    #[track_caller]
    fn made(&self, e: &Value) {
        let a = &e["authDetails"];
        assert_eq!(a["realmId"], self.realm_id.as_str(), "{e}");
        assert_eq!(a["clientId"], self.client_id.as_str(), "{e}");
        assert_eq!(a["userId"], self.user_id.as_str(), "{e}");
    }
}

/// Operation type, resource type, resource path.
fn triple(e: &Value) -> (String, String, String) {
    let s = |k: &str| {
        e[k].as_str()
            .unwrap_or_else(|| panic!("{k}: {e}"))
            .to_string()
    };
    (s("operationType"), s("resourceType"), s("resourcePath"))
}

/// The triple with the resource's own id (or name) in the path written as `{id}`, for
/// twins that change two resources of one kind; the id must be in the path. An empty id
/// (the realm itself, whose path is empty) leaves the path as it is.
fn shape(e: &Value, id: &str) -> (String, String, String) {
    let (op, kind, path) = triple(e);
    if id.is_empty() {
        return (op, kind, path);
    }
    assert!(path.contains(id), "{path} names {id}");
    (op, kind, path.replace(id, "{id}"))
}

#[track_caller]
fn expect(r: &Resp, status: StatusCode, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
}

/// The console's event and its REST twin's: both made by their callers, the same shape,
/// and a representation on both or neither.
#[track_caller]
fn twins(
    what: &str,
    (console, by_console): (&Value, &Caller),
    (rest, by_rest): (&Value, &Caller),
    ids: (&str, &str),
) {
    by_console.made(console);
    by_rest.made(rest);
    assert_eq!(shape(console, ids.0), shape(rest, ids.1), "{what}");
    assert_eq!(
        console.get("representation").is_some(),
        rest.get("representation").is_some(),
        "{what}: representation of {console} and {rest}"
    );
}

/// The ids of the realm's initial access tokens.
async fn initial_access_ids(app: &TestApp, token: &str) -> HashSet<String> {
    let r = app
        .get(&format!("{API}/clients-initial-access"), token)
        .await;
    expect(&r, StatusCode::OK, "GET clients-initial-access");
    r.body
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_string())
        .collect()
}

fn owned(op: &str, kind: &str, path: &str) -> (String, String, String) {
    (op.into(), kind.into(), path.into())
}

async fn console_changes_record_their_rest_twins_event(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, REALM).await;
    let on = json!({"adminEventsEnabled": true, "adminEventsDetailsEnabled": true});
    app.update_realm(&admin, REALM, on.clone()).await;
    app.update_realm(&admin, "master", on).await;
    let confidential = |id: &str| json!({"clientId": id, "publicClient": false, "clientAuthenticatorType": "client-secret"});
    let con = app.create_client(&admin, REALM, confidential("con")).await;
    let rest_client = app.create_client(&admin, REALM, confidential("rest")).await;

    let master = app.get("/admin/realms/master", &admin).await.body;
    let master_id = master["id"].as_str().expect("master id").to_string();
    let users = app
        .get(
            "/admin/realms/master/users?username=admin&exact=true",
            &admin,
        )
        .await
        .body;
    let admin_id = users[0]["id"].as_str().expect("admin id").to_string();
    let by_console = Caller {
        realm_id: master_id.clone(),
        client_id: app
            .client_uuid(&admin, "master", "security-admin-console")
            .await,
        user_id: admin_id.clone(),
    };
    let by_rest = Caller {
        realm_id: master_id,
        client_id: app.client_uuid(&admin, "master", "admin-cli").await,
        user_id: admin_id,
    };
    assert_ne!(by_console.client_id, by_rest.client_id);

    let mut b = Browser::default();
    let home = b.sign_in(app, "master", ADMIN, ADMIN_PASSWORD).await;
    let csrf = input_value(&home.text, "csrf").unwrap();
    let mut twin = Trail::after_now(app, &admin, REALM).await;
    let mut masters = Trail::after_now(app, &admin, "master").await;
    macro_rules! console {
        ($path:expr, $status:expr, [$($pair:expr),* $(,)?]) => {{
            let path = format!("{CONSOLE}{}", $path);
            let r = b
                .post(app, &path, &[("csrf", csrf.as_str()), $($pair),*], Some(ORIGIN))
                .await;
            expect(&r, $status, &path);
            r
        }};
    }

    // A client update (disable/enable), on the same client: the same event.
    console!(
        format!("/clients/{con}/enabled"),
        StatusCode::SEE_OTHER,
        [("enabled", "false")]
    );
    let c = twin.one("the console's disable").await;
    let r = app
        .put(
            &format!("{API}/clients/{con}"),
            &admin,
            json!({"enabled": true}),
        )
        .await;
    expect(&r, StatusCode::NO_CONTENT, "PUT client");
    let t = twin.one("PUT client").await;
    twins(
        "client update",
        (&c, &by_console),
        (&t, &by_rest),
        (&con, &con),
    );
    assert_eq!(
        triple(&c),
        owned("UPDATE", "CLIENT", &format!("clients/{con}"))
    );

    // A new secret.
    let page = console!(format!("/clients/{con}/secret"), StatusCode::OK, []);
    assert!(page.text.contains("New client secret"), "{}", page.text);
    let c = twin.one("the console's new secret").await;
    let r = app
        .json(
            Method::POST,
            &format!("{API}/clients/{con}/client-secret"),
            Some(&admin),
            None,
        )
        .await;
    expect(&r, StatusCode::OK, "POST client-secret");
    let t = twin.one("POST client-secret").await;
    twins(
        "new secret",
        (&c, &by_console),
        (&t, &by_rest),
        (&con, &con),
    );
    assert_eq!(
        triple(&c),
        owned("ACTION", "CLIENT", &format!("clients/{con}/client-secret"))
    );
    assert_eq!(c.get("representation"), None, "an action carries none");

    // A new registration access token.
    let page = console!(
        format!("/clients/{con}/registration-access-token"),
        StatusCode::OK,
        []
    );
    assert!(page.text.contains("New registration access token"));
    let c = twin.one("the console's registration access token").await;
    let r = app
        .json(
            Method::POST,
            &format!("{API}/clients/{con}/registration-access-token"),
            Some(&admin),
            None,
        )
        .await;
    expect(&r, StatusCode::OK, "POST registration-access-token");
    let t = twin.one("POST registration-access-token").await;
    twins(
        "registration access token",
        (&c, &by_console),
        (&t, &by_rest),
        (&con, &con),
    );

    // Initial access tokens: created, then deleted.
    let before = initial_access_ids(app, &admin).await;
    console!(
        "/initial-access",
        StatusCode::OK,
        [("count", "2"), ("expiration", "")]
    );
    let c = twin.one("the console's initial access token").await;
    let mut made: Vec<_> = initial_access_ids(app, &admin)
        .await
        .difference(&before)
        .cloned()
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    let con_iat = made.remove(0);
    let r = app
        .post(
            &format!("{API}/clients-initial-access"),
            &admin,
            json!({"count": 2}),
        )
        .await;
    expect(&r, StatusCode::CREATED, "POST clients-initial-access");
    let rest_iat = r.location_id();
    let t = twin.one("POST clients-initial-access").await;
    twins(
        "token created",
        (&c, &by_console),
        (&t, &by_rest),
        (&con_iat, &rest_iat),
    );
    assert_eq!(
        triple(&c),
        owned(
            "CREATE",
            "CLIENT_INITIAL_ACCESS_MODEL",
            &format!("clients-initial-access/{con_iat}")
        )
    );
    console!(
        format!("/initial-access/{con_iat}/delete"),
        StatusCode::SEE_OTHER,
        []
    );
    let c = twin.one("the console's token deletion").await;
    let r = app
        .delete(&format!("{API}/clients-initial-access/{rest_iat}"), &admin)
        .await;
    expect(&r, StatusCode::NO_CONTENT, "DELETE clients-initial-access");
    let t = twin.one("DELETE clients-initial-access").await;
    twins(
        "token deleted",
        (&c, &by_console),
        (&t, &by_rest),
        (&con_iat, &rest_iat),
    );
    assert_eq!(
        triple(&c),
        owned(
            "DELETE",
            "CLIENT_INITIAL_ACCESS_MODEL",
            &format!("clients-initial-access/{con_iat}")
        )
    );

    // The registration switches: a realm update.
    console!(
        "/client-registration/switches",
        StatusCode::SEE_OTHER,
        [
            ("clientRegistrationAnonymousEnabled", "true"),
            ("clientRegistrationPoliciesEnabled", "true"),
        ]
    );
    let c = twin.one("the console's switches").await;
    app.update_realm(
        &admin,
        REALM,
        json!({"attributes": {"clientRegistrationAnonymousEnabled": "false"}}),
    )
    .await;
    let t = twin.one("PUT realm attributes").await;
    twins("switches", (&c, &by_console), (&t, &by_rest), ("", ""));
    assert_eq!(triple(&c), owned("UPDATE", "REALM", ""));

    // A registration policy: created, changed (the same one), deleted.
    let r = console!(
        "/client-registration/policies",
        StatusCode::SEE_OTHER,
        [
            ("name", "console-cap"),
            ("providerId", "max-clients"),
            ("subType", "anonymous"),
        ]
    );
    let to = location(&r);
    let con_policy = to
        .split("/policies/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .unwrap_or_else(|| panic!("{to}"))
        .to_string();
    let c = twin.one("the console's new policy").await;
    let rep = json!({"name": "rest-cap", "providerId": "max-clients", "subType": "anonymous",
        "providerType": POLICY_TYPE, "config": {"max-clients": ["50"]}});
    let r = app.post(&format!("{API}/components"), &admin, rep).await;
    expect(&r, StatusCode::CREATED, "POST components");
    let rest_policy = r.location_id();
    let t = twin.one("POST components").await;
    twins(
        "policy created",
        (&c, &by_console),
        (&t, &by_rest),
        (&con_policy, &rest_policy),
    );
    assert_eq!(
        triple(&c),
        owned("CREATE", "COMPONENT", &format!("components/{con_policy}"))
    );
    console!(
        format!("/client-registration/policies/{con_policy}"),
        StatusCode::SEE_OTHER,
        [
            ("name", "console-cap"),
            ("present", "max-clients"),
            ("cfg.max-clients", "60"),
        ]
    );
    let c = twin.one("the console's policy change").await;
    let r = app
        .put(
            &format!("{API}/components/{con_policy}"),
            &admin,
            json!({"config": {"max-clients": ["70"]}}),
        )
        .await;
    expect(&r, StatusCode::NO_CONTENT, "PUT component");
    let t = twin.one("PUT component").await;
    twins(
        "policy changed",
        (&c, &by_console),
        (&t, &by_rest),
        (&con_policy, &con_policy),
    );
    assert_eq!(
        triple(&c),
        owned("UPDATE", "COMPONENT", &format!("components/{con_policy}"))
    );

    // Reads record nothing: every page, and the policies' dry run.
    for page in [
        "/admin/console/".to_string(),
        format!("{CONSOLE}/clients"),
        format!("{CONSOLE}/clients?search=con&waiting=1"),
        format!("{CONSOLE}/clients/{con}"),
        format!("{CONSOLE}/client-registration"),
        format!("{CONSOLE}/client-registration/policies/{con_policy}"),
        format!("{CONSOLE}/initial-access"),
        format!("{CONSOLE}/events"),
        format!("{CONSOLE}/events?kind=admin"),
    ] {
        let r = b.get(app, &page).await;
        expect(&r, StatusCode::OK, &page);
        twin.none(&page).await;
        masters.none(&page).await;
    }
    let r = b.get(app, CONSOLE).await;
    expect(&r, StatusCode::SEE_OTHER, CONSOLE);
    console!(
        "/client-registration/evaluate",
        StatusCode::OK,
        [
            ("auth", "anonymous"),
            (
                "metadata",
                r#"{"redirect_uris": ["https://app.example/cb"]}"#
            ),
        ]
    );
    twin.none("the dry run").await;

    console!(
        format!("/client-registration/policies/{con_policy}/delete"),
        StatusCode::SEE_OTHER,
        []
    );
    let c = twin.one("the console's policy deletion").await;
    let r = app
        .delete(&format!("{API}/components/{rest_policy}"), &admin)
        .await;
    expect(&r, StatusCode::NO_CONTENT, "DELETE component");
    let t = twin.one("DELETE component").await;
    twins(
        "policy deleted",
        (&c, &by_console),
        (&t, &by_rest),
        (&con_policy, &rest_policy),
    );

    // The event settings: a realm update (recorded, since the realm records them already).
    console!(
        "/events/settings",
        StatusCode::SEE_OTHER,
        [
            ("adminEventsEnabled", "true"),
            ("adminEventsDetailsEnabled", "true"),
        ]
    );
    let c = twin.one("the console's event settings").await;
    app.update_realm(
        &admin,
        REALM,
        json!({"adminEventsEnabled": true, "adminEventsDetailsEnabled": true}),
    )
    .await;
    let t = twin.one("PUT realm event settings").await;
    twins(
        "event settings",
        (&c, &by_console),
        (&t, &by_rest),
        ("", ""),
    );

    // Client deletion.
    console!(format!("/clients/{con}/delete"), StatusCode::SEE_OTHER, []);
    let c = twin.one("the console's client deletion").await;
    let r = app
        .delete(&format!("{API}/clients/{rest_client}"), &admin)
        .await;
    expect(&r, StatusCode::NO_CONTENT, "DELETE client");
    let t = twin.one("DELETE client").await;
    twins(
        "client deleted",
        (&c, &by_console),
        (&t, &by_rest),
        (&con, &rest_client),
    );
    assert_eq!(
        triple(&c),
        owned("DELETE", "CLIENT", &format!("clients/{con}"))
    );

    // Realm creation, recorded in the creator's realm.
    let r = b
        .post(
            app,
            "/admin/console/realms",
            &[("realm", "twin-console"), ("csrf", &csrf)],
            Some(ORIGIN),
        )
        .await;
    expect(&r, StatusCode::SEE_OTHER, "console realm creation");
    let c = masters.one("the console's realm creation").await;
    app.create_realm(&admin, "twin-rest").await;
    let t = masters.one("POST realm").await;
    twins(
        "realm created",
        (&c, &by_console),
        (&t, &by_rest),
        ("twin-console", "twin-rest"),
    );
    assert_eq!(triple(&c), owned("CREATE", "REALM", "twin-console"));
    twin.none("a realm creation elsewhere").await;
}

crate::on_both_backends!(console_changes_record_their_rest_twins_event);
