//! Keycloak's stored password credentials (`secretData` + `credentialData` of a `password`
//! credential): PBKDF2 (`pbkdf2`, `pbkdf2-sha256`, `pbkdf2-sha512`) and Argon2 (`argon2`),
//! read into a self-describing string kept in `password_hash`, checked at login, and
//! written back for an export.
//!
//! PBKDF2 hashes are kept as `$pbkdf2-<prf>$i=<iterations>$<salt>$<value>` with Keycloak's
//! own standard base64 of salt and value; Argon2 hashes become PHC strings, which the
//! `argon2` crate checks like the hashes Latchkey makes.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::Deserialize;
use serde_json::{Value, json};

/// More PBKDF2 iterations than anyone uses (Keycloak's defaults are 27,500 to 600,000):
/// a file asking for more would make each login a denial of service.
const MAX_ITERATIONS: u32 = 10_000_000;
/// Argon2 memory beyond this (KiB) is refused for the same reason.
const MAX_ARGON2_MEMORY: u32 = 1024 * 1024;

/// The project's own Argon2id settings (`crypto::hash_password`): a hash with less work is
/// replaced at the next successful login.
const OWN_MEMORY: u32 = 7 * 1024;
const OWN_PASSES: u32 = 5;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialData {
    hash_iterations: Option<i64>,
    algorithm: Option<String>,
    #[serde(default)]
    additional_parameters: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct SecretData {
    value: Option<String>,
    salt: Option<String>,
}

fn prf(name: &str) -> Option<pbkdf2::Algorithm> {
    match name {
        "pbkdf2" => Some(pbkdf2::PBKDF2_HMAC_SHA1),
        "pbkdf2-sha256" => Some(pbkdf2::PBKDF2_HMAC_SHA256),
        "pbkdf2-sha512" => Some(pbkdf2::PBKDF2_HMAC_SHA512),
        _ => None,
    }
}

/// A parameter of Keycloak's `additionalParameters`: a list of strings (a
/// `MultivaluedHashMap`), or a bare string as some tools write it.
fn param<'a>(params: &'a BTreeMap<String, Value>, name: &str) -> Option<&'a str> {
    match params.get(name)? {
        Value::Array(a) => a.first()?.as_str(),
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn decode(what: &str, b64: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(b64.trim())
        .or_else(|_| STANDARD_NO_PAD.decode(b64.trim()))
        .map_err(|_| format!("{what} is not base64"))
}

/// The stored form of a Keycloak `password` credential, from its `secretData` and
/// `credentialData` (each a JSON document in a string, as Keycloak exports them).
pub fn from_credential(secret_data: &str, credential_data: &str) -> Result<String, String> {
    let cred: CredentialData = serde_json::from_str(credential_data)
        .map_err(|_| "credentialData is not a JSON object".to_string())?;
    let secret: SecretData = serde_json::from_str(secret_data)
        .map_err(|_| "secretData is not a JSON object".to_string())?;
    let value = secret.value.ok_or("secretData has no value")?;
    let salt = secret.salt.unwrap_or_default();
    let algorithm = cred.algorithm.ok_or("credentialData has no algorithm")?;
    let iterations = cred
        .hash_iterations
        .and_then(|i| u32::try_from(i).ok())
        .filter(|i| (1..=MAX_ITERATIONS).contains(i))
        .ok_or_else(|| format!("hashIterations must be between 1 and {MAX_ITERATIONS}"))?;
    let value_bytes = decode("secretData value", &value)?;
    let salt_bytes = decode("secretData salt", &salt)?;
    if value_bytes.is_empty() {
        return Err("secretData value is empty".into());
    }
    if prf(&algorithm).is_some() {
        return Ok(format!(
            "${algorithm}$i={iterations}${}${}",
            STANDARD.encode(&salt_bytes),
            STANDARD.encode(&value_bytes)
        ));
    }
    if algorithm != "argon2" {
        return Err(format!(
            "password hash algorithm {algorithm:?} is not supported: pbkdf2, pbkdf2-sha256, pbkdf2-sha512 or argon2"
        ));
    }
    let p = &cred.additional_parameters;
    let variant = match param(p, "type").unwrap_or("id") {
        "id" => "argon2id",
        "i" => "argon2i",
        "d" => "argon2d",
        other => return Err(format!("argon2 type {other:?} is not id, i or d")),
    };
    let version = match param(p, "version").unwrap_or("1.3") {
        "1.3" => 19,
        "1.0" => 16,
        other => return Err(format!("argon2 version {other:?} is not 1.3 or 1.0")),
    };
    let number = |name: &str, default: u32| -> Result<u32, String> {
        match param(p, name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("argon2 {name} {v:?} is not a positive number")),
        }
    };
    let memory = number("memory", OWN_MEMORY)?;
    let parallelism = number("parallelism", 1)?;
    if memory > MAX_ARGON2_MEMORY {
        return Err(format!("argon2 memory above {MAX_ARGON2_MEMORY} KiB"));
    }
    let hash_length = number("hashLength", 32)?;
    if hash_length as usize != value_bytes.len() {
        return Err("argon2 hashLength does not match the value's length".into());
    }
    let phc = format!(
        "${variant}$v={version}$m={memory},t={iterations},p={parallelism}${}${}",
        STANDARD_NO_PAD.encode(&salt_bytes),
        STANDARD_NO_PAD.encode(&value_bytes)
    );
    argon2::password_hash::PasswordHash::new(&phc)
        .map_err(|e| format!("argon2 parameters are not usable: {e}"))?;
    Ok(phc)
}

