//! The revocation endpoint (RFC 7009) on refresh tokens: revoking one ends its client's
//! part of the login session, access tokens included, and leaves the session's other
//! clients signed in; revoking one already rotated is a replay and ends the session;
//! a revocation racing a refresh leaves the client no working token.

use axum::http::StatusCode;
use serde_json::json;

use super::{
    TOKEN, VERIFIER, active, assert_dead, auth_url, exchange, exchange_as, login, refresh, setup,
    userinfo, web_client,
};
use crate::support::browser::{Browser, location, query};
use crate::support::{Resp, TestApp, form_request};

/// Revoking the current refresh token ends its client's part of the session (RFC 7009
/// §2.1: the access tokens of the same grant; Keycloak ends the client's session): that
/// client's access tokens, also those of earlier refreshes, are inactive and refused at
/// userinfo, its refresh token is `invalid_grant`; another client signed in through the
/// same browser session keeps working and signing in without a form, and the revoked
/// client signs in again to a new session whose tokens work.
async fn revoking_a_refresh_token_ends_its_clients_part_of_the_session(app: &TestApp) {
    let (admin, secret) = setup(app, web_client()).await;
    let mut web2 = web_client();
    web2["clientId"] = json!("web2");
    let id2 = app.create_client(&admin, "acme", web2).await;
    let secret2 = app.client_secret(&admin, "acme", &id2).await;
    let web2_url = auth_url("").replace("client_id=web&", "client_id=web2&");
    let mut b = Browser::default();
    let q = login(app, &mut b, &auth_url("")).await;
    let t = exchange(app, &secret, &q["code"], VERIFIER).await;
    let sso = b.get(app, &web2_url).await;
    assert_eq!(sso.status, StatusCode::SEE_OTHER, "{}", sso.text);
    let t2 = exchange_as(
        app,
        "web2",
        &secret2,
        &query(&location(&sso))["code"],
        VERIFIER,
    )
    .await;
    assert_eq!(t2.status, StatusCode::OK, "{}", t2.text);
    let token = |r: &Resp, name: &str| r.body[name].as_str().unwrap().to_string();
    assert_eq!(
        sid(app, &token(&t, "access_token")).await,
        sid(app, &token(&t2, "access_token")).await,
        "one login session"
    );
    let r = refresh(app, "web", &secret, &token(&t, "refresh_token")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let current = token(&r, "refresh_token");

    let revoked = revoke(app, "web", &secret, &current).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    for access in [token(&t, "access_token"), token(&r, "access_token")] {
        assert!(!active(app, "web", &secret, &access).await);
        assert_eq!(
            userinfo(app, &access).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let after = refresh(app, "web", &secret, &current).await;
    assert_eq!(after.body["error"], "invalid_grant", "{}", after.text);

    let access2 = token(&t2, "access_token");
    assert!(active(app, "web2", &secret2, &access2).await);
    assert_eq!(userinfo(app, &access2).await.status, StatusCode::OK);
    let r2 = refresh(app, "web2", &secret2, &token(&t2, "refresh_token")).await;
    assert_eq!(
        r2.status,
        StatusCode::OK,
        "the other client's session: {}",
        r2.text
    );
    let sso = b.get(app, &web2_url).await;
    assert_eq!(sso.status, StatusCode::SEE_OTHER, "{}", sso.text);

    let again = b.get(app, &auth_url("")).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "the login form: {}",
        again.text
    );
    let q = login(app, &mut b, &auth_url("")).await;
    let t3 = exchange(app, &secret, &q["code"], VERIFIER).await;
    let access3 = token(&t3, "access_token");
    assert_eq!(userinfo(app, &access3).await.status, StatusCode::OK);
    assert_ne!(
        sid(app, &access3).await,
        sid(app, &access2).await,
        "a new login session"
    );
    let r3 = refresh(app, "web", &secret, &token(&t3, "refresh_token")).await;
    assert_eq!(r3.status, StatusCode::OK, "{}", r3.text);
}

/// RFC 7009 at the revocation endpoint: a refresh token already rotated, revoked by its
/// client, is a replay and ends the session, the current token with it (RFC 7009 §2.1,
/// Keycloak ends the client's session); another client revoking it, rotated or current,
/// is refused (400 `invalid_request`, as Keycloak) and changes nothing.
async fn revoking_a_rotated_refresh_token_ends_its_session(app: &TestApp) {
    let (admin, secret) = setup(app, web_client()).await;
    let (_, other_secret) = app.create_service_client(&admin, "acme", "other").await;
    let q = login(app, &mut Browser::default(), &auth_url("")).await;
    let t = exchange(app, &secret, &q["code"], VERIFIER).await;
    let first = t.body["refresh_token"].as_str().unwrap().to_string();
    let r2 = refresh(app, "web", &secret, &first).await;
    let second = r2.body["refresh_token"].as_str().unwrap().to_string();
    for token in [&first, &second] {
        let r = revoke(app, "other", &other_secret, token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.body["error"], "invalid_request", "{}", r.text);
    }
    let r3 = refresh(app, "web", &secret, &second).await;
    assert_eq!(
        r3.status,
        StatusCode::OK,
        "another client's revocations: {}",
        r3.text
    );
    let third = r3.body["refresh_token"].as_str().unwrap();
    let r = revoke(app, "web", &secret, &first).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = refresh(app, "web", &secret, third).await;
    assert_eq!(after.body["error"], "invalid_grant", "{}", after.text);
    let access = r3.body["access_token"].as_str().unwrap();
    assert!(!active(app, "web", &secret, access).await);
}

/// A revocation racing a refresh of one token: whichever takes it first, no token of the
/// client works afterwards: when the revocation won, it ended the client's part of the
/// session; when the refresh won, the revocation found its tombstone and revoked the
/// session, the refresh's next tokens with it.
async fn a_revocation_racing_a_refresh_leaves_no_working_token(app: &TestApp) {
    let (_, secret) = setup(app, web_client()).await;
    for round in 0..6 {
        let q = login(app, &mut Browser::default(), &auth_url("")).await;
        let t = exchange(app, &secret, &q["code"], VERIFIER).await;
        let rt = t.body["refresh_token"].as_str().unwrap();
        let refresh_pairs = [("grant_type", "refresh_token"), ("refresh_token", rt)];
        let basic = Some(("web", secret.as_str()));
        let answers = app
            .send_all(vec![
                form_request(TOKEN, &refresh_pairs, basic),
                form_request(REVOKE, &[("token", rt)], basic),
            ])
            .await;
        assert_eq!(answers[1].status, StatusCode::OK, "{}", answers[1].text);
        let mut granted = vec![&t];
        if answers[0].status == StatusCode::OK {
            granted.push(&answers[0]);
        }
        for r in granted.iter().rev() {
            assert_dead(app, "web", &secret, r, &format!("round {round}")).await;
        }
    }
}

/// The `sid` of an access token of `acme`.
async fn sid(app: &TestApp, access: &str) -> serde_json::Value {
    app.verify("acme", access).await["sid"].clone()
}

const REVOKE: &str = "/realms/acme/protocol/openid-connect/revoke";

/// A revocation request by `client_id` (RFC 7009 §2.1).
async fn revoke(app: &TestApp, client_id: &str, secret: &str, token: &str) -> Resp {
    app.form(REVOKE, &[("token", token)], Some((client_id, secret)))
        .await
}

crate::on_both_backends!(
    revoking_a_refresh_token_ends_its_clients_part_of_the_session,
    revoking_a_rotated_refresh_token_ends_its_session,
    a_revocation_racing_a_refresh_leaves_no_working_token,
);
