//! Keycloak's message keys as words. Keycloak names its built-in clients and roles with
//! keys of its themes' message bundles (`${client_security-admin-console}`,
//! `${role_manage-clients}`) and resolves them when it draws a page; Latchkey keeps the
//! keys in the representations (tools compare them) and turns them into words here,
//! wherever a name is shown to a person.

use std::borrow::Cow;

/// The words Keycloak's English theme shows where the generic rule below would not give
/// them (an acronym, a different word).
const WORDS: &[(&str, &str)] = &[
    ("client_admin-cli", "Admin CLI"),
    ("role_uma_authorization", "Obtain permissions"),
    ("role_default-roles", "Default roles"),
];

/// `text` as a person should read it: a whole-string message key `${key}` becomes words
/// (`${client_security-admin-console}` → "Security admin console"), anything else is
/// returned unchanged. Never returns a `${…}` key.
pub fn display(text: &str) -> Cow<'_, str> {
    let Some(key) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
        return Cow::Borrowed(text);
    };
    if let Some((_, words)) = WORDS.iter().find(|(k, _)| *k == key) {
        return Cow::Borrowed(words);
    }
    let bare = ["client_", "role_"]
        .iter()
        .find_map(|p| key.strip_prefix(p))
        .unwrap_or(key);
    let spaced: String = bare
        .chars()
        .map(|c| if matches!(c, '-' | '_' | '.') { ' ' } else { c })
        .collect();
    let spaced = spaced.trim();
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => Cow::Owned(first.to_uppercase().chain(chars).collect()),
        None => Cow::Borrowed(""),
    }
}

#[cfg(test)]
mod tests {
    use super::display;

    #[test]
    fn message_keys_become_words_and_other_text_is_kept() {
        for (text, shown) in [
            ("${client_security-admin-console}", "Security admin console"),
            ("${client_account-console}", "Account console"),
            ("${client_admin-cli}", "Admin CLI"),
            ("${client_realm-management}", "Realm management"),
            ("${role_manage-clients}", "Manage clients"),
            ("${role_uma_authorization}", "Obtain permissions"),
            ("${}", ""),
            ("My app", "My app"),
            ("price: ${5}", "price: ${5}"),
            ("", ""),
        ] {
            assert_eq!(display(text), shown, "{text}");
        }
    }
}
