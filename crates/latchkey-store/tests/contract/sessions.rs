//! A login session's revocation (`Store::revoke_session`), or of one client's part of it
//! (`Store::revoke_refresh_token`): its refresh tokens deleted in line with their
//! rotations, and the revocation remembered, so that its access tokens and any refresh
//! token stored after the deletion are refused, until the record expires.

use std::sync::Arc;

use latchkey_core::store::*;

use crate::fixtures::*;
use crate::support::TestStore;

/// A login session revoked while one of its tokens rotates keeps no token: either the
/// rotation finds its token gone, or the revocation takes the next token too. Only the
/// scope word `offline_access` keeps a token through a logout's revocation.
async fn a_revoked_session_keeps_no_rotated_token(app: &TestStore) {
    let store: Arc<dyn Store> = app.store.clone();
    let token = |hash: &str, session: &str, scope: &str| RefreshTokenRecord {
        session_id: session.into(),
        scope: scope.into(),
        ..refresh_token("r", hash, 20_000)
    };
    for round in 0..40 {
        let (spent, next, session) = (
            format!("rt-{round}"),
            format!("next-{round}"),
            format!("session-{round}"),
        );
        store
            .insert_refresh_token(&token(&spent, &session, "openid"))
            .await
            .unwrap();
        let gate = Arc::new(tokio::sync::Barrier::new(2));
        let rotation = {
            let (store, gate) = (store.clone(), gate.clone());
            let next = token(&next, &session, "openid");
            let tombstone = TransientRecord {
                kind: "spent".into(),
                id: spent.clone(),
                realm_id: "r".into(),
                data: serde_json::json!({}),
                expires_at: 20_000,
            };
            tokio::spawn(async move {
                gate.wait().await;
                store
                    .rotate_refresh_token(&spent, 5_000, &tombstone, &next)
                    .await
                    .unwrap()
            })
        };
        let revocation = {
            let (store, session) = (store.clone(), session.clone());
            tokio::spawn(async move {
                gate.wait().await;
                store
                    .revoke_session("r", &session, false, 30_000)
                    .await
                    .unwrap()
            })
        };
        rotation.await.unwrap();
        revocation.await.unwrap();
        assert!(
            store.refresh_token(&next).await.unwrap().is_none(),
            "round {round}: a rotated token outlived its session's revocation"
        );
    }

    for (hash, scope) in [
        ("offline", "openid offline_access profile"),
        ("lookalike", "openid no_offline_access"),
        ("online", "openid"),
    ] {
        store
            .insert_refresh_token(&token(hash, "w", scope))
            .await
            .unwrap();
    }
    store.revoke_session("r", "w", true, 30_000).await.unwrap();
    for (hash, kept) in [("offline", true), ("lookalike", false), ("online", false)] {
        assert_eq!(
            store.refresh_token(hash).await.unwrap().is_some(),
            kept,
            "{hash}"
        );
    }
}

