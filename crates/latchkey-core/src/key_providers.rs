//! Key providers: each realm signing key is a Keycloak component of type
//! `org.keycloak.keys.KeyProvider` (`rsa-generated`, `ecdsa-generated`) whose id is the
//! key's `kid`, with Keycloak's config names (`priority`, `active`, `enabled`, `keySize`,
//! `algorithm`, `ecdsaEllipticCurveKey`) as string lists.

use std::collections::BTreeMap;

use crate::keys::Alg;
use crate::store::ComponentRecord;

pub const KEY_PROVIDER_TYPE: &str = "org.keycloak.keys.KeyProvider";
pub const RSA_GENERATED: &str = "rsa-generated";
pub const ECDSA_GENERATED: &str = "ecdsa-generated";

/// Keycloak's priority for the generated providers a new realm starts with.
pub const DEFAULT_PRIORITY: i64 = 100;

/// What a provider's config decides about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySettings {
    pub alg: Alg,
    /// RSA modulus size in bits (unused for EC).
    pub rsa_bits: usize,
    pub priority: i64,
    /// Passive keys (`active` false) verify but never sign.
    pub active: bool,
    /// Disabled keys (`enabled` false) neither sign nor verify.
    pub enabled: bool,
}

impl KeySettings {
    /// Keycloak's `status` of the key: `ACTIVE`, `PASSIVE` or `DISABLED`.
    pub fn status(&self) -> &'static str {
        match (self.enabled, self.active) {
            (false, _) => "DISABLED",
            (true, true) => "ACTIVE",
            (true, false) => "PASSIVE",
        }
    }
}

fn one<'a>(config: &'a BTreeMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    config.get(name).and_then(|v| v.first()).map(String::as_str)
}

fn flag(config: &BTreeMap<String, Vec<String>>, name: &str) -> Result<bool, String> {
    match one(config, name) {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!(
            "'{name}' should be 'true' or 'false', not {other:?}"
        )),
    }
}

/// Checks a key provider's config, fills in Keycloak's defaults (priority 0, active,
/// enabled, RSA-2048 RS256, P-256) and returns what it decides. The messages are the
/// `errorMessage` of a 400, as Keycloak's component validation answers.
pub fn check(c: &mut ComponentRecord) -> Result<KeySettings, String> {
    let config = &mut c.config;
    let priority = match one(config, "priority") {
        None => 0,
        Some(p) => p
            .trim()
            .parse::<i64>()
            .map_err(|_| "'Priority' should be a number".to_string())?,
    };
    let active = flag(config, "active")?;
    let enabled = flag(config, "enabled")?;
    let (alg, rsa_bits) = match c.provider_id.as_str() {
        RSA_GENERATED => {
            let bits = match one(config, "keySize").unwrap_or("2048") {
                "2048" => 2048,
                "3072" => 3072,
                "4096" => 4096,
                _ => return Err("'Key size' should be 2048, 3072 or 4096".into()),
            };
            match one(config, "algorithm").unwrap_or("RS256") {
                "RS256" => {}
                other => return Err(format!("'Algorithm' {other:?} is not supported: RS256")),
            }
            config.insert("keySize".into(), vec![bits.to_string()]);
            config.insert("algorithm".into(), vec!["RS256".into()]);
            (Alg::Rs256, bits)
        }
        ECDSA_GENERATED => {
            match one(config, "ecdsaEllipticCurveKey").unwrap_or("P-256") {
                "P-256" => {}
                other => {
                    return Err(format!(
                        "'Elliptic Curve' {other:?} is not supported: P-256"
                    ));
                }
            }
            config.insert("ecdsaEllipticCurveKey".into(), vec!["P-256".into()]);
            (Alg::Es256, 0)
        }
        other => {
            return Err(format!(
                "Unknown key provider {other:?}: {RSA_GENERATED} or {ECDSA_GENERATED}"
            ));
        }
    };
    config.insert("priority".into(), vec![priority.to_string()]);
    config.insert("active".into(), vec![active.to_string()]);
    config.insert("enabled".into(), vec![enabled.to_string()]);
    Ok(KeySettings {
        alg,
        rsa_bits,
        priority,
        active,
        enabled,
    })
}

