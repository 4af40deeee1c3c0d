//! Realm signing keys: RS256 (RSA-2048) and ES256 (P-256), each with a `kid`, kept as
//! PKCS#8 (sealed at rest by the caller) and published as JWKs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The JWS algorithms a realm can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::Rs256, Alg::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("stored key material is not a valid {0} PKCS#8 key")]
    Parse(&'static str),
    #[error("signing failed")]
    Sign,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private signing key, ready to sign.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    pair: Pair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A freshly generated key: its PKCS#8 document (to be sealed and stored) and public JWK.
pub struct GeneratedKey {
    pub kid: String,
    pub alg: Alg,
    pub pkcs8: Vec<u8>,
    pub public_jwk: Value,
}

pub fn generate(alg: Alg) -> Result<GeneratedKey, KeyError> {
    generate_sized(alg, 2048)
}

/// `generate` with an RSA modulus of `rsa_bits` (2048, 3072 or 4096; ignored for EC).
pub fn generate_sized(alg: Alg, rsa_bits: usize) -> Result<GeneratedKey, KeyError> {
    let size = match rsa_bits {
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => KeySize::Rsa2048,
    };
    let pkcs8 = match alg {
        Alg::Rs256 => RsaKeyPair::generate(size)
            .and_then(|k| k.as_der())
            .map_err(|_| KeyError::Generate)?
            .as_ref()
            .to_vec(),
        Alg::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map_err(|_| KeyError::Generate)?
            .as_ref()
            .to_vec(),
    };
    let kid = crate::crypto::random_token::<16>();
    let key = SigningKey::from_pkcs8(kid.clone(), alg, &pkcs8)?;
    Ok(GeneratedKey {
        kid,
        alg,
        public_jwk: key.public_jwk(),
        pkcs8,
    })
}

/// `generate`, with RSA's prime search run twice side by side and the first key kept: its
/// time varies several-fold with the primes it happens to find, and the first of two
/// searches cuts the slow tail that decides a first start's time to ready. The other
/// search finishes on its own thread and is dropped.
pub fn generate_quickly(alg: Alg) -> Result<GeneratedKey, KeyError> {
    if alg != Alg::Rs256 {
        return generate(alg);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..2 {
        let tx = tx.clone();
        std::thread::spawn(move || {
            // The receiver may be gone once the other search won.
            let _ = tx.send(generate(alg));
        });
    }
    drop(tx);
    let mut last = Err(KeyError::Generate);
    for result in rx.iter() {
        if result.is_ok() {
            return result;
        }
        last = result;
    }
    last
}

impl SigningKey {
    pub fn from_pkcs8(kid: String, alg: Alg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair = match alg {
            Alg::Rs256 => {
                Pair::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::Parse("RSA"))?)
            }
            Alg::Es256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|_| KeyError::Parse("EC P-256"))?,
            ),
        };
        Ok(Self { kid, alg, pair })
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
            Pair::Ec(k) => Ok(k
                .sign(&rng, message)
                .map_err(|_| KeyError::Sign)?
                .as_ref()
                .to_vec()),
        }
    }

    /// The public half as a JWK (RFC 7517), as `/protocol/openid-connect/certs` serves it.
    pub fn public_jwk(&self) -> Value {
        match &self.pair {
            Pair::Rsa(k) => {
                let p = k.public_key();
                json!({
                    "kid": self.kid, "kty": "RSA", "alg": "RS256", "use": "sig",
                    "n": URL_SAFE_NO_PAD.encode(p.modulus().big_endian_without_leading_zero()),
                    "e": URL_SAFE_NO_PAD.encode(p.exponent().big_endian_without_leading_zero()),
                })
            }
            Pair::Ec(k) => {
                // An uncompressed SEC1 point: 0x04 || X (32 bytes) || Y (32 bytes).
                let point = k.public_key().as_ref();
                let (x, y) = point[1..].split_at(32);
                json!({
                    "kid": self.kid, "kty": "EC", "alg": "ES256", "use": "sig", "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
                })
            }
        }
    }
}

/// The DER `SubjectPublicKeyInfo` header of a P-256 key (RFC 5480 §2): the
/// id-ecPublicKey and secp256r1 OIDs, then a BIT STRING of the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A realm key's public JWK as base64 DER `SubjectPublicKeyInfo`, the form Keycloak's keys
/// API gives as `publicKey`. `None` for a JWK that is not one of the realm's kinds.
pub fn spki_base64(jwk: &Value) -> Option<String> {
    let field = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
    };
    let der = match jwk.get("kty").and_then(Value::as_str)? {
        "RSA" => signature::RsaPublicKeyComponents {
            n: field("n")?,
            e: field("e")?,
        }
        .as_der()
        .ok()?
        .as_ref()
        .to_vec(),
        "EC" => {
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            [P256_SPKI_PREFIX.as_slice(), &[4], &x, &y].concat()
        }
        _ => return None,
    };
    Some(base64::engine::general_purpose::STANDARD.encode(der))
}

