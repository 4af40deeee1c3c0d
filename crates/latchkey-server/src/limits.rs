//! Abuse limits, per node: how many anonymous registrations and failed
//! registration-access-token / initial-access-token attempts one address may make in a
//! window (429 with `Retry-After`), and how large a request's headers may be (431). The
//! body limit is `--max-request-size` (413); both refusals carry an OAuth-style JSON body
//! (`boundary::guard`). A limit never refuses a valid credential: only failing attempts
//! are counted.
//!
//! A [`Throttle`] is a fixed-window counter per address in a bounded map: when full, expired
//! windows are pruned first and, if that is not enough, the oldest window is dropped, so an
//! attacker with many addresses costs memory of at most [`MAX_TRACKED`] entries and can only
//! make the server forget counts, never refuse an address it has not seen.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Addresses tracked per throttle at most.
pub const MAX_TRACKED: usize = 65_536;

/// Events of refused unauthenticated registration requests stored per address and window;
/// beyond it they are only counted (`latchkey_events_not_stored_total`). Always on, in
/// `start-dev` too: it refuses nobody, it only bounds what strangers can make us store.
pub const REFUSED_EVENTS_STORED: u32 = 60;

/// Wrong device user codes (RFC 8628 §5.1) per address and window. Always on, in
/// `start-dev` too: a person mistypes a few times, a guesser of the 20^8 codes needs
/// billions of tries, and at this rate an address makes about 14,000 a day.
pub const FAILED_USER_CODES: u32 = 10;

/// The limits a server runs with (`--anonymous-registration-limit`, `--failed-token-limit`,
/// `--failed-password-limit`, `--authorization-request-limit`, `--rate-limit-window`,
/// `--max-header-size`, `--http-read-timeout`). A limit of 0 is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Anonymous registration requests per address per window.
    pub anonymous_registrations: u32,
    /// Failed registration-access-token or initial-access-token attempts per address per
    /// window.
    pub failed_tokens: u32,
    /// Failed passwords per address per window, at the login form and the password grant
    /// together (`brute_force.rs`); off in `start-dev`.
    pub failed_passwords: u32,
    /// Authorization requests per address per window: each stores a pending request until
    /// the user signs in, so strangers must not be able to store them at will.
    pub authorization_requests: u32,
    pub window: Duration,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// How long a client may take to send a request head, and then its body; a
    /// connection without a request in flight for that long is closed. Without it a
    /// client that sends part of a request and stops holds a socket forever (slowloris).
    pub read_timeout: Duration,
}

impl Limits {
    pub const DEFAULT_ANONYMOUS_REGISTRATIONS: u32 = 20;
    pub const DEFAULT_FAILED_TOKENS: u32 = 10;
    /// Generous: one office behind one address mistyping passwords stays under it, a
    /// password spray from one address does not.
    pub const DEFAULT_FAILED_PASSWORDS: u32 = 100;
    /// Ten a second: far above what the people behind one address start.
    pub const DEFAULT_AUTHORIZATION_REQUESTS: u32 = 600;
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
    /// Keycloak's (Quarkus's) HTTP read timeout is 60 s and nginx's
    /// `client_header_timeout` and `client_body_timeout` 60 s; a request here is at most
    /// 16 KiB of head and 64 KiB of body, which a client on a poor link sends well within
    /// half that.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

    /// No rate limit, and only the default header limit (in-process tests).
    pub const fn off() -> Self {
        Limits {
            anonymous_registrations: 0,
            failed_tokens: 0,
            failed_passwords: 0,
            authorization_requests: 0,
            window: Self::DEFAULT_WINDOW,
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
        }
    }
}

impl Default for Limits {
    /// What `latchkey start` and `start-dev` use unless told otherwise.
    fn default() -> Self {
        Limits {
            anonymous_registrations: Self::DEFAULT_ANONYMOUS_REGISTRATIONS,
            failed_tokens: Self::DEFAULT_FAILED_TOKENS,
            failed_passwords: Self::DEFAULT_FAILED_PASSWORDS,
            authorization_requests: Self::DEFAULT_AUTHORIZATION_REQUESTS,
            window: Self::DEFAULT_WINDOW,
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
        }
    }
}

