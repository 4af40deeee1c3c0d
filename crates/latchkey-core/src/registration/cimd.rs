//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client
//! whose `client_id` is an https URL serving its metadata. Here, without IO: the realm's
//! settings (attributes), the URL rules checked before anything is fetched, the trusted
//! domains, and the rules a fetched document obeys before it becomes client metadata.

use serde_json::{Map, Value};

use super::RegistrationError;
use super::metadata::{ClientMetadata, ValidationContext};
use crate::rep::StringMap;

/// The realm switch: `"true"` lets an https `client_id` name its metadata document.
pub const ENABLED_ATTRIBUTE: &str = "clientIdMetadataDocumentEnabled";
/// Host names a document URL may have, comma-separated (`app.example, *.example.org`);
/// empty: any host.
pub const TRUSTED_DOMAINS_ATTRIBUTE: &str = "clientIdMetadataDocumentTrustedDomains";
/// Shortest time a fetched document is kept, in seconds (also the time for a response
/// that forbids caching: `no-store`, `no-cache`).
pub const CACHE_MIN_ATTRIBUTE: &str = "clientIdMetadataDocumentCacheMinSeconds";
/// Longest time a fetched document is kept, in seconds.
pub const CACHE_MAX_ATTRIBUTE: &str = "clientIdMetadataDocumentCacheMaxSeconds";
/// Largest document accepted, in bytes.
pub const MAX_BYTES_ATTRIBUTE: &str = "clientIdMetadataDocumentMaxBytes";

/// The realm attributes of CIMD with their defaults; a new realm's representation shows
/// them all. 5,000 bytes is the draft's recommended cap (Keycloak uses the same); the
/// cache bounds are Keycloak's minimum and a day.
pub const SETTINGS: [(&str, &str); 5] = [
    (ENABLED_ATTRIBUTE, "false"),
    (TRUSTED_DOMAINS_ATTRIBUTE, ""),
    (CACHE_MIN_ATTRIBUTE, "300"),
    (CACHE_MAX_ATTRIBUTE, "86400"),
    (MAX_BYTES_ATTRIBUTE, "5000"),
];

/// The `registration.auth` of a client registered from its metadata document.
pub const REGISTRATION_AUTH: &str = super::kind::CIMD_REGISTRATION_AUTH;

/// Why a document client is not served: an OAuth error code (`invalid_client`,
/// `invalid_client_metadata`, `invalid_redirect_uri`, `insufficient_scope` for a policy,
/// `server_error` when the server failed), a description safe to show, and the policy that
/// refused, if one did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub description: String,
    pub policy: Option<String>,
}

impl Refusal {
    pub fn new(error: &'static str, description: impl Into<String>) -> Refusal {
        Refusal {
            error,
            description: description.into(),
            policy: None,
        }
    }

    pub fn is_internal(&self) -> bool {
        self.error == "server_error"
    }
}

impl From<RegistrationError> for Refusal {
    fn from(e: RegistrationError) -> Refusal {
        Refusal::new(e.code(), e.to_string())
    }
}

/// The largest document a realm may allow: the fetcher's own bound for other documents.
pub const MAX_BYTES_CEILING: usize = 64 * 1024;

/// A realm's CIMD settings, read from its attributes; a value that does not parse counts
/// as the default (the admin API stores attributes as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    /// Lowercase entries: a host name, or `*.domain` for any host below `domain`.
    pub trusted_domains: Vec<String>,
    pub cache_min_secs: u64,
    /// Never below `cache_min_secs`.
    pub cache_max_secs: u64,
    pub max_bytes: usize,
}

