//! What admin handlers share besides the caller: their answers without a body (201 with
//! `Location`, 204) and Keycloak's `first`/`max` paging.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::urls::{BaseUrl, encode_segment};

/// 201 with an empty body and an absolute `Location`: the new resource's admin API URL,
/// `below` that of its realm.
pub fn created(base: &BaseUrl, realm: &str, below: &[&str]) -> Response {
    let path: String = std::iter::once(realm)
        .chain(below.iter().copied())
        .map(|s| format!("/{}", encode_segment(s)))
        .collect();
    let location = base.join(&format!("/admin/realms{path}"));
    (StatusCode::CREATED, [(header::LOCATION, location)]).into_response()
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `first` / `max` paging from a query map.
pub fn paging(q: &std::collections::HashMap<String, String>, default_max: i64) -> (i64, i64) {
    let first = q
        .get("first")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0i64)
        .max(0);
    let max = q
        .get("max")
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_max);
    (first, if max < 0 { default_max } else { max })
}
