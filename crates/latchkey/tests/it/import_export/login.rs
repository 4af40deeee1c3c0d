//! Users imported with Keycloak's PBKDF2 hashes sign in with their original passwords,
//! by the password grant and by the login form; the hash is then the project's Argon2id;
//! a wrong password fails, and brute-force detection counts those failures as any other.

use axum::http::StatusCode;
use latchkey_core::store::Store;

use super::{fixture, import};
use crate::support::TestApp;
use crate::support::browser::{Browser, challenge, location, query};

async fn stored_hash(app: &TestApp, username: &str) -> String {
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let user = app
        .store
        .user_by_username(&realm.id, username)
        .await
        .unwrap()
        .unwrap();
    user.password_hash.unwrap()
}

async fn imported_hashes_log_in_and_become_argon2id(app: &TestApp) {
    let mut doc = fixture("acme-realm.json");
    // Two failures lock the user for a while: the count must apply to imported hashes too.
    doc["failureFactor"] = 2.into();
    import(app.store.as_ref(), &app.state.sealer, &doc).await;
    assert!(
        stored_hash(app, "alice")
            .await
            .starts_with("$pbkdf2-sha256$i=27500$")
    );

    let wrong = app
        .password_grant("acme", "web-shop", "alice", "alice-passw0rd")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    let ok = app
        .password_grant("acme", "web-shop", "alice", "alice-password")
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let upgraded = stored_hash(app, "alice").await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"),
        "{upgraded}"
    );
    let again = app
        .password_grant("acme", "web-shop", "alice", "alice-password")
        .await;
    assert_eq!(again.status, StatusCode::OK, "the new hash verifies");
    let wrong = app
        .password_grant("acme", "web-shop", "alice", "bob-password")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    // bob (pbkdf2-sha512) through the login form.
    assert!(
        stored_hash(app, "bob")
            .await
            .starts_with("$pbkdf2-sha512$i=30000$")
    );
    let url = format!(
        "/realms/acme/protocol/openid-connect/auth?client_id=web-shop&response_type=code&redirect_uri={}&scope=openid&state=s1&code_challenge={}&code_challenge_method=S256",
        "https%3A%2F%2Fshop.acme.test%2Fcb",
        challenge("a-verifier-of-enough-length-0123456789-abcdefgh")
    );
    let mut b = Browser::default();
    let page = b.get(app, &url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let signed = b
        .submit(
            app,
            &page,
            &[("username", "bob"), ("password", "bob-password")],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text);
    assert!(query(&location(&signed)).contains_key("code"));
    assert!(stored_hash(app, "bob").await.starts_with("$argon2id$"));

    // Two wrong passwords for bob, then the right one is refused as a wrong one: locked.
    for _ in 0..2 {
        let r = app.password_grant("acme", "web-shop", "bob", "guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let locked = app
        .password_grant("acme", "web-shop", "bob", "bob-password")
        .await;
    assert_eq!(
        locked.status,
        StatusCode::UNAUTHORIZED,
        "locked by brute-force detection"
    );
}

crate::on_both_backends!(imported_hashes_log_in_and_become_argon2id);