/// The record is written with the deletion: a token of the session stored after it (a
/// rotation on another node) reads as absent, an access token of the session is revoked,
/// a logout's record spares offline tokens, a replay's does not; a second revocation
/// never shortens the record; the sweep removes it once expired, and not before.
async fn a_revoked_session_is_remembered_until_it_expires(app: &TestStore) {
    let store = app.store.as_ref();
    let token = |hash: &str, scope: &str| RefreshTokenRecord {
        session_id: "s1".into(),
        scope: scope.into(),
        ..refresh_token("r", hash, 1_000_000)
    };
    let access = |session: Option<&'static str>, offline: bool| Revocable {
        jti: Some("j1"),
        session,
        client: None,
        offline,
    };
    store
        .insert_refresh_token(&token("online", "openid"))
        .await
        .unwrap();
    store
        .insert_refresh_token(&token("offline", "openid offline_access"))
        .await
        .unwrap();
    assert!(!store.is_revoked(&access(Some("s1"), false)).await.unwrap());

    // A logout: online tokens go, offline ones stay.
    store.revoke_session("r", "s1", true, 50_000).await.unwrap();
    store
        .insert_refresh_token(&token("online-late", "openid"))
        .await
        .unwrap();
    store
        .insert_refresh_token(&token("offline-late", "offline_access"))
        .await
        .unwrap();
    for (hash, live) in [
        ("online", false),
        ("online-late", false),
        ("offline", true),
        ("offline-late", true),
    ] {
        assert_eq!(
            store.refresh_token(hash).await.unwrap().is_some(),
            live,
            "{hash} after a logout"
        );
    }
    assert!(store.is_revoked(&access(Some("s1"), false)).await.unwrap());
    assert!(!store.is_revoked(&access(Some("s1"), true)).await.unwrap());
    assert!(!store.is_revoked(&access(Some("s2"), false)).await.unwrap());
    assert!(!store.is_revoked(&access(None, false)).await.unwrap());

    // A replay: everything goes; a later, shorter revocation keeps the longer record.
    store
        .revoke_session("r", "s1", false, 60_000)
        .await
        .unwrap();
    store
        .revoke_session("r", "s1", false, 10_000)
        .await
        .unwrap();
    store
        .insert_refresh_token(&token("offline-later", "offline_access"))
        .await
        .unwrap();
    for hash in ["offline", "offline-late", "offline-later"] {
        assert!(store.refresh_token(hash).await.unwrap().is_none(), "{hash}");
    }
    assert!(store.is_revoked(&access(Some("s1"), true)).await.unwrap());

    // The sweep: the logout's record (50 s) goes at 55 s, the replay's (60 s) stays.
    assert_eq!(store.sweep_expired(55_000).await.unwrap(), 1);
    assert!(store.is_revoked(&access(Some("s1"), true)).await.unwrap());
    assert_eq!(store.sweep_expired(65_000).await.unwrap(), 1);
    assert!(!store.is_revoked(&access(Some("s1"), false)).await.unwrap());
    assert!(
        store
            .refresh_token("offline-later")
            .await
            .unwrap()
            .is_some(),
        "no record, no refusal"
    );
}

/// A refresh token's revocation ends its client's part of its login session with the
/// take, in one job: that client's other tokens of the session, also one stored after it,
/// read as absent and its access tokens are revoked (its offline ones spared when the
/// revoked token was online, not when it was offline); another client's tokens of the
/// session, and the client's tokens of another session, live on. A token not there takes
/// nothing and records nothing.
async fn a_revoked_refresh_token_ends_its_clients_part_of_the_session(app: &TestStore) {
    let store = app.store.as_ref();
    let token = |hash: &str, client: &str, session: &str, scope: &str| RefreshTokenRecord {
        client_uuid: client.into(),
        session_id: session.into(),
        scope: scope.into(),
        ..refresh_token("r", hash, 1_000_000)
    };
    let access = |client: &'static str, session: &'static str, offline: bool| Revocable {
        jti: Some("j1"),
        session: Some(session),
        client: Some(client),
        offline,
    };
    let gone = token("gone", "c1", "s2", "openid");
    assert!(!store.revoke_refresh_token(&gone, 50_000).await.unwrap());
    assert!(!store.is_revoked(&access("c1", "s2", false)).await.unwrap());
    let revoked = token("revoked", "c1", "s1", "openid");
    for t in [
        &revoked,
        &token("c1-online", "c1", "s1", "openid"),
        &token("c1-offline", "c1", "s1", "openid offline_access"),
        &token("c2-online", "c2", "s1", "openid"),
        &token("c1-elsewhere", "c1", "s3", "openid"),
    ] {
        store.insert_refresh_token(t).await.unwrap();
    }
    assert!(store.revoke_refresh_token(&revoked, 50_000).await.unwrap());
    assert!(
        !store.revoke_refresh_token(&revoked, 50_000).await.unwrap(),
        "taken once"
    );
    // The client's other online tokens of the session are gone, not only refused: the
    // session no longer lists the client as signed in.
    let sessions = store
        .login_sessions("r", SessionsOf::User("u"), 0)
        .await
        .unwrap();
    let s1 = sessions.iter().find(|s| s.id == "s1").unwrap();
    assert_eq!(
        (s1.clients.clone(), s1.offline_clients.clone()),
        (vec!["c2".to_string()], vec!["c1".to_string()])
    );
    store
        .insert_refresh_token(&token("c1-late", "c1", "s1", "openid"))
        .await
        .unwrap();
    for (hash, live) in [
        ("revoked", false),
        ("c1-online", false),
        ("c1-late", false),
        ("c1-offline", true),
        ("c2-online", true),
        ("c1-elsewhere", true),
    ] {
        assert_eq!(
            store.refresh_token(hash).await.unwrap().is_some(),
            live,
            "{hash} after an online token's revocation"
        );
    }
    assert!(store.is_revoked(&access("c1", "s1", false)).await.unwrap());
    assert!(!store.is_revoked(&access("c1", "s1", true)).await.unwrap());
    assert!(!store.is_revoked(&access("c2", "s1", false)).await.unwrap());
    assert!(!store.is_revoked(&access("c1", "s3", false)).await.unwrap());

    // An offline token's revocation takes the client's offline tokens too.
    let offline = store.refresh_token("c1-offline").await.unwrap().unwrap();
    assert!(store.revoke_refresh_token(&offline, 60_000).await.unwrap());
    store
        .insert_refresh_token(&token("c1-offline-late", "c1", "s1", "offline_access"))
        .await
        .unwrap();
    assert!(
        store
            .refresh_token("c1-offline-late")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.is_revoked(&access("c1", "s1", true)).await.unwrap());
    assert!(store.refresh_token("c2-online").await.unwrap().is_some());

    // The records expire with the tokens they stand for.
    assert_eq!(store.sweep_expired(65_000).await.unwrap(), 2);
    assert!(!store.is_revoked(&access("c1", "s1", false)).await.unwrap());
}

