//! The one outbound HTTP fetcher: every URL a client hands us (`jwks_uri`,
//! `sector_identifier_uri`, client ID metadata documents, software-statement keys) is
//! fetched through [`Fetcher`], under these rules: https only (loopback http only in
//! dev mode), private and special-use addresses refused, no redirects, time and size limits.
//!
//! Why each piece is here:
//! - The URL a client registers points wherever it likes; without the address guard it
//!   would make the server probe its own network (SSRF: cloud metadata at 169.254.169.254,
//!   admin ports on 127.0.0.1, hosts on 10/8…).
//! - The guard runs inside the DNS resolver the HTTP client connects with, so the address
//!   that was vetted is the address connected to: checking a name first and connecting
//!   later would let a DNS answer change in between (rebinding). IP-literal hosts never
//!   reach a resolver, so [`Fetcher::check_url`] vets them before anything is sent.
//! - Redirects are not followed: a vetted public URL could otherwise send us to a private
//!   one, and a client's metadata URL must be the document itself.
//! - Every error message is short, lowercase and safe to put in an `error_description`
//!   after a prefix (`"jwks_uri: address 10.0.0.1 is not allowed"`); network failures are
//!   reduced to a few fixed phrases so that the server is no oracle for what lies behind a
//!   name.

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Client, Url, header, redirect};

/// What a [`Fetcher`] may do.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Allow loopback addresses, and plain http to a loopback host (dev mode only).
    pub allow_loopback: bool,
    /// Limit for the whole exchange: resolving, connecting, and reading the body.
    pub timeout: Duration,
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
}

impl FetchPolicy {
    /// `latchkey start`: no loopback, 5 s, 64 KiB (a JWKS or metadata document is a few KiB;
    /// the same bound as our own request bodies, `BODY_LIMIT`).
    pub fn production() -> Self {
        FetchPolicy {
            allow_loopback: false,
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
        }
    }

    /// `latchkey start-dev`: as production, but loopback (and http to it) is allowed so that
    /// a developer can serve keys from their own machine.
    pub fn dev() -> Self {
        FetchPolicy {
            allow_loopback: true,
            ..Self::production()
        }
    }
}

/// Why a fetch failed. The messages are meant to be shown to the client that gave the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("invalid url: {0}")]
    BadUrl(&'static str),
    #[error("url must use https")]
    NotHttps,
    #[error("address {0} is not allowed")]
    ForbiddenAddress(String),
    #[error("redirects are not followed")]
    Redirect,
    #[error("server answered with http status {0}")]
    Status(u16),
    #[error("response exceeds the size limit")]
    TooLarge,
    #[error("request timed out")]
    Timeout,
    /// One of a few fixed phrases (see `classify`), never the underlying error's text.
    #[error("{0}")]
    Network(String),
    #[error("response is not valid json")]
    NotJson,
}

/// The outbound HTTP client. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: FetchPolicy,
    /// `None` only if the client could not be built (logged at construction); every fetch
    /// then fails with a network error rather than the constructor panicking.
    client: Option<Client>,
}

/// Fixed DNS answers (tests): host name → addresses, used instead of the system resolver
/// but still vetted by the guard.
pub type StaticDns = Arc<std::collections::HashMap<String, Vec<IpAddr>>>;

impl Fetcher {
    pub fn new(policy: FetchPolicy) -> Self {
        Self::build(policy, None)
    }

    /// A fetcher whose resolver answers from `dns` (names missing from it do not resolve),
    /// so tests can make a name point at any address. The guard vets the answers exactly
    /// as it vets the system resolver's.
    pub fn with_static_dns(policy: FetchPolicy, dns: StaticDns) -> Self {
        Self::build(policy, Some(dns))
    }

    fn build(policy: FetchPolicy, dns: Option<StaticDns>) -> Self {
        let client = match build_client(&policy, dns) {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::error!(error = %e, "outbound http client could not be built");
                None
            }
        };
        Fetcher { policy, client }
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// GET the URL and parse the body as JSON.
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, FetchError> {
        let body = self.get_bytes(url).await?;
        serde_json::from_slice(&body).map_err(|_| FetchError::NotJson)
    }

