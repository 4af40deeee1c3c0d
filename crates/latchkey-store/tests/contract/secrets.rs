//! Client secret rotation: one compare-and-set write on the sealed secret, the replaced
//! secret kept with its expiry, later updates keeping both, and an update read before a
//! rotation refused.

use std::sync::Arc;

use latchkey_core::client_secrets::{self, DAY_SECS};
use latchkey_core::clients::open_secret;
use latchkey_core::store::*;

use crate::fixtures::*;
use crate::support::TestStore;

async fn a_client_secret_rotates_once_under_concurrency(app: &TestStore) {
    let store: Arc<dyn Store> = app.store.clone();
    let realm = created_realm(&app.store, "acme").await;
    let mut b = client_bundle(&realm.id, "app", None);
    client_secrets::set_expiry(&mut b.client.rep, 0, 4 * DAY_SECS);
    store
        .create_client(b, &WriteGuard::default())
        .await
        .unwrap();
    let loaded = store
        .client_by_client_id(&realm.id, "app")
        .await
        .unwrap()
        .unwrap();
    assert!(loaded.previous_secret.is_none());
    let old_sealed = loaded.secret_sealed.clone().unwrap();
    let old = open_secret(&loaded, &sealer()).unwrap();
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let (store, loaded, expected) = (store.clone(), loaded.clone(), old_sealed.clone());
            tokio::spawn(async move {
                let (next, secret) =
                    client_secrets::rotate(&loaded, &sealer(), 3 * DAY_SECS, 4 * DAY_SECS);
                store
                    .rotate_client_secret(&next, &expected)
                    .await
                    .map(|()| secret)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in racers {
        match t.await.unwrap() {
            Ok(secret) => winners.push(secret),
            Err(StoreError::Precondition {
                failed: Guarded::ClientSecret,
            }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation");
    let after = store.client(&realm.id, &loaded.id).await.unwrap().unwrap();
    assert_eq!(open_secret(&after, &sealer()).unwrap(), winners[0]);
    assert_eq!(
        after.previous_secret,
        Some(PreviousSecret {
            sealed: old_sealed.clone(),
            expires_at: 4 * DAY_SECS
        })
    );
    assert_eq!(client_secrets::expires_at(&after.rep), 7 * DAY_SECS);
    assert!(client_secrets::accepts(
        &after,
        &sealer(),
        &old,
        3 * DAY_SECS
    ));
    // An update keeps what it was given, previous secret included.
    let bundle = ClientBundle {
        client: after.clone(),
        service_account: None,
    };
    store
        .update_client(bundle, &WriteGuard::default())
        .await
        .unwrap();
    let updated = store.client(&realm.id, &loaded.id).await.unwrap().unwrap();
    assert_eq!(updated.previous_secret, after.previous_secret);
    // A rotation from the replaced secret finds nothing to replace.
    let (stale, _) = client_secrets::rotate(&loaded, &sealer(), 3 * DAY_SECS, DAY_SECS);
    assert!(matches!(
        store.rotate_client_secret(&stale, &old_sealed).await,
        Err(StoreError::Precondition {
            failed: Guarded::ClientSecret
        })
    ));
}

/// An update made from a read taken before a rotation must not put the replaced secret
/// back: guarded by the secret it read, it fails, and the rotation stands; guarded by the
/// current secret (or by none, for a client that has none) it is written.
async fn an_update_from_a_read_before_a_rotation_is_refused(app: &TestStore) {
    let store = &app.store;
    let realm = created_realm(store, "acme").await;
    let mut b = client_bundle(&realm.id, "app", None);
    client_secrets::set_expiry(&mut b.client.rep, 0, 4 * DAY_SECS);
    store
        .create_client(b, &WriteGuard::default())
        .await
        .unwrap();
    let read = store
        .client_by_client_id(&realm.id, "app")
        .await
        .unwrap()
        .unwrap();
    let (rotated, secret) = client_secrets::rotate(&read, &sealer(), 3 * DAY_SECS, 4 * DAY_SECS);
    store
        .rotate_client_secret(&rotated, read.secret_sealed.as_deref().unwrap())
        .await
        .unwrap();
    let guarded = |expected: Option<String>| WriteGuard {
        expected_secret: Some(expected),
        ..Default::default()
    };
    let mut stale = read.clone();
    stale.rep.description = Some("from the stale read".into());
    let bundle = |client: &ClientRecord| ClientBundle {
        client: client.clone(),
        service_account: None,
    };
    assert!(matches!(
        store
            .update_client(bundle(&stale), &guarded(read.secret_sealed.clone()))
            .await,
        Err(StoreError::Precondition {
            failed: Guarded::ClientSecret
        })
    ));
    let now = store.client(&realm.id, &read.id).await.unwrap().unwrap();
    assert_eq!(open_secret(&now, &sealer()).unwrap(), secret);
    assert_eq!(now.rep.description, None, "nothing of the refused write");
    let mut fresh = now.clone();
    fresh.rep.description = Some("from a fresh read".into());
    store
        .update_client(bundle(&fresh), &guarded(now.secret_sealed.clone()))
        .await
        .unwrap();
    let after = store.client(&realm.id, &read.id).await.unwrap().unwrap();
    assert_eq!(open_secret(&after, &sealer()).unwrap(), secret);
    assert_eq!(after.rep.description.as_deref(), Some("from a fresh read"));

    let public = client_bundle(&realm.id, "public-app", None);
    let mut public_client = public.client.clone();
    public_client.secret_sealed = None;
    store
        .create_client(
            ClientBundle {
                client: public_client.clone(),
                service_account: None,
            },
            &WriteGuard::default(),
        )
        .await
        .unwrap();
    public_client.rep.description = Some("public".into());
    store
        .update_client(bundle(&public_client), &guarded(None))
        .await
        .unwrap();
}

crate::on_both_backends!(
    a_client_secret_rotates_once_under_concurrency,
    an_update_from_a_read_before_a_rotation_is_refused,
);
