//! The records: bundles, uniqueness, queries, role mappings, refresh tokens and expiry
//! (login sessions' revocation in `sessions.rs`).

use std::sync::Arc;

use latchkey_core::clients::{ScopeDefaults, new_client};
use latchkey_core::crypto::new_uuid;
use latchkey_core::store::*;
use serde_json::json;

use crate::fixtures::*;
use crate::support::TestStore;

async fn realm_bundles_are_atomic(app: &TestStore) {
    let s = app.store.as_ref();
    let b = bundle("acme");
    let (n_clients, n_roles, n_scopes) = (b.clients.len(), b.roles.len(), b.scopes.len());
    s.create_realm(b).await.unwrap();
    let realm = s.realm_by_name("acme").await.unwrap().unwrap();
    assert_eq!(realm.rep.realm.as_deref(), Some("acme"));
    assert_eq!(s.realm_keys(&realm.id).await.unwrap().len(), 2);
    assert_eq!(
        s.list_clients(&realm.id, &ClientQuery::default())
            .await
            .unwrap()
            .len(),
        n_clients
    );
    assert_eq!(s.all_roles(&realm.id).await.unwrap().len(), n_roles);
    assert_eq!(s.list_scopes(&realm.id).await.unwrap().len(), n_scopes);
    assert_eq!(s.realm_default_scopes(&realm.id).await.unwrap().len(), 9);

    // A second realm of the same name conflicts, typed, and leaves nothing behind.
    let dup = bundle("acme");
    let dup_id = dup.realm.as_ref().unwrap().id.clone();
    match s.create_realm(dup).await {
        Err(StoreError::Conflict { what }) => assert_eq!(what, "realm"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        s.realm_keys(&dup_id).await.unwrap().is_empty(),
        "no half-written realm"
    );
    assert!(s.all_roles(&dup_id).await.unwrap().is_empty());

    s.delete_realm(&realm.id).await.unwrap();
    assert!(s.realm_by_name("acme").await.unwrap().is_none());
    assert!(s.realm_keys(&realm.id).await.unwrap().is_empty());
    assert!(s.all_roles(&realm.id).await.unwrap().is_empty());
    assert!(
        s.list_clients(&realm.id, &ClientQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.delete_realm(&realm.id).await,
        Err(StoreError::NotFound)
    ));
}

/// An import replacing a realm (`replace_realm`) and a partial import
/// (`apply_realm_changes`) commit whole or leave the realm as it was.
async fn a_realm_is_replaced_whole_or_not_at_all(app: &TestStore) {
    let s = app.store.as_ref();
    s.create_realm(bundle("acme")).await.unwrap();
    let other = bundle("other");
    let foreign_client = other.clients[0].id.clone();
    s.create_realm(other).await.unwrap();
    let old = s.realm_by_name("acme").await.unwrap().unwrap();

    let next = bundle("acme");
    let next_id = next.realm.as_ref().unwrap().id.clone();
    s.replace_realm(&old.id, next).await.unwrap();
    let now = s.realm_by_name("acme").await.unwrap().unwrap();
    assert_eq!(now.id, next_id);
    assert!(
        s.realm_keys(&old.id).await.unwrap().is_empty(),
        "the old realm is gone"
    );
    assert!(s.all_roles(&old.id).await.unwrap().is_empty());

    // A replacement the database refuses in the middle (a client id of another realm).
    let mut broken = bundle("acme");
    broken.clients[1].id = foreign_client.clone();
    assert!(s.replace_realm(&now.id, broken).await.is_err());
    let kept = s.realm_by_name("acme").await.unwrap().unwrap();
    assert_eq!(kept.id, next_id, "the realm is untouched");
    assert_eq!(s.realm_keys(&next_id).await.unwrap().len(), 2);
    let clients = s
        .list_clients(&next_id, &ClientQuery::default())
        .await
        .unwrap();
    assert_eq!(clients.len(), 3);

    // A partial import whose insert fails deletes nothing either.
    let victim = clients[0].clone();
    let mut clash = clients[1].clone();
    clash.id = new_uuid();
    let changes = RealmChanges {
        delete_clients: vec![victim.id.clone()],
        clients: vec![clash],
        ..Default::default()
    };
    assert!(s.apply_realm_changes(&next_id, changes).await.is_err());
    assert!(
        s.client(&next_id, &victim.id).await.unwrap().is_some(),
        "nothing deleted"
    );
    let mut renamed = victim.clone();
    renamed.client_id = "renamed".into();
    let changes = RealmChanges {
        delete_clients: vec![victim.id.clone()],
        clients: vec![renamed],
        ..Default::default()
    };
    s.apply_realm_changes(&next_id, changes).await.unwrap();
    let c = s.client(&next_id, &victim.id).await.unwrap().unwrap();
    assert_eq!(c.client_id, "renamed");
}

async fn clients_are_unique_per_realm(app: &TestStore) {
    let s = app.store.as_ref();
    s.create_realm(bundle("a")).await.unwrap();
    s.create_realm(bundle("b")).await.unwrap();
    let a = s.realm_by_name("a").await.unwrap().unwrap();
    let b = s.realm_by_name("b").await.unwrap().unwrap();
    let mk = |realm_id: &str| {
        let rep = latchkey_core::rep::ClientRep {
            client_id: Some("app".into()),
            ..Default::default()
        };
        new_client(realm_id, rep, &ScopeDefaults::default(), &sealer(), 0)
            .unwrap()
            .record
    };
    let first = mk(&a.id);
    s.create_client(
        ClientBundle {
            client: first.clone(),
            service_account: None,
        },
        &WriteGuard::default(),
    )
    .await
    .unwrap();
    s.create_client(
        ClientBundle {
            client: mk(&b.id),
            service_account: None,
        },
        &WriteGuard::default(),
    )
    .await
    .unwrap();
    match s
        .create_client(
            ClientBundle {
                client: mk(&a.id),
                service_account: None,
            },
            &WriteGuard::default(),
        )
        .await
    {
        Err(StoreError::Conflict { what }) => assert_eq!(what, "clientId"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let got = s.client_by_client_id(&a.id, "app").await.unwrap().unwrap();
    assert_eq!(got.id, first.id);
    assert_eq!(got.secret_sealed, first.secret_sealed);
    assert!(
        s.client(&b.id, &first.id).await.unwrap().is_none(),
        "realms do not see each other's clients"
    );
    let mut missing = first.clone();
    missing.id = new_uuid();
    assert!(matches!(
        s.update_client(
            ClientBundle {
                client: missing,
                service_account: None
            },
            &WriteGuard::default()
        )
        .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_client(&a.id, "nope").await,
        Err(StoreError::NotFound)
    ));
}

async fn users_filter_and_page(app: &TestStore) {
    let s = app.store.as_ref();
    let r = created_realm(s, "u").await;
    for (name, email) in [
        ("ann", Some("ann@x.org")),
        ("anna", None),
        ("bob", Some("bob@y.org")),
    ] {
        s.create_user(&user(&r.id, name, email), &[]).await.unwrap();
    }
    let mut sa = user(&r.id, "service-account-x", None);
    sa.service_account_client = Some("client-uuid".into());
    s.create_user(&sa, &[]).await.unwrap();
    let q = |f: fn(&mut UserQuery)| {
        let mut q = UserQuery {
            max: 100,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let names = |v: Vec<UserRecord>| v.into_iter().map(|u| u.username).collect::<Vec<_>>();
    assert_eq!(
        names(s.list_users(&r.id, &q(|_| {})).await.unwrap()),
        ["ann", "anna", "bob"],
        "service accounts are not listed"
    );
    assert_eq!(
        names(
            s.list_users(&r.id, &q(|q| q.username = Some("ANN".into())))
                .await
                .unwrap()
        ),
        ["ann", "anna"]
    );
    assert_eq!(
        names(
            s.list_users(
                &r.id,
                &q(|q| {
                    q.username = Some("ann".into());
                    q.exact = true;
                })
            )
            .await
            .unwrap()
        ),
        ["ann"]
    );
    assert_eq!(
        names(
            s.list_users(&r.id, &q(|q| q.search = Some("y.org".into())))
                .await
                .unwrap()
        ),
        ["bob"]
    );
    assert_eq!(
        names(
            s.list_users(&r.id, &q(|q| q.first_name = Some("bob-f".into())))
                .await
                .unwrap()
        ),
        ["bob"]
    );
    assert_eq!(
        names(
            s.list_users(
                &r.id,
                &q(|q| {
                    q.first = 1;
                    q.max = 1;
                })
            )
            .await
            .unwrap()
        ),
        ["anna"]
    );
    assert_eq!(
        s.count_users(&r.id, &q(|q| q.username = Some("ann".into())))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.user_by_email(&r.id, "bob@y.org")
            .await
            .unwrap()
            .unwrap()
            .username,
        "bob"
    );
    assert_eq!(
        s.service_account_user(&r.id, "client-uuid")
            .await
            .unwrap()
            .unwrap()
            .id,
        sa.id
    );
    match s.create_user(&user(&r.id, "bob", None), &[]).await {
        Err(StoreError::Conflict { what }) => assert_eq!(what, "username"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn role_mappings_are_idempotent_and_cascade(app: &TestStore) {
    let s = app.store.as_ref();
    let r = created_realm(s, "m").await;
    let u = user(&r.id, "x", None);
    s.create_user(&u, &[]).await.unwrap();
    let roles = s.list_roles(&r.id, None).await.unwrap();
    let ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
    s.add_user_roles(&u.id, &ids).await.unwrap();
    s.add_user_roles(&u.id, &ids).await.unwrap();
    assert_eq!(s.user_role_ids(&u.id).await.unwrap().len(), ids.len());
    s.delete_role(&r.id, &ids[0]).await.unwrap();
    assert_eq!(s.user_role_ids(&u.id).await.unwrap().len(), ids.len() - 1);
    s.remove_user_roles(&u.id, &ids[1..2]).await.unwrap();
    assert_eq!(s.user_role_ids(&u.id).await.unwrap().len(), ids.len() - 2);
    s.delete_user(&r.id, &u.id).await.unwrap();
    assert!(s.user_role_ids(&u.id).await.unwrap().is_empty());
    let client_roles = s.all_roles(&r.id).await.unwrap();
    assert!(
        client_roles
            .iter()
            .any(|r| r.client_client_id.as_deref() == Some("realm-management")),
        "client roles carry their clientId"
    );
}

async fn a_refresh_token_is_rotated_once_under_concurrency(app: &TestStore) {
    let store: Arc<dyn Store> = app.store.clone();
    let rec = |hash: &str, expires_at| refresh_token("r", hash, expires_at);
    let tombstone = |id: &str| TransientRecord {
        kind: "spent".into(),
        id: id.into(),
        realm_id: "r".into(),
        data: serde_json::json!({"session": "s"}),
        expires_at: 10_000,
    };
    store
        .insert_refresh_token(&rec("h1", 10_000))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (store, next, tombstone) = (
            store.clone(),
            rec(&format!("n{i}"), 20_000),
            tombstone("h1"),
        );
        tasks.push(tokio::spawn(async move {
            store
                .rotate_refresh_token("h1", 5_000, &tombstone, &next)
                .await
                .unwrap()
        }));
    }
    let mut winners = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        if t.await.unwrap() {
            winners.push(format!("n{i}"));
        }
    }
    assert_eq!(winners.len(), 1, "exactly one concurrent rotation wins");
    assert!(store.refresh_token("h1").await.unwrap().is_none(), "spent");
    for i in 0..16 {
        let next = format!("n{i}");
        assert_eq!(
            store.refresh_token(&next).await.unwrap().is_some(),
            winners.contains(&next),
            "only the winner's next token is stored ({next})"
        );
    }
    assert_eq!(
        store.get_transient("spent", "h1", 5_000).await.unwrap(),
        Some(serde_json::json!({"session": "s"})),
        "the rotation left its tombstone"
    );

    // Expired, or never issued: nothing is stored.
    store
        .insert_refresh_token(&rec("h2", 10_000))
        .await
        .unwrap();
    for spent in ["h2", "never"] {
        assert!(
            !store
                .rotate_refresh_token(spent, 10_000, &tombstone(spent), &rec("n-late", 20_000))
                .await
                .unwrap(),
            "{spent} is not rotated"
        );
        assert!(
            store
                .get_transient("spent", spent, 0)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(store.refresh_token("n-late").await.unwrap().is_none());
}

/// A user's login sessions as their live refresh tokens show them: grouped by session,
/// online and offline clients apart, oldest first; expired tokens, other users and other
/// realms left out.
async fn login_sessions_are_read_per_user_and_by_id(app: &TestStore) {
    let s = app.store.as_ref();
    let token = |hash: &str,
                 realm: &str,
                 user: &str,
                 session: &str,
                 client: &str,
                 scope: &str,
                 auth_time,
                 expires_at| {
        RefreshTokenRecord {
            user_id: user.into(),
            session_id: session.into(),
            client_uuid: client.into(),
            scope: scope.into(),
            auth_time,
            ..refresh_token(realm, hash, expires_at)
        }
    };
    for t in [
        token("a1", "r", "u1", "later", "c2", "openid", 200, 9_000),
        token("a2", "r", "u1", "later", "c1", "openid profile", 200, 8_000),
        token("a3", "r", "u1", "later", "c1", "openid", 200, 7_000),
        token(
            "b1",
            "r",
            "u1",
            "first",
            "c1",
            "openid offline_access",
            100,
            50_000,
        ),
        token("x1", "r", "u1", "expired", "c1", "openid", 50, 1_000),
        token("y1", "r", "u2", "other-user", "c1", "openid", 10, 9_000),
        token("z1", "r2", "u1", "other-realm", "c1", "openid", 10, 9_000),
    ] {
        s.insert_refresh_token(&t).await.unwrap();
    }
    let sessions = s
        .login_sessions("r", SessionsOf::User("u1"), 5_000)
        .await
        .unwrap();
    assert_eq!(
        sessions,
        vec![
            LoginSession {
                id: "first".into(),
                user_id: "u1".into(),
                started: 100,
                clients: vec![],
                online_until: 0,
                offline_clients: vec!["c1".into()],
            },
            LoginSession {
                id: "later".into(),
                user_id: "u1".into(),
                started: 200,
                clients: vec!["c1".into(), "c2".into()],
                online_until: 9_000,
                offline_clients: vec![],
            },
        ]
    );
    let one = s
        .login_sessions("r", SessionsOf::Id("later"), 5_000)
        .await
        .unwrap();
    assert_eq!(one, sessions[1..]);
    for (realm, of) in [
        ("r", SessionsOf::Id("other-realm")),
        ("r", SessionsOf::Id("expired")),
        ("r", SessionsOf::User("nobody")),
        ("r2", SessionsOf::User("u2")),
    ] {
        assert!(
            s.login_sessions(realm, of, 5_000).await.unwrap().is_empty(),
            "{of:?} in {realm}"
        );
    }
    let long = "x".repeat(300);
    assert!(
        s.login_sessions("r", SessionsOf::User(&long), 5_000)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Browser sessions are ended by their user or their login session: exactly the entries
/// of that kind and realm whose member has that value, however the text around it reads.
async fn transient_entries_are_deleted_by_a_member(app: &TestStore) {
    let s = app.store.as_ref();
    let entries = [
        (
            "session",
            "a",
            "r",
            json!({"id": "s1", "user": "u1", "auth_time": 1}),
        ),
        ("session", "b", "r", json!({"id": "s2", "user": "u1"})),
        ("session", "c", "r", json!({"id": "s3", "user": "u2"})),
        ("session", "d", "r2", json!({"id": "s4", "user": "u1"})),
        ("other", "e", "r", json!({"user": "u1"})),
        (
            "session",
            "f",
            "r",
            json!({"id": "s5", "note": "\"user\":\"u1\""}),
        ),
        ("session", "g", "r", json!({"id": "s6", "user": "u1x"})),
        ("session", "h", "r", json!({"id": "s7", "user": "a%b"})),
    ];
    for (kind, id, realm, data) in &entries {
        s.put_transient(kind, id, realm, data, 10_000)
            .await
            .unwrap();
    }
    assert_eq!(
        s.delete_transient_matching("session", "r", "user", "u1")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.delete_transient_matching("session", "r", "user", "a_b")
            .await
            .unwrap(),
        0,
        "LIKE's wildcards are taken literally"
    );
    assert_eq!(
        s.delete_transient_matching("session", "r", "id", "s3")
            .await
            .unwrap(),
        1
    );
    let left: Vec<&str> = {
        let mut left = Vec::new();
        for (kind, id, _, _) in &entries {
            if s.get_transient(kind, id, 0).await.unwrap().is_some() {
                left.push(*id);
            }
        }
        left
    };
    assert_eq!(left, ["d", "e", "f", "g", "h"]);
}

async fn expired_state_is_swept(app: &TestStore) {
    let s = app.store.as_ref();
    s.put_transient("k", "old", "r", &serde_json::json!({"a": 1}), 1_000)
        .await
        .unwrap();
    s.put_transient("k", "new", "r", &serde_json::json!({"a": 2}), 10_000)
        .await
        .unwrap();
    s.revoke_jti("r", "j-old", 1_000).await.unwrap();
    assert!(s.use_assertion("a-old", 1_000).await.unwrap());
    assert!(s.get_transient("k", "old", 500).await.unwrap().is_some());
    assert_eq!(s.sweep_expired(5_000).await.unwrap(), 3);
    assert!(
        s.get_transient("k", "old", 500).await.unwrap().is_none(),
        "gone, even read as of earlier"
    );
    assert_eq!(
        s.get_transient("k", "new", 5_000).await.unwrap().unwrap()["a"],
        2
    );
    let old = Revocable {
        jti: Some("j-old"),
        session: None,
        client: None,
        offline: false,
    };
    assert!(!s.is_revoked(&old).await.unwrap());
    assert!(
        s.use_assertion("a-old", 1_000).await.unwrap(),
        "the record went"
    );
}

crate::on_both_backends!(
    realm_bundles_are_atomic,
    a_realm_is_replaced_whole_or_not_at_all,
    clients_are_unique_per_realm,
    users_filter_and_page,
    role_mappings_are_idempotent_and_cascade,
    a_refresh_token_is_rotated_once_under_concurrency,
    login_sessions_are_read_per_user_and_by_id,
    transient_entries_are_deleted_by_a_member,
    expired_state_is_swept,
);

// No credential readable in a database dump, on both backends:
// crates/latchkey/tests/it/at_rest.rs.
