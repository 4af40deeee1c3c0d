//! What the HTTP layer needs of the validated configuration (`ServerSettings`): the
//! public URL's shape, which proxies to believe, dev mode, and the request limits.

use std::net::IpAddr;

use crate::limits::Limits;

/// How to trust proxy headers for the request's public URL (`--proxy-headers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeaders {
    Forwarded,
    XForwarded,
}

/// What the HTTP layer needs of the validated configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Public base URL (`--hostname`), without a trailing slash; `None`: from each request.
    pub hostname: Option<String>,
    /// `--http-relative-path` normalised: `""` for `/`, else `/auth`-like.
    pub relative_path: String,
    pub proxy_headers: Option<ProxyHeaders>,
    /// `--proxy-trusted-addresses`: whose forwarded client address is believed.
    pub proxy_trusted: TrustedProxies,
    /// `start-dev`: relaxed TLS rules.
    pub dev_mode: bool,
    /// Request bodies above this many bytes are refused with 413 (`--max-request-size`).
    pub max_body_size: usize,
    /// Per-address rate limits and the request-head limit (`limits.rs`).
    pub limits: Limits,
}

/// `--proxy-trusted-addresses`: the proxies (addresses or CIDR ranges) whose forwarded
/// headers are believed. Empty: the one proxy in front, whatever its address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// A comma-separated list: `10.0.0.0/8,192.0.2.7,2001:db8::/32`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("--proxy-trusted-addresses: {item:?} is not an address"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits =
                match bits {
                    Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| {
                        format!("--proxy-trusted-addresses: bad prefix in {item:?}")
                    })?,
                    None => max,
                };
            out.push((ip, bits));
        }
        Ok(TrustedProxies(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, bits)| match (canonical(*net), ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
                (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
                _ => false,
            })
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}
