//! What an import tells: the error that refuses a file (where, and what is wrong with
//! which field), and the report of what came in and what was left behind, by name.

use std::fmt;

/// A refused file: where (`clients[3] "app"`) and what is wrong with which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub at: String,
    pub message: String,
}

impl ImportError {
    pub fn new(at: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.at, self.message)
        }
    }
}

impl std::error::Error for ImportError {}

/// What an import brings in, and what it leaves behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub realm: String,
    pub clients: usize,
    pub users: usize,
    pub realm_roles: usize,
    pub client_roles: usize,
    pub client_scopes: usize,
    pub policies: usize,
    /// Signing keys read from the file (the others are generated).
    pub imported_keys: usize,
    pub skipped: Vec<Skipped>,
}

impl Report {
    /// `imported realm X: N clients, …` and one line per kind of skipped item.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "imported realm {}: {} clients, {} users, {} realm roles, {} client roles, {} client scopes, {} registration policies, {} signing keys from the file",
            self.realm,
            self.clients,
            self.users,
            self.realm_roles,
            self.client_roles,
            self.client_scopes,
            self.policies,
            self.imported_keys
        );
        if self.skipped.is_empty() {
            s.push_str("; nothing skipped");
        } else {
            s.push_str("; skipped (not modelled by Latchkey):");
            for k in &self.skipped {
                s.push_str("\n  ");
                s.push_str(&k.to_string());
            }
        }
        s
    }

    /// How many items of this kind were skipped (0 when none).
    pub fn skipped_count(&self, what: &str) -> usize {
        self.skipped
            .iter()
            .find(|k| k.what == what)
            .map_or(0, |k| k.names.len())
    }
}

/// One kind of item left out, with the names of those left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where in the file (`identityProviders`, `users.credentials otp`, …).
    pub what: String,
    pub names: Vec<String>,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.names.len())?;
        if !self.names.is_empty() {
            write!(f, " ({})", self.names.join(", "))?;
        }
        Ok(())
    }
}

impl Report {
    /// Notes `name` as skipped under `what`.
    pub(crate) fn skip(&mut self, what: &str, name: impl Into<String>) {
        let name = name.into();
        match self.skipped.iter_mut().find(|k| k.what == what) {
            Some(k) => k.names.push(name),
            None => self.skipped.push(Skipped {
                what: what.into(),
                names: vec![name],
            }),
        }
    }
}
