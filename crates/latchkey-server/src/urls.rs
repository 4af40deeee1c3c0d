//! The public base URL of a request: `--hostname` when set, else the request's `Host`
//! (and, with `--proxy-headers`, the `Forwarded` or `X-Forwarded-*` headers), plus the
//! relative path. Every URL the server emits is built from it.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use std::net::IpAddr;

use crate::settings::{ProxyHeaders, ServerSettings};
use crate::state::SharedState;

/// `scheme://host[:port][/relative-path]`, no trailing slash.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    /// The realm's issuer, its name percent-encoded as a path segment (a space, `?` or `#`
    /// in a name would otherwise end or break the URL), as Keycloak's URI builder does.
    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{}", self.0, encode_segment(realm))
    }

    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// Marks a request that arrived over Latchkey's own TLS listener (a request extension the
/// HTTPS listener's router adds): its URLs are `https` when no `--hostname` says otherwise.
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// The base URL of a request: its headers, its authority (HTTP/2 sends `:authority`, not
/// `Host`; RFC 9113 section 8.3.1) and whether it came over TLS.
pub fn request_base_url(settings: &ServerSettings, parts: &Parts) -> String {
    let tls = parts.extensions.get::<OverTls>().is_some();
    base_url_of(
        settings,
        &parts.headers,
        parts.uri.authority().map(|a| a.as_str()),
        tls,
    )
}

pub fn base_url(settings: &ServerSettings, headers: &HeaderMap) -> String {
    base_url_of(settings, headers, None, false)
}

fn base_url_of(
    settings: &ServerSettings,
    headers: &HeaderMap,
    authority: Option<&str>,
    tls: bool,
) -> String {
    if let Some(h) = &settings.hostname {
        return h.clone();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (mut scheme, mut host) = (
        if tls { "https" } else { "http" }.to_string(),
        header("host")
            .or(authority)
            .unwrap_or("localhost")
            .to_string(),
    );
    match settings.proxy_headers {
        Some(ProxyHeaders::XForwarded) => {
            if let Some(p) = header("x-forwarded-proto") {
                scheme = first(p).to_string();
            }
            if let Some(h) = header("x-forwarded-host") {
                host = first(h).to_string();
            }
            if let Some(port) = header("x-forwarded-port") {
                let port = first(port);
                let default =
                    (scheme == "https" && port == "443") || (scheme == "http" && port == "80");
                if !default && !host.contains(':') {
                    host = format!("{host}:{port}");
                }
            }
        }
        Some(ProxyHeaders::Forwarded) => {
            if let Some(f) = header("forwarded") {
                for pair in first(f).split(';') {
                    let mut kv = pair.splitn(2, '=');
                    let (k, v) = (
                        kv.next().unwrap_or("").trim(),
                        kv.next().unwrap_or("").trim(),
                    );
                    let v = v.trim_matches('"');
                    match k.to_ascii_lowercase().as_str() {
                        "proto" => scheme = v.to_string(),
                        "host" => host = v.to_string(),
                        _ => {}
                    }
                }
            }
        }
        None => {}
    }
    // Only characters a host can hold: a forged Host must not inject into URLs.
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
    {
        host = "localhost".into();
    }
    if scheme != "https" {
        scheme = "http".into();
    }
    format!("{scheme}://{host}{}", settings.relative_path)
}

/// The client's address: the connection's peer, unless `--proxy-headers` says to trust
/// the proxy's account of it. Each proxy appends the address it received the request from,
/// so only the right end of the list is the proxies' word; whatever the client wrote comes
/// first. The client is the rightmost entry that is not a trusted proxy
/// (`--proxy-trusted-addresses`; without the option, the rightmost entry: the address the
/// one proxy in front appended). With the option set, a peer outside it is a client talking
/// to us directly, and its headers are ignored (Keycloak's rule).
pub fn client_ip(
    settings: &ServerSettings,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Option<IpAddr> {
    let Some(mode) = settings.proxy_headers else {
        return peer;
    };
    let trusted = &settings.proxy_trusted;
    if !trusted.is_empty() && !peer.is_some_and(|p| trusted.contains(p)) {
        return peer;
    }
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_string())
            .collect()
    };
    let chain: Vec<String> = match mode {
        ProxyHeaders::XForwarded => values("x-forwarded-for"),
        ProxyHeaders::Forwarded => values("forwarded")
            .iter()
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.eq_ignore_ascii_case("for")
                        .then(|| v.trim().trim_matches('"').to_string())
                })
            })
            .collect(),
    };
    for entry in chain.iter().rev() {
        // An entry that is no address (`unknown`, an obfuscated name) ends what can be known.
        let Some(ip) = parse_forwarded_ip(entry) else {
            return peer;
        };
        if trusted.is_empty() || !trusted.contains(ip) {
            return Some(ip);
        }
    }
    // Every hop was a trusted proxy: the leftmost is as far as the headers go.
    chain.first().and_then(|e| parse_forwarded_ip(e)).or(peer)
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn parse_forwarded_ip(v: &str) -> Option<IpAddr> {
    v.parse::<IpAddr>()
        .ok()
        .or_else(|| v.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| v.trim_matches(['[', ']']).parse().ok())
}

