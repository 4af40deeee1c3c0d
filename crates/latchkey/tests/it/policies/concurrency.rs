//! Max Clients Limit under concurrency: exactly the free slots are admitted.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{DEFAULT, OIDC, configure, open_anonymous};
use crate::support::{TestApp, json_request, send_to};

async fn max_clients_is_exact_under_concurrency(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    open_anonymous(app, &admin).await;
    configure(
        app,
        &admin,
        "Trusted Hosts",
        "anonymous",
        json!({"trusted-hosts": ["127.0.0.1"], "client-uris-must-match": ["false"]}),
    )
    .await;
    let existing = app.count_clients(&admin, "acme").await as i64;
    let limit = existing + 5;
    configure(
        app,
        &admin,
        "Max Clients Limit",
        "anonymous",
        json!({"max-clients": [limit.to_string()]}),
    )
    .await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (path, body) = if i % 2 == 0 {
                (OIDC, json!({"grant_types": ["client_credentials"]}))
            } else {
                (DEFAULT, json!({"clientId": format!("c{i}")}))
            };
            let req = json_request(Method::POST, path, None, Some(body));
            tokio::spawn(send_to(app.router.clone(), req))
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        let r = t.await.unwrap();
        let (status, body) = (r.status, r.text);
        match status {
            StatusCode::CREATED => admitted += 1,
            StatusCode::FORBIDDEN => assert!(body.contains(&format!("Policy 'Max Clients Limit' rejected request to client-registration service. Details: It's allowed to have max {limit} clients per realm")), "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(admitted, 5, "exactly the free slots are admitted");
    let now = app.count_clients(&admin, "acme").await as i64;
    assert_eq!(now, limit);
}

crate::on_both_backends!(max_clients_is_exact_under_concurrency,);