impl Settings {
    pub fn from_attributes(attrs: Option<&StringMap>) -> Settings {
        let get = |name: &str| {
            attrs
                .and_then(|a| a.get(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| default_of(name).to_string())
        };
        let number = |name: &str| {
            get(name)
                .parse::<u64>()
                .or_else(|_| default_of(name).parse::<u64>())
                .unwrap_or(0)
        };
        let cache_min_secs = number(CACHE_MIN_ATTRIBUTE);
        Settings {
            enabled: get(ENABLED_ATTRIBUTE).eq_ignore_ascii_case("true"),
            trusted_domains: parse_domains(&get(TRUSTED_DOMAINS_ATTRIBUTE)),
            cache_min_secs,
            cache_max_secs: number(CACHE_MAX_ATTRIBUTE).max(cache_min_secs),
            max_bytes: (number(MAX_BYTES_ATTRIBUTE) as usize).clamp(1, MAX_BYTES_CEILING),
        }
    }

    /// Whether a document URL's host may be fetched (checked before any fetch).
    pub fn host_trusted(&self, host: &str) -> bool {
        let bare = |h: &str| {
            h.trim_matches(['[', ']'])
                .trim_end_matches('.')
                .to_ascii_lowercase()
        };
        let host = bare(host);
        self.trusted_domains.is_empty()
            || self
                .trusted_domains
                .iter()
                .any(|t| match t.strip_prefix("*.") {
                    Some(domain) => host.ends_with(&format!(".{domain}")),
                    None => host == bare(t),
                })
    }
}

/// The realm's CIMD attributes, as an admin sets them: the switch `"true"` or `"false"`,
/// the bounds whole seconds with the minimum at most the maximum, the size limit between 1
/// and [`MAX_BYTES_CEILING`], each trusted domain a host name or `*.` and a domain. The
/// message names the attribute.
pub fn check_attributes(attrs: Option<&StringMap>) -> Result<(), String> {
    let Some(attrs) = attrs else {
        return Ok(());
    };
    let get = |name: &str| attrs.get(name).map(|v| v.trim());
    if let Some(v) = get(ENABLED_ATTRIBUTE)
        && !v.eq_ignore_ascii_case("true")
        && !v.eq_ignore_ascii_case("false")
    {
        return Err(format!("{ENABLED_ATTRIBUTE} must be \"true\" or \"false\""));
    }
    let seconds = |name: &str| -> Result<Option<u64>, String> {
        get(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("{name} must be a whole number of seconds"))
            })
            .transpose()
    };
    let min = seconds(CACHE_MIN_ATTRIBUTE)?;
    let max = seconds(CACHE_MAX_ATTRIBUTE)?;
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        return Err(format!(
            "{CACHE_MIN_ATTRIBUTE} must not be above {CACHE_MAX_ATTRIBUTE}"
        ));
    }
    if let Some(v) = get(MAX_BYTES_ATTRIBUTE)
        && !v
            .parse::<usize>()
            .is_ok_and(|n| (1..=MAX_BYTES_CEILING).contains(&n))
    {
        return Err(format!(
            "{MAX_BYTES_ATTRIBUTE} must be a number of bytes from 1 to {MAX_BYTES_CEILING}"
        ));
    }
    for domain in parse_domains(get(TRUSTED_DOMAINS_ATTRIBUTE).unwrap_or("")) {
        let name = domain.strip_prefix("*.").unwrap_or(&domain);
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
            && (!name.contains(':') || name.starts_with('['));
        if !valid {
            return Err(format!(
                "{TRUSTED_DOMAINS_ATTRIBUTE}: {domain:?} is not a host name or *.domain"
            ));
        }
    }
    Ok(())
}

fn default_of(name: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .unwrap_or("")
}

