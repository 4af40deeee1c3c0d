//! Reading the request's members by type: absent and `null` are `None`, a member of the
//! wrong type is `invalid_client_metadata` naming it.

use serde_json::{Map, Value};

use crate::registration::RegistrationError;

/// The request's JSON object.
pub(super) struct Fields<'a>(pub(super) &'a Map<String, Value>);

impl Fields<'_> {
    pub(super) fn string(&self, key: &str) -> Result<Option<String>, RegistrationError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(RegistrationError::metadata(format!(
                "{key} must be a string"
            ))),
        }
    }

    pub(super) fn strings(&self, key: &str) -> Result<Option<Vec<String>>, RegistrationError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        RegistrationError::metadata(format!("{key} must be an array of strings"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(RegistrationError::metadata(format!(
                "{key} must be an array of strings"
            ))),
        }
    }

    pub(super) fn boolean(&self, key: &str) -> Result<Option<bool>, RegistrationError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(RegistrationError::metadata(format!(
                "{key} must be a boolean"
            ))),
        }
    }

    pub(super) fn seconds(&self, key: &str) -> Result<Option<i64>, RegistrationError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if n >= 0 => Ok(Some(n)),
                _ => Err(RegistrationError::metadata(format!(
                    "{key} must be a non-negative integer"
                ))),
            },
        }
    }
}
