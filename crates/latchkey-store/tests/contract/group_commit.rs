//! The group commit: creations and events share transactions, interleave with the other
//! writes, and on a SQLite file keep the WAL small.

use std::sync::Arc;

use latchkey_core::crypto::new_uuid;
use latchkey_core::store::*;
use latchkey_store::SqlStore;

use crate::fixtures::*;
use crate::support::TestStore;

/// Creates each bundle under its guard, the creations started together once every task is
/// waiting; their results in order.
async fn create_together(
    s: &Arc<SqlStore>,
    jobs: Vec<(ClientBundle, WriteGuard)>,
) -> Vec<StoreResult<()>> {
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
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// A client's event is written in the client's own transaction: when the event cannot be
/// stored, the client is not stored either (and the other way round).
async fn a_clients_event_is_stored_with_it(app: &TestStore) {
    let s = app.store.as_ref();
    let r = created_realm(s, "ev").await;
    let mk = |client_id: &str| client_bundle(&r.id, client_id, None);
    let event = |id: &str, client_id: &str| register_event(&r.id, id, client_id);
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
    let events = events(s, &r.id, 10).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].client_id.as_deref(), Some("kept"));
    assert!(
        s.client_by_client_id(&r.id, "kept")
            .await
            .unwrap()
            .is_some()
    );
}

/// Group commit (`latchkey-store/src/write/group_commit.rs`): creations that arrive together share a
/// transaction, and each is still decided on its own, in arrival order, exactly as one
/// after another: an initial access token's count, max-clients, a clientId already taken.
async fn concurrent_creations_commit_together(app: &TestStore) {
    let s = app.store.clone();
    let r = created_realm(&s, "gc").await;
    s.create_initial_access(&initial_access(&r.id, "gc-token", 30))
        .await
        .unwrap();
    let sa_role = offline_access_role(&s, &r.id).await;
    let (realm_id, role) = (r.id.clone(), sa_role.clone());
    let mk = move |client_id: &str| client_bundle(&realm_id, client_id, Some(&role));
    let event = |client_id: &str| register_event(&r.id, &new_uuid(), client_id);
    let run = |jobs: Vec<(ClientBundle, WriteGuard)>| create_together(&s, jobs);
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
    let events = events(&s, &r.id, 100).await;
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

/// An initial access token's uses are spent while its row is locked, in one statement when
/// it has every use the batch's creations hope for; when it turns out to admit fewer (it
/// expires at some creations' clocks, or max-clients refuses some first), exactly what it
/// admitted is spent, and the refused get their own refusal.
async fn a_token_spends_exactly_what_a_batch_admits(app: &TestStore) {
    let s = app.store.clone();
    let r = created_realm(&s, "gc-spend").await;
    // Expires at second 1,100 of the guards' clocks.
    let mut token = initial_access(&r.id, "spend-token", 40);
    (token.created_at, token.expiration) = (1_000, 100);
    s.create_initial_access(&token).await.unwrap();
    let realm_id = r.id.clone();
    let run = |guards: Vec<WriteGuard>| {
        let jobs = guards
            .into_iter()
            .map(|g| (client_bundle(&realm_id, &new_uuid(), None), g))
            .collect();
        create_together(&s, jobs)
    };
    let remaining = || async { s.list_initial_access(&r.id).await.unwrap()[0].remaining };

    // Half the creations come before the expiry, half after, interleaved.
    let (_, transactions_before) = s.group_commit_stats().read();
    let results = run((0..20)
        .map(|i| WriteGuard {
            initial_access_token: Some("spend-token".into()),
            now_secs: if i % 2 == 0 { 1_050 } else { 1_150 },
            ..Default::default()
        })
        .collect())
    .await;
    let (_, transactions) = s.group_commit_stats().read();
    assert!(
        transactions - transactions_before < 20,
        "they shared batches"
    );
    for (i, r) in results.iter().enumerate() {
        if i % 2 == 0 {
            assert!(r.is_ok(), "{i}: {r:?}");
        } else {
            assert!(
                matches!(
                    r,
                    Err(StoreError::Precondition {
                        failed: Guarded::InitialAccessToken
                    })
                ),
                "{i}: {r:?}"
            );
        }
    }
    assert_eq!(remaining().await, 30, "ten uses spent, for ten clients");

    // max-clients refuses some before the token is asked: they spend nothing.
    let limit = s.count_clients(&r.id).await.unwrap() + 4;
    let results = run((0..12)
        .map(|_| WriteGuard {
            initial_access_token: Some("spend-token".into()),
            max_clients: Some(limit),
            now_secs: 1_050,
            ..Default::default()
        })
        .collect())
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    assert_eq!(remaining().await, 26);

    // More creations than uses left: exactly the uses left are admitted.
    let results = run((0..40)
        .map(|_| WriteGuard {
            initial_access_token: Some("spend-token".into()),
            now_secs: 1_050,
            ..Default::default()
        })
        .collect())
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 26);
    assert_eq!(remaining().await, 0);
}