/// A stored PBKDF2 hash: `(prf name, iterations, salt, derived key)`.
fn parse_pbkdf2(stored: &str) -> Option<(&str, u32, Vec<u8>, Vec<u8>)> {
    let mut parts = stored.strip_prefix('$')?.split('$');
    let name = parts.next()?;
    prf(name)?;
    let iterations = parts.next()?.strip_prefix("i=")?.parse().ok()?;
    let salt = STANDARD.decode(parts.next()?).ok()?;
    let value = STANDARD.decode(parts.next()?).ok()?;
    Some((name, iterations, salt, value))
}

/// Whether `stored` is one of the PBKDF2 forms `from_credential` writes.
pub fn is_pbkdf2(stored: &str) -> bool {
    parse_pbkdf2(stored).is_some()
}

/// Checks a password against a stored PBKDF2 hash (constant-time comparison inside
/// aws-lc); `false` for anything else.
pub fn verify_pbkdf2(password: &str, stored: &str) -> bool {
    let Some((name, iterations, salt, value)) = parse_pbkdf2(stored) else {
        return false;
    };
    let (Some(alg), Some(iterations)) = (prf(name), NonZeroU32::new(iterations)) else {
        return false;
    };
    pbkdf2::verify(alg, iterations, &salt, password.as_bytes(), &value).is_ok()
}

/// Whether a stored hash should be replaced by the project's Argon2id after a successful
/// login: anything but Argon2id, or Argon2id with less memory or fewer passes.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = argon2::password_hash::PasswordHash::new(stored) else {
        return true;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return true;
    }
    let number = |name: &str| parsed.params.get_decimal(name).unwrap_or(0);
    number("m") < OWN_MEMORY || number("t") < OWN_PASSES
}

