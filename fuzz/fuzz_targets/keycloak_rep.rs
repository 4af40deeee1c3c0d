//! Keycloak representations (admin API and `default` registration bodies): deserialize,
//! serialize back losslessly, and Keycloak's partial-update merge of one over another.
#![no_main]

use latchkey_core::merge::merge;
use latchkey_core::rep::{ClientRep, ClientScopeRep, RealmRep, RoleRep, UserRep};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    data: &[u8],
) -> Option<T> {
    let v: T = serde_json::from_slice(data).ok()?;
    let json = serde_json::to_value(&v).expect("a representation serializes");
    let again: T = serde_json::from_value(json).expect("what we serialize deserializes");
    assert_eq!(v, again, "lossless round trip");
    Some(v)
}

fn merged<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(a: &[u8], b: &[u8]) {
    if let (Some(base), Some(patch)) = (round_trip::<T>(a), round_trip::<T>(b)) {
        let m = merge(&base, &patch, &["attributes"]).expect("merge of valid reps");
        // Merging the same patch again changes nothing.
        let twice = merge(&m, &patch, &["attributes"]).expect("merge of valid reps");
        assert_eq!(m, twice, "merge is idempotent");
    }
}

fuzz_target!(|data: &[u8]| {
    // Two documents separated by the first 0xFF byte (never in UTF-8 JSON).
    let (a, b) = match data.iter().position(|&x| x == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    merged::<ClientRep>(a, b);
    merged::<RealmRep>(a, b);
    merged::<UserRep>(a, b);
    let _ = round_trip::<RoleRep>(a);
    let _ = round_trip::<ClientScopeRep>(a);
});