/// Creations (the group commit, on SQLite its own connection) and the store's other writes
/// at the same time: every one succeeds. A transaction that reads, then writes
/// (`add_user_roles`), fails at once with `SQLITE_BUSY_SNAPSHOT` if another connection
/// commits in between, so the group commit must hold the writer pool while it writes.
async fn creations_and_other_writes_interleave(app: &TestStore) {
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

/// Last-used days of many clients queued at once (more than one statement's worth, over
/// two realms) all land, and a later day never goes back to an earlier one.
async fn many_last_used_days_land_together(app: &TestStore) {
    let s = app.store.as_ref();
    let mut clients = Vec::new();
    for realm in ["touch-a", "touch-b"] {
        let r = created_realm(s, realm).await;
        for i in 0..100 {
            let b = client_bundle(&r.id, &format!("t-{i}"), None);
            clients.push((r.id.clone(), b.client.id.clone()));
            s.create_client(b, &WriteGuard::default()).await.unwrap();
        }
    }
    let (day, earlier) = (20_500, 20_400);
    let (first_realm, first) = clients[0].clone();
    s.touch_client(&first_realm, &first, day);
    for (realm, id) in &clients {
        s.touch_client(realm, id, earlier);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for (i, (realm, id)) in clients.iter().enumerate() {
        let want = if i == 0 { day } else { earlier };
        loop {
            let c = s.client(realm, id).await.unwrap().unwrap();
            if c.last_used == Some(want) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "client {i}: {:?}",
                c.last_used
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// A burst of last-used days faster than the writer writes them: the queue never holds
/// more than its bound (4,096), what did not fit is dropped rather than kept, and a
/// dropped client's next use queues its day again.
async fn the_last_used_queue_is_bounded(app: &TestStore) {
    let s = app.store.as_ref();
    let r = created_realm(s, "burst").await;
    let b = client_bundle(&r.id, "burst-client", None);
    let id = b.client.id.clone();
    s.create_client(b, &WriteGuard::default()).await.unwrap();
    const BURST: u64 = 50_000;
    let before = s.group_commit_stats().touches();
    let mut most = 0;
    for i in 0..BURST {
        s.touch_client(&r.id, &format!("absent-{i}"), 20_000);
        most = most.max(s.pending_touches());
    }
    assert!(most <= 4_096, "{most} touches queued");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while s.pending_touches() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the queue never drained"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let written = s.group_commit_stats().touches() - before;
    assert!(
        written < BURST,
        "all {written} queued: the burst never met the bound"
    );
    // With room again, a real client's day lands.
    s.touch_client(&r.id, &id, 20_001);
    loop {
        if s.client(&r.id, &id).await.unwrap().unwrap().last_used == Some(20_001) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the day never landed");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Last-used days wait on a queue of their own: a full backlog of them (a token load over
/// more clients than the writer keeps up with) does not stand in line before a creation:
/// each batch takes at most 64 days beside its other writes. On one queue the creation
/// waited behind every day queued before it.
async fn a_backlog_of_last_used_days_never_delays_a_creation(app: &TestStore) {
    let s = app.store.as_ref();
    let r = created_realm(s, "backlog").await;
    for i in 0..4_096 {
        s.touch_client(&r.id, &format!("absent-{i}"), 20_000);
    }
    let waiting = s.pending_touches();
    let before = s.group_commit_stats().touches();
    s.create_client(client_bundle(&r.id, "late", None), &WriteGuard::default())
        .await
        .unwrap();
    let written = s.group_commit_stats().touches() - before;
    assert!(
        waiting > 1_000,
        "only {waiting} days were waiting: the backlog never formed"
    );
    assert!(
        written < waiting as u64 / 2,
        "{written} of {waiting} waiting days were written before the creation"
    );
}

/// Refresh token rotations that arrive together share a transaction, beside creations,
/// and each still spends only its own token: two rotations of one token in a batch, the
/// first wins.
async fn concurrent_rotations_commit_together(app: &TestStore) {
    let s = app.store.clone();
    let r = created_realm(&s, "rot").await;
    let token = |hash: String| refresh_token(&r.id, &hash, 10_000);
    for i in 0..40 {
        s.insert_refresh_token(&token(format!("old-{i}")))
            .await
            .unwrap();
    }
    let (writes_before, transactions_before) = s.group_commit_stats().read();
    // 40 tokens, each rotated by two requests at once, and 10 creations among them.
    let gate = Arc::new(tokio::sync::Barrier::new(90));
    let mut rotations = Vec::new();
    for i in 0..80 {
        let (s, gate) = (s.clone(), gate.clone());
        let spent = format!("old-{}", i % 40);
        let next = token(format!("new-{i}"));
        let tombstone = TransientRecord {
            kind: "spent".into(),
            id: spent.clone(),
            realm_id: r.id.clone(),
            data: serde_json::json!({"session": "s"}),
            expires_at: 10_000,
        };
        rotations.push(tokio::spawn(async move {
            gate.wait().await;
            s.rotate_refresh_token(&spent, 5_000, &tombstone, &next)
                .await
                .unwrap()
        }));
    }
    let mut creations = Vec::new();
    for i in 0..10 {
        let (s, gate) = (s.clone(), gate.clone());
        let bundle = client_bundle(&r.id, &format!("rot-{i}"), None);
        creations.push(tokio::spawn(async move {
            gate.wait().await;
            s.create_client(bundle, &WriteGuard::default()).await
        }));
    }
    let mut won = Vec::new();
    for t in rotations {
        won.push(t.await.unwrap());
    }
    for t in creations {
        t.await.unwrap().unwrap();
    }
    let (writes, transactions) = s.group_commit_stats().read();
    assert_eq!(writes - writes_before, 90);
    assert!(
        transactions - transactions_before < 90,
        "90 concurrent writes took {} transactions",
        transactions - transactions_before
    );
    for i in 0..40 {
        let (a, b) = (won[i], won[i + 40]);
        assert!(a != b, "old-{i}: exactly one of its two rotations wins");
        let winner = if a { i } else { i + 40 };
        assert!(
            s.refresh_token(&format!("new-{winner}"))
                .await
                .unwrap()
                .is_some()
        );
        let loser = if a { i + 40 } else { i };
        assert!(
            s.refresh_token(&format!("new-{loser}"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.refresh_token(&format!("old-{i}"))
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(s.count_clients(&r.id).await.unwrap() >= 10);
}

crate::on_both_backends!(
    a_clients_event_is_stored_with_it,
    concurrent_rotations_commit_together,
    concurrent_creations_commit_together,
    a_token_spends_exactly_what_a_batch_admits,
    creations_and_other_writes_interleave,
    many_last_used_days_land_together,
    the_last_used_queue_is_bounded,
    a_backlog_of_last_used_days_never_delays_a_creation,
);

/// On a SQLite file the group commit's connection leaves checkpoints to a thread of its own
/// and finishes only their tail (`sqlite_writer`). Under a stream of creations the thread
/// and the writer both checkpoint, and the WAL starts over again and again: with no
/// checkpoint at all these 6,000 clients leave a WAL of about 50 MiB; checkpointed, it
/// stays a few MiB and the pages reach the database file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_keep_the_wal_small() {
    let app = TestStore::new(crate::support::Backend::Sqlite)
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
