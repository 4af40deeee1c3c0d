//! What a request must be before any handler sees it, checked once for
//! every route: no control character in the path and no path segment longer than an
//! identifier may be (`ident::MAX_LEN`), and no NUL in the query, in an HTTP Basic
//! credential or in the body. A refusal is 400 with an OAuth-style JSON body, before any
//! lookup or event, so neither backend ever sees such input. (PostgreSQL cannot hold a NUL
//! in text; without this check the same request would be a 4xx on SQLite and a 500 there.)
//!
//! Also here: every route answers the same with one trailing `/` (Keycloak's server does,
//! and `@keycloak/keycloak-admin-client` creates realms with `POST /admin/realms/`); and a
//! path no route serves, or a method its route does not take, gets a JSON error body as
//! Keycloak's does (`unrouted`), never an empty one.
//!
//! A body that has not arrived within `--http-read-timeout` is 408 (`check`); the time
//! limits on request heads and idle connections are the binary's, where connections are
//! served.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use latchkey_core::ident;
use percent_encoding::percent_decode;
use serde_json::json;
use tower::ServiceExt;

use crate::state::SharedState;

/// `app`, answering a path that ends in one `/` and matches no route as the same path
/// without it. Routes that exist with the slash (the console's `/admin/`) keep their own.
pub fn with_trailing_slash(app: Router) -> Router {
    let inner = app.clone();
    app.fallback_service(tower::service_fn(move |mut req: Request| {
        let inner = inner.clone();
        async move {
            match without_trailing_slash(req.uri()) {
                Some(uri) => {
                    *req.uri_mut() = uri;
                    inner.oneshot(req).await
                }
                None => Ok(StatusCode::NOT_FOUND.into_response()),
            }
        }
    }))
}

