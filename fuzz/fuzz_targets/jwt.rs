//! JWS/JWT parsing as client assertions and bearer tokens arrive: compact parse, header and
//! claims access, verification against fixed RSA, EC and HMAC keys and against a JWK taken
//! from the input (a client's registered `jwks`). Never a panic, and never a verified
//! signature the fixed keys did not make.
#![no_main]

use std::sync::OnceLock;

use latchkey_core::jwt;
use latchkey_core::keys::{Alg, generate, verify_with_jwk};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn jwks() -> &'static Vec<Value> {
    static KEYS: OnceLock<Vec<Value>> = OnceLock::new();
    KEYS.get_or_init(|| {
        [Alg::Rs256, Alg::Es256]
            .into_iter()
            .map(|alg| generate(alg).expect("key").public_jwk)
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let (token, jwk) = match data.iter().position(|&x| x == 0xFF) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(token) = std::str::from_utf8(token) else {
        return;
    };
    let Ok(parsed) = jwt::parse(token) else {
        return;
    };
    let _ = (
        parsed.kid(),
        parsed.alg(),
        parsed.claim_str("sub"),
        parsed.claim_str("aud"),
    );
    // Keys generated in this process: the fuzzer cannot forge their signatures.
    assert!(
        jwt::parse(token).unwrap().verify(jwks()).is_err(),
        "forged signature"
    );
    assert!(
        jwt::parse(token).unwrap().verify_any(jwks()).is_err(),
        "forged signature"
    );
    let _ = jwt::parse(token)
        .unwrap()
        .verify_hs256(b"a fixed client secret of some length");
    if let Some(jwk) = jwk.and_then(|j| serde_json::from_slice::<Value>(j).ok()) {
        let alg = parsed.alg().unwrap_or("RS256").to_string();
        let (input, sig) = token.rsplit_once('.').unwrap_or((token, ""));
        let _ = verify_with_jwk(&jwk, &alg, input.as_bytes(), sig.as_bytes());
        let _ = jwt::parse(token)
            .unwrap()
            .verify_any(std::slice::from_ref(&jwk));
    }
});
