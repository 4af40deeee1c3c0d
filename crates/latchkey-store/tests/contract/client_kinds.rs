//! Clients by registration kind: the column the store keeps from each client's
//! attributes, filtered and counted in SQL with paging, the bulk reads and writes, the
//! grouped count of the metrics, and the migration that fills the column for existing
//! clients.

use latchkey_core::registration::kind::RegistrationKind;
use latchkey_core::store::*;

use crate::fixtures::*;
use crate::support::TestStore;

fn with_attrs(realm_id: &str, client_id: &str, attrs: &[(&str, &str)]) -> ClientBundle {
    let mut b = client_bundle(realm_id, client_id, None);
    let a = b.client.rep.attributes.get_or_insert_with(Default::default);
    for (k, v) in attrs {
        a.insert(k.to_string(), v.to_string());
    }
    b
}

const AUTH: &str = "registration.auth";
const METHOD: &str = "registration.method";

/// Realm `kinds` with the bundle's built-in clients plus `anon-0`..`anon-{n}` (anonymous),
/// `iat`, `bearer`, `doc` (cimd) and `old` (authenticated, token not recorded).
async fn seeded(s: &latchkey_store::SqlStore, anonymous: usize) -> RealmRecord {
    let realm = created_realm(s, "kinds").await;
    let mut bundles = vec![
        with_attrs(
            &realm.id,
            "iat",
            &[(AUTH, "authenticated"), (METHOD, "initial_access_token")],
        ),
        with_attrs(
            &realm.id,
            "bearer",
            &[(AUTH, "authenticated"), (METHOD, "bearer_token")],
        ),
        with_attrs(&realm.id, "doc", &[(AUTH, "cimd")]),
        with_attrs(&realm.id, "old", &[(AUTH, "authenticated")]),
    ];
    for i in 0..anonymous {
        bundles.push(with_attrs(
            &realm.id,
            &format!("anon-{i:02}"),
            &[(AUTH, "anonymous")],
        ));
    }
    for b in bundles {
        s.create_client(b, &WriteGuard::default()).await.unwrap();
    }
    realm
}

fn ids(list: &[ClientRecord]) -> Vec<&str> {
    list.iter().map(|c| c.client_id.as_str()).collect()
}

async fn clients_filter_and_count_by_kind(app: &TestStore) {
    let s = app.store.as_ref();
    let realm = seeded(s, 12).await;
    let q = |kind, first, max| ClientQuery {
        registration: Some(kind),
        first,
        max,
        ..Default::default()
    };
    for (kind, expected) in [
        (RegistrationKind::InitialAccessToken, vec!["iat"]),
        (RegistrationKind::Bearer, vec!["bearer"]),
        (RegistrationKind::Cimd, vec!["doc"]),
        (RegistrationKind::Authenticated, vec!["old"]),
    ] {
        let got = s.list_clients(&realm.id, &q(kind, 0, None)).await.unwrap();
        assert_eq!(ids(&got), expected, "{kind:?}");
        assert_eq!(
            s.count_listed_clients(&realm.id, &q(kind, 0, None))
                .await
                .unwrap(),
            1
        );
    }
    let admins = s
        .list_clients(&realm.id, &q(RegistrationKind::Admin, 0, None))
        .await
        .unwrap();
    assert!(!admins.is_empty());
    assert!(
        admins
            .iter()
            .all(|c| RegistrationKind::of(&c.rep) == RegistrationKind::Admin)
    );
    // Paging with a filter: the count is the filter's, the pages split its clients.
    let anon = RegistrationKind::Anonymous;
    assert_eq!(
        s.count_listed_clients(&realm.id, &q(anon, 5, Some(5)))
            .await
            .unwrap(),
        12
    );
    let pages: Vec<Vec<ClientRecord>> = pages_of(s, &realm.id, anon).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5, 2]);
    assert_eq!(ids(&pages[2]), ["anon-10", "anon-11"]);
    // Search and kind together.
    let both = ClientQuery {
        client_id: Some("ANON-1".into()),
        search: true,
        registration: Some(anon),
        ..Default::default()
    };
    assert_eq!(
        ids(&s.list_clients(&realm.id, &both).await.unwrap()),
        ["anon-10", "anon-11"]
    );
    assert_eq!(s.count_listed_clients(&realm.id, &both).await.unwrap(), 2);

    // An update that changes the attributes moves the client to its new kind.
    let mut old = s
        .client_by_client_id(&realm.id, "old")
        .await
        .unwrap()
        .unwrap();
    old.rep
        .attributes
        .as_mut()
        .unwrap()
        .insert(METHOD.into(), "bearer_token".into());
    let bundle = ClientBundle {
        client: old,
        service_account: None,
    };
    s.update_client(bundle, &WriteGuard::default())
        .await
        .unwrap();
    let bearer = s
        .list_clients(&realm.id, &q(RegistrationKind::Bearer, 0, None))
        .await
        .unwrap();
    assert_eq!(ids(&bearer), ["bearer", "old"]);

    let per_kind = s.clients_per_kind().await.unwrap();
    let n = |kind: &str| {
        per_kind
            .iter()
            .find(|(r, k, _)| r == "kinds" && k == kind)
            .map(|(_, _, n)| *n)
    };
    assert_eq!(n("anonymous"), Some(12));
    assert_eq!(n("bearer"), Some(2));
    assert_eq!(n("authenticated"), None);
    assert_eq!(n("admin"), Some(admins.len() as i64));
}