fn first(v: &str) -> &str {
    v.split(',').next().unwrap_or(v).trim()
}

impl FromRequestParts<SharedState> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        Ok(BaseUrl(request_base_url(&state.settings, parts)))
    }
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters stay).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of a percent-encoded path segment ([`encode_segment`] undone); `None` when it
/// is not UTF-8 or a `%` is not followed by two hex digits.
pub fn decode_segment(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::TrustedProxies;

    #[test]
    fn segments_encode_and_decode_back() {
        for name in ["acme", "a b", "a?b#c", "a%2Fb", "caf\u{e9}", "x.y-z_~"] {
            let encoded = encode_segment(name);
            assert!(!encoded.contains([' ', '?', '#', '/']), "{encoded}");
            assert_eq!(decode_segment(&encoded).as_deref(), Some(name));
        }
        assert_eq!(encode_segment("acme"), "acme");
        assert_eq!(decode_segment("%zz"), None);
        assert_eq!(decode_segment("%f"), None);
        assert_eq!(decode_segment("%FF"), None);
    }

    fn settings(proxy: Option<ProxyHeaders>) -> ServerSettings {
        ServerSettings {
            hostname: None,
            relative_path: "/auth".into(),
            proxy_headers: proxy,
            dev_mode: true,
            max_body_size: crate::DEFAULT_BODY_LIMIT,
            limits: crate::Limits::off(),
            proxy_trusted: TrustedProxies::default(),
        }
    }

    #[test]
    fn host_header_and_proxy_headers_shape_the_base() {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:8080".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        h.insert("x-forwarded-host", "id.example.com".parse().unwrap());
        assert_eq!(base_url(&settings(None), &h), "http://127.0.0.1:8080/auth");
        assert_eq!(
            base_url(&settings(Some(ProxyHeaders::XForwarded)), &h),
            "https://id.example.com/auth"
        );
        let mut f = HeaderMap::new();
        f.insert(
            "forwarded",
            "for=1.2.3.4;proto=https;host=a.example".parse().unwrap(),
        );
        assert_eq!(
            base_url(&settings(Some(ProxyHeaders::Forwarded)), &f),
            "https://a.example/auth"
        );
        let mut xff = HeaderMap::new();
        xff.insert("x-forwarded-for", "198.51.100.4, 10.0.0.1".parse().unwrap());
        let peer = Some("10.0.0.2".parse().unwrap());
        assert_eq!(
            client_ip(&settings(None), &xff, peer),
            peer,
            "not trusted without --proxy-headers"
        );
        assert_eq!(
            client_ip(&settings(Some(ProxyHeaders::XForwarded)), &xff, peer),
            Some("10.0.0.1".parse().unwrap()),
            "the proxy's own entry, not what the client wrote before it"
        );
        let mut fwd = HeaderMap::new();
        fwd.insert(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https".parse().unwrap(),
        );
        assert_eq!(
            client_ip(&settings(Some(ProxyHeaders::Forwarded)), &fwd, peer),
            Some("2001:db8::1".parse().unwrap())
        );
        let mut bad = HeaderMap::new();
        bad.insert("host", "evil/x?y".parse().unwrap());
        assert_eq!(base_url(&settings(None), &bad), "http://localhost/auth");
    }

    #[test]
    fn tls_and_the_http2_authority_shape_the_base() {
        let none = HeaderMap::new();
        assert_eq!(
            base_url_of(&settings(None), &none, Some("127.0.0.1:8443"), true),
            "https://127.0.0.1:8443/auth"
        );
        let mut host = HeaderMap::new();
        host.insert("host", "a.example:8443".parse().unwrap());
        assert_eq!(
            base_url_of(&settings(None), &host, Some("b.example"), true),
            "https://a.example:8443/auth",
            "Host, when sent, wins"
        );
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-proto", "http".parse().unwrap());
        assert_eq!(
            base_url_of(
                &settings(Some(ProxyHeaders::XForwarded)),
                &proxied,
                Some("c.example"),
                true
            ),
            "http://c.example/auth",
            "a trusted proxy's word beats the hop it came over"
        );
        let mut fixed = settings(None);
        fixed.hostname = Some("https://id.example".into());
        assert_eq!(
            base_url_of(&fixed, &none, None, false),
            "https://id.example"
        );
    }

    #[test]
    fn a_forged_forwarded_for_is_not_the_client() {
        let xff = |v: &str| {
            let mut h = HeaderMap::new();
            h.append("x-forwarded-for", v.parse().unwrap());
            h
        };
        let peer: Option<IpAddr> = Some("10.0.0.2".parse().unwrap());
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let x = settings(Some(ProxyHeaders::XForwarded));
        // The client wrote 10.0.0.5; the proxy appended the address it saw.
        assert_eq!(
            client_ip(&x, &xff("10.0.0.5, 203.0.113.50"), peer),
            ip("203.0.113.50")
        );
        assert_eq!(
            client_ip(&x, &xff("203.0.113.50"), peer),
            ip("203.0.113.50")
        );
        // Two header lines are one list, in order.
        let mut two = xff("10.0.0.5");
        two.append("x-forwarded-for", "198.51.100.9".parse().unwrap());
        assert_eq!(client_ip(&x, &two, peer), ip("198.51.100.9"));
        // With trusted proxies: the rightmost entry that is not one of them.
        let mut t = x.clone();
        t.proxy_trusted = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").unwrap();
        assert_eq!(
            client_ip(&t, &xff("1.1.1.1, 203.0.113.50, 192.0.2.1, 10.1.2.3"), peer),
            ip("203.0.113.50")
        );
        // A peer that is not a trusted proxy is the client; its headers are ignored.
        assert_eq!(
            client_ip(&t, &xff("10.0.0.5"), ip("198.51.100.1")),
            ip("198.51.100.1")
        );
        // The same for Forwarded (RFC 7239), with ports and quoted IPv6.
        let f = settings(Some(ProxyHeaders::Forwarded));
        let mut fwd = HeaderMap::new();
        fwd.append(
            "forwarded",
            "for=10.0.0.5;proto=https, for=\"[2001:db8::7]:4711\""
                .parse()
                .unwrap(),
        );
        assert_eq!(client_ip(&f, &fwd, peer), ip("2001:db8::7"));
        // An entry that is not an address at the right end: the peer.
        assert_eq!(client_ip(&x, &xff("10.0.0.5, unknown"), peer), peer);
    }

    #[test]
    fn trusted_proxies_parse_and_match() {
        let t = TrustedProxies::parse("10.0.0.0/8,192.0.2.7,2001:db8::/32").unwrap();
        for (addr, want) in [
            ("10.200.1.1", true),
            ("11.0.0.1", false),
            ("192.0.2.7", true),
            ("192.0.2.8", false),
            ("::ffff:10.0.0.1", true),
            ("2001:db8:ffff::1", true),
            ("2001:db9::1", false),
        ] {
            assert_eq!(t.contains(addr.parse().unwrap()), want, "{addr}");
        }
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }
}
