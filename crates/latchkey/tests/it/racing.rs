//! Racing invariants across nodes (nodes are stateless, so every invariant
//! must hold however many share the database): two `latchkey start`
//! processes on one PostgreSQL database, parallel requests split across both, for every
//! invariant that a second node could break: initial access token counts, `max-clients`,
//! registration access token rotation, authorization code redemption, refresh token
//! rotation, realm creation (one set of keys, never two).

use std::future::Future;
use std::time::Instant;

use serde_json::{Value, json};

use crate::node::{Node, created_id, http, master_key};
use crate::support::browser::{form, query};
use crate::support::{Backend, TestDb};

const CB: &str = "https://app.example/cb";

/// The two nodes, the admin token and the running tally.
struct Cluster {
    nodes: [Node; 2],
    http: reqwest::Client,
    admin: String,
    requests: usize,
    violations: Vec<String>,
}

impl Cluster {
    /// Node `i % 2`'s base URL: request `i` goes to alternating nodes.
    fn base(&self, i: usize) -> String {
        self.nodes[i % 2].base.clone()
    }

    /// Runs `n` requests at once, request `i` on node `i % 2`; returns their statuses (and
    /// bodies) in order.
    async fn race<F, Fut>(&mut self, n: usize, f: F) -> Vec<(u16, Value)>
    where
        F: Fn(usize, reqwest::Client, String) -> Fut,
        Fut: Future<Output = reqwest::Response> + Send + 'static,
    {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let fut = f(i, self.http.clone(), self.base(i));
                tokio::spawn(async move {
                    let r = fut.await;
                    let status = r.status().as_u16();
                    (status, r.json::<Value>().await.unwrap_or(Value::Null))
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        self.requests += n;
        out
    }

    fn check(&mut self, ok: bool, what: String) {
        if !ok {
            self.violations.push(what);
        }
    }

    async fn admin_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.nodes[0]
            .call(&self.http, &self.admin, method, path, body)
            .await
    }
}

fn count(statuses: &[(u16, Value)], status: u16) -> usize {
    statuses.iter().filter(|(s, _)| *s == status).count()
}

fn codes(statuses: &[(u16, Value)]) -> Vec<u16> {
    statuses.iter().map(|(s, _)| *s).collect()
}

/// Initial access token counts: 5 uses, 30 registrations at once on both nodes.
async fn initial_access_counts(c: &mut Cluster) {
    for round in 0..3 {
        let (_, iat) = c
            .admin_json(
                reqwest::Method::POST,
                "/admin/realms/race/clients-initial-access",
                Some(json!({"count": 5, "expiration": 0})),
            )
            .await;
        let token = iat["token"].as_str().unwrap().to_string();
        let id = iat["id"].as_str().unwrap().to_string();
        let r = c
            .race(30, |_, http, base| {
                http.post(format!(
                    "{base}/realms/race/clients-registrations/openid-connect"
                ))
                .bearer_auth(&token)
                .json(&json!({"grant_types": ["client_credentials"]}))
                .send()
                .map_ok()
            })
            .await;
        c.check(
            count(&r, 201) == 5 && count(&r, 401) == 25,
            format!("initial access token round {round}: {:?}", codes(&r)),
        );
        let (_, list) = c
            .admin_json(
                reqwest::Method::GET,
                "/admin/realms/race/clients-initial-access",
                None,
            )
            .await;
        let left = crate::support::remaining_count(list.as_array().unwrap(), &id).unwrap_or(0);
        c.check(
            left == 0,
            format!("initial access token round {round}: {left} left"),
        );
    }
}

/// `max-clients` on anonymous registration: 5 free slots, 40 registrations at once.
async fn max_clients(c: &mut Cluster) {
    let (_, comps) = c
        .admin_json(
            reqwest::Method::GET,
            "/admin/realms/race/components?type=org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy",
            None,
        )
        .await;
    let (_, clients) = c
        .admin_json(reqwest::Method::GET, "/admin/realms/race/clients", None)
        .await;
    let limit = clients.as_array().unwrap().len() + 5;
    for comp in comps
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["subType"] == "anonymous")
    {
        let config = match comp["providerId"].as_str().unwrap() {
            "trusted-hosts" => {
                json!({"trusted-hosts": ["127.0.0.1"], "client-uris-must-match": ["false"]})
            }
            "max-clients" => json!({"max-clients": [limit.to_string()]}),
            _ => continue,
        };
        let mut updated = comp.clone();
        updated["config"] = config;
        let (s, _) = c
            .admin_json(
                reqwest::Method::PUT,
                &format!(
                    "/admin/realms/race/components/{}",
                    comp["id"].as_str().unwrap()
                ),
                Some(updated),
            )
            .await;
        assert_eq!(s, 204);
    }
    let r = c
        .race(40, |_, http, base| {
            http.post(format!(
                "{base}/realms/race/clients-registrations/openid-connect"
            ))
            .json(&json!({"grant_types": ["client_credentials"]}))
            .send()
            .map_ok()
        })
        .await;
    c.check(
        count(&r, 201) == 5 && count(&r, 403) == 35,
        format!("max-clients: {:?}", codes(&r)),
    );
    let (_, clients) = c
        .admin_json(reqwest::Method::GET, "/admin/realms/race/clients", None)
        .await;
    let n = clients.as_array().unwrap().len();
    c.check(
        n == limit,
        format!("max-clients: {n} clients, limit {limit}"),
    );
}

