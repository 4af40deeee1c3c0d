//! A realm file's `components`, keyed by provider type: registration policies (replacing
//! the defaults when the file has any) and key providers whose private key Latchkey can
//! use (`rsa-generated`/`rsa` RS256 `privateKey`, `ecdsa-generated`/`ecdsa` P-256
//! `ecdsaPrivateKey`, PKCS#8 as Keycloak writes them), sealed like every key. Other key
//! providers and component types are reported; an algorithm without an imported key keeps
//! the key `realm_setup` generated.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::read::keep_id;
use super::report::{ImportError, Report};
use crate::Millis;
use crate::crypto::SecretBox;
use crate::key_providers::{self, ECDSA_GENERATED, KEY_PROVIDER_TYPE, RSA_GENERATED};
use crate::keys::{Alg, SigningKey};
use crate::policies::{self, ANONYMOUS, AUTHENTICATED, POLICY_TYPE, Provider};
use crate::realm_setup::key_context;
use crate::rep::MultiMap;
use crate::store::{ComponentRecord, KeyRecord, RealmBundle};

/// Config members that hold key material: never kept in a component's config (the key is
/// sealed in its own row).
pub const KEY_MATERIAL: &[&str] = &[
    "privateKey",
    "certificate",
    "ecdsaPrivateKey",
    "ecdsaPublicKey",
    "secret",
    "kid",
];

struct Component {
    id: String,
    name: String,
    provider_id: String,
    sub_type: Option<String>,
    config: MultiMap,
}

fn read(v: &Value, at: &str) -> Result<Component, ImportError> {
    let text = |field: &str| v.get(field).and_then(Value::as_str).map(str::to_string);
    let provider_id =
        text("providerId").ok_or_else(|| ImportError::new(at, "providerId is missing"))?;
    let config: MultiMap = match v.get("config") {
        None | Some(Value::Null) => MultiMap::new(),
        Some(c) => serde_json::from_value(c.clone())
            .map_err(|_| ImportError::new(at, "config must map names to lists of strings"))?,
    };
    Ok(Component {
        id: keep_id(text("id").as_deref(), at)?,
        name: text("name").unwrap_or_else(|| provider_id.clone()),
        provider_id,
        sub_type: text("subType"),
        config,
    })
}

pub(super) fn components(
    doc: &Value,
    realm_id: &str,
    sealer: &SecretBox,
    now: Millis,
    b: &mut RealmBundle,
    report: &mut Report,
) -> Result<(), ImportError> {
    let Some(all) = doc.get("components").filter(|v| !v.is_null()) else {
        report.policies = count_policies(b);
        return Ok(());
    };
    let all = all.as_object().ok_or_else(|| {
        ImportError::new("components", "must be an object keyed by provider type")
    })?;
    for (kind, list) in all {
        let list = list
            .as_array()
            .ok_or_else(|| ImportError::new(format!("components.{kind}"), "must be a list"))?;
        match kind.as_str() {
            POLICY_TYPE => registration_policies(list, realm_id, b, report)?,
            KEY_PROVIDER_TYPE => key_providers(list, realm_id, sealer, now, b, report)?,
            _ => {
                for v in list {
                    // Keycloak writes some components (the user profile) without a name.
                    let name = ["name", "providerId", "id"]
                        .iter()
                        .find_map(|k| v.get(*k).and_then(Value::as_str))
                        .unwrap_or("unnamed");
                    report.skip(&format!("components.{kind}"), name);
                }
            }
        }
    }
    report.policies = count_policies(b);
    Ok(())
}

fn count_policies(b: &RealmBundle) -> usize {
    b.components
        .iter()
        .filter(|c| c.provider_type == POLICY_TYPE)
        .count()
}

