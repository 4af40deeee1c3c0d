//! The device authorization grant's rules (RFC 8628) as Keycloak keeps them: the client
//! attribute that enables it, the lifespan and polling interval a flow gets, and the user
//! code (its alphabet, how it is shown, how what a user types is read back).

use crate::crypto::random_bytes;
use crate::rep::{ClientRep, RealmRep};

/// RFC 8628 §3.4: the grant type a device polls the token endpoint with.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Keycloak's client attribute behind the "OAuth 2.0 Device Authorization Grant" switch.
pub const ENABLED_ATTRIBUTE: &str = "oauth2.device.authorization.grant.enabled";
/// Keycloak's per-client overrides of the realm's `oauth2DeviceCodeLifespan` and
/// `oauth2DevicePollingInterval` (seconds).
pub const LIFESPAN_ATTRIBUTE: &str = "oauth2.device.code.lifespan";
pub const INTERVAL_ATTRIBUTE: &str = "oauth2.device.polling.interval";
/// Keycloak's realm defaults.
pub const DEFAULT_LIFESPAN_SECS: i64 = 600;
pub const DEFAULT_INTERVAL_SECS: i64 = 5;

/// RFC 8628 §6.1: consonants only (no vowels, so no words), upper case, none that looks
/// like another; 20 letters, 8 of them: 20^8 ≈ 2^34.6 codes, the entropy §6.1 asks for.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
pub const USER_CODE_LEN: usize = 8;

/// Whether a client may use the grant (Keycloak: the attribute is `"true"`).
pub fn enabled(client: &ClientRep) -> bool {
    attribute(client, ENABLED_ATTRIBUTE).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn attribute<'a>(client: &'a ClientRep, name: &str) -> Option<&'a str> {
    client
        .attributes
        .as_ref()
        .and_then(|a| a.get(name))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The client's number in `name`, else the realm's value, else the default; a value
/// below `min` counts as absent.
fn seconds(client: &ClientRep, name: &str, realm: Option<i64>, default: i64, min: i64) -> i64 {
    attribute(client, name)
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|n| *n >= min)
        .or(realm.filter(|n| *n >= min))
        .unwrap_or(default)
}

/// How long a device code lives and how often its device may poll, in seconds: the
/// client's attributes over the realm's settings over Keycloak's defaults. Bounded, so a
/// misconfigured value cannot keep a flow's state for years. An interval of 0 lets the
/// device poll at will (no `slow_down`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub lifespan: i64,
    pub interval: i64,
}

impl Timing {
    pub fn of(realm: &RealmRep, client: &ClientRep) -> Timing {
        let day = 86_400;
        Timing {
            lifespan: seconds(
                client,
                LIFESPAN_ATTRIBUTE,
                realm.oauth2_device_code_lifespan,
                DEFAULT_LIFESPAN_SECS,
                1,
            )
            .min(day),
            interval: seconds(
                client,
                INTERVAL_ATTRIBUTE,
                realm.oauth2_device_polling_interval,
                DEFAULT_INTERVAL_SECS,
                0,
            )
            .min(3600),
        }
    }
}

/// A new user code, 8 letters of the alphabet (each drawn without modulo bias).
pub fn new_user_code() -> String {
    let mut out = String::with_capacity(USER_CODE_LEN);
    while out.len() < USER_CODE_LEN {
        for b in random_bytes::<16>() {
            // 240 = 12 × 20: bytes above it are dropped so every letter is equally likely.
            if b < 240 && out.len() < USER_CODE_LEN {
                out.push(ALPHABET[usize::from(b % 20)] as char);
            }
        }
    }
    out
}

/// A user code as shown: `XXXX-XXXX` (RFC 8628 §6.1, Keycloak's display form).
pub fn display(code: &str) -> String {
    match code.get(..4).zip(code.get(4..)) {
        Some((a, b)) if code.len() == USER_CODE_LEN => format!("{a}-{b}"),
        _ => code.to_string(),
    }
}

/// What a user typed, read as a user code: case and the dash (and spaces) ignored
/// (RFC 8628 §6.1). `None` when it cannot be one, so a malformed entry costs no lookup.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rep::StringMap;

    #[test]
    fn user_codes_are_eight_letters_of_the_alphabet_shown_with_a_dash() {
        for _ in 0..200 {
            let code = new_user_code();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
            let shown = display(&code);
            assert_eq!(shown.len(), 9);
            assert_eq!(&shown[4..5], "-");
            assert_eq!(normalize(&shown).as_deref(), Some(code.as_str()));
        }
    }

    #[test]
    fn typed_codes_ignore_case_and_dashes_and_refuse_anything_else() {
        for (typed, expected) in [
            ("BCDF-GHJK", Some("BCDFGHJK")),
            ("bcdfghjk", Some("BCDFGHJK")),
            ("bcdf ghjk", Some("BCDFGHJK")),
            ("BCDF-GHJ", None),
            ("BCDF-GHJKL", None),
            ("ABCD-EFGH", None), // vowels are not in the alphabet
            ("BCDF-GHJ1", None),
            ("", None),
            ("ＢCDF-GHJK", None), // not ASCII
        ] {
            assert_eq!(normalize(typed).as_deref(), expected, "{typed:?}");
        }
    }

    #[test]
    fn timing_prefers_the_client_then_the_realm_then_keycloak() {
        let mut realm = RealmRep::default();
        let mut client = ClientRep::default();
        assert_eq!(
            Timing::of(&realm, &client),
            Timing {
                lifespan: 600,
                interval: 5
            }
        );
        realm.oauth2_device_code_lifespan = Some(300);
        realm.oauth2_device_polling_interval = Some(2);
        assert_eq!(Timing::of(&realm, &client).lifespan, 300);
        let attrs: StringMap = [
            (LIFESPAN_ATTRIBUTE.to_string(), "30".to_string()),
            (INTERVAL_ATTRIBUTE.to_string(), "-1".to_string()),
        ]
        .into();
        client.attributes = Some(attrs);
        assert_eq!(
            Timing::of(&realm, &client),
            Timing {
                lifespan: 30,
                interval: 2
            }
        );
        realm.oauth2_device_code_lifespan = Some(i64::MAX);
        client.attributes = Some([(INTERVAL_ATTRIBUTE.to_string(), "0".to_string())].into());
        assert_eq!(
            Timing::of(&realm, &client),
            Timing {
                lifespan: 86_400,
                interval: 0
            }
        );
    }

    #[test]
    fn only_the_attribute_true_enables_the_grant() {
        let mut client = ClientRep::default();
        assert!(!enabled(&client));
        for (v, on) in [
            ("true", true),
            ("TRUE", true),
            ("false", false),
            ("", false),
        ] {
            client.attributes = Some([(ENABLED_ATTRIBUTE.to_string(), v.to_string())].into());
            assert_eq!(enabled(&client), on, "{v:?}");
        }
    }
}
