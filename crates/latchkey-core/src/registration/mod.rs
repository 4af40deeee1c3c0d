//! Dynamic client registration's domain: RFC 7591 / OIDC DCR metadata parsed once into a
//! validated type (`metadata`), and its mapping to and from the stored Keycloak client
//! (`convert`); client ID metadata documents' rules (`cimd`); how a client was registered
//! (`kind`).

pub mod cimd;
pub mod convert;
pub mod kind;
pub mod metadata;

/// RFC 7591 §3.2.2 error codes (and RFC 6750's for the bearer checks, kept by the server).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// RFC 7591 §3.2.2: a redirect URI is missing, malformed or not allowed.
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// RFC 7591 §3.2.2: any other metadata value is invalid.
    #[error("{0}")]
    InvalidClientMetadata(String),
}

impl RegistrationError {
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            RegistrationError::InvalidClientMetadata(_) => "invalid_client_metadata",
        }
    }

    pub(crate) fn metadata(msg: impl Into<String>) -> Self {
        RegistrationError::InvalidClientMetadata(bounded(msg.into()))
    }

    pub(crate) fn redirect(msg: impl Into<String>) -> Self {
        RegistrationError::InvalidRedirectUri(bounded(msg.into()))
    }
}

/// Longest error description, in characters: messages quote what was sent, and a request
/// may carry a value or a list as large as the body limit.
pub const MAX_DESCRIPTION: usize = 300;

/// `msg`, cut to [`MAX_DESCRIPTION`] characters with `…` where it was cut.
fn bounded(mut msg: String) -> String {
    if let Some((at, _)) = msg.char_indices().nth(MAX_DESCRIPTION) {
        msg.truncate(at);
        msg.push('…');
    }
    msg
}
