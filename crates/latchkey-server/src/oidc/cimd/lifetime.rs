//! How long a fetched metadata document is kept (the draft: RFC 9111 within the server's
//! own bounds): its freshness lifetime (RFC 9111 §4.2.1) from `Cache-Control` or
//! `Expires`, less its `Age`, clamped to the realm's bounds.

use std::time::{Duration, UNIX_EPOCH};

use latchkey_core::Millis;

use crate::fetch::Fetched;

/// Seconds to keep the document, between `min` and `max`. `no-store` and `no-cache` (a
/// document that must be revalidated on every use) and a response without any freshness
/// information get `min`: the server never fetches more often than that.
pub fn seconds(fetched: &Fetched, now: Millis, min: u64, max: u64) -> u64 {
    let directives: Vec<(String, Option<String>)> = fetched
        .cache_control
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter_map(|d| {
            let d = d.trim();
            if d.is_empty() {
                return None;
            }
            let (name, value) = match d.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"').to_string())),
                None => (d, None),
            };
            Some((name.to_ascii_lowercase(), value))
        })
        .collect();
    let has = |name: &str| directives.iter().any(|(n, _)| n == name);
    let number = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref()?.parse::<u64>().ok())
    };
    if has("no-store") || has("no-cache") {
        return min;
    }
    // This cache serves every user of the server, so a shared cache's directive wins
    // (RFC 9111 §5.2.2.10).
    let lifetime = number("s-maxage")
        .or_else(|| number("max-age"))
        .or_else(|| {
            let expires = fetched.expires.as_deref()?;
            // An invalid Expires means already expired (RFC 9111 §5.3).
            let Some(expires) = http_date(expires) else {
                return Some(0);
            };
            let date = fetched.date.as_deref().and_then(http_date).unwrap_or(now);
            Some((expires.saturating_sub(date) / 1000).max(0) as u64)
        });
    let Some(lifetime) = lifetime else {
        return min;
    };
    let age = fetched
        .age
        .as_deref()
        .and_then(|a| a.trim().parse::<u64>().ok())
        .unwrap_or(0);
    lifetime.saturating_sub(age).clamp(min, max.max(min))
}

/// An HTTP date (RFC 9110 §5.6.7) as epoch milliseconds.
fn http_date(value: &str) -> Option<Millis> {
    let t = httpdate::parse_http_date(value.trim()).ok()?;
    let d: Duration = t.duration_since(UNIX_EPOCH).ok()?;
    Some(d.as_millis() as Millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(cache_control: Option<&str>, expires: Option<&str>, date: Option<&str>) -> Fetched {
        Fetched {
            body: Vec::new(),
            cache_control: cache_control.map(str::to_string),
            expires: expires.map(str::to_string),
            date: date.map(str::to_string),
            age: None,
        }
    }

    #[test]
    fn lifetimes_follow_rfc_9111_within_the_bounds() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let in_an_hour = "Sun, 06 Nov 1994 09:49:37 GMT";
        let now = http_date(date).unwrap();
        let cases: &[(Option<&str>, Option<&str>, u64)] = &[
            (Some("max-age=3600"), None, 3600),
            (Some("public, max-age=\"3600\""), None, 3600),
            (Some("max-age=3600, s-maxage=600"), None, 600),
            (Some("max-age=10"), None, 300),
            (Some("max-age=999999"), None, 86_400),
            (Some("no-store"), None, 300),
            (Some("no-cache, max-age=3600"), None, 300),
            (None, Some(in_an_hour), 3600),
            (None, Some("not a date"), 300),
            (None, None, 300),
            (Some("max-age=abc"), Some(in_an_hour), 3600),
        ];
        for (cc, expires, expected) in cases {
            let f = fetched(*cc, *expires, Some(date));
            assert_eq!(
                seconds(&f, now, 300, 86_400),
                *expected,
                "{cc:?} {expires:?}"
            );
        }
        let mut aged = fetched(Some("max-age=3600"), None, None);
        aged.age = Some("600".into());
        assert_eq!(seconds(&aged, now, 300, 86_400), 3000);
    }
}
