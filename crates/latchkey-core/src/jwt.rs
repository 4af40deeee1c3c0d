//! Compact JWS (RFC 7515) for the tokens Latchkey issues: signing with a realm key and
//! verifying against a realm's public JWKs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::keys::{KeyError, SigningKey, check_public_jwk, verify_with_jwk};

/// Signs `claims` as a JWT with header `{"alg", "typ": "JWT", "kid"}`.
pub fn sign(key: &SigningKey, claims: &Value) -> Result<String, KeyError> {
    let header = json!({"alg": key.alg.as_str(), "typ": "JWT", "kid": key.kid});
    let mut out = String::with_capacity(1024);
    // serde_json::to_vec writes straight into bytes; `to_string` goes through fmt.
    let json = |v: &Value| serde_json::to_vec(v).map_err(|_| KeyError::Sign);
    URL_SAFE_NO_PAD.encode_string(json(&header)?, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(json(claims)?, &mut out);
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(sig, &mut out);
    Ok(out)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
}

/// The parts of a compact JWS, decoded but not yet verified.
pub struct Unverified {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

pub fn parse(token: &str) -> Result<Unverified, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Malformed);
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
    let claims: Value = serde_json::from_slice(&decode(c)?).map_err(|_| JwtError::Malformed)?;
    if !header.is_object() || !claims.is_object() {
        return Err(JwtError::Malformed);
    }
    Ok(Unverified {
        header,
        claims,
        signing_input: format!("{h}.{c}"),
        signature: decode(s)?,
    })
}

impl Unverified {
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// Verifies against the first key of `jwks` that fits: the header's `kid` when it has
    /// one, else any key of the right type (client keys often carry no `kid`). For keys from
    /// outside (a client's): a key [`check_public_jwk`] refuses (a short RSA modulus, another
    /// curve) is never used.
    pub fn verify_any(self, jwks: &[Value]) -> Result<Value, JwtError> {
        let alg = self.alg().ok_or(JwtError::Malformed)?;
        let kty = match alg {
            "RS256" | "PS256" => "RSA",
            "ES256" => "EC",
            _ => return Err(JwtError::UnknownKey),
        };
        let kid = self.kid();
        let candidates = jwks.iter().filter(|k| {
            k.get("kty").and_then(Value::as_str) == Some(kty)
                && kid.is_none_or(|kid| k.get("kid").and_then(Value::as_str) == Some(kid))
                && k.get("use")
                    .and_then(Value::as_str)
                    .is_none_or(|u| u == "sig")
                && check_public_jwk(k).is_ok()
        });
        for jwk in candidates {
            if verify_with_jwk(jwk, alg, self.signing_input.as_bytes(), &self.signature) {
                return Ok(self.claims);
            }
        }
        Err(JwtError::Signature)
    }

    /// Verifies an HS256 signature with a shared secret (client_secret_jwt), in constant time.
    pub fn verify_hs256(self, secret: &[u8]) -> Result<Value, JwtError> {
        if self.alg() != Some("HS256") {
            return Err(JwtError::UnknownKey);
        }
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        aws_lc_rs::hmac::verify(&key, self.signing_input.as_bytes(), &self.signature)
            .map(|_| self.claims)
            .map_err(|_| JwtError::Signature)
    }

    /// Verifies against the key in `jwks` whose `kid` and `alg` match the header; the
    /// header's `alg` must be the key's own (no algorithm confusion, no `none`).
    pub fn verify(self, jwks: &[Value]) -> Result<Value, JwtError> {
        let alg = self
            .header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(JwtError::Malformed)?;
        let kid = self.kid().ok_or(JwtError::UnknownKey)?;
        let jwk = jwks
            .iter()
            .find(|k| {
                k.get("kid").and_then(Value::as_str) == Some(kid)
                    && k.get("alg").and_then(Value::as_str) == Some(alg)
            })
            .ok_or(JwtError::UnknownKey)?;
        if verify_with_jwk(jwk, alg, self.signing_input.as_bytes(), &self.signature) {
            Ok(self.claims)
        } else {
            Err(JwtError::Signature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Alg, generate};

    #[test]
    fn a_signed_token_verifies_and_a_tampered_one_does_not() {
        for alg in Alg::ALL {
            let g = generate(alg).unwrap();
            let key = SigningKey::from_pkcs8(g.kid.clone(), alg, &g.pkcs8).unwrap();
            let token = sign(&key, &json!({"sub": "a"})).unwrap();
            let claims = parse(&token)
                .unwrap()
                .verify(std::slice::from_ref(&g.public_jwk));
            assert_eq!(claims.unwrap()["sub"], "a");

            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"b"}"#);
            parts[1] = &forged;
            let forged = parts.join(".");
            let err = parse(&forged)
                .unwrap()
                .verify(std::slice::from_ref(&g.public_jwk));
            assert_eq!(err, Err(JwtError::Signature));
        }
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        assert_eq!(parse("a.b").err(), Some(JwtError::Malformed));
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"x"}"#);
        let c = URL_SAFE_NO_PAD.encode(r#"{"sub":"a"}"#);
        let t = format!("{h}.{c}.");
        let g = generate(Alg::Es256).unwrap();
        let mut jwk = g.public_jwk.clone();
        jwk["kid"] = json!("x");
        assert!(parse(&t).unwrap().verify(&[jwk]).is_err());
    }
}
