//! Reading a realm file's JSON: lists, representations and ids, each failure naming where
//! it is; and the `clientId` → uuid map the import steps share.

use std::collections::HashMap;

use serde_json::Value;

use super::report::ImportError;

/// A JSON field as a list of objects (absent: empty).
pub(crate) fn objects<'a>(doc: &'a Value, field: &str) -> Result<Vec<&'a Value>, ImportError> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().collect()),
        Some(_) => Err(ImportError::new(field, "must be a list")),
    }
}

/// A JSON field as a list of strings (absent: `None`).
pub(crate) fn strings(
    v: &Value,
    field: &str,
    at: &str,
) -> Result<Option<Vec<String>>, ImportError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    ImportError::new(at, format!("{field} must be a list of strings"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ImportError::new(
            at,
            format!("{field} must be a list of strings"),
        )),
    }
}

/// An object of `doc` read as representation `T`, or the reason naming where it is.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(v: &Value, at: &str) -> Result<T, ImportError> {
    serde_json::from_value(v.clone()).map_err(|e| ImportError::new(at, e.to_string()))
}

/// An id kept from the file (Keycloak keeps them on import, so exports compare), or a new
/// one when it has none or one Latchkey cannot store.
pub(crate) fn keep_id(id: Option<&str>, at: &str) -> Result<String, ImportError> {
    match id.filter(|s| !s.is_empty()) {
        None => Ok(crate::crypto::new_uuid()),
        Some(id) if id.len() > 36 || id.chars().any(|c| c.is_control() || c == '/') => {
            Err(ImportError::new(
                at,
                "id must be at most 36 characters, without '/' or control characters",
            ))
        }
        Some(id) => Ok(id.to_string()),
    }
}

/// Client `clientId` → uuid, and user `service-account-…` links, shared by the steps.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    pub clients: HashMap<String, String>,
}

/// Where the first NUL character of the document is (a JSON pointer): no backend can store
/// one in a text column, so a file holding one is refused before anything is written.
pub(crate) fn nul_at(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::String(s) if !crate::ident::storable(s) => Some(path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_at(x, &format!("{path}/{i}"))),
        Value::Object(members) => members.iter().find_map(|(k, x)| {
            if !crate::ident::storable(k) {
                return Some(path.to_string());
            }
            nul_at(x, &format!("{path}/{k}"))
        }),
        _ => None,
    }
}
