//! The address guard: which addresses an outbound connection may go to, and the DNS
//! resolver the client connects with, which keeps only those (so the address vetted is the
//! address connected to).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Fixed DNS answers (tests): host name → addresses, used instead of the system resolver
/// but still vetted by the guard.
pub type StaticDns = Arc<std::collections::HashMap<String, Vec<IpAddr>>>;
/// Why the guarded resolver gave no address; found again in the error chain by `classify`.
#[derive(Debug, thiserror::Error)]
pub(super) enum ResolveError {
    /// The name resolved only to refused addresses (the first one is named).
    #[error("address {0} is not allowed")]
    Refused(String),
    #[error("host name does not resolve")]
    NoAddress,
}

/// The resolver the client connects with: it keeps only allowed addresses, so a
/// connection can only be made to an address that passed [`address_allowed`].
pub(super) struct GuardedResolver {
    pub(super) allow_loopback: bool,
    /// `None`: the system resolver.
    pub(super) dns: Option<StaticDns>,
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
pub(super) fn vetted_addresses(
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

/// The URL's host as an IP address, if it is a literal (`Url` gives IPv6 in brackets and
/// has already normalised IPv4 spellings such as `0x7f.1` to dotted quads).
pub(super) fn literal_ip(host: &str) -> Option<IpAddr> {
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
pub(super) fn is_loopback_host(host: &str, literal: Option<IpAddr>) -> bool {
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
}
