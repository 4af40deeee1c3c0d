//! Keycloak's partial update: a PUT body changes only the members it carries with a
//! non-null value; lists are replaced whole, and the maps named by the caller (a
//! client's `attributes`) are merged key by key.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Overlays `patch` on `base` and returns the merged representation.
pub fn merge<T: Serialize + DeserializeOwned>(
    base: &T,
    patch: &T,
    merged_maps: &[&str],
) -> Result<T, serde_json::Error> {
    let mut out = serde_json::to_value(base)?;
    let patch = serde_json::to_value(patch)?;
    if let (Value::Object(out_map), Value::Object(patch_map)) = (&mut out, patch) {
        for (key, value) in patch_map {
            if value.is_null() {
                continue;
            }
            match (
                merged_maps.contains(&key.as_str()),
                out_map.get_mut(&key),
                value,
            ) {
                (true, Some(Value::Object(existing)), Value::Object(incoming)) => {
                    existing.extend(incoming);
                }
                (_, _, value) => {
                    out_map.insert(key, value);
                }
            }
        }
    }
    serde_json::from_value(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rep::ClientRep;

    #[test]
    fn only_present_members_change_and_attributes_merge() {
        let base: ClientRep = serde_json::from_value(serde_json::json!({
            "clientId": "a", "name": "A", "redirectUris": ["x"], "attributes": {"k1": "v1"}
        }))
        .unwrap();
        let patch: ClientRep = serde_json::from_value(serde_json::json!({
            "name": "B", "redirectUris": [], "attributes": {"k2": "v2"}
        }))
        .unwrap();
        let m = merge(&base, &patch, &["attributes"]).unwrap();
        assert_eq!(m.client_id.as_deref(), Some("a"));
        assert_eq!(m.name.as_deref(), Some("B"));
        assert_eq!(m.redirect_uris, Some(vec![]));
        let attrs = m.attributes.unwrap();
        assert_eq!(attrs.len(), 2);
    }
}
