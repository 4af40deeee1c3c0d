//! Client secret rotation: one compare-and-set write on the sealed secret, the replaced
//! secret kept with its expiry, and later updates keeping both.

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

crate::on_both_backends!(a_client_secret_rotates_once_under_concurrency);
