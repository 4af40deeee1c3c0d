//! A console change: the form of a signed-in user, from this server's own pages, with the
//! session's CSRF token; anything else is refused before the handler runs.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::crypto::ct_eq;

use super::page;
use super::user::{Console, NoConsole};
use crate::state::SharedState;

/// A console change: a signed-in user, a same-origin request, the session's CSRF token in
/// the form's `csrf` field. Anything else is refused with 403 before the handler runs.
pub struct ConsolePost {
    pub console: Console,
    pub form: Form,
}

/// An `application/x-www-form-urlencoded` body, repeated fields kept in order.
#[derive(Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    /// A field, trimmed; `""` when absent.
    pub fn text(&self, k: &str) -> String {
        self.get(k).unwrap_or("").trim().to_string()
    }

    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn checked(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| v == "true" || v == "on")
    }
}

/// Splits a textarea into its non-empty lines (and commas).
pub fn lines(s: &str) -> Vec<String> {
    s.split(['\n', '\r', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn forbidden(message: &str) -> Response {
    page::bare(StatusCode::FORBIDDEN, "Refused", message)
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

impl FromRequest<SharedState> for ConsolePost {
    type Rejection = Response;

    async fn from_request(req: Request, state: &SharedState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let base = crate::urls::request_base_url(&state.settings, &parts);
        if let Some(origin) = parts.headers.get(header::ORIGIN)
            && origin.to_str().ok() != Some(origin_of(&base))
        {
            return Err(forbidden(
                "This change came from another site (its Origin is not this server); it was refused.",
            ));
        }
        let console = match Console::from_request_parts(&mut parts, state).await {
            Ok(c) => c,
            Err(NoConsole::Login(_)) => {
                return Err(forbidden(
                    "Your console session has ended; sign in again and repeat the change.",
                ));
            }
            Err(e) => return Err(e.into_response()),
        };
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| {
                page::bare(
                    e.status(),
                    "Refused",
                    "The form could not be read (too large or malformed).",
                )
            })?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            page::bare(
                StatusCode::BAD_REQUEST,
                "Refused",
                "The form could not be read.",
            )
        })?;
        let form = Form(pairs);
        let sent = form.get("csrf").unwrap_or("");
        if sent.is_empty() || !ct_eq(sent.as_bytes(), console.csrf.as_bytes()) {
            return Err(forbidden(
                "This form is stale or forged (its CSRF token does not match your session); reload the page and try again.",
            ));
        }
        Ok(ConsolePost { console, form })
    }
}

/// Query parameters as a map (first value wins).
pub type QueryMap = Query<HashMap<String, String>>;