/// The trusted domains attribute: entries separated by commas or whitespace.
pub fn parse_domains(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

/// Whether a `client_id` names a metadata document (and so never a client minted by
/// registration or created by an admin): it starts with `https://` or `http://`, in any
/// case.
pub fn is_document_url(client_id: &str) -> bool {
    let lower = |n: usize| client_id.get(..n).map(str::to_ascii_lowercase);
    lower(8).as_deref() == Some("https://") || lower(7).as_deref() == Some("http://")
}

/// Draft §3: the URL rules, checked on the string as sent (it is compared by simple string
/// comparison, never normalised). `dev_mode` allows plain http to a loopback host, as the
/// fetcher does. The message says which rule failed.
pub fn check_url(raw: &str, dev_mode: bool) -> Result<url::Url, String> {
    crate::ident::check("client_id", raw).map_err(|e| e.to_string())?;
    let url = url::Url::parse(raw).map_err(|_| "client_id is not a valid URL".to_string())?;
    match url.scheme() {
        "https" => {}
        "http" if dev_mode && is_loopback(&url) => {}
        _ => return Err("client_id URL must use https".into()),
    }
    if !url.username().is_empty() || url.password().is_some() || authority(raw).contains('@') {
        return Err("client_id URL must not contain user info".into());
    }
    if raw.contains('#') {
        return Err("client_id URL must not contain a fragment".into());
    }
    // The draft: a query SHOULD NOT be used; Latchkey refuses it (Authlete's default).
    if raw.contains('?') {
        return Err("client_id URL must not contain a query".into());
    }
    let path = raw_path(raw);
    if path.is_empty() || path == "/" {
        return Err("client_id URL must contain a path".into());
    }
    if path.split('/').any(is_dot_segment) {
        return Err("client_id URL must not contain . or .. path segments".into());
    }
    Ok(url)
}

/// The authority of an absolute URL as written (between `//` and the next `/`).
fn authority(raw: &str) -> &str {
    let rest = raw.split_once("//").map_or("", |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// The path of an absolute URL as written, before any query or fragment.
fn raw_path(raw: &str) -> &str {
    let rest = raw.split_once("//").map_or("", |(_, r)| r);
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    path.split(['?', '#']).next().unwrap_or("")
}

fn is_dot_segment(segment: &str) -> bool {
    let s = segment.to_ascii_lowercase().replace("%2e", ".");
    s == "." || s == ".."
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Authentication methods that use a secret the server would have to issue or share: a
/// metadata document is public, so none of them can work (draft §4.1).
const SHARED_SECRET_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];

/// Draft §4: a fetched document (a JSON object) as client metadata. `url` is the
/// `client_id` exactly as sent. Besides RFC 7591's rules (`ClientMetadata::validate`, with
/// its tolerance: unknown members ignored, unsupported grant types dropped): `client_id`
/// equals the URL, `redirect_uris` is present, no secret and no shared-secret method, and
/// without a method the client is public (`none`). The `client_credentials` grant is
/// dropped: a client known only by a public document has no service account.
pub fn validate_document(
    doc: &Map<String, Value>,
    url: &str,
    ctx: ValidationContext,
) -> Result<ClientMetadata, RegistrationError> {
    match doc.get("client_id") {
        Some(Value::String(id)) if id == url => {}
        Some(Value::String(_)) => {
            return Err(RegistrationError::metadata(
                "client_id in the document is not the URL it was fetched from",
            ));
        }
        _ => {
            return Err(RegistrationError::metadata("the document has no client_id"));
        }
    }
    for member in ["client_secret", "client_secret_expires_at"] {
        if doc.contains_key(member) {
            return Err(RegistrationError::metadata(format!(
                "the document must not contain {member}"
            )));
        }
    }
    if let Some(Value::String(m)) = doc.get("token_endpoint_auth_method")
        && SHARED_SECRET_METHODS.contains(&m.as_str())
    {
        return Err(RegistrationError::metadata(format!(
            "token_endpoint_auth_method {m:?} is a shared secret, which a metadata document cannot have (use none or private_key_jwt)"
        )));
    }
    match doc.get("redirect_uris") {
        Some(Value::Array(list)) if !list.is_empty() => {}
        _ => {
            return Err(RegistrationError::redirect(
                "the document must list its redirect_uris",
            ));
        }
    }
    if let Some(name) = doc.get("client_name") {
        let ok = name
            .as_str()
            .is_some_and(|n| !n.trim().is_empty() && crate::ident::check("client_name", n).is_ok());
        if !ok {
            return Err(RegistrationError::metadata(
                "client_name must be a non-empty string of at most 255 characters without control characters",
            ));
        }
    }
    let mut doc = doc.clone();
    if let Some(Value::Array(methods)) = doc.get_mut("token_endpoint_auth_methods_supported") {
        methods.retain(|m| {
            !m.as_str()
                .is_some_and(|m| SHARED_SECRET_METHODS.contains(&m))
        });
    }
    let no_method = !matches!(
        doc.get("token_endpoint_auth_method"),
        Some(Value::String(_))
    ) && !matches!(doc.get("token_endpoint_auth_methods_supported"), Some(Value::Array(l)) if !l.is_empty());
    if no_method {
        doc.insert("token_endpoint_auth_method".into(), Value::from("none"));
    }
    if let Some(Value::Array(grants)) = doc.get_mut("grant_types") {
        grants.retain(|g| g.as_str() != Some("client_credentials"));
    }
    let meta = ClientMetadata::validate(&doc, ctx)?;
    if meta.uses_secret() {
        return Err(RegistrationError::metadata(format!(
            "token_endpoint_auth_method {:?} is a shared secret, which a metadata document cannot have (use none or private_key_jwt)",
            meta.token_endpoint_auth_method
        )));
    }
    Ok(meta)
}

/// The host a consent page names for a document client, and whether every redirect URI
/// of the client is on a loopback host (a local app, which any program on the user's
/// machine could pose as: the MCP authorization spec asks for a warning).
pub fn consent_facts(client_id: &str, redirect_uris: &[String]) -> Option<(String, bool)> {
    if !is_document_url(client_id) {
        return None;
    }
    let host = url::Url::parse(client_id).ok()?.host_str()?.to_string();
    let loopback_only = !redirect_uris.is_empty()
        && redirect_uris
            .iter()
            .all(|r| url::Url::parse(r).is_ok_and(|u| is_loopback(&u)));
    Some((host, loopback_only))
}

#[cfg(test)]
mod tests;