    /// GET the URL and return its body, under every rule of the policy.
    pub async fn get_bytes(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let url = self.check_url(url)?;
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| FetchError::Network("http client unavailable".into()))?;
        // The client has the same timeout; this outer one also bounds the time between
        // body chunks and anything the client's timer might not cover.
        match tokio::time::timeout(self.policy.timeout, self.exchange(client, url)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    /// The checks that need no network: a parseable URL without user info, https (or http
    /// to a loopback host in dev mode), and, for an IP-literal host, an allowed address.
    /// Registration can call this to refuse a bad URL before fetching anything.
    pub fn check_url(&self, raw: &str) -> Result<Url, FetchError> {
        let url = Url::parse(raw).map_err(|_| FetchError::BadUrl("not a valid url"))?;
        // Credentials in a URL would be sent to whatever host the client chose, and have
        // no place in a public metadata URL.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::BadUrl("user info is not allowed"));
        }
        match url.scheme() {
            "https" | "http" => {}
            _ => return Err(FetchError::NotHttps),
        }
        let host = url.host_str().ok_or(FetchError::BadUrl("no host"))?;
        let literal = literal_ip(host);
        if url.scheme() == "http"
            && !(self.policy.allow_loopback && is_loopback_host(host, literal))
        {
            return Err(FetchError::NotHttps);
        }
        // IP literals are connected to directly, without the guarded resolver.
        match literal {
            Some(ip) if !address_allowed(ip, self.policy.allow_loopback) => {
                Err(FetchError::ForbiddenAddress(ip.to_string()))
            }
            _ => Ok(url),
        }
    }