async fn pages_of(
    s: &latchkey_store::SqlStore,
    realm_id: &str,
    kind: RegistrationKind,
) -> Vec<Vec<ClientRecord>> {
    let mut pages = Vec::new();
    for first in [0, 5, 10] {
        let q = ClientQuery {
            registration: Some(kind),
            first,
            max: Some(5),
            ..Default::default()
        };
        pages.push(s.list_clients(realm_id, &q).await.unwrap());
    }
    pages
}

async fn bulk_reads_and_writes(app: &TestStore) {
    let s = app.store.as_ref();
    let realm = seeded(s, 3).await;
    let other = created_realm(s, "other").await;
    let foreign = s
        .client_by_client_id(&other.id, "admin-cli")
        .await
        .unwrap()
        .unwrap();
    let anon: Vec<ClientRecord> = s
        .list_clients(
            &realm.id,
            &ClientQuery {
                registration: Some(RegistrationKind::Anonymous),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut wanted: Vec<String> = anon.iter().map(|c| c.id.clone()).collect();
    wanted.push(foreign.id.clone());
    wanted.push("no-such-id".into());
    let found = s.clients_by_ids(&realm.id, &wanted).await.unwrap();
    assert_eq!(
        ids(&found),
        ["anon-00", "anon-01", "anon-02"],
        "another realm's client is not found"
    );

    let mut off = found.clone();
    for c in &mut off {
        c.rep.enabled = Some(false);
    }
    let mut gone = off[0].clone();
    gone.id = "no-such-id".into();
    off.push(gone);
    let updated = s.update_client_docs(&realm.id, &off).await.unwrap();
    assert_eq!(updated.len(), 3);
    for c in &found {
        let now = s.client(&realm.id, &c.id).await.unwrap().unwrap();
        assert!(!now.rep.is_enabled(), "the cache sees the write");
    }
    let deleted = s.delete_clients(&realm.id, &wanted).await.unwrap();
    assert_eq!(deleted.len(), 3, "only the realm's existing clients");
    for c in &found {
        assert!(s.client(&realm.id, &c.id).await.unwrap().is_none());
    }
    assert!(s.client(&other.id, &foreign.id).await.unwrap().is_some());
}

/// Clients stored before the column existed get their kind from their documents.
async fn the_migration_reads_existing_documents(app: &TestStore) {
    let s = app.store.as_ref();
    let realm = seeded(s, 1).await;
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    for sql in [
        "DROP INDEX clients_realm_kind",
        "ALTER TABLE clients DROP COLUMN registration_kind",
        "DELETE FROM latchkey_migrations WHERE version = 8",
    ] {
        sqlx::query(sql).execute(&raw).await.unwrap();
    }
    raw.close().await;
    let again = latchkey_store::SqlStore::connect(&app.db.url)
        .await
        .unwrap();
    let kind = |k| ClientQuery {
        registration: Some(k),
        ..Default::default()
    };
    for (k, expected) in [
        (RegistrationKind::Anonymous, vec!["anon-00"]),
        (RegistrationKind::Cimd, vec!["doc"]),
        (RegistrationKind::InitialAccessToken, vec!["iat"]),
        (RegistrationKind::Bearer, vec!["bearer"]),
        (RegistrationKind::Authenticated, vec!["old"]),
    ] {
        let got = again.list_clients(&realm.id, &kind(k)).await.unwrap();
        assert_eq!(ids(&got), expected, "{k:?}");
    }
    assert!(
        again
            .list_clients(&realm.id, &kind(RegistrationKind::Admin))
            .await
            .unwrap()
            .iter()
            .all(|c| RegistrationKind::of(&c.rep) == RegistrationKind::Admin)
    );
    again.close().await;
}

crate::on_both_backends!(
    clients_filter_and_count_by_kind,
    bulk_reads_and_writes,
    the_migration_reads_existing_documents,
);
