//! Isolation: for every endpoint that takes a token, a credential of realm
//! `alpha` is refused in realm `beta`; a registration access token of client X cannot touch
//! client Y; an object of `beta` cannot be reached through `alpha`'s admin paths (even by
//! the master admin). Table-driven: each case states what must be refused, and every
//! refused credential is also shown to work where it belongs (so no case passes vacuously).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, user};

const CB: &str = "https://app.example/cb";

/// One realm's cast: admin user token (realm-admin), service client, user tokens.
struct Realm {
    name: &'static str,
    /// Token of a user of this realm holding `realm-management` `realm-admin`.
    boss: String,
    svc_uuid: String,
    svc_secret: String,
    /// A user's access and refresh tokens (password grant on `svc`).
    access: String,
    refresh: String,
    id_token: String,
    user_id: String,
    scope_id: String,
    component_id: String,
    iat_id: String,
    iat: String,
    /// A resource server (RFC 8707) of the realm.
    rs_id: String,
    /// Two registered clients: (client_id, RAT) through each provider.
    registered: Vec<(String, String)>,
}

async fn realm(app: &TestApp, master: &str, name: &'static str) -> Realm {
    app.create_realm(master, name).await;
    let base = format!("/admin/realms/{name}");
    let boss_id = app
        .create_user(master, name, user("boss", "boss-pass"))
        .await;
    app.grant_realm_management(master, name, &boss_id, &["realm-admin"])
        .await;
    let svc_uuid = app
        .create_client(master, name, json!({"clientId": "svc", "publicClient": false,
            "serviceAccountsEnabled": true, "directAccessGrantsEnabled": true, "redirectUris": [CB]}))
        .await;
    let svc_secret = app.client_secret(master, name, &svc_uuid).await;
    let r = app
        .post(
            &format!("{base}/clients/{svc_uuid}/roles"),
            master,
            json!({"name": "r1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let boss = app
        .password_token(name, "admin-cli", "boss", "boss-pass")
        .await;
    let t = app
        .form(
            &format!("/realms/{name}/protocol/openid-connect/token"),
            &[
                ("grant_type", "password"),
                ("username", "boss"),
                ("password", "boss-pass"),
                ("scope", "openid"),
            ],
            Some(("svc", &svc_secret)),
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let scope_id = app.get(&format!("{base}/client-scopes"), master).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let component_id = app.get(&format!("{base}/components"), master).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post(
            &format!("{base}/clients-initial-access"),
            master,
            json!({"count": 10, "expiration": 0}),
        )
        .await;
    let iat_id = r.body["id"].as_str().unwrap().to_string();
    let iat = r.body["token"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("{base}/resource-servers"),
            master,
            json!({"uri": "https://mcp.example/mcp"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let rs_id = r.location_id();
    let mut registered = Vec::new();
    for (provider, body) in [
        (
            "openid-connect",
            json!({"client_name": "x", "redirect_uris": [CB]}),
        ),
        ("default", json!({"name": "x", "redirectUris": [CB]})),
    ] {
        let r = app
            .post(
                &format!("/realms/{name}/clients-registrations/{provider}"),
                &iat,
                body,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let id = r.body.get("client_id").or(r.body.get("clientId")).unwrap();
        let rat = r
            .body
            .get("registration_access_token")
            .or(r.body.get("registrationAccessToken"))
            .unwrap();
        registered.push((
            id.as_str().unwrap().to_string(),
            rat.as_str().unwrap().to_string(),
        ));
    }
    Realm {
        name,
        boss,
        svc_uuid,
        svc_secret,
        access: t.body["access_token"].as_str().unwrap().to_string(),
        refresh: t.body["refresh_token"].as_str().unwrap().to_string(),
        id_token: t.body["id_token"].as_str().unwrap().to_string(),
        user_id: boss_id,
        scope_id,
        component_id,
        iat_id,
        iat,
        rs_id,
        registered,
    }
}

/// Every admin route (method, path template): `{R}` the realm, `{client}` a client uuid,
/// `{user}` a user id, `{scope}` a client scope id, `{comp}` a component id, `{iat}` an
/// initial access token id, `{rs}` a resource server id.
const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("GET", "{R}"),
    ("PUT", "{R}"),
    ("DELETE", "{R}"),
    ("GET", "{R}/clients"),
    ("POST", "{R}/clients"),
    ("GET", "{R}/clients/{client}"),
    ("PUT", "{R}/clients/{client}"),
    ("DELETE", "{R}/clients/{client}"),
    ("GET", "{R}/clients/{client}/client-secret"),
    ("POST", "{R}/clients/{client}/client-secret"),
    ("GET", "{R}/clients/{client}/service-account-user"),
    ("GET", "{R}/clients/{client}/roles"),
    ("POST", "{R}/clients/{client}/roles"),
    ("GET", "{R}/clients/{client}/roles/r1"),
    ("PUT", "{R}/clients/{client}/roles/r1"),
    ("DELETE", "{R}/clients/{client}/roles/r1"),
    ("POST", "{R}/clients/{client}/registration-access-token"),
    ("GET", "{R}/roles"),
    ("POST", "{R}/roles"),
    ("GET", "{R}/roles/offline_access"),
    ("PUT", "{R}/roles/offline_access"),
    ("DELETE", "{R}/roles/offline_access"),
    ("GET", "{R}/users"),
    ("POST", "{R}/users"),
    ("GET", "{R}/users/count"),
    ("GET", "{R}/users/{user}"),
    ("PUT", "{R}/users/{user}"),
    ("DELETE", "{R}/users/{user}"),
    ("PUT", "{R}/users/{user}/reset-password"),
    ("GET", "{R}/users/{user}/sessions"),
    ("POST", "{R}/users/{user}/logout"),
    ("GET", "{R}/users/{user}/role-mappings"),
    ("GET", "{R}/users/{user}/role-mappings/realm"),
    ("POST", "{R}/users/{user}/role-mappings/realm"),
    ("DELETE", "{R}/users/{user}/role-mappings/realm"),
    ("GET", "{R}/users/{user}/role-mappings/realm/composite"),
    ("GET", "{R}/users/{user}/role-mappings/clients/{client}"),
    ("POST", "{R}/users/{user}/role-mappings/clients/{client}"),
    ("DELETE", "{R}/users/{user}/role-mappings/clients/{client}"),
    (
        "GET",
        "{R}/users/{user}/role-mappings/clients/{client}/composite",
    ),
    ("GET", "{R}/client-scopes"),
    ("POST", "{R}/client-scopes"),
    ("GET", "{R}/client-scopes/{scope}"),
    ("PUT", "{R}/client-scopes/{scope}"),
    ("DELETE", "{R}/client-scopes/{scope}"),
    ("GET", "{R}/default-default-client-scopes"),
    ("GET", "{R}/default-optional-client-scopes"),
    ("PUT", "{R}/default-default-client-scopes/{scope}"),
    ("DELETE", "{R}/default-default-client-scopes/{scope}"),
    ("PUT", "{R}/default-optional-client-scopes/{scope}"),
    ("DELETE", "{R}/default-optional-client-scopes/{scope}"),
    ("GET", "{R}/clients-initial-access"),
    ("POST", "{R}/clients-initial-access"),
    ("DELETE", "{R}/clients-initial-access/{iat}"),
    ("GET", "{R}/resource-servers"),
    ("POST", "{R}/resource-servers"),
    ("GET", "{R}/resource-servers/{rs}"),
    ("PUT", "{R}/resource-servers/{rs}"),
    ("DELETE", "{R}/resource-servers/{rs}"),
    ("GET", "{R}/events"),
    ("DELETE", "{R}/events"),
    ("GET", "{R}/admin-events"),
    ("DELETE", "{R}/admin-events"),
    ("GET", "{R}/components"),
    ("POST", "{R}/components"),
    ("GET", "{R}/components/{comp}"),
    ("PUT", "{R}/components/{comp}"),
    ("DELETE", "{R}/components/{comp}"),
    ("GET", "{R}/client-registration-policy/providers"),
    ("POST", "{R}/client-registration-policy/evaluate"),
    ("POST", "{R}/partialImport"),
    ("POST", "{R}/partial-export"),
];

fn fill(template: &str, realm: &str, ids: &Realm) -> String {
    template
        .replace("{R}", &format!("/admin/realms/{realm}"))
        .replace("{client}", &ids.svc_uuid)
        .replace("{user}", &ids.user_id)
        .replace("{scope}", &ids.scope_id)
        .replace("{comp}", &ids.component_id)
        .replace("{iat}", &ids.iat_id)
        .replace("{rs}", &ids.rs_id)
}

fn body_for(method: &str, path: &str) -> Option<Value> {
    match method {
        "GET" => None,
        "DELETE" if path.contains("role-mappings") => Some(json!([])),
        "DELETE" => None,
        _ if path.contains("role-mappings") => Some(json!([])),
        _ => Some(json!({})),
    }
}

struct Tally {
    cases: usize,
    violations: Vec<String>,
}

impl Tally {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.cases += 1;
        if !ok {
            self.violations.push(what());
        }
    }
}

async fn credentials_stay_in_their_realm(app: &TestApp) {
    let master = app.admin_token().await;
    let a = realm(app, &master, "alpha").await;
    let b = realm(app, &master, "beta").await;
    let mut t = Tally {
        cases: 0,
        violations: Vec::new(),
    };

    // Admin API: alpha's realm admin is refused on every beta route; the same token reads
    // alpha (it is a working admin token).
    for (method, template) in ADMIN_ROUTES {
        let path = fill(template, b.name, &b);
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let r = app
            .json(m, &path, Some(&a.boss), body_for(method, template))
            .await;
        t.check(
            matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
            || format!("alpha admin on {method} {path}: {} {}", r.status, r.text),
        );
        if *method == "GET" {
            let own = fill(template, a.name, &a);
            let r = app.get(&own, &a.boss).await;
            t.check(r.status.is_success(), || {
                format!("alpha admin on its own GET {own}: {}", r.status)
            });
        }
    }
    // Only the master realm's admins make realms or see other realms.
    let r = app
        .post(
            "/admin/realms",
            &a.boss,
            json!({"realm": "gamma", "enabled": true}),
        )
        .await;
    t.check(
        matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
        || format!("alpha admin creates a realm: {}", r.status),
    );
    let r = app.get("/admin/realms", &a.boss).await;
    t.check(
        !r.text.contains("\"beta\"") && !r.text.contains("\"master\""),
        || format!("alpha admin lists other realms: {} {}", r.status, r.text),
    );
    // Admin API: beta's objects through alpha's paths, even for the master admin: not found.
    for (method, template) in ADMIN_ROUTES {
        if !template.contains("/{") || template.contains("{comp}") && *method == "POST" {
            continue;
        }
        let path = fill(template, a.name, &b);
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let r = app
            .json(m, &path, Some(&master), body_for(method, template))
            .await;
        // Deleting an initial access token answers 204 whatever the id (as Keycloak does);
        // that beta's token survives is checked below.
        let idempotent = template.ends_with("{iat}") && r.status == StatusCode::NO_CONTENT;
        t.check(
            idempotent || !r.status.is_success() && r.status != StatusCode::INTERNAL_SERVER_ERROR,
            || {
                format!(
                    "master admin on {method} {path} (beta's ids): {} {}",
                    r.status, r.text
                )
            },
        );
        if *method == "GET" {
            t.check(r.status == StatusCode::NOT_FOUND, || {
                format!("GET {path} with beta's ids: {}", r.status)
            });
        }
    }
    // ...and beta's objects are all still there, unchanged.
    for (path, what) in [
        (
            format!("/admin/realms/beta/clients/{}", b.svc_uuid),
            "client",
        ),
        (format!("/admin/realms/beta/users/{}", b.user_id), "user"),
        (
            format!("/admin/realms/beta/client-scopes/{}", b.scope_id),
            "scope",
        ),
        (
            format!("/admin/realms/beta/components/{}", b.component_id),
            "component",
        ),
    ] {
        let r = app.get(&path, &master).await;
        t.check(r.status == StatusCode::OK, || {
            format!("beta's {what} was touched: {}", r.status)
        });
    }
    let iats = app
        .get("/admin/realms/beta/clients-initial-access", &master)
        .await;
    t.check(
        iats.body
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == b.iat_id.as_str()),
        || "beta's initial access token was deleted through alpha".into(),
    );
    let secret = app
        .get(
            &format!("/admin/realms/beta/clients/{}/client-secret", b.svc_uuid),
            &master,
        )
        .await;
    t.check(secret.body["value"] == b.svc_secret.as_str(), || {
        "beta's client secret was regenerated through alpha".into()
    });

    // Registration: initial access tokens, bearer tokens and RATs stay in their realm; a
    // RAT of client X cannot touch client Y.
    for provider in ["openid-connect", "default"] {
        let create = format!("/realms/beta/clients-registrations/{provider}");
        for (what, token) in [("initial access token", &a.iat), ("admin bearer", &a.boss)] {
            let r = app
                .post(
                    &create,
                    token,
                    json!({"client_name": "intruder", "name": "intruder", "redirect_uris": [CB]}),
                )
                .await;
            t.check(
                matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
                || format!("alpha's {what} creates in beta ({provider}): {}", r.status),
            );
        }
    }
    let providers = ["openid-connect", "default"];
    let rats: Vec<(&str, &str, &str, &str)> = vec![
        // (realm, client_id the URL names, RAT presented, what)
        (
            "beta",
            &b.registered[0].0,
            &a.registered[0].1,
            "alpha RAT on a beta client",
        ),
        (
            "beta",
            &b.registered[1].0,
            &a.registered[1].1,
            "alpha RAT on a beta client",
        ),
        (
            "alpha",
            &a.registered[1].0,
            &a.registered[0].1,
            "RAT of X on Y",
        ),
        (
            "alpha",
            &a.registered[0].0,
            &a.registered[1].1,
            "RAT of Y on X",
        ),
        (
            "beta",
            &a.registered[0].0,
            &a.registered[0].1,
            "alpha RAT on its client's id under beta",
        ),
        (
            "alpha",
            &a.registered[0].0,
            &a.iat,
            "initial access token as a RAT",
        ),
        (
            "alpha",
            &a.registered[0].0,
            &b.registered[0].1,
            "beta RAT on an alpha client",
        ),
    ];
    for (realm, client_id, rat, what) in &rats {
        for provider in providers {
            let path = format!("/realms/{realm}/clients-registrations/{provider}/{client_id}");
            for m in [Method::GET, Method::PUT, Method::DELETE] {
                let body = (m == Method::PUT).then(|| {
                    json!({"client_id": client_id, "clientId": client_id, "redirect_uris": [CB]})
                });
                let r = app.json(m.clone(), &path, Some(rat), body).await;
                t.check(
                    matches!(
                        r.status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
                    ),
                    || format!("{what}: {m} {path}: {} {}", r.status, r.text),
                );
            }
            let install = format!("/realms/{realm}/clients-registrations/install/{client_id}");
            let r = app.get(&install, rat).await;
            t.check(!r.status.is_success(), || {
                format!("{what}: GET {install}: {}", r.status)
            });
        }
    }
    // Each RAT still works on its own client (nothing above spent or rotated it).
    for (i, (id, rat)) in a.registered.iter().enumerate() {
        let path = format!("/realms/alpha/clients-registrations/{}/{id}", providers[i]);
        let r = app.get(&path, rat).await;
        t.check(r.status == StatusCode::OK, || {
            format!("alpha's own RAT: {}", r.status)
        });
    }

    // Token endpoint: alpha's client credentials, refresh token and code are refused in
    // beta (codes: code_flow::codes::foreign_codes_and_refresh_tokens_are_not_spent).
    let beta_token = "/realms/beta/protocol/openid-connect/token";
    let r = app.client_credentials("beta", "svc", &a.svc_secret).await;
    t.check(r.status == StatusCode::UNAUTHORIZED, || {
        format!("alpha's client secret in beta: {}", r.status)
    });
    let r = app
        .form(
            beta_token,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &a.refresh),
            ],
            Some(("svc", &b.svc_secret)),
        )
        .await;
    t.check(r.body["error"] == "invalid_grant", || {
        format!("alpha's refresh token in beta: {}", r.text)
    });
    let r = app.client_assertion_grant("beta", &a.access).await;
    t.check(
        r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::BAD_REQUEST,
        || {
            format!(
                "alpha's access token as a client assertion in beta: {}",
                r.status
            )
        },
    );
    // Client assertions (private_key_jwt): one key registered by a client in each realm;
    // an assertion addressed to alpha is refused at beta even for beta's own client, and
    // each realm's client is refused in the other.
    let generated = latchkey_core::keys::generate(latchkey_core::keys::Alg::Es256).unwrap();
    let key = latchkey_core::keys::SigningKey::from_pkcs8(
        generated.kid.clone(),
        latchkey_core::keys::Alg::Es256,
        &generated.pkcs8,
    )
    .unwrap();
    let mut pkj = Vec::new();
    for r in [&a, &b] {
        let reg = app
            .post(
                &format!("/realms/{}/clients-registrations/openid-connect", r.name),
                &r.iat,
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": {"keys": [generated.public_jwk.clone()]}}),
            )
            .await;
        assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.text);
        pkj.push(reg.body["client_id"].as_str().unwrap().to_string());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut jti = 0;
    let mut assertion = |sub: &str, aud_realm: &str| {
        jti += 1;
        latchkey_core::jwt::sign(
            &key,
            &json!({"iss": sub, "sub": sub, "aud": format!("http://localhost:8080/realms/{aud_realm}"),
                "exp": now + 60, "iat": now, "jti": format!("iso-{jti}")}),
        )
        .unwrap()
    };
    for (at, sub, aud, ok) in [
        ("beta", pkj[1].clone(), "alpha", false),
        ("beta", pkj[0].clone(), "alpha", false),
        ("beta", pkj[0].clone(), "beta", false),
        ("alpha", pkj[1].clone(), "beta", false),
        ("beta", pkj[1].clone(), "beta", true),
        ("alpha", pkj[0].clone(), "alpha", true),
    ] {
        let jwt = assertion(&sub, aud);
        let r = app.client_assertion_grant(at, &jwt).await;
        let accepted = r.status == StatusCode::OK;
        t.check(accepted == ok, || {
            format!(
                "assertion of {sub} for {aud} at {at}: {} {}",
                r.status, r.text
            )
        });
    }
    // Userinfo, introspection, revocation.
    let r = app
        .get("/realms/beta/protocol/openid-connect/userinfo", &a.access)
        .await;
    t.check(r.status == StatusCode::UNAUTHORIZED, || {
        format!("alpha's token at beta's userinfo: {}", r.status)
    });
    for token in [&a.access, &a.refresh] {
        let r = app
            .form(
                "/realms/beta/protocol/openid-connect/token/introspect",
                &[("token", token)],
                Some(("svc", &b.svc_secret)),
            )
            .await;
        t.check(r.body["active"] == false, || {
            format!("beta introspects alpha's token: {}", r.text)
        });
        let r = app
            .form(
                "/realms/beta/protocol/openid-connect/revoke",
                &[("token", token)],
                Some(("svc", &b.svc_secret)),
            )
            .await;
        t.check(r.status == StatusCode::OK, || {
            format!("revoke answers 200: {}", r.status)
        });
    }
    // Admin tokens of alpha on beta's admin API were covered above; alpha's user token at
    // alpha still works after all of it (nothing in beta revoked it).
    let r = app
        .get("/realms/alpha/protocol/openid-connect/userinfo", &a.access)
        .await;
    t.check(r.status == StatusCode::OK, || {
        format!("alpha's token revoked from beta: {}", r.status)
    });
    let r = app
        .form(
            "/realms/alpha/protocol/openid-connect/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &a.refresh),
            ],
            Some(("svc", &a.svc_secret)),
        )
        .await;
    t.check(r.status == StatusCode::OK, || {
        format!("alpha's refresh token spent from beta: {}", r.text)
    });
    let r = app
        .form(
            "/realms/alpha/protocol/openid-connect/token/introspect",
            &[("token", &a.access)],
            Some(("svc", &a.svc_secret)),
        )
        .await;
    t.check(r.body["active"] == true, || {
        format!("alpha introspects its own token: {}", r.text)
    });

    // Logout: alpha's ID token is no hint in beta; in alpha it is (checked last: it ends
    // the session).
    let logout = |realm: &str, hint: &str| {
        format!("/realms/{realm}/protocol/openid-connect/logout?id_token_hint={hint}")
    };
    let r = app.get_public(&logout("beta", &a.id_token)).await;
    t.check(
        r.status == StatusCode::BAD_REQUEST && r.text.contains("id_token_hint"),
        || format!("alpha's id_token_hint at beta's logout: {}", r.status),
    );
    let r = app.get_public(&logout("alpha", &a.id_token)).await;
    t.check(r.status != StatusCode::BAD_REQUEST, || {
        format!(
            "alpha's id_token_hint at alpha's logout: {} {}",
            r.status, r.text
        )
    });

    eprintln!(
        "isolation: {} cases, {} violations",
        t.cases,
        t.violations.len()
    );
    assert!(t.violations.is_empty(), "{:#?}", t.violations);
}

crate::on_both_backends!(credentials_stay_in_their_realm);
