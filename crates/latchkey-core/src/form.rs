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

/// A form body as parameters: empty values count as absent (some clients send every
/// field), a repeated parameter is an error.
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, FormError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| FormError::Malformed)?;
    let mut map = HashMap::new();
    for (k, v) in pairs {
        if v.is_empty() {
            continue;
        }
        if map.contains_key(&k) {
            return Err(FormError::Duplicate(k));
        }
        map.insert(k, v);
    }
    Ok(map)
}

/// A query string as parameters, leniently: malformed gives none, empty values are
/// dropped, the last of a repeated parameter wins.
pub fn parse_query(raw: &str) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
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
        assert_eq!(
            parse_basic(&format!("Basic {}", STANDARD.encode("my%20id:s%3Acret"))),
            Some(Ok(("my id".into(), "s:cret".into())))
        );
        assert_eq!(parse_basic("Bearer x"), None);
        assert_eq!(parse_basic("Basic !!!"), Some(Err(())));
    }
}