fn registration_policies(
    list: &[Value],
    realm_id: &str,
    b: &mut RealmBundle,
    report: &mut Report,
) -> Result<(), ImportError> {
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let at = format!("components.{POLICY_TYPE}[{i}]");
        let c = read(v, &at)?;
        let at = format!("{at} {:?}", c.name);
        if Provider::parse(&c.provider_id).is_none() {
            report.skip(
                "registration policies (unknown provider)",
                format!("{} ({})", c.name, c.provider_id),
            );
            continue;
        }
        if !matches!(c.sub_type.as_deref(), Some(ANONYMOUS | AUTHENTICATED)) {
            return Err(ImportError::new(
                &at,
                "subType must be anonymous or authenticated",
            ));
        }
        let record = ComponentRecord {
            id: c.id,
            realm_id: realm_id.to_string(),
            parent_id: realm_id.to_string(),
            provider_type: POLICY_TYPE.into(),
            provider_id: c.provider_id.clone(),
            sub_type: c.sub_type,
            name: c.name,
            config: c.config,
        };
        if let Some(p) = Provider::parse(&c.provider_id) {
            policies::validate_config(p, &record).map_err(|e| ImportError::new(&at, e))?;
        }
        out.push(record);
    }
    b.components.retain(|c| c.provider_type != POLICY_TYPE);
    b.components.extend(out);
    Ok(())
}

/// A private key as Keycloak stores it: base64 of the DER, or PEM.
fn der(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    STANDARD.decode(body.trim()).ok()
}

fn key_providers(
    list: &[Value],
    realm_id: &str,
    sealer: &SecretBox,
    now: Millis,
    b: &mut RealmBundle,
    report: &mut Report,
) -> Result<(), ImportError> {
    let mut imported = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let at = format!("components.{KEY_PROVIDER_TYPE}[{i}]");
        let c = read(v, &at)?;
        let label = format!("{} ({})", c.name, c.provider_id);
        let one = |k: &str| c.config.get(k).and_then(|v| v.first()).map(String::as_str);
        let (alg, provider, material) = match c.provider_id.as_str() {
            "rsa-generated" | "rsa" => (Alg::Rs256, RSA_GENERATED, one("privateKey")),
            "ecdsa-generated" | "ecdsa" => (Alg::Es256, ECDSA_GENERATED, one("ecdsaPrivateKey")),
            _ => {
                report.skip("key providers (not supported, generated keys used)", label);
                continue;
            }
        };
        let Some(pkcs8) = material.and_then(der) else {
            report.skip(
                "key providers (no private key in the file, generated keys used)",
                label,
            );
            continue;
        };
        let mut config = c.config.clone();
        config.retain(|k, _| !KEY_MATERIAL.contains(&k.as_str()));
        let mut record = ComponentRecord {
            id: c.id.clone(),
            realm_id: realm_id.to_string(),
            parent_id: realm_id.to_string(),
            provider_type: KEY_PROVIDER_TYPE.into(),
            provider_id: provider.into(),
            sub_type: None,
            name: c.name.clone(),
            config,
        };
        // Only RS256 and P-256 sign here; other settings are Keycloak's to keep.
        let settings = match key_providers::check(&mut record) {
            Ok(s) if s.alg == alg => s,
            _ => {
                report.skip(
                    "key providers (algorithm or curve not supported, generated keys used)",
                    label,
                );
                continue;
            }
        };
        let Ok(key) = SigningKey::from_pkcs8(c.id.clone(), settings.alg, &pkcs8) else {
            report.skip(
                "key providers (private key not readable, generated keys used)",
                label,
            );
            continue;
        };
        imported.push((
            record,
            KeyRecord {
                kid: c.id.clone(),
                realm_id: realm_id.to_string(),
                alg: alg.as_str().into(),
                private_sealed: sealer.seal(&pkcs8, &key_context(&c.id)),
                public_jwk: key.public_jwk(),
                created_at: now,
            },
        ));
    }
    // An algorithm the file brings a key for loses the generated one.
    for (_, key) in &imported {
        let alg = key.alg.clone();
        let generated: Vec<String> = b
            .keys
            .iter()
            .filter(|k| k.alg == alg && !imported.iter().any(|(_, i)| i.kid == k.kid))
            .map(|k| k.kid.clone())
            .collect();
        b.keys.retain(|k| !generated.contains(&k.kid));
        b.components.retain(|c| !generated.contains(&c.id));
    }
    report.imported_keys = imported.len();
    for (component, key) in imported {
        if b.keys.iter().any(|k| k.kid == key.kid) {
            return Err(ImportError::new(
                format!("components.{KEY_PROVIDER_TYPE} {:?}", component.name),
                "id: a key provider with this id comes twice",
            ));
        }
        b.components.push(component);
        b.keys.push(key);
    }
    Ok(())
}