/// Concurrent reads of refresh tokens, which share statements, each get their own answer:
/// a stored token, the same token read twice at once, a token of a revoked session, one
/// never stored.
async fn concurrent_reads_each_get_their_own_token(app: &TestStore) {
    let store: Arc<dyn Store> = app.store.clone();
    for i in 0..100 {
        let session = if i % 10 == 0 { "revoked" } else { "live" };
        store
            .insert_refresh_token(&RefreshTokenRecord {
                session_id: session.into(),
                user_id: format!("user-{i}"),
                ..refresh_token("r", &format!("read-{i}"), 1_000_000)
            })
            .await
            .unwrap();
    }
    store
        .revoke_session("r", "revoked", false, 1_000_000)
        .await
        .unwrap();
    for _round in 0..3 {
        let reads: Vec<_> = (0..250)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let t = store.refresh_token(&format!("read-{}", i % 125)).await;
                    (i % 125, t.unwrap())
                })
            })
            .collect();
        for read in reads {
            let (i, token) = read.await.unwrap();
            match token {
                Some(t) => {
                    assert!(i < 100 && i % 10 != 0, "read-{i} should be absent");
                    assert_eq!(
                        (t.hash.as_str(), t.user_id.as_str()),
                        (format!("read-{i}").as_str(), format!("user-{i}").as_str())
                    );
                }
                None => assert!(i >= 100 || i % 10 == 0, "read-{i} was not found"),
            }
        }
    }
}

/// A batch of refresh token reads whose connection PostgreSQL ends under it (a restart, a
/// failover, `pg_terminate_backend`) is read again on another connection: its readers get
/// their tokens, not an error each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_a_connection_ended_under_them() {
    let Some(app) = TestStore::new(crate::support::Backend::Postgres).await else {
        return;
    };
    let store: Arc<dyn Store> = app.store.clone();
    store
        .insert_refresh_token(&refresh_token("r", "held", 1_000_000))
        .await
        .unwrap();
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let mut lock = raw.begin().await.unwrap();
    sqlx::query("LOCK TABLE refresh_tokens IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let reads: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.refresh_token("held").await })
        })
        .collect();
    // The reads' statements wait for the lock: end their connections there.
    let mut ended = 0;
    for _ in 0..100 {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&raw)
        .await
        .unwrap();
        ended += n;
        if ended > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ended > 0, "no read waited for the lock");
    lock.commit().await.unwrap();
    for read in reads {
        let token = read
            .await
            .unwrap()
            .expect("a read failed with its connection");
        assert_eq!(token.map(|t| t.hash).as_deref(), Some("held"));
    }
}

crate::on_both_backends!(
    a_revoked_session_keeps_no_rotated_token,
    a_revoked_session_is_remembered_until_it_expires,
    a_revoked_refresh_token_ends_its_clients_part_of_the_session,
    concurrent_reads_each_get_their_own_token,
);
