//! Resource indicators (RFC 8707): the rule a `resource` value obeys, the stricter one a
//! realm's resource server URI obeys, and which clients a resource server admits.

use url::Url;

use crate::rep::ClientRep;
use crate::store::ResourceServerRecord;

/// A `resource` parameter's value (RFC 8707 §2): an absolute URI without a fragment.
/// The error says what is wrong, for an `invalid_target` description.
pub fn check_indicator(raw: &str) -> Result<Url, String> {
    if raw.contains('#') {
        return Err(format!("resource must not have a fragment: {raw}"));
    }
    Url::parse(raw).map_err(|_| format!("resource must be an absolute URI: {raw}"))
}

/// A resource server's URI: an indicator (`check_indicator`) without a query (RFC 8707 §2:
/// it "SHOULD NOT include a query component"), with a host, over https, or http to a
/// loopback address (a resource server on the developer's machine, as RFC 8252 §7.3
/// allows for redirect URIs).
pub fn check_server_uri(raw: &str) -> Result<(), String> {
    let url = check_indicator(raw)?;
    if url.query().is_some() {
        return Err("uri must not have a query".into());
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        _ if url.host_str().is_none_or(str::is_empty) => Err("uri must have a host".into()),
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("uri must use https (or http to a loopback address)".into()),
    }
}

/// Whether `client` may ask for `server`: always when the server lists no client scope,
/// else when the client has one of them, as a default or an optional scope.
pub fn admits(server: &ResourceServerRecord, client: &ClientRep) -> bool {
    if server.scopes.is_empty() {
        return true;
    }
    let has = |list: &Option<Vec<String>>| {
        list.iter()
            .flatten()
            .any(|s| server.scopes.iter().any(|w| w == s))
    };
    has(&client.default_client_scopes) || has(&client.optional_client_scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indicators_and_server_uris() {
        // (value, indicator ok, server uri ok, clause)
        let cases = [
            (
                "https://mcp.example.com/mcp",
                true,
                true,
                "RFC 8707 §2: absolute URI",
            ),
            (
                "https://mcp.example.com",
                true,
                true,
                "a bare origin is absolute",
            ),
            ("http://127.0.0.1:8080/mcp", true, true, "loopback http"),
            ("http://localhost:3000", true, true, "loopback http by name"),
            ("http://[::1]/x", true, true, "IPv6 loopback"),
            (
                "http://mcp.example.com/mcp",
                true,
                false,
                "http off loopback",
            ),
            (
                "https://a.example/x?y=1",
                true,
                false,
                "RFC 8707 §2: SHOULD NOT have a query",
            ),
            (
                "https://a.example/x#frag",
                false,
                false,
                "RFC 8707 §2: MUST NOT have a fragment",
            ),
            (
                "/relative/path",
                false,
                false,
                "RFC 8707 §2: must be absolute",
            ),
            ("mcp.example.com", false, false, "no scheme: relative"),
            (
                "urn:example:api",
                true,
                false,
                "absolute, but no host for a server",
            ),
            ("", false, false, "empty"),
        ];
        for (value, indicator, server, clause) in cases {
            assert_eq!(
                check_indicator(value).is_ok(),
                indicator,
                "{clause}: {value}"
            );
            assert_eq!(check_server_uri(value).is_ok(), server, "{clause}: {value}");
        }
    }

    #[test]
    fn a_server_admits_clients_by_scope() {
        let server = |scopes: &[&str]| ResourceServerRecord {
            id: "i".into(),
            realm_id: "r".into(),
            uri: "https://a.example".into(),
            name: "a".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        };
        let client = ClientRep {
            default_client_scopes: Some(vec!["profile".into()]),
            optional_client_scopes: Some(vec!["mcp".into()]),
            ..Default::default()
        };
        assert!(
            admits(&server(&[]), &client),
            "no scope listed: every client"
        );
        assert!(admits(&server(&["mcp"]), &client), "an optional scope");
        assert!(
            admits(&server(&["x", "profile"]), &client),
            "a default scope"
        );
        assert!(!admits(&server(&["other"]), &client), "none of them");
        assert!(
            !admits(&server(&["mcp"]), &ClientRep::default()),
            "a client with no scope"
        );
    }
}