/// RSA moduli accepted in a client's keys, in bits: NIST SP 800-131A's floor, and the
/// largest aws-lc verifies.
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// Whether a client's public JWK is one Latchkey accepts (RFC 7518 §6): an RSA key of
/// [`RSA_BITS`] (RS256, PS256) or an EC key on P-256 (ES256), well-formed. Checked when a
/// client registers inline keys and again before a client's key verifies anything,
/// whatever its source (`jwks_uri` documents, keys written through the admin API).
pub fn check_public_jwk(jwk: &Value) -> Result<(), &'static str> {
    let field = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
    };
    match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let (Some(n), Some(e)) = (field("n"), field("e")) else {
                return Err("an RSA key needs n and e (base64url)");
            };
            let n = match n.iter().position(|b| *b != 0) {
                Some(i) => &n[i..],
                None => return Err("an RSA key's modulus must not be zero"),
            };
            let bits = n.len() * 8 - n[0].leading_zeros() as usize;
            if !RSA_BITS.contains(&bits) {
                return Err("RSA keys must have 2048 to 8192 bits");
            }
            signature::RsaPublicKeyComponents { n, e: &e }
                .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                .map(|_| ())
                .map_err(|_| "not a valid RSA public key")
        }
        Some("EC") => {
            if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                return Err("EC keys must be on the P-256 curve (ES256)");
            }
            let (Some(x), Some(y)) = (field("x"), field("y")) else {
                return Err("an EC key needs x and y (base64url)");
            };
            if x.len() != 32 || y.len() != 32 {
                return Err("a P-256 key's x and y are 32 bytes each");
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            signature::ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .map(|_| ())
                .map_err(|_| "not a point on P-256")
        }
        Some(_) => Err("only RSA and EC (P-256) keys are supported"),
        None => Err("every key needs a kty"),
    }
}

/// Verifies a JWS signature with a public JWK. Returns false for any key, algorithm or
/// encoding it cannot use. Keys from outside (a client's) go through [`check_public_jwk`]
/// first (`jwt::Unverified::verify_any`); the realm's own need not, and are not parsed
/// twice per request.
pub fn verify_with_jwk(jwk: &Value, alg: &str, message: &[u8], sig: &[u8]) -> bool {
    let field = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
    };
    match (alg, jwk.get("kty").and_then(Value::as_str)) {
        ("RS256" | "PS256", Some("RSA")) => {
            let (Some(n), Some(e)) = (field("n"), field("e")) else {
                return false;
            };
            let params = if alg == "RS256" {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PSS_2048_8192_SHA256
            };
            signature::RsaPublicKeyComponents { n, e }
                .verify(params, message, sig)
                .is_ok()
        }
        ("ES256", Some("EC")) => {
            if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                return false;
            }
            let (Some(x), Some(y)) = (field("x"), field("y")) else {
                return false;
            };
            if x.len() != 32 || y.len() != 32 {
                return false;
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_keys_are_checked() {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let ec = generate(Alg::Es256).unwrap().public_jwk;
        let rsa = generate(Alg::Rs256).unwrap().public_jwk;
        let modulus =
            |bytes: usize| b64(&[[0xc1u8].as_slice(), &vec![0x55; bytes - 2], &[1]].concat());
        let cases = [
            ("a generated P-256 key", ec.clone(), true),
            ("a generated RSA-2048 key", rsa.clone(), true),
            (
                "RFC 7518 §3.3: a 17-bit modulus",
                json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
                false,
            ),
            (
                "RFC 7518 §3.3: 1024 bits",
                json!({"kty": "RSA", "n": modulus(128), "e": "AQAB"}),
                false,
            ),
            (
                "RFC 7518 §3.3: 2047 bits",
                json!({"kty": "RSA", "n": b64(&[[0x7fu8].as_slice(), &[0x55; 254], &[1]].concat()), "e": "AQAB"}),
                false,
            ),
            (
                "leading zero bytes do not count",
                json!({"kty": "RSA", "n": b64(&[[0u8, 0].as_slice(), &[0x55; 127], &[1]].concat()), "e": "AQAB"}),
                false,
            ),
            ("RSA without e", json!({"kty": "RSA", "n": rsa["n"]}), false),
            (
                "RFC 7518 §3.4: P-384 is not supported",
                json!({"kty": "EC", "crv": "P-384", "x": ec["x"], "y": ec["y"]}),
                false,
            ),
            (
                "RFC 7518 §6.2.1: a point off the curve",
                json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[1; 32])}),
                false,
            ),
            (
                "short coordinates",
                json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 31]), "y": ec["y"]}),
                false,
            ),
            (
                "OKP is not supported",
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[1; 32])}),
                false,
            ),
            ("no kty", json!({"n": rsa["n"], "e": "AQAB"}), false),
        ];
        for (what, jwk, ok) in cases {
            assert_eq!(check_public_jwk(&jwk).is_ok(), ok, "{what}: {jwk}");
        }
    }

    #[test]
    fn generated_keys_sign_and_verify_with_their_jwk() {
        for (alg, g) in Alg::ALL
            .into_iter()
            .flat_map(|alg| [(alg, generate(alg)), (alg, generate_quickly(alg))])
        {
            let g = g.unwrap();
            assert_eq!(g.alg, alg);
            let key = SigningKey::from_pkcs8(g.kid.clone(), alg, &g.pkcs8).unwrap();
            let sig = key.sign(b"hello").unwrap();
            assert!(verify_with_jwk(&g.public_jwk, alg.as_str(), b"hello", &sig));
            assert!(!verify_with_jwk(
                &g.public_jwk,
                alg.as_str(),
                b"hellO",
                &sig
            ));
            assert!(g.public_jwk.get("d").is_none(), "no private part in a JWK");
            let spki = base64::engine::general_purpose::STANDARD
                .decode(spki_base64(&g.public_jwk).unwrap())
                .unwrap();
            let params: &dyn signature::VerificationAlgorithm = match alg {
                Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Alg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            };
            let parsed = signature::ParsedPublicKey::new(params, &spki);
            assert!(
                parsed.is_ok_and(|k| k.verify_sig(b"hello", &sig).is_ok()),
                "{alg:?} SPKI"
            );
        }
    }
}
