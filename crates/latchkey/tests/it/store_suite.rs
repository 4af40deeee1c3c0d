//! The storage suite: the `Store` contract, run against SQLite and PostgreSQL alike.

use std::sync::Arc;

use latchkey_core::clients::{ScopeDefaults, new_client};
use latchkey_core::crypto::{SecretBox, new_uuid};
use latchkey_core::realm_setup::new_realm;
use latchkey_core::rep::{RealmRep, UserRep};
use latchkey_core::store::*;

use crate::support::TestApp;

fn sealer() -> SecretBox {
    SecretBox::new(&[3u8; 32]).unwrap()
}

fn bundle(name: &str) -> RealmBundle {
    new_realm(
        RealmRep {
            realm: Some(name.into()),
            ..Default::default()
        },
        &sealer(),
        None,
        1000,
    )
    .unwrap()
}

fn user(realm_id: &str, username: &str, email: Option<&str>) -> UserRecord {
    let id = new_uuid();
    UserRecord {
        id: id.clone(),
        realm_id: realm_id.into(),
        username: username.into(),
        email: email.map(str::to_string),
        rep: UserRep {
            id: Some(id),
            username: Some(username.into()),
            first_name: Some(format!("{username}-first")),
            ..Default::default()
        },
        password_hash: None,
        service_account_client: None,
        created_at: 0,
    }
}

