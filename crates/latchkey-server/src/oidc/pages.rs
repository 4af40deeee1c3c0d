//! The few HTML pages the browser flow shows: login, consent, errors, logged out, the
//! device verification page and its outcome. Plain
//! server-rendered forms that work without JavaScript; every value is escaped.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f3f4f6;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}\
main{background:#fff;padding:2rem 2.5rem;border-radius:10px;box-shadow:0 2px 12px rgba(0,0,0,.08);width:22rem}\
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .3rem;font-weight:600}\
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #cbd5e1;border-radius:6px;font-size:1rem}\
button{margin-top:1.2rem;padding:.6rem 1.2rem;border:0;border-radius:6px;background:#2563eb;color:#fff;font-size:1rem;cursor:pointer}\
button.secondary{background:#e5e7eb;color:#111}.error{color:#b91c1c;background:#fef2f2;padding:.6rem;border-radius:6px}\
ul{padding-left:1.2rem}.muted{color:#6b7280;font-size:.9rem}\
.client-host .host{font-size:1.25rem;display:block;word-break:break-all}\
.warning{color:#92400e;background:#fffbeb;padding:.6rem;border-radius:6px}";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    );
    let mut resp = (status, Html(html)).into_response();
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp.headers_mut().insert(
        "x-frame-options",
        axum::http::HeaderValue::from_static("DENY"),
    );
    resp
}

/// Hidden fields every form posts back: the pending request and its CSRF token.
fn hidden(auth_request: &str, csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"auth_request\" value=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(auth_request),
        escape(csrf)
    )
}

pub struct LoginPage<'a> {
    pub realm: &'a str,
    pub client_name: &'a str,
    pub action: &'a str,
    pub auth_request: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

pub fn login(status: StatusCode, p: &LoginPage<'_>) -> Response {
    let error = p
        .error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in to {realm}</h1><p class=\"muted\">to continue to {client}</p>{error}\
         <form method=\"post\" action=\"{action}\">{hidden}\
         <label for=\"username\">Username or email</label><input type=\"text\" id=\"username\" name=\"username\" value=\"{username}\" autocomplete=\"username\" autofocus required>\
         <label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        realm = escape(p.realm),
        client = escape(p.client_name),
        action = escape(p.action),
        hidden = hidden(p.auth_request, p.csrf),
        username = escape(p.username),
    );
    page(status, "Sign in", &body)
}

pub struct ConsentPage<'a> {
    pub client_name: &'a str,
    /// A client known by its metadata document: the document's host, and whether every
    /// redirect URI is on a loopback host.
    pub document: Option<(String, bool)>,
    pub redirect_host: &'a str,
    pub scopes: &'a [String],
    pub action: &'a str,
    pub auth_request: &'a str,
    pub csrf: &'a str,
    /// A device flow (RFC 8628): the user code the user entered, shown so that they
    /// compare it with the device's screen (§5.4: remote phishing).
    pub device_code: Option<&'a str>,
}

pub fn consent(p: &ConsentPage<'_>) -> Response {
    let scopes: String = p
        .scopes
        .iter()
        .map(|s| format!("<li>{}</li>", escape(s)))
        .collect();
    // The MCP authorization spec: the consent page of a client known by its metadata
    // document shows the document's host (the name and everything else are the client's
    // own claims), and warns when the client only redirects to this machine.
    let document = match &p.document {
        Some((host, loopback_only)) => format!(
            "<p class=\"client-host\">Client published at <strong class=\"host\">{}</strong></p>{}",
            escape(host),
            if *loopback_only {
                "<p class=\"warning\" role=\"alert\">This application runs on your own computer (it only redirects to localhost). Any program on this computer can claim to be it: allow only if you started it yourself.</p>"
            } else {
                ""
            },
        ),
        None => String::new(),
    };
    let (who, device) = match p.device_code {
        Some(code) => (
            "a device".to_string(),
            format!(
                "<p class=\"warning\" role=\"alert\">Allow only if you started this on your own device and it shows the code <strong>{}</strong>.</p>",
                escape(code)
            ),
        ),
        None => (escape(p.redirect_host), String::new()),
    };
    let body = format!(
        "<h1>Grant access?</h1>{document}{device}<p><strong>{client}</strong> ({who}) asks for:</p><ul>{scopes}</ul>\
         <form method=\"post\" action=\"{action}\">{hidden}\
         <button type=\"submit\" name=\"consent\" value=\"accept\">Allow</button> \
         <button type=\"submit\" name=\"consent\" value=\"deny\" class=\"secondary\">Deny</button></form>",
        client = escape(p.client_name),
        action = escape(p.action),
        hidden = hidden(p.auth_request, p.csrf),
    );
    page(StatusCode::OK, "Grant access", &body)
}

/// An error shown in the browser because redirecting would be unsafe (unknown client,
/// unregistered redirect URI).
pub fn error(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Error",
        &format!(
            "<h1>We could not sign you in</h1><p class=\"error\" role=\"alert\">{}</p>",
            escape(message)
        ),
    )
}

pub struct LogoutConfirmPage<'a> {
    pub realm: &'a str,
    pub action: &'a str,
    pub logout_request: &'a str,
    pub csrf: &'a str,
}

/// Keycloak's logout confirmation (`logout-confirm.ftl`): shown when the logout request
/// carries no valid `id_token_hint`, so another site cannot sign the user out (or send
/// them on) by linking here; only this form's POST, bound to the browser, does.
pub fn logout_confirm(p: &LogoutConfirmPage<'_>) -> Response {
    let body = format!(
        "<h1>Signing out of {realm}</h1><p>Do you want to log out?</p>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"logout_request\" value=\"{id}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" name=\"confirm\" value=\"logout\">Log out</button></form>",
        realm = escape(p.realm),
        action = escape(p.action),
        id = escape(p.logout_request),
        csrf = escape(p.csrf),
    );
    page(StatusCode::OK, "Log out", &body)
}

pub fn logged_out() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "<h1>You are signed out</h1><p class=\"muted\">You may close this window.</p>",
    )
}

/// RFC 8628 §3.3: where the user types the code their device shows (Keycloak's
/// "Device Login" page); `error` after a wrong code.
pub fn device_code_form(
    status: StatusCode,
    realm: &str,
    action: &str,
    error: Option<&str>,
) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Connect a device to {realm}</h1><p class=\"muted\">Enter the code your device shows.</p>{error}\
         <form method=\"post\" action=\"{action}\">\
         <label for=\"user_code\">Code</label><input type=\"text\" id=\"user_code\" name=\"user_code\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"32\" autofocus required>\
         <button type=\"submit\">Continue</button></form>",
        realm = escape(realm),
        action = escape(action),
    );
    page(status, "Connect a device", &body)
}

/// The end of a device flow in the browser: connected, or not.
pub fn device_done(connected: bool, message: &str) -> Response {
    let (title, class) = if connected {
        ("Device connected", "muted")
    } else {
        ("Device not connected", "error")
    };
    page(
        StatusCode::OK,
        title,
        &format!(
            "<h1>{}</h1><p class=\"{class}\" role=\"status\">{}</p>",
            escape(title),
            escape(message)
        ),
    )
}
