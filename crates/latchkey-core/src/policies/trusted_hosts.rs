//! The trusted-hosts provider: the caller's address and every URI the client stores must
//! name a trusted host or domain. Host names in the list are resolved by the caller of the
//! policies, which owns IO; here they are only compared.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::config::{flag, list};
use crate::client_uris::stored_uris;
use crate::rep::ClientRep;
use crate::store::ComponentRecord;

fn host_of(uri: &str) -> Option<String> {
    url::Url::parse(uri)
        .ok()?
        .host_str()
        .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
}

/// `*.example.com` matches `a.example.com` (and deeper), a plain entry matches exactly.
fn host_trusted(host: &str, trusted: &[String]) -> bool {
    trusted.iter().any(|t| match t.strip_prefix("*.") {
        Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
        None => host == t,
    })
}

fn source_trusted(
    source: IpAddr,
    trusted: &[String],
    resolved: &BTreeMap<String, Vec<IpAddr>>,
) -> bool {
    trusted.iter().any(|t| {
        if let Ok(ip) = t.parse::<IpAddr>() {
            return ip == source;
        }
        if t == "localhost" && source.is_loopback() {
            return true;
        }
        resolved.get(t).is_some_and(|ips| ips.contains(&source))
    })
}

/// The URIs trusted-hosts checks: every URI the client stores (`client_uris::stored_uris`:
/// root, base and admin URLs, redirect and post-logout redirect URIs, JWKS, sector
/// identifier, back/front-channel logout, initiate-login and the display URLs), so no URI
/// a browser or the server may be sent to escapes the policy. Keycloak checks only the
/// first four kinds, and a relative one (`/cb`) against the root URL, as here: without a
/// root URL a relative URI names this server and is not checked.
fn client_uris(c: &ClientRep) -> Vec<String> {
    let root = c.root_url.as_deref().filter(|r| !r.is_empty());
    stored_uris(c)
        .into_iter()
        .filter_map(|(_, uri)| match (uri.starts_with('/'), root) {
            (false, _) => Some(uri),
            (true, Some(root)) => Some(format!("{}{uri}", root.trim_end_matches('/'))),
            (true, None) => None,
        })
        .collect()
}

/// Checks one trusted-hosts policy against the caller's address and the client's URIs;
/// `source` `None`: the address is not checked.
pub(super) fn check(
    c: &ComponentRecord,
    source: Option<Option<IpAddr>>,
    resolved_hosts: &BTreeMap<String, Vec<IpAddr>>,
    client: &ClientRep,
) -> Result<(), String> {
    let trusted: Vec<String> = list(c, "trusted-hosts")
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if let Some(source) = source
        && flag(c, "host-sending-registration-request-must-match", true)
    {
        let ok = source.is_some_and(|ip| source_trusted(ip, &trusted, resolved_hosts));
        if !ok {
            return Err("Host not trusted.".into());
        }
    }
    if flag(c, "client-uris-must-match", true) {
        for uri in client_uris(client) {
            match host_of(&uri) {
                Some(h) if host_trusted(&h, &trusted) => {}
                // Keycloak's sentence, then the URL, which Keycloak only logs: the one
                // who registers is the one who must fix it.
                Some(_) => {
                    return Err(format!(
                        "URL doesn't match any trusted host or trusted domain: {uri}"
                    ));
                }
                None => return Err("URL is malformed".into()),
            }
        }
    }
    Ok(())
}
