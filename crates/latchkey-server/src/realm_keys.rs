//! A realm's keys as this node uses them, built from its key rows and its key provider
//! components: per algorithm the signing key is the active, enabled key of highest
//! priority; every enabled key (active or passive) is published and verifies; a disabled
//! key neither signs nor verifies.

use std::collections::HashMap;
use std::sync::Arc;

use latchkey_core::crypto::SecretBox;
use latchkey_core::key_providers::{self, KeySettings};
use latchkey_core::keys::{Alg, SigningKey};
use latchkey_core::realm_setup::key_context;
use latchkey_core::store::{ComponentRecord, KeyRecord, Shared};
use serde_json::Value;

/// One key with what its provider says about it.
pub struct KeyEntry {
    pub kid: String,
    pub jwk: Value,
    /// The provider component's id and type (`rsa-generated`, `ecdsa-generated`).
    pub provider: Option<(String, String)>,
    pub settings: KeySettings,
}

/// A realm's keys, parsed once and cached until its components change (any node's change
/// to a key provider invalidates the store's components list everywhere).
pub struct RealmKeys {
    pub signing: HashMap<&'static str, Arc<SigningKey>>,
    /// The enabled keys' public JWKs, as `/protocol/openid-connect/certs` serves them.
    pub jwks: Vec<Value>,
    /// Every key, disabled ones too, as the keys API lists them.
    pub entries: Vec<KeyEntry>,
    /// The components list these keys were built from.
    pub(crate) components: Shared<ComponentRecord>,
}

impl RealmKeys {
    pub fn signer(&self, alg: &str) -> Option<&Arc<SigningKey>> {
        self.signing.get(alg)
    }

    pub(crate) fn build(
        sealer: &SecretBox,
        records: Vec<KeyRecord>,
        components: Shared<ComponentRecord>,
    ) -> Result<RealmKeys, String> {
        let mut best: HashMap<&'static str, (i64, Arc<SigningKey>)> = HashMap::new();
        let mut jwks = Vec::new();
        let mut entries = Vec::new();
        for r in records {
            let alg = Alg::parse(&r.alg).ok_or_else(|| format!("unknown key alg {}", r.alg))?;
            let component = components.iter().find(|c| c.id == r.kid);
            let settings = component
                .and_then(key_providers::settings)
                // A key whose provider this list does not have yet (written after the
                // list was read) waits at the lowest priority until the next list.
                .unwrap_or(KeySettings {
                    alg,
                    rsa_bits: 0,
                    priority: i64::MIN,
                    active: true,
                    enabled: true,
                });
            if settings.enabled {
                jwks.push(r.public_jwk.clone());
            }
            // Keys come oldest first: of equal priorities the newest signs.
            if settings.enabled
                && settings.active
                && best
                    .get(alg.as_str())
                    .is_none_or(|(p, _)| settings.priority >= *p)
            {
                let pkcs8 = sealer
                    .open(&r.private_sealed, &key_context(&r.kid))
                    .map_err(|e| format!("key {}: {e}", r.kid))?;
                let key = SigningKey::from_pkcs8(r.kid.clone(), alg, &pkcs8)
                    .map_err(|e| e.to_string())?;
                best.insert(alg.as_str(), (settings.priority, Arc::new(key)));
            }
            entries.push(KeyEntry {
                kid: r.kid,
                jwk: r.public_jwk,
                provider: component.map(|c| (c.id.clone(), c.provider_id.clone())),
                settings,
            });
        }
        Ok(RealmKeys {
            signing: best.into_iter().map(|(alg, (_, k))| (alg, k)).collect(),
            jwks,
            entries,
            components,
        })
    }
}