/// Registration access token rotation: two PUTs with one token, one per node: one wins.
async fn rat_rotation(c: &mut Cluster) {
    let (_, iat) = c
        .admin_json(
            reqwest::Method::POST,
            "/admin/realms/race/clients-initial-access",
            Some(json!({"count": 20, "expiration": 0})),
        )
        .await;
    let iat = iat["token"].as_str().unwrap().to_string();
    for i in 0..20 {
        let reg: Value = c
            .http
            .post(c.nodes[i % 2].url("/realms/race/clients-registrations/openid-connect"))
            .bearer_auth(&iat)
            .json(&json!({"grant_types": ["client_credentials"], "client_name": "rot"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = reg["client_id"].as_str().unwrap().to_string();
        let rat = reg["registration_access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let r = c
            .race(2, |k, http, base| {
                let mut body = reg.clone();
                body["client_name"] = json!(format!("winner-{k}"));
                body.as_object_mut()
                    .unwrap()
                    .remove("registration_access_token");
                http.put(format!(
                    "{base}/realms/race/clients-registrations/openid-connect/{id}"
                ))
                .bearer_auth(&rat)
                .json(&body)
                .send()
                .map_ok()
            })
            .await;
        let winners: Vec<_> = r.iter().filter(|(s, _)| *s == 200).collect();
        c.check(
            winners.len() == 1 && count(&r, 401) == 1,
            format!("RAT rotation {i}: {:?}", codes(&r)),
        );
        if let Some((_, w)) = winners.first() {
            let new_rat = w["registration_access_token"].as_str().unwrap_or_default();
            let now: Value = c
                .http
                .get(c.nodes[(i + 1) % 2].url(&format!(
                    "/realms/race/clients-registrations/openid-connect/{id}"
                )))
                .bearer_auth(new_rat)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or(Value::Null);
            c.check(
                now["client_name"] == w["client_name"],
                format!("RAT rotation {i}: the winner's update is not what is stored: {now}"),
            );
        }
    }
}

/// Logs `alice` in through node `i % 2` and returns an authorization code for `web`.
async fn code(c: &Cluster, i: usize) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let base = c.base(i);
    let page = http
        .get(format!(
            "{base}/realms/race/protocol/openid-connect/auth?client_id=web&response_type=code&redirect_uri={}&scope=openid&state=s{i}",
            "https%3A%2F%2Fapp.example%2Fcb"
        ))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect();
    let html = page.text().await.unwrap();
    let (action, hidden) = form(&html);
    // The action is absolute on the configured hostname: post it to this node.
    let path = match action.find("://") {
        Some(p) => action[p + 3..]
            .find('/')
            .map(|s| &action[p + 3 + s..])
            .unwrap()
            .to_string(),
        None => action,
    };
    let mut pairs = hidden;
    pairs.push(("username".into(), "alice".into()));
    pairs.push(("password".into(), "alice-pass".into()));
    let r = http
        .post(format!("{base}{path}"))
        .header("cookie", cookies.join("; "))
        .form(&pairs)
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("login redirect, got {}", r.status()))
        .to_str()
        .unwrap()
        .to_string();
    query(&loc)["code"].clone()
}

/// Sends the token request `pairs` (as `web`) 6 times at once over both nodes: exactly one
/// must win, the other five get 400.
async fn one_of_six_wins(c: &mut Cluster, secret: &str, pairs: &[(&str, &str)], what: String) {
    let r = c
        .race(6, |_, http, base| {
            http.post(format!("{base}/realms/race/protocol/openid-connect/token"))
                .basic_auth("web", Some(secret))
                .form(pairs)
                .send()
                .map_ok()
        })
        .await;
    c.check(
        count(&r, 200) == 1 && count(&r, 400) == 5,
        format!("{what}: {:?}", codes(&r)),
    );
}

/// Authorization codes: each redeemed by 6 requests at once over both nodes: one wins.
async fn code_redemption(c: &mut Cluster, secret: &str) {
    for i in 0..15 {
        let code = code(c, i).await;
        let pairs = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CB),
        ];
        one_of_six_wins(c, secret, &pairs, format!("code redemption {i}")).await;
    }
}

