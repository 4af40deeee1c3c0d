//! Keycloak's stored password credentials (`secretData`, `credentialData`) as an import
//! reads them: never a panic, and every hash accepted writes back (for an export) to a
//! credential that reads as the same stored hash.
#![no_main]

use latchkey_core::keycloak_hash::{from_credential, is_pbkdf2, needs_rehash, to_credential};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // secretData and credentialData separated by the first 0xFF byte (never in UTF-8).
    let (a, b) = match data.iter().position(|&x| x == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let (Ok(secret), Ok(credential)) = (std::str::from_utf8(a), std::str::from_utf8(b)) else {
        return;
    };
    if let Ok(stored) = from_credential(secret, credential) {
        let _ = (is_pbkdf2(&stored), needs_rehash(&stored));
        let (s, c) = to_credential(&stored).expect("an accepted hash exports");
        assert_eq!(from_credential(&s, &c).ok(), Some(stored), "export → import is lossless");
    }
});