/// Counts events per address in fixed windows.
#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// `limit` 0: never refuses, keeps nothing.
    pub fn new(limit: u32, window: Duration) -> Self {
        Throttle {
            limit,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when `key` has used its allowance in the current window.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.limit == 0 {
            return Ok(());
        }
        let map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        self.wait(&map, key, self.limit)
    }

    /// How long `key` must wait when it has used `limit` events in its current window.
    fn wait(
        &self,
        map: &HashMap<String, (u32, Instant)>,
        key: &str,
        limit: u32,
    ) -> Result<(), Duration> {
        match map.get(key) {
            Some((n, since)) if *n >= limit => match self.window.checked_sub(since.elapsed()) {
                Some(left) if !left.is_zero() => Err(left),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Counts one event for `key`.
    pub fn count(&self, key: &str) {
        if self.limit == 0 {
            return;
        }
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        self.count_locked(&mut map, key);
    }

    fn count_locked(&self, map: &mut HashMap<String, (u32, Instant)>, key: &str) {
        if map.len() >= MAX_TRACKED && !map.contains_key(key) {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
            if map.len() >= MAX_TRACKED {
                // Still full of live windows: drop the oldest eighth at once, so that the
                // O(n) pass runs once per MAX_TRACKED / 8 new addresses, not per request.
                let mut starts: Vec<Instant> = map.values().map(|(_, since)| *since).collect();
                let cut = starts.len() / 8;
                let (_, cutoff, _) = starts.select_nth_unstable(cut);
                let cutoff = *cutoff;
                map.retain(|_, (_, since)| *since > cutoff);
            }
        }
        let entry = map.entry(key.to_string()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 = entry.0.saturating_add(1);
    }

    /// Checks, then counts: for events limited as they happen (anonymous registrations).
    pub fn hit(&self, key: &str) -> Result<(), Duration> {
        self.hit_with(key, None)
    }

    /// As `hit`, under `limit` instead of the throttle's own when one is given (a realm's
    /// own limit); 0 never refuses.
    pub fn hit_with(&self, key: &str, limit: Option<u32>) -> Result<(), Duration> {
        let limit = limit.unwrap_or(self.limit);
        if limit == 0 {
            return Ok(());
        }
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        self.wait(&map, key, limit)?;
        self.count_locked(&mut map, key);
        Ok(())
    }

    /// Takes back one event of `key`'s current window: an attempt counted by `hit` before
    /// its outcome was known (so that concurrent attempts cannot all pass the check), whose
    /// outcome does not count (a right password).
    pub fn uncount(&self, key: &str) {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, since)) = map.get_mut(key)
            && since.elapsed() < self.window
        {
            *n = n.saturating_sub(1);
        }
    }

    pub fn tracked(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// The key an address is counted under: an IPv4 address as is, an IPv6 address by its /64
/// (one host commonly holds a whole /64, so counting single addresses would let it rotate
/// through 2^64 of them); IPv4-mapped IPv6 as the IPv4 address. Unparseable or absent: one
/// shared key.
pub fn address_key(ip: Option<&str>) -> String {
    match ip.and_then(|s| s.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Some(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".to_string(),
    }
}

/// Whole seconds to wait, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// 429 with `Retry-After` and an OAuth-style body.
pub fn too_many_requests(wait: Duration, description: &str) -> Response {
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({"error": "too_many_requests", "error_description": description})),
    )
        .into_response();
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs(wait)),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_counts_per_key_and_window() {
        let t = Throttle::new(2, Duration::from_millis(200));
        assert!(t.hit("a").is_ok());
        assert!(t.hit("a").is_ok());
        let wait = t.hit("a").unwrap_err();
        assert!(wait <= Duration::from_millis(200));
        assert!(t.check("b").is_ok(), "another key is unaffected");
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.hit("a").is_ok(), "a new window starts");
    }

    #[test]
    fn uncount_takes_back_one_event() {
        let t = Throttle::new(2, Duration::from_secs(60));
        assert!(t.hit("a").is_ok());
        assert!(t.hit("a").is_ok());
        t.uncount("a");
        assert!(t.hit("a").is_ok(), "one taken back");
        assert!(t.hit("a").is_err());
        t.uncount("b");
        assert_eq!(t.tracked(), 1, "nothing to take back: nothing kept");
    }

    #[test]
    fn zero_is_off() {
        let t = Throttle::new(0, Duration::from_secs(60));
        for _ in 0..100 {
            assert!(t.hit("a").is_ok());
        }
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn memory_is_bounded() {
        let t = Throttle::new(1, Duration::from_secs(60));
        for i in 0..MAX_TRACKED + 10 {
            t.count(&i.to_string());
        }
        assert!(t.tracked() <= MAX_TRACKED);
        assert!(t.tracked() > MAX_TRACKED / 2);
        // The newest keys are kept.
        assert!(t.check(&(MAX_TRACKED + 9).to_string()).is_err());
    }

    #[test]
    fn addresses_are_keyed_per_host() {
        assert_eq!(address_key(Some("192.0.2.1")), "192.0.2.1");
        assert_eq!(address_key(Some("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1")),
            address_key(Some("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            address_key(Some("2001:db8:1:2::1")),
            address_key(Some("2001:db8:1:3::1"))
        );
        assert_eq!(address_key(None), "unknown");
        assert_eq!(address_key(Some("not an ip")), "unknown");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(60)), 60);
        assert_eq!(retry_after_secs(Duration::from_millis(59_001)), 60);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
