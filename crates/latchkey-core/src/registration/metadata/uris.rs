//! The URL rules of client metadata: redirect URIs by application type, and the other
//! URLs a client registers (`jwks_uri`, `sector_identifier_uri`, display and logout URLs).

use url::{Host, Url};

use crate::client_uris;
use crate::registration::RegistrationError;

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A redirect URI only a native app uses: a private-use scheme (RFC 8252 §7.1) or
/// loopback `http` (§7.3). Decides `application_type` when the request leaves it out.
pub(super) fn native_only(uri: &str) -> bool {
    match Url::parse(uri) {
        Ok(url) => match url.scheme() {
            "https" => false,
            "http" => is_loopback(&url),
            _ => true,
        },
        Err(_) => false,
    }
}

/// An absolute `http(s)` URL; `https` unless `http_loopback` allows plain loopback.
pub(super) fn web_url(
    key: &str,
    value: &str,
    https: bool,
    dev: bool,
) -> Result<Url, RegistrationError> {
    client_uris::check(value).map_err(|p| RegistrationError::metadata(format!("{key}: {p}")))?;
    let url = Url::parse(value)
        .map_err(|_| RegistrationError::metadata(format!("{key} must be an absolute URL")))?;
    match url.scheme() {
        "https" => {}
        "http" if !https || (dev && is_loopback(&url)) => {}
        "http" => {
            return Err(RegistrationError::metadata(format!("{key} must use https")));
        }
        _ => {
            return Err(RegistrationError::metadata(format!(
                "{key} must be an http(s) URL"
            )));
        }
    }
    if url.host().is_none() {
        return Err(RegistrationError::metadata(format!("{key} has no host")));
    }
    if url.fragment().is_some() {
        return Err(RegistrationError::metadata(format!(
            "{key} must not contain a fragment"
        )));
    }
    Ok(url)
}

/// RFC 6749 §3.1.2, OIDC DCR §2, RFC 8252 §7: the redirect URI rules by application type.
pub(super) fn check_redirect_uri(
    uri: &str,
    native: bool,
    dev: bool,
) -> Result<(), RegistrationError> {
    if uri.contains('*') {
        return Err(RegistrationError::redirect(format!(
            "redirect URI {uri:?}: wildcards are not allowed"
        )));
    }
    client_uris::check(uri)
        .map_err(|p| RegistrationError::redirect(format!("redirect URI {uri:?}: {p}")))?;
    let url = Url::parse(uri).map_err(|_| {
        RegistrationError::redirect(format!("redirect URI {uri:?} is not an absolute URI"))
    })?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(RegistrationError::redirect(format!(
            "redirect URI {uri:?}: URI fragment not allowed"
        )));
    }
    let scheme = url.scheme();
    let ok = match (native, scheme) {
        (_, "https") => url.host().is_some(),
        // Native apps may always use loopback (RFC 8252 §7.3); web apps only in start-dev.
        (true, "http") => is_loopback(&url),
        (false, "http") => dev && is_loopback(&url),
        // Private-use URI schemes (RFC 8252 §7.1) for native apps only; never one letter,
        // which reads as a Windows drive (`c:/Users/…`), not an app's scheme (§7.1 asks
        // for a reverse domain name).
        (true, _) => {
            scheme.len() > 1 && !matches!(scheme, "javascript" | "data" | "file" | "vbscript")
        }
        (false, _) => false,
    };
    if ok {
        Ok(())
    } else if native {
        Err(RegistrationError::redirect(format!(
            "redirect URI {uri:?}: native clients use https, a loopback http URI or a private-use scheme"
        )))
    } else {
        Err(RegistrationError::redirect(format!(
            "redirect URI {uri:?}: web clients must use https{}",
            if dev {
                " (or http on a loopback host)"
            } else {
                ""
            }
        )))
    }
}