/// The URI without its path's one trailing `/`; `None` when there is none to take.
fn without_trailing_slash(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let trimmed = path.strip_suffix('/')?;
    if trimmed.is_empty() || trimmed.ends_with('/') {
        return None;
    }
    let rebuilt = match uri.query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(rebuilt.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// Fills the empty answers of the router itself (no route: 404; a route without this
/// method: 405, whose `Allow` header stays) with a JSON error body in Keycloak's shape.
/// Handlers always set a content type, so an answer without one came from the router.
pub async fn unrouted(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !matches!(
        status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) || resp.headers().contains_key(header::CONTENT_TYPE)
    {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let body = if status == StatusCode::NOT_FOUND {
        json!({"error": "Unable to find matching target resource method",
               "error_description": "No resource at this path"})
    } else {
        json!({"error": "HTTP 405 Method Not Allowed",
               "error_description": "This resource does not take this method; the Allow header lists those it takes"})
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut out = (status, axum::Json(body)).into_response();
    for (name, value) in parts.headers.iter() {
        out.headers_mut()
            .entry(name)
            .or_insert_with(|| value.clone());
    }
    out
}

/// The middleware: refuses a request whose path, query or Basic credential
/// ([`head_refusal`]) or body ([`body_has_nul`]) breaks the rules above; the body, already
/// bounded by the body limit, is read whole to check it, within `--http-read-timeout`.
pub async fn check(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    if let Some(why) = head_refusal(req.uri(), req.headers()) {
        return bad_request(why);
    }
    if !has_body(&req) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let limit = state.settings.limits.read_timeout;
    let bytes = match tokio::time::timeout(limit, axum::body::to_bytes(body, usize::MAX)).await {
        Ok(Ok(b)) => b,
        // Over the body limit: the guard turns this status into its JSON answer.
        Ok(Err(_)) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        Err(_) => return body_timed_out(parts.version, limit),
    };
    if body_has_nul(&parts.headers, &bytes) {
        return bad_request("the request body contains a NUL character".into());
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// False only for a body known to be empty (a GET, `Content-Length: 0`).
fn has_body(req: &Request) -> bool {
    req.body().size_hint().upper() != Some(0)
}

/// Why the request line or headers are refused, if they are.
fn head_refusal(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    for segment in uri.path().split('/') {
        let Ok(decoded) = percent_decode(segment.as_bytes()).decode_utf8() else {
            return Some("the path is not valid percent-encoded UTF-8".into());
        };
        if let Err(e) = ident::check("a path segment", &decoded) {
            return Some(e.to_string());
        }
    }
    // Forms and queries encode NUL as `%00` and nothing else (a literal "%00" is `%2500`).
    if uri.query().is_some_and(|q| contains(q.as_bytes(), b"%00")) {
        return Some("the query contains a NUL character".into());
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        });
    if basic.is_some_and(|creds| creds.contains(&0) || contains(&creds, b"%00")) {
        return Some("the Basic credentials contain a NUL character".into());
    }
    None
}

/// True when the body carries a NUL: as a raw byte, as JSON's `\u0000` escape in a JSON
/// body, or as `%00` in any other (form-encoded) body.
fn body_has_nul(headers: &HeaderMap, body: &Bytes) -> bool {
    if body.contains(&0) {
        return true;
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    if json {
        json_escaped_nul(body)
    } else {
        contains(body, b"%00")
    }
}

/// A `\u0000` escape in JSON text: a backslash that begins an escape (an odd run of
/// backslashes ends at it) followed by `u0000`. `"\\u0000"` is text, not a NUL.
fn json_escaped_nul(text: &[u8]) -> bool {
    let mut run = 0usize;
    for (i, b) in text.iter().enumerate() {
        if *b == b'\\' {
            run += 1;
            if run % 2 == 1 && text[i + 1..].starts_with(b"u0000") {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn bad_request(description: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": "invalid_request", "error_description": description})),
    )
        .into_response()
}

/// 408 for a body that stalled (RFC 9110 §15.5.9). On HTTP/1 the connection is closed
/// too: the rest of the body may still arrive, and it cannot be told from a next request.
fn body_timed_out(version: Version, limit: Duration) -> Response {
    let mut resp = (
        StatusCode::REQUEST_TIMEOUT,
        axum::Json(json!({
            "error": "invalid_request",
            "error_description": format!(
                "the request body did not arrive within {} seconds",
                limit.as_secs()
            ),
        })),
    )
        .into_response();
    if version < Version::HTTP_2 {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// Size of the request head as received: request line and every header line.
fn head_size(req: &Request) -> usize {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 12;
    req.headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + line
}

/// The outermost layer: 431 for a request head over `--max-header-size`; a 413 produced
/// by the body limit (plain text from tower-http or axum) gets a JSON body.
pub async fn guard(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let max = state.settings.limits.max_header_bytes;
    if max > 0 && head_size(&req) > max {
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            axum::Json(json!({
                "error": "invalid_request",
                "error_description": format!("request headers exceed {max} bytes"),
            })),
        )
            .into_response();
    }
    let resp = next.run(req).await;
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json(&resp) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({
                "error": "invalid_request",
                "error_description": format!(
                    "request body exceeds {} bytes",
                    state.settings.max_body_size
                ),
            })),
        )
            .into_response();
    }
    resp
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries() {
        let refused = |uri: &str| head_refusal(&uri.parse().unwrap(), &HeaderMap::new());
        assert_eq!(
            refused("/realms/master/.well-known/openid-configuration"),
            None
        );
        assert_eq!(
            refused("/realms/m%C3%BCnchen/protocol/openid-connect/certs"),
            None
        );
        assert_eq!(refused("/admin/realms/x/clients?clientId=a%2500b"), None);
        for bad in [
            "/realms/a%00b/.well-known/openid-configuration",
            "/realms/a%0Ab/protocol/openid-connect/token",
            "/realms/a%FF/x",
            "/admin/realms/x/clients?clientId=a%00b",
        ] {
            assert!(refused(bad).is_some(), "{bad}");
        }
        let long = format!(
            "/realms/r/clients-registrations/default/{}",
            "x".repeat(256)
        );
        assert!(refused(&long).unwrap().contains("longer than 255"));
        let ok = format!(
            "/realms/r/clients-registrations/default/{}",
            "x".repeat(255)
        );
        assert_eq!(refused(&ok), None);
    }

    #[test]
    fn basic_credentials() {
        let with = |creds: &[u8]| {
            let mut h = HeaderMap::new();
            let v = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(creds)
            );
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            head_refusal(
                &"/realms/r/protocol/openid-connect/token".parse().unwrap(),
                &h,
            )
        };
        assert_eq!(with(b"client:secret"), None);
        assert!(with(b"conf\0:x").is_some());
        assert!(with(b"conf%00:x").is_some());
    }

    #[test]
    fn bodies() {
        let json = {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
            h
        };
        let form = HeaderMap::new();
        let has = |h: &HeaderMap, b: &str| body_has_nul(h, &Bytes::from(b.to_string()));
        assert!(has(&json, r#"{"clientId":"a\u0000b"}"#));
        assert!(has(&json, r#"{"clientId":"a\\\u0000b"}"#));
        assert!(!has(&json, r#"{"clientId":"a\\u0000b"}"#));
        assert!(!has(&json, r#"{"redirect_uris":["https://x/cb?a=%00"]}"#));
        assert!(has(&form, "grant_type=password&username=a%00b"));
        assert!(!has(&form, "grant_type=password&username=a%2500b"));
        assert!(body_has_nul(&form, &Bytes::from_static(b"a\0b")));
    }

    #[test]
    fn one_trailing_slash_is_taken() {
        let t = |s: &str| without_trailing_slash(&s.parse().unwrap()).map(|u| u.to_string());
        assert_eq!(t("/admin/realms/"), Some("/admin/realms".into()));
        assert_eq!(t("/realms/r/x/?a=b"), Some("/realms/r/x?a=b".into()));
        assert_eq!(t("/"), None);
        assert_eq!(t("/a//"), None);
        assert_eq!(t("/a"), None);
    }
}
