//! The public base URL of a request: `--hostname` when set, else the request's `Host`
//! (and, with `--proxy-headers`, the `Forwarded` or `X-Forwarded-*` headers), plus the
//! relative path. Every URL the server emits is built from it.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::state::{ProxyHeaders, ServerSettings, SharedState};

/// `scheme://host[:port][/relative-path]`, no trailing slash.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.0)
    }

    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

pub fn base_url(settings: &ServerSettings, headers: &HeaderMap) -> String {
    if let Some(h) = &settings.hostname {
        return h.clone();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (mut scheme, mut host) = (
        "http".to_string(),
        header("host").unwrap_or("localhost").to_string(),
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
/// the proxy's account of it.
pub fn client_ip(
    settings: &ServerSettings,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> Option<std::net::IpAddr> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let forwarded = match settings.proxy_headers {
        Some(ProxyHeaders::XForwarded) => header("x-forwarded-for").map(|v| first(v).to_string()),
        Some(ProxyHeaders::Forwarded) => header("forwarded").and_then(|f| {
            first(f).split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.eq_ignore_ascii_case("for")
                    .then(|| v.trim_matches('"').to_string())
            })
        }),
        None => None,
    };
    // `for="[2001:db8::1]:4711"` and `192.0.2.1:4711` carry ports; strip them.
    let parsed = forwarded.and_then(|v| {
        v.parse::<std::net::IpAddr>()
            .ok()
            .or_else(|| v.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
            .or_else(|| v.trim_matches(['[', ']']).parse().ok())
    });
    parsed.or(peer)
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
        Ok(BaseUrl(base_url(&state.settings, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(proxy: Option<ProxyHeaders>) -> ServerSettings {
        ServerSettings {
            hostname: None,
            relative_path: "/auth".into(),
            proxy_headers: proxy,
            dev_mode: true,
            max_body_size: crate::DEFAULT_BODY_LIMIT,
            limits: crate::Limits::off(),
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
            Some("198.51.100.4".parse().unwrap())
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
}
