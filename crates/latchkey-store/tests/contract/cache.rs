//! The read cache: reads follow every write, on this node and (PostgreSQL) on the others.

use latchkey_core::store::*;

use crate::fixtures::*;
use crate::support::TestStore;

/// The realm's `admin-cli` as the store reads it now.
async fn admin_cli(s: &latchkey_store::SqlStore, realm_id: &str) -> ClientRecord {
    s.client_by_client_id(realm_id, "admin-cli")
        .await
        .unwrap()
        .unwrap()
}

/// The hot reads come from memory (a change made behind the store's back is not seen),
/// every write through the store is seen at once by the next read, and on PostgreSQL a
/// second node's write reaches this node's cache through the notification channel.
async fn cached_reads_follow_writes(app: &TestStore) {
    let s = app.store.as_ref();
    let realm = created_realm(s, "cachy").await;
    let client = admin_cli(s, &realm.id).await;
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
    let cached = admin_cli(s, &realm.id).await;
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
    let seen = admin_cli(s, &realm.id).await;
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
            let now = admin_cli(s, &realm.id).await;
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
async fn cached_initial_access_tokens_follow_refusals_and_deletions(app: &TestStore) {
    let s = app.store.as_ref();
    let r = created_realm(s, "iatc").await;
    let iat = initial_access(&r.id, "iatc-token", 1);
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
    let mk = |client_id: &str| client_bundle(&r.id, client_id, None);
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

/// Behind the store's back: `client_id`'s description, to tell a cached read from a fresh one.
async fn describe_behind(raw: &sqlx::AnyPool, c: &ClientRecord, description: &str) {
    let rep = latchkey_core::rep::ClientRep {
        description: Some(description.into()),
        ..c.rep.clone()
    };
    sqlx::query("UPDATE clients SET doc = $1 WHERE id = $2")
        .bind(serde_json::to_string(&rep).unwrap())
        .bind(&c.id)
        .execute(raw)
        .await
        .unwrap();
}

/// A cache bounded at 40 rows, read through 200 clients (by `clientId`, by id, their
/// service accounts: 800 rows), twice: it never holds more than 40 rows and every read is
/// the right client. A creation leaves the cached clients in place, and a client's
/// last-used day drops that client alone.
async fn the_cache_never_holds_more_than_its_bound(app: &TestStore) {
    const BOUND: usize = 40;
    let s = latchkey_store::SqlStore::connect_with_cache(&app.db.url, BOUND)
        .await
        .unwrap();
    let realm = created_realm(&s, "bounded").await;
    let role = offline_access_role(&s, &realm.id).await;
    let mut ids = Vec::new();
    for i in 0..200 {
        let b = client_bundle(&realm.id, &format!("c-{i}"), Some(&role));
        ids.push(b.client.id.clone());
        s.create_client(b, &WriteGuard::default()).await.unwrap();
    }
    // (PostgreSQL: the cache turns on once this node's listener is connected.)
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for _ in 0..2 {
        for (i, id) in ids.iter().enumerate() {
            let client_id = format!("c-{i}");
            let c = s
                .client_by_client_id(&realm.id, &client_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!((&c.id, &c.client_id), (id, &client_id));
            let c = s.client(&realm.id, id).await.unwrap().unwrap();
            assert_eq!((&c.id, &c.client_id), (id, &client_id));
            let account = s
                .service_account_user(&realm.id, id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(account.service_account_client.as_deref(), Some(id.as_str()));
            assert_eq!(s.user_role_ids(&account.id).await.unwrap().len(), 1);
            let (rows, most) = s.cache_rows();
            assert!(rows <= BOUND, "{rows} rows cached, bound {BOUND}");
            assert_eq!(most, BOUND);
        }
    }
    assert!(s.cache_rows().0 > 0, "the cache was used");

    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let read = |i: usize| {
        let s = &s;
        let realm = &realm.id;
        async move {
            s.client_by_client_id(realm, &format!("c-{i}"))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let (a, b) = (read(198).await, read(199).await);
    describe_behind(&raw, &a, "behind").await;
    describe_behind(&raw, &b, "behind").await;
    if app.db.sqlite_path.is_some() {
        // Still cached, after a creation in their realm.
        s.create_client(
            client_bundle(&realm.id, "new", None),
            &WriteGuard::default(),
        )
        .await
        .unwrap();
        assert!(read(198).await.rep.description.is_none());
        assert!(read(199).await.rep.description.is_none());
    }
    // A last-used day reaches the client it is for, at once, and no other.
    let day = 20_000;
    s.touch_client(&realm.id, &a.id, day);
    // (It commits with the writer's next batch, nobody waiting for it.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let a = loop {
        let a = read(198).await;
        if a.last_used == Some(day) {
            break a;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cached client kept its old day"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert_eq!(a.rep.description.as_deref(), Some("behind"));
    if app.db.sqlite_path.is_some() {
        assert!(read(199).await.rep.description.is_none(), "still cached");
    }
    raw.close().await;
    s.close().await;
}

/// A user as a test compares it: `UserRecord` has no equality of its own.
fn user_fields(u: &UserRecord) -> serde_json::Value {
    serde_json::json!({
        "id": u.id,
        "realm": u.realm_id,
        "username": u.username,
        "email": u.email,
        "rep": u.rep,
        "password": u.password_hash,
        "client": u.service_account_client,
        "created": u.created_at,
    })
}

/// Role ids in a stable order (a mapping list has none).
fn sorted(ids: &[String]) -> Vec<String> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids
}

/// A client read by `clientId` brings its service account and the account's role mappings
/// into the cache, read in the same statement: they are what the separate reads find (a
/// client without an account, an account without roles, with one, with a composite and
/// others), the separate reads are then served from memory (a change made behind the
/// store's back is not seen), and a change through the store is seen at once.
async fn a_client_by_client_id_brings_its_account_and_roles(app: &TestStore) {
    let s = app.store.as_ref();
    let realm = created_realm(s, "joined").await;
    let all = s.all_roles(&realm.id).await.unwrap();
    let role = |name: &str| {
        all.iter()
            .find(|r| r.name == name && r.client.is_none())
            .map(|r| r.id.clone())
            .unwrap()
    };
    let composite = role("default-roles-joined");
    assert!(
        all.iter()
            .any(|r| r.id == composite && r.rep.composite == Some(true))
    );
    let (offline, uma) = (role("offline_access"), role("uma_authorization"));
    let cases: [(&str, Option<Vec<String>>); 4] = [
        ("no-account", None),
        ("no-roles", Some(vec![])),
        ("one-role", Some(vec![offline.clone()])),
        (
            "composite",
            Some(vec![composite.clone(), offline.clone(), uma.clone()]),
        ),
    ];
    let mut uuids = Vec::new();
    for (client_id, roles) in &cases {
        let mut b = client_bundle(&realm.id, client_id, None);
        b.service_account = roles.as_ref().map(|roles| {
            let account = latchkey_core::clients::service_account_user(&b.client, 0);
            (account, roles.clone())
        });
        uuids.push(b.client.id.clone());
        s.create_client(b, &WriteGuard::default()).await.unwrap();
    }

    // What the separate reads find, on a store that has read nothing yet.
    let separate = latchkey_store::SqlStore::connect(&app.db.url)
        .await
        .unwrap();
    let mut expected = Vec::new();
    for uuid in &uuids {
        let account = separate
            .service_account_user(&realm.id, uuid)
            .await
            .unwrap();
        let roles = match &account {
            Some(a) => Some(sorted(&separate.user_role_ids(&a.id).await.unwrap())),
            None => None,
        };
        expected.push((account, roles));
    }
    separate.close().await;
    for ((_, roles), (account, read)) in cases.iter().zip(&expected) {
        assert_eq!(account.is_some(), roles.is_some());
        assert_eq!(read.as_ref(), roles.as_ref().map(|r| sorted(r)).as_ref());
    }

    // (PostgreSQL: the cache turns on once this node's listener is connected.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while s.cache_rows().0 == 0 {
        s.realm_by_name("joined").await.unwrap();
        assert!(
            std::time::Instant::now() < deadline,
            "the cache never came on"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for (client_id, _) in &cases {
        s.client_by_client_id(&realm.id, client_id)
            .await
            .unwrap()
            .unwrap();
    }
    // Behind the store's back: the accounts and their mappings change in the database.
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    for sql in [
        "UPDATE users SET email = 'behind@example.org' WHERE realm_id = $1",
        "DELETE FROM user_roles WHERE realm_id = $1",
    ] {
        sqlx::query(sql)
            .bind(&realm.id)
            .execute(&raw)
            .await
            .unwrap();
    }
    for (uuid, (account, roles)) in uuids.iter().zip(&expected) {
        let cached = s.service_account_user(&realm.id, uuid).await.unwrap();
        assert_eq!(
            cached.as_ref().map(user_fields),
            account.as_ref().map(user_fields),
            "the account read with its client"
        );
        if let (Some(cached), Some(roles)) = (cached, roles) {
            let read = s.user_role_ids(&cached.id).await.unwrap();
            assert_eq!(&sorted(&read), roles, "the roles read with the client");
        }
    }

    // Through the store: a role change is seen by the next read, and so is a change of the
    // account, though its client is still cached.
    let one_role = &uuids[2];
    let account = s
        .service_account_user(&realm.id, one_role)
        .await
        .unwrap()
        .unwrap();
    s.add_user_roles(&account.id, std::slice::from_ref(&uma))
        .await
        .unwrap();
    assert_eq!(
        *s.user_role_ids(&account.id).await.unwrap(),
        vec![uma.clone()]
    );
    let mut changed = account.clone();
    changed.rep.first_name = Some("changed".into());
    s.update_user(&changed).await.unwrap();
    let client = s
        .client_by_client_id(&realm.id, "one-role")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&client.id, one_role);
    let seen = s
        .service_account_user(&realm.id, one_role)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.rep.first_name.as_deref(), Some("changed"));
    assert_eq!(*s.user_role_ids(&seen.id).await.unwrap(), vec![uma]);
    raw.close().await;
}

crate::on_both_backends!(
    cached_reads_follow_writes,
    cached_initial_access_tokens_follow_refusals_and_deletions,
    the_cache_never_holds_more_than_its_bound,
    a_client_by_client_id_brings_its_account_and_roles,
);