/// `(secretData, credentialData)` of a Keycloak `password` credential for a stored hash,
/// as Keycloak exports them; `None` for a value that is no hash Latchkey wrote.
pub fn to_credential(stored: &str) -> Option<(String, String)> {
    if let Some((name, iterations, salt, value)) = parse_pbkdf2(stored) {
        return Some((
            json!({"value": STANDARD.encode(value), "salt": STANDARD.encode(salt), "additionalParameters": {}}).to_string(),
            json!({"hashIterations": iterations, "algorithm": name, "additionalParameters": {}})
                .to_string(),
        ));
    }
    let parsed = argon2::password_hash::PasswordHash::new(stored).ok()?;
    let variant = match parsed.algorithm.as_str() {
        "argon2id" => "id",
        "argon2i" => "i",
        "argon2d" => "d",
        _ => return None,
    };
    let version = match parsed.version {
        Some(16) => "1.0",
        _ => "1.3",
    };
    let number = |name: &str| parsed.params.get_decimal(name).unwrap_or(0);
    let mut salt_buf = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
    let hash = parsed.hash?;
    Some((
        json!({"value": STANDARD.encode(hash.as_bytes()), "salt": STANDARD.encode(salt), "additionalParameters": {}}).to_string(),
        json!({
            "hashIterations": number("t"),
            "algorithm": "argon2",
            "additionalParameters": {
                "hashLength": [hash.len().to_string()],
                "memory": [number("m").to_string()],
                "type": [variant],
                "version": [version],
                "parallelism": [number("p").to_string()],
            }
        })
        .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{hash_password, verify_password};

    // Vectors computed independently with Python:
    //   hashlib.pbkdf2_hmac('sha256', b'correct horse', b'0123456789abcdef', 1000)
    //   hashlib.pbkdf2_hmac('sha512', b'correct horse', b'0123456789abcdef', 1000)
    //   hashlib.pbkdf2_hmac('sha1', b'correct horse', b'0123456789abcdef', 1000, 64)
    const SALT: &str = "MDEyMzQ1Njc4OWFiY2RlZg==";
    const SHA256: &str = "cBg8D2DungRB9k76szThf5ehfyBz991ay6PT8Srwk4M=";
    const SHA512: &str =
        "OM0FAoIqCVK1sWtxDiffVlBejtLa+ks4TP71JiecwuSZCG8iLbnlIEPOMoVX+i2B2wkSxjQ8CRGR9OkNGuIPMQ==";
    const SHA1: &str =
        "aUfE2vx5Q7zgbb0jx49AaNpXUQQVW6pePKN5ab37G40CjX2bMTkDcCwFngZ2OyqCChhH4ZgScMIsuF9Oq2gqbw==";

    fn credential(alg: &str, value: &str, iterations: u32) -> String {
        let secret = json!({"value": value, "salt": SALT, "additionalParameters": {}}).to_string();
        let data =
            json!({"hashIterations": iterations, "algorithm": alg, "additionalParameters": {}})
                .to_string();
        from_credential(&secret, &data).unwrap()
    }

    #[test]
    fn keycloak_pbkdf2_hashes_verify_with_the_original_password() {
        for (alg, value) in [
            ("pbkdf2-sha256", SHA256),
            ("pbkdf2-sha512", SHA512),
            ("pbkdf2", SHA1),
        ] {
            let stored = credential(alg, value, 1000);
            assert!(stored.starts_with(&format!("${alg}$i=1000$")), "{stored}");
            assert!(verify_password("correct horse", &stored), "{alg}");
            assert!(!verify_password("correct horsE", &stored), "{alg}");
            assert!(needs_rehash(&stored));
            // The other iteration count gives another key.
            assert!(!verify_password(
                "correct horse",
                &credential(alg, value, 999)
            ));
            let (secret, data) = to_credential(&stored).unwrap();
            assert_eq!(from_credential(&secret, &data).unwrap(), stored);
        }
    }

    #[test]
    fn keycloak_argon2_hashes_verify_and_round_trip() {
        // Python's cryptography: Argon2id(salt=b'0123456789abcdef', length=32,
        //   iterations=3, lanes=1, memory_cost=4096).derive(b'correct horse')
        let value = "yKu3VvxpnGuioOMoo23yIk+ovTMwsjQzEGrIn1aXYmc=";
        let secret = json!({"value": value, "salt": SALT, "additionalParameters": {}}).to_string();
        let data = json!({"hashIterations": 3, "algorithm": "argon2", "additionalParameters": {
            "hashLength": ["32"], "memory": ["4096"], "type": ["id"], "version": ["1.3"], "parallelism": ["1"]}})
        .to_string();
        let stored = from_credential(&secret, &data).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=4096,t=3,p=1$"),
            "{stored}"
        );
        assert!(verify_password("correct horse", &stored));
        assert!(!verify_password("wrong", &stored));
        assert!(
            needs_rehash(&stored),
            "less memory and fewer passes than ours"
        );
        let (s, d) = to_credential(&stored).unwrap();
        assert_eq!(from_credential(&s, &d).unwrap(), stored);
        let own = hash_password("pw").unwrap();
        assert!(!needs_rehash(&own));
        let (s, d) = to_credential(&own).unwrap();
        assert_eq!(from_credential(&s, &d).unwrap(), own);
    }

    #[test]
    fn unusable_credentials_are_refused_with_the_reason() {
        let secret = json!({"value": SHA256, "salt": SALT}).to_string();
        let data = |alg: &str, it: i64| json!({"hashIterations": it, "algorithm": alg}).to_string();
        for (secret, data, why) in [
            (secret.clone(), data("bcrypt", 10), "not supported"),
            (secret.clone(), data("pbkdf2-sha256", 0), "hashIterations"),
            (
                secret.clone(),
                data("pbkdf2-sha256", 100_000_000),
                "hashIterations",
            ),
            ("{}".to_string(), data("pbkdf2-sha256", 10), "no value"),
            (
                json!({"value": "%%%"}).to_string(),
                data("pbkdf2", 10),
                "base64",
            ),
            ("nope".to_string(), data("pbkdf2", 10), "secretData"),
        ] {
            let e = from_credential(&secret, &data).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }
}
