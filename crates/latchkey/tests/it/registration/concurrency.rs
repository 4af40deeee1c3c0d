//! Registration under concurrency: an initial access token's count is never overdrawn,
//! and a registration access token rotates once however many updates race with it.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Provider, REDIRECT, count_clients, created, events, new_iat, remaining, send_on};
use crate::support::TestApp;

/// 50 parallel creates with one initial access token of count 10: exactly 10 succeed.
async fn initial_access_count_is_never_overdrawn(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (iat_id, iat) = new_iat(app, &admin, 10, &[]).await;
    let before = count_clients(app, &admin).await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            tokio::spawn(send_on(
                app.router.clone(),
                Method::POST,
                Provider::Oidc.path("acme"),
                Some(iat.clone()),
                Some(json!({"redirect_uris": [REDIRECT], "client_name": format!("racer-{i}")})),
            ))
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::UNAUTHORIZED => {
                assert_eq!(body["error"], "invalid_token", "{body}");
                assert_eq!(
                    body["error_description"],
                    "No remaining count on initial access token"
                );
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, refused), (10, 40));
    assert_eq!(count_clients(app, &admin).await, before + 10);
    assert_eq!(remaining(app, &admin, &iat_id).await, Some(0));
    // Each acknowledged registration has its event, stored with the client; each refusal
    // has its error event.
    let registered = events(app, &admin, "?type=CLIENT_REGISTER&max=1000").await;
    let racers = |evs: &[Value]| {
        evs.iter()
            .filter(|e| e["details"]["auth_method"] == "initial_access_token")
            .count()
    };
    assert_eq!(racers(&registered), 10);
    let refusals = events(app, &admin, "?type=CLIENT_REGISTER_ERROR&max=1000").await;
    assert_eq!(refusals.len(), 40);
}

/// Two PUTs racing with one registration access token: exactly one wins.
async fn concurrent_puts_with_one_token_rotate_once(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 2, &[]).await;
    for p in Provider::ALL {
        let c = created(app, p, Some(&iat), p.body("race")).await;
        let id = p.client_id(&c);
        let rat = p.rat(&c);
        let path = p.client_path("acme", &id);
        let put = |name: &str| {
            tokio::spawn(send_on(
                app.router.clone(),
                Method::PUT,
                path.clone(),
                Some(rat.clone()),
                Some(p.update_body(&id, name)),
            ))
        };
        let (a, b) = tokio::join!(put("a"), put("b"));
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::UNAUTHORIZED],
            "{a:?} {b:?}"
        );
        let (winner, loser) = if a.0 == StatusCode::OK {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(loser.1["error"], "invalid_token");
        let new_rat = winner.1[p.rat_key()].as_str().unwrap().to_string();
        let r = app.get(&path, &new_rat).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(p.name(&r), winner.1[p.name_key()]);
        assert_eq!(app.get(&path, &rat).await.status, StatusCode::UNAUTHORIZED);
    }
}

crate::on_both_backends!(
    initial_access_count_is_never_overdrawn,
    concurrent_puts_with_one_token_rotate_once,
);
