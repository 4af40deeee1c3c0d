//! `application/x-www-form-urlencoded` bodies and queries, and HTTP Basic credentials:
//! the byte-level parsing every OAuth endpoint starts with, here (no HTTP types) so it can
//! be fuzzed on its own.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// Not form-encoded (invalid UTF-8 is decoded lossily, not refused).
    Malformed,
    /// A parameter given twice (RFC 6749 §3.2: each may appear at most once).
    Duplicate(String),
}

/// The parameters that may be given more than once: `resource` (RFC 8707 §2, "may be
/// specified multiple times"). Every other parameter is single-valued.
pub const REPEATABLE: &[&str] = &["resource"];

/// Parsed parameters: each single-valued one once, each repeatable one (`REPEATABLE`) with
/// all its values in the order given. Empty values count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    single: HashMap<String, String>,
    repeated: HashMap<String, Vec<String>>,
    /// Single-valued parameters a lenient query gave more than once, in order, each once.
    repeats: Vec<String>,
}

impl Fields {
    /// A single-valued parameter (for a repeatable one: its first value).
    pub fn get(&self, k: &str) -> Option<&String> {
        self.single
            .get(k)
            .or_else(|| self.repeated.get(k).and_then(|v| v.first()))
    }

    /// Every value of a repeatable parameter, in order; empty when absent.
    pub fn all(&self, k: &str) -> &[String] {
        self.repeated.get(k).map(Vec::as_slice).unwrap_or_default()
    }

    /// The first single-valued parameter a query gave more than once (`parse_query` keeps
    /// its last value): RFC 6749 §3.1 says no parameter may be sent twice, so an endpoint
    /// that must refuse repeats (the authorization endpoint) asks here.
    pub fn first_repeat(&self) -> Option<&str> {
        self.repeats.first().map(String::as_str)
    }

    pub fn contains_key(&self, k: &str) -> bool {
        self.get(k).is_some()
    }

    /// Every value, single and repeated.
    pub fn values(&self) -> impl Iterator<Item = &String> {
        self.single.values().chain(self.repeated.values().flatten())
    }

    /// Adds a value: a repeatable parameter keeps it beside the others; `Err` when a
    /// single-valued one already has a value (the caller decides whether that is an error).
    fn add(&mut self, k: String, v: String) -> Result<(), (String, String)> {
        if REPEATABLE.contains(&k.as_str()) {
            self.repeated.entry(k).or_default().push(v);
            return Ok(());
        }
        if self.single.contains_key(&k) {
            return Err((k, v));
        }
        self.single.insert(k, v);
        Ok(())
    }
}

/// A form body as parameters: empty values count as absent (some clients send every
/// field), a repeated single-valued parameter is an error (RFC 6749 §3.2), a repeatable
/// one keeps every value.
pub fn parse_form(body: &[u8]) -> Result<Fields, FormError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| FormError::Malformed)?;
    let mut fields = Fields::default();
    for (k, v) in pairs {
        if v.is_empty() {
            continue;
        }
        fields.add(k, v).map_err(|(k, _)| FormError::Duplicate(k))?;
    }
    Ok(fields)
}

/// A query string as parameters, leniently: malformed gives none, empty values are
/// dropped, the last of a repeated single-valued parameter wins (and it is named by
/// `Fields::first_repeat`); a repeatable one keeps every value.
pub fn parse_query(raw: &str) -> Fields {
    let mut fields = Fields::default();
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(raw).unwrap_or_default() {
        if v.is_empty() {
            continue;
        }
        if let Err((k, v)) = fields.add(k, v) {
            if !fields.repeats.contains(&k) {
                fields.repeats.push(k.clone());
            }
            fields.single.insert(k, v);
        }
    }
    fields
}

/// The `(client_id, secret)` of an `Authorization` header value: `None` when it is not
/// Basic, `Err` when it is malformed (RFC 6749 §2.3.1: both parts are form-encoded).
pub fn parse_basic(value: &str) -> Option<Result<(String, String), ()>> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let parse = || -> Result<(String, String), ()> {
        let text =
            String::from_utf8(STANDARD.decode(rest.trim()).map_err(|_| ())?).map_err(|_| ())?;
        let (id, secret) = text.split_once(':').ok_or(())?;
        let decode = |s: &str| -> Result<String, ()> {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(&format!("v={s}")).map_err(|_| ())?;
            Ok(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
        };
        Ok((decode(id)?, decode(secret)?))
    };
    Some(parse())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn forms_queries_and_basic() {
        let f = parse_form(b"a=1&b=&c=x%20y+z").unwrap();
        assert_eq!(f.get("a").map(String::as_str), Some("1"));
        assert!(!f.contains_key("b"));
        assert_eq!(f.get("c").map(String::as_str), Some("x y z"));
        assert_eq!(
            parse_form(b"a=1&a=2"),
            Err(FormError::Duplicate("a".into()))
        );
        assert_eq!(
            parse_query("x=1&x=2").get("x").map(String::as_str),
            Some("2")
        );
        assert_eq!(parse_query("x=1&y=1&y=2&x=3").first_repeat(), Some("y"));
        assert_eq!(parse_query("x=1&x=").first_repeat(), None);
        assert_eq!(parse_query("resource=a&resource=b").first_repeat(), None);
        // RFC 8707 §2: `resource` may repeat, in forms and queries alike, and keeps order.
        let f = parse_form(b"resource=https%3A%2F%2Fa&scope=x&resource=https%3A%2F%2Fb").unwrap();
        assert_eq!(f.all("resource"), ["https://a", "https://b"]);
        assert_eq!(f.get("scope").map(String::as_str), Some("x"));
        assert!(f.all("scope").is_empty());
        let q = parse_query("resource=a&x=1&resource=b&resource=");
        assert_eq!(q.all("resource"), ["a", "b"]);
        assert_eq!(q.get("resource").map(String::as_str), Some("a"));
        assert!(parse_query("y=1").all("resource").is_empty());
        assert_eq!(
            parse_basic(&format!("Basic {}", STANDARD.encode("my%20id:s%3Acret"))),
            Some(Ok(("my id".into(), "s:cret".into())))
        );
        assert_eq!(parse_basic("Bearer x"), None);
        assert_eq!(parse_basic("Basic !!!"), Some(Err(())));
    }
}