async fn realm_bundles_are_atomic(app: &TestApp) {
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

async fn clients_are_unique_per_realm(app: &TestApp) {
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

async fn users_filter_and_page(app: &TestApp) {
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

async fn role_mappings_are_idempotent_and_cascade(app: &TestApp) {
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

async fn a_refresh_token_is_taken_once_under_concurrency(app: &TestApp) {
    let store: Arc<dyn Store> = app.store.clone();
    let rec = |hash: &str, expires_at| RefreshTokenRecord {
        hash: hash.into(),
        realm_id: "r".into(),
        client_uuid: "c".into(),
        user_id: "u".into(),
        scope: "openid".into(),
        session_id: "s".into(),
        auth_time: 0,
        expires_at,
    };
    store
        .insert_refresh_token(&rec("h1", 10_000))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.take_refresh_token("h1", 5_000).await.unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(winners, 1, "exactly one concurrent taker wins");
    store
        .insert_refresh_token(&rec("h2", 10_000))
        .await
        .unwrap();
    assert!(
        store
            .take_refresh_token("h2", 10_000)
            .await
            .unwrap()
            .is_none(),
        "expired tokens are not handed out"
    );
}

async fn expired_state_is_swept(app: &TestApp) {
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
    assert!(!s.is_revoked("j-old").await.unwrap());
    assert!(
        s.use_assertion("a-old", 1_000).await.unwrap(),
        "the record went"
    );
}

/// The hot reads come from memory (a change made behind the store's back is not seen),
/// every write through the store is seen at once by the next read, and on PostgreSQL a
/// second node's write reaches this node's cache through the notification channel.
async fn cached_reads_follow_writes(app: &TestApp) {
    let s = app.store.as_ref();
    let realm = created_realm(s, "cachy").await;
    let client = s
        .client_by_client_id(&realm.id, "admin-cli")
        .await
        .unwrap()
        .unwrap();
    assert!(client.rep.description.is_none());

    // Behind the store's back: the cached copy still answers.
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    sqlx::query("UPDATE clients SET doc = $1 WHERE id = $2")
        .bind(
            serde_json::to_string(&latchkey_core::rep::ClientRep {
                description: Some("behind".into()),
                ..client.rep.clone()
            })
            .unwrap(),
        )
        .bind(&client.id)
        .execute(&raw)
        .await
        .unwrap();
    // (PostgreSQL: the cache turns on once this node's listener is connected.)
    let cached = s
        .client_by_client_id(&realm.id, "admin-cli")
        .await
        .unwrap()
        .unwrap();
    if app.db.sqlite_path.is_some() {
        assert!(cached.rep.description.is_none(), "served from the cache");
    }

    // Through the store: seen by the very next read.
    let mut updated = cached.clone();
    updated.rep.description = Some("through".into());
    s.update_client(
        ClientBundle {
            client: updated,
            service_account: None,
        },
        &WriteGuard::default(),
    )
    .await
    .unwrap();
    let seen = s
        .client_by_client_id(&realm.id, "admin-cli")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.rep.description.as_deref(), Some("through"));

    if app.db.sqlite_path.is_none() {
        // A second node on the same database: its write reaches this node's cache.
        let other = latchkey_store::SqlStore::connect(&app.db.url)
            .await
            .unwrap();
        let mut changed = seen.clone();
        changed.rep.description = Some("other node".into());
        // Let both listeners connect and this node's cache fill.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        s.client_by_client_id(&realm.id, "admin-cli").await.unwrap();
        other
            .update_client(
                ClientBundle {
                    client: changed,
                    service_account: None,
                },
                &WriteGuard::default(),
            )
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let now = s
                .client_by_client_id(&realm.id, "admin-cli")
                .await
                .unwrap()
                .unwrap();
            if now.rep.description.as_deref() == Some("other node") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the other node's write never reached this node's cache"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        other.close().await;
    }
    raw.close().await;
}

/// Initial access tokens are read through the cache, whose `remaining` may lag behind the
/// uses spent; a refusal for a used-up token and a deletion both reach the cache (and, on
/// PostgreSQL, the other nodes').
async fn cached_initial_access_tokens_follow_refusals_and_deletions(app: &TestApp) {
    let s = app.store.as_ref();
    let r = created_realm(s, "iatc").await;
    let iat = InitialAccessRecord {
        id: new_uuid(),
        realm_id: r.id.clone(),
        token_hash: "iatc-token".into(),
        created_at: 0,
        expiration: 0,
        count: 1,
        remaining: 1,
        web_origins: vec![],
    };
    s.create_initial_access(&iat).await.unwrap();
    // (PostgreSQL: let this node's listener connect, so that its cache is on.)
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        s.initial_access_by_hash("iatc-token")
            .await
            .unwrap()
            .unwrap()
            .remaining,
        1
    );
    let mk = |client_id: &str| ClientBundle {
        client: new_client(
            &r.id,
            latchkey_core::rep::ClientRep {
                client_id: Some(client_id.into()),
                ..Default::default()
            },
            &ScopeDefaults::default(),
            &sealer(),
            0,
        )
        .unwrap()
        .record,
        service_account: None,
    };
    let guard = WriteGuard {
        initial_access_token: Some("iatc-token".into()),
        ..Default::default()
    };
    s.create_client(mk("first"), &guard).await.unwrap();
    assert!(matches!(
        s.create_client(mk("second"), &guard).await,
        Err(StoreError::Precondition {
            failed: Guarded::InitialAccessToken
        })
    ));
    assert_eq!(
        s.initial_access_by_hash("iatc-token")
            .await
            .unwrap()
            .unwrap()
            .remaining,
        0,
        "after a refusal the token is read again"
    );

    let other = if app.db.sqlite_path.is_none() {
        // A second node that has the token in its cache.
        let other = latchkey_store::SqlStore::connect(&app.db.url)
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            other
                .initial_access_by_hash("iatc-token")
                .await
                .unwrap()
                .is_some()
        );
        Some(other)
    } else {
        None
    };
    s.delete_initial_access(&r.id, &iat.id).await.unwrap();
    assert!(
        s.initial_access_by_hash("iatc-token")
            .await
            .unwrap()
            .is_none(),
        "a deleted token is gone at once"
    );
    if let Some(other) = other {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while other
            .initial_access_by_hash("iatc-token")
            .await
            .unwrap()
            .is_some()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the deletion never reached the other node's cache"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        other.close().await;
    }
}

/// A client's event is written in the client's own transaction: when the event cannot be
/// stored, the client is not stored either (and the other way round).
async fn a_clients_event_is_stored_with_it(app: &TestApp) {
    let s = app.store.as_ref();
    let r = created_realm(s, "ev").await;
    let mk = |client_id: &str| {
        let rep = latchkey_core::rep::ClientRep {
            client_id: Some(client_id.into()),
            ..Default::default()
        };
        ClientBundle {
            client: new_client(&r.id, rep, &ScopeDefaults::default(), &sealer(), 0)
                .unwrap()
                .record,
            service_account: None,
        }
    };
    let event = |id: &str, client_id: &str| EventRecord {
        id: id.into(),
        realm_id: r.id.clone(),
        time: 1,
        kind: "CLIENT_REGISTER".into(),
        client_id: Some(client_id.into()),
        user_id: None,
        ip_address: None,
        error: None,
        details: Default::default(),
    };
    let with = |e: EventRecord| WriteGuard {
        event: Some(e),
        ..Default::default()
    };
    s.create_client(mk("kept"), &with(event("e1", "kept")))
        .await
        .unwrap();
    // The event's id is taken: its insert fails, and with it the whole registration.
    assert!(
        s.create_client(mk("lost"), &with(event("e1", "lost")))
            .await
            .is_err()
    );
    assert!(
        s.client_by_client_id(&r.id, "lost")
            .await
            .unwrap()
            .is_none()
    );
    let events = s
        .list_events(
            &r.id,
            &EventQuery {
                window: EventWindow {
                    max: 10,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].client_id.as_deref(), Some("kept"));
    assert!(
        s.client_by_client_id(&r.id, "kept")
            .await
            .unwrap()
            .is_some()
    );
}

/// Group commit (`latchkey-store/src/group_commit.rs`): creations that arrive together share a
/// transaction, and each is still decided on its own, in arrival order, exactly as one
/// after another: an initial access token's count, max-clients, a clientId already taken.
async fn concurrent_creations_commit_together(app: &TestApp) {
    let s = app.store.clone();
    let r = created_realm(&s, "gc").await;
    let iat = InitialAccessRecord {
        id: new_uuid(),
        realm_id: r.id.clone(),
        token_hash: "gc-token".into(),
        created_at: 0,
        expiration: 0,
        count: 30,
        remaining: 30,
        web_origins: vec![],
    };
    s.create_initial_access(&iat).await.unwrap();
    let sa_role = offline_access_role(&s, &r.id).await;
    let (realm_id, role) = (r.id.clone(), sa_role.clone());
    let mk = move |client_id: &str| client_bundle(&realm_id, client_id, Some(&role));
    let event = |client_id: &str| EventRecord {
        id: new_uuid(),
        realm_id: r.id.clone(),
        time: 1,
        kind: "CLIENT_REGISTER".into(),
        client_id: Some(client_id.into()),
        user_id: None,
        ip_address: None,
        error: None,
        details: Default::default(),
    };
    // Creations start together, once every task is waiting.
    let run = |jobs: Vec<(ClientBundle, WriteGuard)>| {
        let gate = Arc::new(tokio::sync::Barrier::new(jobs.len()));
        let tasks: Vec<_> = jobs
            .into_iter()
            .map(|(b, g)| {
                let (s, gate) = (s.clone(), gate.clone());
                tokio::spawn(async move {
                    gate.wait().await;
                    s.create_client(b, &g).await
                })
            })
            .collect();
        async move {
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        }
    };
    let with_token = |e: EventRecord| WriteGuard {
        initial_access_token: Some("gc-token".into()),
        event: Some(e),
        ..Default::default()
    };

    // 50 creations with a token good for 30.
    let (created_before, transactions_before) = s.group_commit_stats().read();
    let ids: Vec<String> = (0..50).map(|i| format!("gc-{i}")).collect();
    let results = run(ids
        .iter()
        .map(|id| (mk(id), with_token(event(id))))
        .collect())
    .await;
    let (created, transactions) = s.group_commit_stats().read();
    assert_eq!(created - created_before, 50);
    assert!(
        transactions - transactions_before < 50,
        "50 concurrent creations took {} transactions",
        transactions - transactions_before
    );
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(admitted, 30, "the token admits exactly its count");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(
                r,
                Err(StoreError::Precondition {
                    failed: Guarded::InitialAccessToken
                })
            ),
            "{r:?}"
        );
    }
    let left = s.list_initial_access(&r.id).await.unwrap();
    assert_eq!(left[0].remaining, 0);
    assert_eq!(
        s.count_clients(&r.id).await.unwrap(),
        30 + bundle("x").clients.len() as i64
    );
    for (id, result) in ids.iter().zip(&results) {
        let stored = s.client_by_client_id(&r.id, id).await.unwrap();
        assert_eq!(stored.is_some(), result.is_ok(), "{id}");
        if let Some(c) = stored {
            let account = s.service_account_user(&r.id, &c.id).await.unwrap().unwrap();
            assert_eq!(
                s.user_role_ids(&account.id).await.unwrap().as_slice(),
                std::slice::from_ref(&sa_role)
            );
        }
    }
    let events = s
        .list_events(
            &r.id,
            &EventQuery {
                window: EventWindow {
                    max: 100,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        events.len(),
        30,
        "one event per stored client, none for refusals"
    );

    // max-clients: the realm holds 30 + its built-in clients; room for 5 more.
    let limit = s.count_clients(&r.id).await.unwrap() + 5;
    let results = run((0..10)
        .map(|i| {
            let guard = WriteGuard {
                max_clients: Some(limit),
                ..Default::default()
            };
            (mk(&format!("max-{i}")), guard)
        })
        .collect())
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
    assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(
        r,
        Err(StoreError::Precondition {
            failed: Guarded::MaxClients
        })
    )));
    assert_eq!(s.count_clients(&r.id).await.unwrap(), limit);

    // Two limits in one batch (anonymous and authenticated policies differ): the realm is
    // already over the smaller one, which refuses every time, and has room for 3 under the
    // larger one. The count stops at the larger limit; each guard is still decided exactly.
    let full = s.count_clients(&r.id).await.unwrap();
    let results = run((0..10)
        .map(|i| {
            let max = if i % 2 == 0 { full - 10 } else { full + 3 };
            let guard = WriteGuard {
                max_clients: Some(max),
                ..Default::default()
            };
            (mk(&format!("mixed-{i}")), guard)
        })
        .collect())
    .await;
    let under_larger = |ok: bool| {
        results
            .iter()
            .enumerate()
            .filter(|(i, r)| i % 2 == 1 && r.is_ok() == ok)
            .count()
    };
    assert!(results.iter().step_by(2).all(|r| matches!(
        r,
        Err(StoreError::Precondition {
            failed: Guarded::MaxClients
        })
    )));
    assert_eq!((under_larger(true), under_larger(false)), (3, 2));
    assert_eq!(s.count_clients(&r.id).await.unwrap(), full + 3);

    // A clientId taken twice in one batch: one of the two fails, nobody else does.
    let results = run((0..10)
        .map(|i| {
            let id = if i < 2 {
                "twice".to_string()
            } else {
                format!("once-{i}")
            };
            (mk(&id), WriteGuard::default())
        })
        .collect())
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 9);
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::Conflict { .. })))
    );
    for i in 2..10 {
        assert!(
            s.client_by_client_id(&r.id, &format!("once-{i}"))
                .await
                .unwrap()
                .is_some()
        );
    }

    // Events on their own (a registration read's CLIENT_INFO) share transactions too.
    let (writes_before, transactions_before) = s.group_commit_stats().read();
    let gate = Arc::new(tokio::sync::Barrier::new(40));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (s, gate) = (s.clone(), gate.clone());
            let mut e = event(&format!("info-{i}"));
            e.kind = "CLIENT_INFO".into();
            tokio::spawn(async move {
                gate.wait().await;
                s.insert_event(&e).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let (writes, transactions) = s.group_commit_stats().read();
    assert_eq!(writes - writes_before, 40);
    assert!(transactions - transactions_before < 40);
    let infos = s
        .list_events(
            &r.id,
            &EventQuery {
                types: vec!["CLIENT_INFO".into()],
                window: EventWindow {
                    max: 100,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(infos.len(), 40);
}

/// Creations (the group commit, on SQLite its own connection) and the store's other writes
/// at the same time: every one succeeds. A transaction that reads, then writes
/// (`add_user_roles`), fails at once with `SQLITE_BUSY_SNAPSHOT` if another connection
/// commits in between, so the group commit must hold the writer pool while it writes.
async fn creations_and_other_writes_interleave(app: &TestApp) {
    let s = app.store.clone();
    let r = created_realm(&s, "mix").await;
    let u = user(&r.id, "mixer", None);
    s.create_user(&u, &[]).await.unwrap();
    let role = offline_access_role(&s, &r.id).await;
    // Three rounds: without that lock, a round failed three times in five (each run of
    // six failed).
    let mut tasks = Vec::new();
    for i in 0..1500 {
        let (store, bundle) = (s.clone(), client_bundle(&r.id, &format!("mix-{i}"), None));
        tasks.push(tokio::spawn(async move {
            store
                .create_client(bundle, &WriteGuard::default())
                .await
                .map_err(|e| format!("creation {i}: {e}"))
        }));
        let (store, user_id, role) = (s.clone(), u.id.clone(), role.clone());
        tasks.push(tokio::spawn(async move {
            let roles = [role];
            let changed = if i % 2 == 0 {
                store.add_user_roles(&user_id, &roles).await
            } else {
                store.remove_user_roles(&user_id, &roles).await
            };
            changed.map_err(|e| format!("role change {i}: {e}"))
        }));
        if i % 500 == 499 {
            for t in tasks.drain(..) {
                t.await.unwrap().unwrap();
            }
        }
    }
    assert_eq!(
        s.count_clients(&r.id).await.unwrap(),
        1500 + bundle("x").clients.len() as i64
    );
}

/// Creates realm `name` with its defaults and reads it back.
async fn created_realm(s: &latchkey_store::SqlStore, name: &str) -> RealmRecord {
    s.create_realm(bundle(name)).await.unwrap();
    s.realm_by_name(name).await.unwrap().unwrap()
}

/// A new client of the realm, with a service account holding `role` if one is given.
fn client_bundle(realm_id: &str, client_id: &str, role: Option<&str>) -> ClientBundle {
    let rep = latchkey_core::rep::ClientRep {
        client_id: Some(client_id.into()),
        ..Default::default()
    };
    let client = new_client(realm_id, rep, &ScopeDefaults::default(), &sealer(), 0)
        .unwrap()
        .record;
    let service_account = role.map(|role| {
        let account = latchkey_core::clients::service_account_user(&client, 0);
        (account, vec![role.to_string()])
    });
    ClientBundle {
        client,
        service_account,
    }
}

async fn offline_access_role(s: &latchkey_store::SqlStore, realm_id: &str) -> String {
    s.all_roles(realm_id)
        .await
        .unwrap()
        .iter()
        .find(|role| role.name == "offline_access")
        .map(|role| role.id.clone())
        .unwrap()
}

crate::on_both_backends!(
    a_clients_event_is_stored_with_it,
    creations_and_other_writes_interleave,
    concurrent_creations_commit_together,
    cached_reads_follow_writes,
    cached_initial_access_tokens_follow_refusals_and_deletions,
    expired_state_is_swept,
    realm_bundles_are_atomic,
    clients_are_unique_per_realm,
    users_filter_and_page,
    role_mappings_are_idempotent_and_cascade,
    a_refresh_token_is_taken_once_under_concurrency,
);

// SPEC §10, secrets at rest on both backends: at_rest.rs.

/// On a SQLite file the group commit's connection leaves checkpoints to a thread of its own
/// and finishes only their tail (`sqlite_writer`). Under a stream of creations the thread
/// and the writer both checkpoint, and the WAL starts over again and again: with no
/// checkpoint at all these 6,000 clients leave a WAL of about 50 MiB; checkpointed, it
/// stays a few MiB and the pages reach the database file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_keep_the_wal_small() {
    let app = TestApp::new(crate::support::Backend::Sqlite)
        .await
        .expect("SQLite needs no service");
    let path = app.db.sqlite_path.clone().unwrap();
    let wal = path.with_extension("db-wal");
    let s = app.store.clone();
    let r = created_realm(&s, "wal").await;
    let role = offline_access_role(&s, &r.id).await;
    let mut largest_wal = 0;
    for wave in 0..12 {
        let mut tasks = Vec::new();
        for i in 0..500 {
            let client_id = format!("wal-{wave}-{i}");
            let (store, bundle) = (s.clone(), client_bundle(&r.id, &client_id, Some(&role)));
            tasks.push(tokio::spawn(async move {
                store.create_client(bundle, &WriteGuard::default()).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        largest_wal = largest_wal.max(std::fs::metadata(&wal).unwrap().len());
    }
    assert_eq!(
        s.count_clients(&r.id).await.unwrap(),
        6000 + bundle("x").clients.len() as i64
    );
    // The WAL file keeps its largest size when the log starts over, so this is its peak.
    assert!(
        largest_wal < 12 << 20,
        "the WAL grew to {largest_wal} bytes"
    );
    // SQLite's own automatic checkpoint (the fallback if the thread is gone) would keep the
    // WAL small too; these counts show whose work it was.
    let (passes, tails) = s.group_commit_stats().checkpoints();
    assert!(passes > 0, "the checkpoint thread never ran");
    assert!(tails > 0, "the writer never finished a checkpoint's tail");
    let database = std::fs::metadata(&path).unwrap().len();
    assert!(
        database > 8 << 20,
        "only {database} bytes reached the database file"
    );
    println!(
        "WAL peak {largest_wal} bytes, database {database} bytes, {passes} passes, {tails} tails"
    );
}
