//! Crash safety: the real binary under registration load, killed with
//! SIGKILL at random moments and restarted on the same data. Afterwards every registration
//! answered 201 exists and works (its registration access token reads it, its secret gets a
//! token), none answered otherwise left anything behind, and the initial access token's
//! remaining count matches exactly the clients it admitted (requests cut by the kill may
//! have gone either way; they are matched against what the database holds).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::node::{Node, Rng, http, master_key};
use crate::support::{Backend, TestDb};

const KILLS: usize = 8;
const WORKERS: usize = 6;
/// Uses of the initial access token the kill rounds register with (never runs out), and
/// of the one the final round runs dry (so refusals of an exhausted token are checked too).
const IAT_COUNTS: [i64; 2] = [1_000_000, 60];
const REALM: &str = "crash";

#[derive(Debug, Clone)]
enum Outcome {
    /// 201: (client_id, secret, registration access token).
    Created(String, String, String),
    /// Any other answer: nothing may be left behind.
    Refused(u16),
    /// No answer (the process died): either outcome is allowed.
    Unknown,
}

type Log = Arc<Mutex<HashMap<String, Outcome>>>;

/// Registers until `stop` or, when `until_refused`, until the token runs out.
async fn worker(
    http: reqwest::Client,
    base: String,
    iat: String,
    prefix: &'static str,
    next: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    log: Log,
) {
    while !stop.load(Ordering::SeqCst) {
        let i = next.fetch_add(1, Ordering::SeqCst);
        let name = format!("{prefix}{i}");
        // One request in seven is invalid metadata: refused, must leave nothing.
        let body = if i % 7 == 3 {
            json!({"client_name": name, "redirect_uris": ["not a uri"]})
        } else {
            json!({"client_name": name, "grant_types": ["client_credentials"],
                   "token_endpoint_auth_method": "client_secret_basic"})
        };
        let sent = http
            .post(format!(
                "{base}/realms/{REALM}/clients-registrations/openid-connect"
            ))
            .bearer_auth(&iat)
            .json(&body)
            .send()
            .await;
        let outcome = match sent {
            Ok(r) if r.status() == 201 => match r.json::<Value>().await {
                Ok(v) => Outcome::Created(
                    v["client_id"].as_str().unwrap_or_default().to_string(),
                    v["client_secret"].as_str().unwrap_or_default().to_string(),
                    v["registration_access_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ),
                // The body was cut off by the kill: committed or not, unknown.
                Err(_) => Outcome::Unknown,
            },
            Ok(r) => Outcome::Refused(r.status().as_u16()),
            Err(_) => Outcome::Unknown,
        };
        let dead = matches!(outcome, Outcome::Unknown);
        let exhausted = matches!(outcome, Outcome::Refused(401)) && i % 7 != 3;
        log.lock().unwrap().insert(name, outcome);
        if dead || exhausted {
            return;
        }
    }
}

async fn crash_safety(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let started = Instant::now();
    let key = master_key();
    let mut node = Node::start(&db, &key);
    let http = http();
    let admin = node.admin_token(&http).await;
    let (status, _) = node
        .call(
            &http,
            &admin,
            Method::POST,
            "/admin/realms",
            Some(json!({"realm": REALM, "enabled": true})),
        )
        .await;
    assert_eq!(status, 201);
    let mut iats = Vec::new();
    for count in IAT_COUNTS {
        let (_, r) = node
            .call(
                &http,
                &admin,
                Method::POST,
                &format!("/admin/realms/{REALM}/clients-initial-access"),
                Some(json!({"count": count, "expiration": 0})),
            )
            .await;
        iats.push((
            r["token"].as_str().unwrap().to_string(),
            r["id"].as_str().unwrap().to_string(),
        ));
    }
    const PREFIXES: [&str; 2] = ["crash-a-", "crash-b-"];

    let log: Log = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng::from_env();
    for round in 0..=KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                tokio::spawn(worker(
                    http.clone(),
                    node.base.clone(),
                    iats[usize::from(round == KILLS)].0.clone(),
                    PREFIXES[usize::from(round == KILLS)],
                    next.clone(),
                    stop.clone(),
                    log.clone(),
                ))
            })
            .collect();
        if round < KILLS {
            tokio::time::sleep(Duration::from_millis(150 + rng.below(900))).await;
            node.kill();
        } else {
            // The final round runs the token dry (each worker stops at its first 401).
            tokio::time::timeout(Duration::from_secs(120), async {
                while workers.iter().any(|w| !w.is_finished()) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await
            .expect("the initial access token runs out in the final round");
        }
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.await.unwrap();
        }
        if round < KILLS {
            node.restart();
        }
    }

    // What the database holds, read through the restarted node.
    let admin = node.admin_token(&http).await;
    let (_, clients) = node
        .call(
            &http,
            &admin,
            Method::GET,
            &format!("/admin/realms/{REALM}/clients?first=0&max=100000"),
            None,
        )
        .await;
    let found: HashMap<String, String> = clients
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            let name = c["name"].as_str()?;
            name.starts_with("crash-").then(|| {
                (
                    name.to_string(),
                    c["clientId"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect();
    let log = log.lock().unwrap().clone();
    let mut created = Vec::new();
    let (mut refused, mut unknown) = (0, 0);
    let mut violations = Vec::new();
    for (name, outcome) in &log {
        match outcome {
            Outcome::Created(id, secret, rat) => {
                if found.get(name) != Some(id) {
                    violations.push(format!("{name}: answered 201 as {id} but not stored"));
                }
                created.push((id.clone(), secret.clone(), rat.clone()));
            }
            Outcome::Refused(status) => {
                refused += 1;
                assert!(*status < 500, "{name}: answered {status}");
                if found.contains_key(name) {
                    violations.push(format!("{name}: answered {status} but stored"));
                }
            }
            Outcome::Unknown => unknown += 1,
        }
    }
    for name in found.keys() {
        if !log.contains_key(name) {
            violations.push(format!("{name}: stored but never sent"));
        }
    }
    // Registrations cut by a kill that did commit are whole: client, secret and service
    // account together (the secret read through the admin API gets a token).
    let mut committed_unknown = 0;
    for c in clients.as_array().unwrap() {
        let Some(name) = c["name"].as_str() else {
            continue;
        };
        if !matches!(log.get(name), Some(Outcome::Unknown)) {
            continue;
        }
        committed_unknown += 1;
        let uuid = c["id"].as_str().unwrap();
        let id = c["clientId"].as_str().unwrap();
        let (_, secret) = node
            .call(
                &http,
                &admin,
                Method::GET,
                &format!("/admin/realms/{REALM}/clients/{uuid}/client-secret"),
                None,
            )
            .await;
        let token = http
            .post(node.url(&format!("/realms/{REALM}/protocol/openid-connect/token")))
            .basic_auth(id, secret["value"].as_str())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status();
        if token != 200 {
            violations.push(format!(
                "{name}: cut by a kill, stored, but its secret gets {token}"
            ));
        }
    }
    // Every 201: the registration access token reads it, the secret gets a token.
    let checks: Vec<_> = created
        .chunks(created.len().div_ceil(8).max(1))
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let http = http.clone();
            let base = node.base.clone();
            tokio::spawn(async move {
                let mut bad = Vec::new();
                for (id, secret, rat) in chunk {
                    let read = http
                        .get(format!(
                            "{base}/realms/{REALM}/clients-registrations/openid-connect/{id}"
                        ))
                        .bearer_auth(&rat)
                        .send()
                        .await
                        .unwrap()
                        .status();
                    let token = http
                        .post(format!(
                            "{base}/realms/{REALM}/protocol/openid-connect/token"
                        ))
                        .basic_auth(&id, Some(&secret))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await
                        .unwrap()
                        .status();
                    if read != 200 || token != 200 {
                        bad.push(format!("{id}: RAT read {read}, client_credentials {token}"));
                    }
                }
                bad
            })
        })
        .collect();
    for c in checks {
        violations.extend(c.await.unwrap());
    }
    // The token's count: exactly the clients stored with it.
    let (_, list) = node
        .call(
            &http,
            &admin,
            Method::GET,
            &format!("/admin/realms/{REALM}/clients-initial-access"),
            None,
        )
        .await;
    let mut remaining = Vec::new();
    for ((_, id), (count, prefix)) in iats.iter().zip(IAT_COUNTS.into_iter().zip(PREFIXES)) {
        let left = crate::support::remaining_count(list.as_array().unwrap(), id).unwrap_or(0);
        let used = found.keys().filter(|n| n.starts_with(prefix)).count() as i64;
        if left != count - used {
            violations.push(format!(
                "initial access token {prefix}: remaining {left}, but {used} of {count} uses stored"
            ));
        }
        remaining.push(left);
    }
    if remaining[1] != 0 {
        violations.push("the final round did not run its token dry".into());
    }
    eprintln!(
        "crash safety ({backend:?}): {} SIGKILLs survived; {} requests: {} answered 201 and checked, {refused} refused, {unknown} cut by a kill ({committed_unknown} of them committed and checked); {} clients stored; IAT remaining {remaining:?}; {} violations; {:.1} s",
        node.kills,
        log.len(),
        created.len(),
        found.len(),
        violations.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(node.kills, KILLS);
    assert!(created.len() > 50, "too few registrations to mean anything");
    assert!(violations.is_empty(), "{violations:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_survive_sigkill_sqlite() {
    crash_safety(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_survive_sigkill_postgres() {
    crash_safety(Backend::Postgres).await;
}
