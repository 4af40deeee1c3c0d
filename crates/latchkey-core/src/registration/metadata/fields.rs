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

    /// OIDC RP Metadata Choices 1.0 §2: a `…_supported` list instead of the single value.
    /// `None` when absent; otherwise the first listed value in `supported` that `usable`
    /// accepts, else the first listed value in `supported`; a list with none of them is
    /// `invalid_client_metadata` naming it. The list itself is never registered.
    pub(super) fn choice(
        &self,
        list: &str,
        supported: &[&str],
        usable: impl Fn(&str) -> bool,
    ) -> Result<Option<String>, RegistrationError> {
        let Some(values) = self.strings(list)? else {
            return Ok(None);
        };
        let known: Vec<&String> = values
            .iter()
            .filter(|v| supported.contains(&v.as_str()))
            .collect();
        match known.iter().find(|v| usable(v)).or(known.first()) {
            Some(v) => Ok(Some((*v).clone())),
            None => Err(RegistrationError::metadata(format!(
                "{list} {values:?} names no value the server supports (supported: {})",
                supported.join(", ")
            ))),
        }
    }

    /// The single-valued member `single`, else the choice from its `list` (the single
    /// value wins when both are sent).
    pub(super) fn chosen(
        &self,
        single: &str,
        list: &str,
        supported: &[&str],
    ) -> Result<Option<String>, RegistrationError> {
        match self.string(single)? {
            Some(v) => Ok(Some(v)),
            None => self.choice(list, supported, |_| true),
        }
    }
}
