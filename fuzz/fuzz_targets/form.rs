//! Form bodies, query strings and HTTP Basic credentials, as the token, introspection,
//! revocation and authorization endpoints read them. Never a panic; an accepted form has
//! no empty value, and every
//! repeatable parameter (`resource`) keeps each value.
#![no_main]

use latchkey_core::form::{parse_basic, parse_form, parse_query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(map) = parse_form(data) {
        assert!(map.values().all(|v| !v.is_empty()));
    }
    let text = String::from_utf8_lossy(data);
    let q = parse_query(&text);
    assert!(q.values().all(|v| !v.is_empty()));
    let _ = parse_basic(&text);
    let _ = parse_basic(&format!("Basic {text}"));
});