/// A stored provider's settings; `None` for a component that is not a valid key provider.
pub fn settings(c: &ComponentRecord) -> Option<KeySettings> {
    if c.provider_type != KEY_PROVIDER_TYPE {
        return None;
    }
    check(&mut c.clone()).ok()
}

/// The algorithm a change to a realm's components would leave without an active, enabled
/// key (its token requests would fail), if any: `changed` replaces the component `id`,
/// `None` deletes it. `all` is the realm's components as they are before the change; the
/// store asks this again inside the change's transaction, so two changes that each keep a
/// signer cannot together remove the last one.
pub fn orphaned_alg(
    all: &[ComponentRecord],
    id: &str,
    changed: Option<&ComponentRecord>,
) -> Option<Alg> {
    let before: Vec<KeySettings> = all.iter().filter_map(settings).collect();
    let after: Vec<KeySettings> = all
        .iter()
        .filter(|c| c.id != id)
        .chain(changed)
        .filter_map(settings)
        .collect();
    let signs =
        |list: &[KeySettings], alg| list.iter().any(|s| s.alg == alg && s.active && s.enabled);
    Alg::ALL
        .into_iter()
        .find(|alg| signs(&before, *alg) && !signs(&after, *alg))
}

/// The provider of a key generated with a new realm: Keycloak's defaults.
pub fn generated(realm_id: &str, kid: &str, alg: Alg) -> ComponentRecord {
    let (provider_id, extra) = match alg {
        Alg::Rs256 => (
            RSA_GENERATED,
            [("keySize", "2048"), ("algorithm", "RS256")].as_slice(),
        ),
        Alg::Es256 => (
            ECDSA_GENERATED,
            [("ecdsaEllipticCurveKey", "P-256")].as_slice(),
        ),
    };
    let mut config: BTreeMap<String, Vec<String>> = [
        ("priority", DEFAULT_PRIORITY.to_string()),
        ("active", "true".into()),
        ("enabled", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), vec![v]))
    .collect();
    for (k, v) in extra {
        config.insert(k.to_string(), vec![v.to_string()]);
    }
    ComponentRecord {
        id: kid.into(),
        realm_id: realm_id.into(),
        parent_id: realm_id.into(),
        provider_type: KEY_PROVIDER_TYPE.into(),
        provider_id: provider_id.into(),
        sub_type: None,
        name: provider_id.into(),
        config,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(id: &str, config: &[(&str, &str)]) -> ComponentRecord {
        let mut c = generated("r", "k", Alg::Rs256);
        c.provider_id = id.into();
        c.config = config
            .iter()
            .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
            .collect();
        c
    }

    #[test]
    fn configs_are_checked_and_defaulted() {
        let ok = check(&mut provider(RSA_GENERATED, &[])).unwrap();
        assert_eq!((ok.alg, ok.rsa_bits, ok.priority), (Alg::Rs256, 2048, 0));
        assert!(ok.active && ok.enabled);
        let big = check(&mut provider(
            RSA_GENERATED,
            &[("keySize", "4096"), ("priority", "200")],
        ));
        assert_eq!(big.map(|s| (s.rsa_bits, s.priority)), Ok((4096, 200)));
        let ec = check(&mut provider(ECDSA_GENERATED, &[("active", "false")])).unwrap();
        assert_eq!((ec.alg, ec.status()), (Alg::Es256, "PASSIVE"));
        for (id, config) in [
            (RSA_GENERATED, [("keySize", "1024")]),
            (RSA_GENERATED, [("algorithm", "PS256")]),
            (ECDSA_GENERATED, [("ecdsaEllipticCurveKey", "P-384")]),
            (RSA_GENERATED, [("priority", "high")]),
            (RSA_GENERATED, [("enabled", "yes")]),
            ("hmac-generated", [("priority", "1")]),
        ] {
            assert!(
                check(&mut provider(id, &config)).is_err(),
                "{id} {config:?}"
            );
        }
    }

    #[test]
    fn generated_providers_read_back() {
        let s = settings(&generated("r", "k", Alg::Es256)).unwrap();
        assert_eq!((s.alg, s.priority, s.status()), (Alg::Es256, 100, "ACTIVE"));
    }
}
