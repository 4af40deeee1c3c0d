//! Key providers (`rsa-generated`, `ecdsa-generated` components): checking a provider's
//! config and generating its key, sealed with the master key under the component's id as
//! its `kid`. Updating one changes which key signs and which verify; deleting one
//! deletes its key (both through the components store methods).

use latchkey_core::key_providers::{self, KeySettings};
use latchkey_core::keys;
use latchkey_core::realm_setup::key_context;
use latchkey_core::store::{ComponentRecord, Guarded, KeyRecord, StoreError};

use crate::error::AdminError;
use crate::state::{SharedState, now_millis};

/// What a `ComponentRepresentation` sent for a key provider.
pub(super) struct KeyProviderIn {
    pub name: Option<String>,
    pub provider_id: Option<String>,
    pub parent_id: Option<String>,
    pub config: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

/// Fills a key provider in from `input` and checks it (400 `errorMessage`). A provider's
/// kind and key size stay what its key was generated with: another key is another
/// provider.
pub(super) fn fill(
    record: &mut ComponentRecord,
    input: KeyProviderIn,
) -> Result<KeySettings, AdminError> {
    let before = key_providers::settings(record);
    if let Some(parent) = input.parent_id.filter(|p| *p != record.realm_id) {
        return Err(AdminError::Invalid(format!(
            "parentId {parent:?} is not this realm"
        )));
    }
    let provider_id = input
        .provider_id
        .unwrap_or_else(|| record.provider_id.clone());
    if before.is_some() && provider_id != record.provider_id {
        return Err(AdminError::Invalid(
            "A key provider's providerId cannot change: create another provider".into(),
        ));
    }
    record.provider_type = key_providers::KEY_PROVIDER_TYPE.into();
    record.provider_id = provider_id.clone();
    record.sub_type = None;
    if let Some(name) = input.name.filter(|n| !n.trim().is_empty()) {
        record.name = name;
    } else if record.name.is_empty() {
        record.name = provider_id;
    }
    if let Some(config) = input.config {
        record.config = config;
    }
    let settings = key_providers::check(record).map_err(AdminError::Invalid)?;
    if before.is_some_and(|b| b.rsa_bits != settings.rsa_bits) {
        return Err(AdminError::Invalid(
            "A key provider's key size cannot change: create another provider".into(),
        ));
    }
    Ok(settings)
}

/// Refuses a change that would leave one of the realm's algorithms without an active,
/// enabled key (token requests would fail): `changed` replaces the component of its id,
/// `None` deletes the component `id`. Checked here against the list the admin read, for a
/// message naming the algorithm, and again by the store under the realm's lock
/// ([`last_signer`] names that refusal).
pub(super) fn keeps_a_signer(
    all: &[ComponentRecord],
    id: &str,
    changed: Option<&ComponentRecord>,
) -> Result<(), AdminError> {
    match key_providers::orphaned_alg(all, id, changed) {
        Some(alg) => Err(no_signer(alg.as_str())),
        None => Ok(()),
    }
}

fn no_signer(alg: &str) -> AdminError {
    AdminError::Invalid(format!(
        "The realm would have no active {alg} key: add or activate another key provider first"
    ))
}

/// The store's refusal of a change that a concurrent one made the last signer's removal:
/// the same 400 as the check before it, since the algorithm is not known here.
pub(super) fn last_signer(e: StoreError) -> AdminError {
    match e {
        StoreError::Precondition {
            failed: Guarded::LastSigningKey,
        } => no_signer("signing"),
        e => e.into(),
    }
}

/// Generates the provider's key and stores both in one transaction.
pub(super) async fn create(
    state: &SharedState,
    record: &ComponentRecord,
    settings: KeySettings,
) -> Result<(), AdminError> {
    let g =
        tokio::task::spawn_blocking(move || keys::generate_sized(settings.alg, settings.rsa_bits))
            .await
            .map_err(AdminError::internal)?
            .map_err(AdminError::internal)?;
    let key = KeyRecord {
        private_sealed: state.sealer.seal(&g.pkcs8, &key_context(&record.id)),
        kid: record.id.clone(),
        realm_id: record.realm_id.clone(),
        alg: settings.alg.as_str().into(),
        public_jwk: with_kid(g.public_jwk, &record.id),
        created_at: now_millis(),
    };
    state.store.create_key_provider(record, &key).await?;
    Ok(())
}

/// The JWK under the provider's id as its `kid`.
fn with_kid(mut jwk: serde_json::Value, kid: &str) -> serde_json::Value {
    jwk["kid"] = kid.into();
    jwk
}
