//! The rule every identifier obeys before it is stored or looked up: realm
//! names, client ids, usernames, emails, first and last names, role and client scope names
//! are at most [`MAX_LEN`] characters (Keycloak's column size) and hold no control character. The
//! store refuses a write that breaks it (`StoreError::Invalid`, a 400 naming the field on
//! every surface) and finds nothing for a key that breaks it, without asking the database:
//! PostgreSQL cannot hold a NUL in a text column and cannot index a value over about
//! 2,700 bytes, so without the rule the same input would be a 4xx on SQLite and a 500 there.

/// Longest identifier, in characters (Keycloak: `VARCHAR(255)`).
pub const MAX_LEN: usize = 255;

/// A service account's username: this prefix, then its client's `clientId` (lowercased).
pub const SERVICE_ACCOUNT_PREFIX: &str = "service-account-";

/// Why an identifier is refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidIdentifier {
    #[error("{field} is longer than {MAX_LEN} characters")]
    TooLong { field: &'static str },
    #[error("{field} contains a control character")]
    ControlCharacter { field: &'static str },
}

impl InvalidIdentifier {
    pub fn field(&self) -> &'static str {
        match self {
            InvalidIdentifier::TooLong { field }
            | InvalidIdentifier::ControlCharacter { field } => field,
        }
    }
}

/// `Ok` when `value` may be stored as the identifier `field`.
pub fn check(field: &'static str, value: &str) -> Result<(), InvalidIdentifier> {
    if value.chars().any(char::is_control) {
        return Err(InvalidIdentifier::ControlCharacter { field });
    }
    // Bytes bound characters from above: only long values need counting.
    if value.len() > MAX_LEN && value.chars().count() > MAX_LEN {
        return Err(InvalidIdentifier::TooLong { field });
    }
    Ok(())
}

/// True when some stored identifier could equal `value`; a lookup of anything else finds
/// nothing without a query.
pub fn findable(value: &str) -> bool {
    check("key", value).is_ok()
}

/// True when `text` can be stored in a text column on every backend (no NUL).
pub fn storable(text: &str) -> bool {
    !text.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        let cases: &[(&str, Option<&str>)] = &[
            ("admin-cli", None),
            ("ünïcödé-client", None),
            ("https://app.example/client.json", None),
            ("a\0b", Some("clientId contains a control character")),
            ("tab\there", Some("clientId contains a control character")),
            ("line\nbreak", Some("clientId contains a control character")),
            ("del\u{7f}", Some("clientId contains a control character")),
            ("c1\u{85}", Some("clientId contains a control character")),
        ];
        for (value, want) in cases {
            let got = check("clientId", value).err().map(|e| e.to_string());
            assert_eq!(got.as_deref(), *want, "{value:?}");
        }
        assert!(check("clientId", &"x".repeat(255)).is_ok());
        assert_eq!(
            check("clientId", &"x".repeat(256)),
            Err(InvalidIdentifier::TooLong { field: "clientId" })
        );
        // 255 two-byte characters are 510 bytes and still allowed.
        assert!(check("clientId", &"é".repeat(255)).is_ok());
        assert!(!findable(&"x".repeat(3000)));
        assert!(!storable("a\0"));
        assert!(storable("a\u{1}"));
    }
}