    async fn exchange(&self, client: &Client, url: Url) -> Result<Vec<u8>, FetchError> {
        let mut resp = client
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(classify)?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let limit = self.policy.max_bytes;
        // Refuse early when the server announces too much; the loop below still counts,
        // since Content-Length may be absent (chunked) or wrong.
        let announced = resp.content_length().unwrap_or(0);
        if announced > limit as u64 {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::with_capacity(announced as usize);
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if chunk.len() > limit.saturating_sub(body.len()) {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Make aws-lc-rs rustls' process-wide default. [`Fetcher`] does not need this (it names its
/// provider itself), but reqwest, built without `ring`, panics ("No provider set") in
/// `Client::new()` when no default is installed: any other reqwest client in the process (a
/// test's) must call this first. Idempotent; a default installed earlier is kept.
pub fn install_default_tls_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn build_client(policy: &FetchPolicy, dns: Option<StaticDns>) -> Result<Client, String> {
    // TLS on aws-lc-rs, the project's one crypto library, chosen here explicitly rather than
    // through rustls' process-wide default; Mozilla's roots, so the result does not depend
    // on the host's certificate store.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];

    Client::builder()
        .use_preconfigured_tls(tls)
        .dns_resolver(Arc::new(GuardedResolver {
            allow_loopback: policy.allow_loopback,
            dns,
        }))
        .redirect(redirect::Policy::none())
        // A proxy would resolve the name itself, out of the guard's reach.
        .no_proxy()
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout)
        .referer(false)
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// Why the guarded resolver gave no address; found again in the error chain by `classify`.
#[derive(Debug, thiserror::Error)]
enum ResolveError {
    /// The name resolved only to refused addresses (the first one is named).
    #[error("address {0} is not allowed")]
    Refused(String),
    #[error("host name does not resolve")]
    NoAddress,
}

/// The resolver the client connects with: it keeps only allowed addresses, so a
/// connection can only be made to an address that passed [`address_allowed`].
struct GuardedResolver {
    allow_loopback: bool,
    /// `None`: the system resolver.
    dns: Option<StaticDns>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_string();
        let dns = self.dns.clone();
        Box::pin(async move {
            // Port 0: the connector puts the URL's port in.
            let resolved: Vec<SocketAddr> = match dns {
                Some(table) => table
                    .get(&host)
                    .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect())
                    .unwrap_or_default(),
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map_err(|_| ResolveError::NoAddress)?
                    .collect(),
            };
            let addrs = vetted_addresses(&host, resolved, allow_loopback)?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The resolver's answers for `host` that a connection may go to; an error naming the first
/// refused address when none may.
fn vetted_addresses(
    host: &str,
    resolved: Vec<SocketAddr>,
    allow_loopback: bool,
) -> Result<Vec<SocketAddr>, ResolveError> {
    // RFC 6761 §6.3: `localhost` names are loopback, whatever a resolver says.
    let localhost = is_localhost_name(host);
    let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
        resolved.into_iter().partition(|a| {
            (!localhost || a.ip().is_loopback()) && address_allowed(a.ip(), allow_loopback)
        });
    if !allowed.is_empty() {
        return Ok(allowed);
    }
    match refused.first() {
        Some(first) => Err(ResolveError::Refused(format!("{host} ({})", first.ip()))),
        None => Err(ResolveError::NoAddress),
    }
}

/// A reqwest error reduced to a [`FetchError`]; the guard's own refusal is found in the
/// error chain so it reads as a refusal, not as a network failure.
fn classify(err: reqwest::Error) -> FetchError {
    tracing::debug!(error = ?err, "outbound fetch failed");
    let mut source: Option<&(dyn StdError + 'static)> = Some(&err);
    while let Some(e) = source {
        match e.downcast_ref::<ResolveError>() {
            Some(ResolveError::Refused(what)) => {
                return FetchError::ForbiddenAddress(what.clone());
            }
            Some(ResolveError::NoAddress) => {
                return FetchError::Network("host name does not resolve".into());
            }
            None => source = e.source(),
        }
    }
    if err.is_timeout() {
        FetchError::Timeout
    } else if err.is_connect() {
        FetchError::Network("could not connect".into())
    } else if err.is_body() || err.is_decode() {
        FetchError::Network("connection broken while reading the response".into())
    } else {
        FetchError::Network("request failed".into())
    }
}

/// The URL's host as an IP address, if it is a literal (`Url` gives IPv6 in brackets and
/// has already normalised IPv4 spellings such as `0x7f.1` to dotted quads).
fn literal_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

fn is_localhost_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// Where plain http may go in dev mode: `localhost`, 127.0.0.0/8, `[::1]`.
fn is_loopback_host(host: &str, literal: Option<IpAddr>) -> bool {
    match literal {
        Some(ip) => ip.is_loopback(),
        None => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Whether an outbound connection may go to `ip`: only publicly routable unicast addresses,
/// plus loopback when `allow_loopback` (dev mode). IPv6 forms that carry an IPv4 address
/// (mapped, compatible, NAT64, 6to4) are judged by the IPv4 rules.
pub fn address_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4, allow_loopback),
        IpAddr::V6(v6) => v6_allowed(v6, allow_loopback),
    }
}

fn v4_allowed(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    let [a, b, c, _] = ip.octets();
    if a == 127 {
        return allow_loopback; // 127.0.0.0/8 loopback
    }
    let refused = a == 0 // 0.0.0.0/8 "this network"
        || a == 10 // 10.0.0.0/8 private
        || (a == 100 && (64..128).contains(&b)) // 100.64.0.0/10 carrier-grade NAT
        || (a == 169 && b == 254) // 169.254.0.0/16 link-local (cloud metadata)
        || (a == 172 && (16..32).contains(&b)) // 172.16.0.0/12 private
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24 IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // 192.0.2.0/24 documentation
        || (a == 192 && b == 88 && c == 99) // 192.88.99.0/24 6to4 relay anycast
        || (a == 192 && b == 168) // 192.168.0.0/16 private
        || (a == 198 && (b == 18 || b == 19)) // 198.18.0.0/15 benchmarking
        || (a == 198 && b == 51 && c == 100) // 198.51.100.0/24 documentation
        || (a == 203 && b == 0 && c == 113) // 203.0.113.0/24 documentation
        || a >= 224; // 224/4 multicast, 240/4 reserved, 255.255.255.255 broadcast
    !refused
}

fn v6_allowed(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if ip == Ipv6Addr::LOCALHOST {
        return allow_loopback;
    }
    if ip.is_unspecified() {
        return false;
    }
    if let Some(v4) = embedded_v4(ip) {
        return v4_allowed(v4, allow_loopback);
    }
    let s = ip.segments();
    // Only global unicast (2000::/3) is routable on the internet. Outside it: ::/8
    // reserved, 64:ff9b:1::/48 local NAT64, 100::/64 discard, fc00::/7 unique local,
    // fe80::/10 link-local, fec0::/10 old site-local, ff00::/8 multicast.
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    let refused = matches!(
        (s[0], s[1]),
        (0x2001, 0x0000..=0x01ff) // 2001::/23 IETF protocol assignments (Teredo, ORCHID…)
            | (0x2001, 0x0db8) // 2001:db8::/32 documentation
            | (0x3fff, 0x0000..=0x0fff) // 3fff::/20 documentation (RFC 9637)
    );
    !refused
}

/// The IPv4 address inside an IPv6 form that reaches it: IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::/48`.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let o = ip.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match ip.segments() {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Serve `app` on 127.0.0.1 and return its address.
    async fn serve(app: Router) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    /// A listener that only counts the TCP connections made to it and closes them.
    async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                drop(sock);
            }
        });
        (addr, count)
    }

    /// A hand-written HTTP/1.1 server: reads the request head, then lets `respond` write
    /// whatever it likes (for bodies axum would not produce: endless, stalled).
    async fn raw_server<F, Fut>(respond: F) -> SocketAddr
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                tokio::spawn(respond(sock));
            }
        });
        addr
    }

    fn dev_with_timeout(timeout: Duration) -> Fetcher {
        Fetcher::new(FetchPolicy {
            timeout,
            ..FetchPolicy::dev()
        })
    }

    #[test]
    fn address_table() {
        // (address, allowed in production, allowed in dev, range)
        let table: &[(&str, bool, bool, &str)] = &[
            ("8.8.8.8", true, true, "public v4"),
            ("1.1.1.1", true, true, "public v4"),
            ("127.0.0.1", false, true, "loopback 127/8"),
            ("127.255.255.254", false, true, "loopback 127/8, far end"),
            ("10.0.0.1", false, false, "private 10/8"),
            ("172.16.0.1", false, false, "private 172.16/12"),
            ("172.31.255.255", false, false, "private 172.16/12, far end"),
            ("172.15.255.255", true, true, "just below 172.16/12"),
            ("172.32.0.0", true, true, "just above 172.16/12"),
            ("192.168.1.1", false, false, "private 192.168/16"),
            ("100.64.0.1", false, false, "cgnat 100.64/10"),
            ("100.127.255.255", false, false, "cgnat 100.64/10, far end"),
            ("100.63.255.255", true, true, "just below 100.64/10"),
            ("100.128.0.0", true, true, "just above 100.64/10"),
            ("169.254.169.254", false, false, "link-local 169.254/16"),
            ("0.0.0.0", false, false, "this network 0/8"),
            ("0.1.2.3", false, false, "this network 0/8"),
            ("224.0.0.1", false, false, "multicast 224/4"),
            ("239.255.255.250", false, false, "multicast 224/4"),
            ("255.255.255.255", false, false, "broadcast"),
            ("240.0.0.1", false, false, "reserved 240/4"),
            (
                "192.0.0.8",
                false,
                false,
                "ietf protocol assignments 192.0.0/24",
            ),
            ("192.0.2.1", false, false, "documentation 192.0.2/24"),
            ("198.51.100.1", false, false, "documentation 198.51.100/24"),
            ("203.0.113.1", false, false, "documentation 203.0.113/24"),
            ("192.88.99.1", false, false, "6to4 relay 192.88.99/24"),
            ("198.18.0.1", false, false, "benchmarking 198.18/15"),
            (
                "198.19.255.255",
                false,
                false,
                "benchmarking 198.18/15, far end",
            ),
            ("198.17.255.255", true, true, "just below 198.18/15"),
            ("198.20.0.0", true, true, "just above 198.18/15"),
            ("223.255.255.255", true, true, "last unicast v4"),
            ("2606:4700:4700::1111", true, true, "public v6"),
            ("2a00:1450:4001::1", true, true, "public v6"),
            ("::", false, false, "v6 unspecified"),
            ("::1", false, true, "v6 loopback"),
            ("fc00::1", false, false, "unique local fc00::/7"),
            ("fd12:3456::1", false, false, "unique local fc00::/7"),
            ("fe80::1", false, false, "link-local fe80::/10"),
            ("fec0::1", false, false, "site-local fec0::/10"),
            ("ff02::1", false, false, "multicast ff00::/8"),
            ("2001:db8::1", false, false, "documentation 2001:db8::/32"),
            ("3fff::1", false, false, "documentation 3fff::/20"),
            ("2001::1", false, false, "teredo / ietf 2001::/23"),
            ("100::1", false, false, "discard 100::/64"),
            ("::ffff:10.0.0.1", false, false, "v4-mapped private"),
            (
                "::ffff:169.254.169.254",
                false,
                false,
                "v4-mapped link-local",
            ),
            ("::ffff:127.0.0.1", false, true, "v4-mapped loopback"),
            ("::ffff:8.8.8.8", true, true, "v4-mapped public"),
            ("::10.0.0.1", false, false, "v4-compatible private"),
            ("::8.8.8.8", true, true, "v4-compatible public"),
            ("64:ff9b::10.0.0.1", false, false, "nat64 of private"),
            (
                "64:ff9b::169.254.169.254",
                false,
                false,
                "nat64 of link-local",
            ),
            ("64:ff9b::8.8.8.8", true, true, "nat64 of public"),
            (
                "64:ff9b:1::1",
                false,
                false,
                "local-use nat64 64:ff9b:1::/48",
            ),
            ("2002:0a00:0001::1", false, false, "6to4 of private"),
            ("2002:0808:0808::1", true, true, "6to4 of public"),
        ];
        for &(addr, production, dev, range) in table {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(
                address_allowed(ip, false),
                production,
                "{addr} ({range}) in production"
            );
            assert_eq!(address_allowed(ip, true), dev, "{addr} ({range}) in dev");
        }
    }

    #[test]
    fn plain_reqwest_clients_work_after_installing_the_provider() {
        install_default_tls_provider();
        install_default_tls_provider(); // idempotent
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        let _client = reqwest::Client::new(); // would panic without a default provider
    }

    #[test]
    fn policies() {
        let p = FetchPolicy::production();
        assert!(!p.allow_loopback);
        assert_eq!(p.timeout, Duration::from_secs(5));
        assert_eq!(p.max_bytes, 64 * 1024);
        let d = FetchPolicy::dev();
        assert!(d.allow_loopback);
        assert_eq!((d.timeout, d.max_bytes), (p.timeout, p.max_bytes));
    }

    #[tokio::test]
    async fn bad_urls_are_refused_before_any_request() {
        let prod = Fetcher::new(FetchPolicy::production());
        let dev = Fetcher::new(FetchPolicy::dev());
        for f in [&prod, &dev] {
            assert_eq!(
                f.get_json("not a url").await,
                Err(FetchError::BadUrl("not a valid url"))
            );
            assert_eq!(
                f.get_json("ftp://example.com/jwks").await,
                Err(FetchError::NotHttps)
            );
            assert_eq!(
                f.get_json("file:///etc/passwd").await,
                Err(FetchError::NotHttps)
            );
            assert_eq!(
                f.get_json("https://user:pw@example.com/jwks").await,
                Err(FetchError::BadUrl("user info is not allowed"))
            );
            assert_eq!(
                f.get_json("https://user@example.com/jwks").await,
                Err(FetchError::BadUrl("user info is not allowed"))
            );
            // Plain http to a public or private host, even in dev mode.
            assert_eq!(
                f.get_json("http://example.com/jwks").await,
                Err(FetchError::NotHttps)
            );
            assert_eq!(
                f.get_json("http://10.0.0.1/jwks").await,
                Err(FetchError::NotHttps)
            );
            // IP literals are vetted before connecting.
            assert_eq!(
                f.get_json("https://10.0.0.1/jwks").await,
                Err(FetchError::ForbiddenAddress("10.0.0.1".into()))
            );
            assert_eq!(
                f.get_json("https://169.254.169.254/latest/meta-data").await,
                Err(FetchError::ForbiddenAddress("169.254.169.254".into()))
            );
            assert!(matches!(
                f.get_json("https://[::ffff:192.168.0.1]/jwks").await,
                Err(FetchError::ForbiddenAddress(_))
            ));
            assert!(matches!(
                f.get_json("https://[fe80::1]/jwks").await,
                Err(FetchError::ForbiddenAddress(_))
            ));
        }
        // Unusual IPv4 spellings are normalised by the URL parser, then refused.
        assert_eq!(
            prod.get_json("https://0x7f.1/").await,
            Err(FetchError::ForbiddenAddress("127.0.0.1".into()))
        );
        assert_eq!(
            prod.get_json("https://2130706433/").await,
            Err(FetchError::ForbiddenAddress("127.0.0.1".into()))
        );
    }

    #[test]
    fn messages_are_short_and_client_safe() {
        let e = FetchError::ForbiddenAddress("10.0.0.1".into());
        assert_eq!(
            format!("jwks_uri: {e}"),
            "jwks_uri: address 10.0.0.1 is not allowed"
        );
        assert_eq!(FetchError::NotHttps.to_string(), "url must use https");
        assert_eq!(
            FetchError::Redirect.to_string(),
            "redirects are not followed"
        );
        assert_eq!(
            FetchError::Status(404).to_string(),
            "server answered with http status 404"
        );
        for e in [
            FetchError::BadUrl("not a valid url"),
            FetchError::NotHttps,
            FetchError::Redirect,
            FetchError::Status(500),
            FetchError::TooLarge,
            FetchError::Timeout,
            FetchError::NotJson,
        ] {
            let m = e.to_string();
            assert_eq!(m, m.to_lowercase(), "{m}");
            assert!(!m.ends_with('.') && m.len() < 60, "{m}");
        }
    }

    #[tokio::test]
    async fn dev_policy_fetches_json_over_loopback_http() {
        let app = Router::new().route(
            "/jwks",
            get(|| async { axum::Json(serde_json::json!({"keys": [{"kid": "k1"}]})) }),
        );
        let addr = serve(app).await;
        let f = Fetcher::new(FetchPolicy::dev());
        let doc = f
            .get_json(&format!("http://127.0.0.1:{}/jwks", addr.port()))
            .await
            .unwrap();
        assert_eq!(doc["keys"][0]["kid"], "k1");
        // By name too: `localhost` goes through the guarded resolver, which allows loopback
        // in dev mode.
        let doc = f
            .get_json(&format!("http://localhost:{}/jwks", addr.port()))
            .await
            .unwrap();
        assert_eq!(doc["keys"][0]["kid"], "k1");
    }

    #[tokio::test]
    async fn production_refuses_loopback_without_connecting() {
        let (addr, connections) = counting_listener().await;
        let port = addr.port();
        let f = Fetcher::new(FetchPolicy::production());
        assert_eq!(
            f.get_json(&format!("http://127.0.0.1:{port}/jwks")).await,
            Err(FetchError::NotHttps)
        );
        assert_eq!(
            f.get_json(&format!("http://localhost:{port}/jwks")).await,
            Err(FetchError::NotHttps)
        );
        assert_eq!(
            f.get_json(&format!("https://127.0.0.1:{port}/jwks")).await,
            Err(FetchError::ForbiddenAddress("127.0.0.1".into()))
        );
        assert_eq!(
            f.get_json(&format!("https://[::1]:{port}/jwks")).await,
            Err(FetchError::ForbiddenAddress("::1".into()))
        );
        // A name: refused by the resolver the client connects with.
        match f.get_json(&format!("https://localhost:{port}/jwks")).await {
            Err(FetchError::ForbiddenAddress(what)) => {
                assert!(what.starts_with("localhost ("), "{what}")
            }
            other => panic!("expected ForbiddenAddress, got {other:?}"),
        }
        assert_eq!(connections.load(Ordering::SeqCst), 0);

        // Control: in dev mode the same https://localhost URL does reach the listener
        // (and fails in TLS, since the listener speaks none), so the count above can fail.
        let dev = Fetcher::new(FetchPolicy::dev());
        let r = dev
            .get_json(&format!("https://localhost:{port}/jwks"))
            .await;
        assert!(matches!(r, Err(FetchError::Network(_))), "{r:?}");
        assert!(connections.load(Ordering::SeqCst) >= 1);
    }

    #[tokio::test]
    async fn resolver_keeps_only_allowed_addresses() {
        let prod = GuardedResolver {
            allow_loopback: false,
            dns: None,
        };
        let err = prod
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                err.downcast_ref::<ResolveError>(),
                Some(ResolveError::Refused(_))
            ),
            "{err:?}"
        );
        let dev = GuardedResolver {
            allow_loopback: true,
            dns: None,
        };
        let addrs: Vec<SocketAddr> = dev
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        // A name that resolves nowhere (.invalid is reserved, RFC 6761 §6.4).
        let err = dev
            .resolve("nothing.invalid".parse().unwrap())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                err.downcast_ref::<ResolveError>(),
                Some(ResolveError::NoAddress)
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn redirect_is_not_followed() {
        let start_hits = Arc::new(AtomicUsize::new(0));
        let target_hits = Arc::new(AtomicUsize::new(0));
        let (s, t) = (start_hits.clone(), target_hits.clone());
        let app = Router::new()
            .route(
                "/start",
                get(move || async move {
                    s.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::FOUND, [(header::LOCATION, "/target")])
                }),
            )
            .route(
                "/target",
                get(move || async move {
                    t.fetch_add(1, Ordering::SeqCst);
                    axum::Json(serde_json::json!({"keys": []}))
                }),
            );
        let addr = serve(app).await;
        let f = Fetcher::new(FetchPolicy::dev());
        assert_eq!(
            f.get_json(&format!("http://127.0.0.1:{}/start", addr.port()))
                .await,
            Err(FetchError::Redirect)
        );
        assert_eq!(start_hits.load(Ordering::SeqCst), 1);
        assert_eq!(target_hits.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn non_2xx_is_status() {
        let app = Router::new().route(
            "/gone",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "{}") }),
        );
        let addr = serve(app).await;
        let f = Fetcher::new(FetchPolicy::dev());
        let base = format!("http://127.0.0.1:{}", addr.port());
        assert_eq!(
            f.get_json(&format!("{base}/missing")).await,
            Err(FetchError::Status(404))
        );
        assert_eq!(
            f.get_json(&format!("{base}/gone")).await,
            Err(FetchError::Status(500))
        );
    }

    #[tokio::test]
    async fn body_over_the_limit_is_too_large() {
        let app = Router::new()
            .route("/big", get(|| async { format!("[{}]", "1,".repeat(600)) }))
            .route("/small", get(|| async { "[1,2,3]" }));
        let addr = serve(app).await;
        let f = Fetcher::new(FetchPolicy {
            max_bytes: 1000,
            ..FetchPolicy::dev()
        });
        let base = format!("http://127.0.0.1:{}", addr.port());
        assert_eq!(
            f.get_json(&format!("{base}/big")).await,
            Err(FetchError::TooLarge)
        );
        assert_eq!(
            f.get_json(&format!("{base}/small")).await,
            Ok(serde_json::json!([1, 2, 3]))
        );
    }

    #[tokio::test]
    async fn endless_chunked_body_stops_at_the_limit() {
        // No Content-Length and no end: only counting while streaming can stop this, and it
        // must do so well before the time limit.
        let addr = raw_server(|mut sock| async move {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                        transfer-encoding: chunked\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
            while sock.write_all(chunk.as_bytes()).await.is_ok() {}
        })
        .await;
        let f = dev_with_timeout(Duration::from_secs(10));
        let started = Instant::now();
        assert_eq!(
            f.get_json(&format!("http://127.0.0.1:{}/jwks", addr.port()))
                .await,
            Err(FetchError::TooLarge)
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn slow_server_times_out() {
        let app = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "{}"
            }),
        );
        let addr = serve(app).await;
        let f = dev_with_timeout(Duration::from_millis(300));
        let started = Instant::now();
        assert_eq!(
            f.get_json(&format!("http://127.0.0.1:{}/slow", addr.port()))
                .await,
            Err(FetchError::Timeout)
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn stalled_body_times_out() {
        // Headers promptly, then a body that never completes: the limit covers the body too.
        let addr = raw_server(|mut sock| async move {
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"keys\":";
            let _ = sock.write_all(head.as_bytes()).await;
            tokio::time::sleep(Duration::from_secs(10)).await;
        })
        .await;
        let f = dev_with_timeout(Duration::from_millis(300));
        let started = Instant::now();
        assert_eq!(
            f.get_json(&format!("http://127.0.0.1:{}/jwks", addr.port()))
                .await,
            Err(FetchError::Timeout)
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn non_json_body_is_not_json() {
        let app = Router::new().route("/html", get(|| async { "<html>hello</html>" }));
        let addr = serve(app).await;
        let f = Fetcher::new(FetchPolicy::dev());
        assert_eq!(
            f.get_json(&format!("http://127.0.0.1:{}/html", addr.port()))
                .await,
            Err(FetchError::NotJson)
        );
    }
    fn dns(entries: &[(&str, &[&str])]) -> StaticDns {
        Arc::new(
            entries
                .iter()
                .map(|(name, ips)| {
                    let ips = ips.iter().map(|ip| ip.parse().unwrap()).collect();
                    (name.to_string(), ips)
                })
                .collect(),
        )
    }

    /// Issue 8 part 6, through DNS: a name that resolves to a refused address is refused by
    /// the resolver the connection uses, in production and (except loopback) in dev mode.
    #[tokio::test]
    async fn names_resolving_to_special_addresses_are_refused() {
        let refused: &[&str] = &[
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "192.0.2.1",
            "fe80::1",
            "fc00::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ];
        for ip in refused {
            let table = dns(&[("internal.test", &[ip])]);
            for policy in [FetchPolicy::production(), FetchPolicy::dev()] {
                let f = Fetcher::with_static_dns(policy.clone(), table.clone());
                match f.get_json("https://internal.test/jwks").await {
                    Err(FetchError::ForbiddenAddress(what)) => {
                        assert!(what.starts_with("internal.test ("), "{ip}: {what}")
                    }
                    other => panic!("{ip} (dev: {}): {other:?}", policy.allow_loopback),
                }
            }
        }
    }

    /// A name pointing at loopback: refused in production without any connection being
    /// made; reached in dev mode (the control that shows the counter can move).
    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_outside_dev() {
        let (addr, connections) = counting_listener().await;
        let table = dns(&[("looks-public.example", &["127.0.0.1"])]);
        let url = format!("https://looks-public.example:{}/jwks", addr.port());
        let prod = Fetcher::with_static_dns(FetchPolicy::production(), table.clone());
        assert!(matches!(
            prod.get_json(&url).await,
            Err(FetchError::ForbiddenAddress(_))
        ));
        assert_eq!(connections.load(Ordering::SeqCst), 0);
        let dev = Fetcher::with_static_dns(FetchPolicy::dev(), table);
        assert!(matches!(
            dev.get_json(&url).await,
            Err(FetchError::Network(_))
        ));
        assert!(connections.load(Ordering::SeqCst) >= 1);
    }

    /// Mixed answers (rebinding-style): only the allowed addresses are kept, so the
    /// connection can never go to the refused one.
    #[test]
    fn mixed_answers_keep_only_allowed_addresses() {
        let v = |ips: &[&str]| -> Vec<SocketAddr> {
            ips.iter()
                .map(|ip| SocketAddr::new(ip.parse().unwrap(), 0))
                .collect()
        };
        let kept =
            vetted_addresses("x.example", v(&["10.0.0.1", "8.8.8.8", "::1"]), false).unwrap();
        assert_eq!(kept, v(&["8.8.8.8"]));
        assert!(matches!(
            vetted_addresses("x.example", v(&["10.0.0.1", "169.254.169.254"]), false),
            Err(ResolveError::Refused(_))
        ));
        assert!(matches!(
            vetted_addresses("x.example", vec![], false),
            Err(ResolveError::NoAddress)
        ));
        // `localhost` names are loopback only, whatever the resolver says (RFC 6761).
        assert!(matches!(
            vetted_addresses("evil.localhost", v(&["8.8.8.8"]), true),
            Err(ResolveError::Refused(_))
        ));
    }

    /// Through a redirect: a server answering 302 to another address (here a second
    /// loopback listener, reachable in dev mode) is not followed; nothing connects there.
    #[tokio::test]
    async fn redirects_to_other_hosts_are_not_followed() {
        let (target, connections) = counting_listener().await;
        for location in [
            format!("http://127.0.0.1:{}/jwks", target.port()),
            format!("http://localhost:{}/jwks", target.port()),
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "http://10.0.0.1/jwks".to_string(),
            "https://[fe80::1]/jwks".to_string(),
        ] {
            let loc = location.clone();
            let app = Router::new().route(
                "/jwks",
                get(move || {
                    let loc = loc.clone();
                    async move { (StatusCode::FOUND, [(header::LOCATION, loc)]) }
                }),
            );
            let addr = serve(app).await;
            let f = Fetcher::new(FetchPolicy::dev());
            assert_eq!(
                f.get_json(&format!("http://127.0.0.1:{}/jwks", addr.port()))
                    .await,
                Err(FetchError::Redirect),
                "{location}"
            );
        }
        assert_eq!(connections.load(Ordering::SeqCst), 0);
    }
}