/// Refresh tokens: each refreshed by 6 requests at once over both nodes: exactly one wins
/// (the losers present a spent token, which also revokes the session: that is intended).
async fn refresh_rotation(c: &mut Cluster, secret: &str) {
    for i in 0..25 {
        let t: Value = c
            .http
            .post(c.nodes[i % 2].url("/realms/race/protocol/openid-connect/token"))
            .basic_auth("web", Some(secret))
            .form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pass"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rt = t["refresh_token"].as_str().unwrap();
        let pairs = [("grant_type", "refresh_token"), ("refresh_token", rt)];
        one_of_six_wins(c, secret, &pairs, format!("refresh rotation {i}")).await;
    }
}

/// Realm creation: 10 POSTs of one name at once over both nodes: one 201, nine 409, and
/// one set of keys, the same on both nodes.
async fn realm_creation(c: &mut Cluster, db: &TestDb) {
    for i in 0..5 {
        let name = format!("twin-{i}");
        let admin = c.admin.clone();
        let r = c
            .race(10, |_, http, base| {
                http.post(format!("{base}/admin/realms"))
                    .bearer_auth(&admin)
                    .json(&json!({"realm": name, "enabled": true}))
                    .send()
                    .map_ok()
            })
            .await;
        c.check(
            count(&r, 201) == 1 && count(&r, 409) == 9,
            format!("realm creation {i}: {:?}", codes(&r)),
        );
        let mut jwks = Vec::new();
        for n in &c.nodes {
            let v: Value = c
                .http
                .get(n.url(&format!("/realms/{name}/protocol/openid-connect/certs")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            jwks.push(v);
        }
        c.check(
            jwks[0] == jwks[1],
            format!("realm {name}: the nodes publish different keys"),
        );
        let keys = key_rows(db, &name).await;
        let published = jwks[0]["keys"].as_array().map(Vec::len).unwrap_or(0);
        c.check(
            keys == published as i64 && keys > 0,
            format!("realm {name}: {keys} key rows, {published} published"),
        );
    }
}

/// Rows in `realm_keys` for the realm called `name`, read from the database itself.
async fn key_rows(db: &TestDb, name: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let row: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM realm_keys k JOIN realms r ON r.id = k.realm_id WHERE r.name = $1",
    )
    .bind(name)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    row.0
}

trait MapOk {
    fn map_ok(self) -> impl Future<Output = reqwest::Response> + Send + 'static;
}

impl<F> MapOk for F
where
    F: Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
{
    #[allow(clippy::manual_async_fn)]
    fn map_ok(self) -> impl Future<Output = reqwest::Response> + Send + 'static {
        async move { self.await.expect("the node answers") }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariants_hold_across_two_nodes_on_postgres() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let started = Instant::now();
    let key = master_key();
    let a = Node::start(&db, &key);
    let b = Node::start(&db, &key);
    let http = http();
    let admin = a.admin_token(&http).await;
    let mut c = Cluster {
        nodes: [a, b],
        http,
        admin,
        requests: 0,
        violations: Vec::new(),
    };
    // A token of node A works on node B.
    let r = c
        .http
        .post(c.nodes[1].url("/admin/realms"))
        .bearer_auth(&c.admin)
        .json(&json!({"realm": "race", "enabled": true,
            "attributes": {"clientRegistrationAnonymousEnabled": "true"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (s, _) = c
        .admin_json(
            reqwest::Method::POST,
            "/admin/realms/race/users",
            Some(json!({"username": "alice", "enabled": true,
                "credentials": [{"type": "password", "value": "alice-pass", "temporary": false}]})),
        )
        .await;
    assert_eq!(s, 201);
    let r = c
        .http
        .post(c.nodes[0].url("/admin/realms/race/clients"))
        .bearer_auth(&c.admin)
        .json(
            &json!({"clientId": "web", "publicClient": false, "redirectUris": [CB],
            "directAccessGrantsEnabled": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let web = created_id(&r);
    let (_, secret) = c
        .admin_json(
            reqwest::Method::GET,
            &format!("/admin/realms/race/clients/{web}/client-secret"),
            None,
        )
        .await;
    let secret = secret["value"].as_str().unwrap().to_string();

    initial_access_counts(&mut c).await;
    rat_rotation(&mut c).await;
    code_redemption(&mut c, &secret).await;
    refresh_rotation(&mut c, &secret).await;
    realm_creation(&mut c, &db).await;
    // Last: it caps the realm's client count.
    max_clients(&mut c).await;

    eprintln!(
        "racing across two nodes: {} racing requests, {} violations, {:.1} s",
        c.requests,
        c.violations.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(c.violations.is_empty(), "{:#?}", c.violations);
}
