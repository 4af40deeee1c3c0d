//! Migration 11: keys stored before key providers existed become `rsa-generated` and
//! `ecdsa-generated` components under their kids, with Keycloak's defaults.

use latchkey_core::key_providers::{self, KEY_PROVIDER_TYPE};
use latchkey_core::keys::Alg;
use latchkey_core::store::*;

use crate::fixtures::*;
use crate::support::TestStore;

async fn existing_keys_become_providers(app: &TestStore) {
    let s = app.store.as_ref();
    s.create_realm(bundle("acme")).await.unwrap();
    let realm = s.realm_by_name("acme").await.unwrap().unwrap();
    let keys = s.realm_keys(&realm.id).await.unwrap();
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    for sql in [
        "DELETE FROM components WHERE provider_type = 'org.keycloak.keys.KeyProvider'",
        "DELETE FROM latchkey_migrations WHERE version = 11",
    ] {
        sqlx::query(sql).execute(&raw).await.unwrap();
    }
    raw.close().await;
    let again = latchkey_store::SqlStore::connect(&app.db.url)
        .await
        .unwrap();
    let components = again.list_components(&realm.id).await.unwrap();
    let providers: Vec<_> = components
        .iter()
        .filter(|c| c.provider_type == KEY_PROVIDER_TYPE)
        .collect();
    assert_eq!(providers.len(), keys.len());
    for k in &keys {
        let c = providers
            .iter()
            .find(|c| c.id == k.kid)
            .expect("a provider per key");
        assert_eq!(c.parent_id, realm.id);
        let settings = key_providers::settings(c).expect("a valid provider");
        assert_eq!(settings.alg, Alg::parse(&k.alg).unwrap());
        assert_eq!((settings.priority, settings.status()), (100, "ACTIVE"));
        assert_eq!(
            **c,
            key_providers::generated(&realm.id, &k.kid, settings.alg)
        );
    }
    again.close().await;
}

crate::on_both_backends!(existing_keys_become_providers,);
