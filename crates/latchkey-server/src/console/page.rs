//! The console's page frame: header with the signed-in user and logout, the realm's
//! navigation, flash messages; the embedded stylesheet; form helpers. Every value that is
//! not a literal goes through `escape`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use latchkey_core::roles::Right;

use super::user::{CONSOLE, Console, describe};
use crate::error::AdminError;
use crate::service::RealmAdmin;

pub use crate::oidc::pages::escape;

const CSS: &str = include_str!("console.css");

/// A few lines of plain JavaScript: the copy buttons and a confirmation before deleting.
/// Everything works without it.
const SCRIPT: &str = "document.addEventListener('submit',function(e){var m=e.target.getAttribute('data-confirm');if(m&&!window.confirm(m))e.preventDefault();});document.addEventListener('click',function(e){var b=e.target.closest('[data-copy]');if(!b)return;var t=document.getElementById(b.getAttribute('data-copy'));if(!t)return;var v=t.value!==undefined?t.value:t.textContent;(navigator.clipboard?navigator.clipboard.writeText(v):Promise.reject()).then(function(){b.textContent='Copied';},function(){t.select&&t.select();document.execCommand('copy');b.textContent='Copied';});});";

pub async fn stylesheet() -> Response {
    let mut r = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// The realm areas in the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Clients,
    Registration,
    InitialAccess,
    ResourceServers,
    Keys,
    Events,
}

pub struct Page<'a> {
    console: &'a Console,
    title: String,
    realm: Option<(&'a str, Tab)>,
    status: StatusCode,
    flash: Option<String>,
    body: String,
}

impl<'a> Page<'a> {
    pub fn new(console: &'a Console, title: &str, realm: Option<(&'a str, Tab)>) -> Self {
        Page {
            console,
            title: title.into(),
            realm,
            status: StatusCode::OK,
            flash: None,
            body: String::new(),
        }
    }

    pub fn status(mut self, s: StatusCode) -> Self {
        self.status = s;
        self
    }

    /// A message from the redirect after a change (`?done=`), from a fixed list.
    pub fn flash(mut self, done: Option<&String>) -> Self {
        self.flash = done.and_then(|d| flash_text(d)).map(str::to_string);
        self
    }

    pub fn body(mut self, html: String) -> Self {
        self.body = html;
        self
    }

    pub fn render(self) -> Response {
        let c = self.console;
        let user = escape(&c.auth.user.username);
        let realms_url = escape(&c.url("/"));
        let nav = match self.realm {
            Some((realm, tab)) => {
                let item = |t: Tab, path: &str, label: &str| {
                    let current = if t == tab {
                        " aria-current=\"page\""
                    } else {
                        ""
                    };
                    format!(
                        "<li><a href=\"{}\"{current}>{label}</a></li>",
                        escape(&c.realm_url(realm, path))
                    )
                };
                format!(
                    "<nav class=\"side\" aria-label=\"Realm\"><p class=\"realm-name\">Realm <strong>{}</strong></p><ul>{}{}{}{}{}{}</ul></nav>",
                    escape(realm),
                    item(Tab::Clients, "/clients", "Clients"),
                    item(
                        Tab::Registration,
                        "/client-registration",
                        "Realm settings: Client registration"
                    ),
                    item(
                        Tab::InitialAccess,
                        "/initial-access",
                        "Initial access tokens"
                    ),
                    item(
                        Tab::ResourceServers,
                        "/resource-servers",
                        "Resource servers"
                    ),
                    item(Tab::Keys, "/keys", "Realm settings: Keys"),
                    item(Tab::Events, "/events", "Events"),
                )
            }
            None => String::new(),
        };
        let flash = self
            .flash
            .map(|f| format!("<p class=\"flash\" role=\"status\">{}</p>", escape(&f)))
            .unwrap_or_default();
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>{title} · Latchkey admin console</title><link rel=\"stylesheet\" href=\"{css}\"></head><body>\
             <a class=\"skip\" href=\"#main\">Skip to content</a>\
             <header class=\"top\"><a class=\"brand\" href=\"{realms_url}\">Latchkey admin console</a>\
             <span class=\"who\">Signed in as <strong>{user}</strong> ({login_realm})</span>\
             <form method=\"post\" action=\"{logout}\" class=\"inline\">{csrf}<button type=\"submit\" class=\"secondary\">Sign out</button></form></header>\
             <div class=\"frame\">{nav}<main id=\"main\">{flash}{body}</main></div><script>{SCRIPT}</script></body></html>",
            title = escape(&self.title),
            css = escape(&c.base.join(&format!("{CONSOLE}/console.css"))),
            login_realm = escape(&c.auth.realm),
            logout = escape(&c.url("/logout")),
            csrf = csrf_field(c),
            body = self.body,
        );
        finish(self.status, html)
    }
}

fn finish(status: StatusCode, html: String) -> Response {
    let mut resp = (status, Html(html)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // Only the one inline script runs: it is allowed by its hash.
    let script_hash = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, SCRIPT.as_bytes()),
    );
    let csp = format!(
        "default-src 'self'; script-src 'sha256-{script_hash}'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert("content-security-policy", v);
    }
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    resp
}

/// A page without the frame (no session): refusals and sign-in errors.
pub fn bare(status: StatusCode, title: &str, message: &str) -> Response {
    bare_html(
        status,
        title,
        &format!("<p class=\"error\" role=\"alert\">{}</p>", escape(message)),
    )
}

pub fn bare_html(status: StatusCode, title: &str, html: &str) -> Response {
    finish(
        status,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head>\
             <body><main id=\"main\" class=\"bare\"><h1>{t}</h1>{html}</main></body></html>",
            t = escape(title)
        ),
    )
}

pub fn csrf_field(c: &Console) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(&c.csrf)
    )
}

/// A one-button form posting to `action` (enable, delete…); `danger` buttons ask first.
pub fn button_form(c: &Console, action: &str, label: &str, extra: &str, class: &str) -> String {
    let confirm = if class.contains("danger") {
        " data-confirm=\"Delete this for good?\""
    } else {
        ""
    };
    format!(
        "<form method=\"post\" action=\"{}\" class=\"inline\"{confirm}>{}{extra}<button type=\"submit\" class=\"{class}\">{label}</button></form>",
        escape(action),
        csrf_field(c)
    )
}

/// The error paragraph tied to a field (`aria-describedby` points at it).
pub fn field_error(id: &str, error: Option<&str>) -> String {
    match error {
        Some(e) => format!(
            "<p class=\"field-error\" id=\"{id}-error\" role=\"alert\">{}</p>",
            escape(e)
        ),
        None => String::new(),
    }
}

/// `aria-invalid` and `aria-describedby` for a field with an error.
pub fn invalid_attrs(id: &str, error: Option<&str>) -> String {
    if error.is_some() {
        format!(" aria-invalid=\"true\" aria-describedby=\"{id}-error\"")
    } else {
        String::new()
    }
}

fn flash_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "realm-created" => "Realm created.",
        "switches-saved" => "Client registration settings saved.",
        "policy-created" => "Policy added; set its options below.",
        "policy-saved" => "Policy saved.",
        "policy-deleted" => "Policy deleted.",
        "client-enabled" => "Client enabled.",
        "client-disabled" => "Client disabled.",
        "client-deleted" => "Client deleted.",
        "token-deleted" => "Initial access token deleted.",
        "resource-server-added" => "Resource server added.",
        "resource-server-deleted" => "Resource server deleted.",
        "key-rotated" => "Key rotated: the new key signs, the old one is passive.",
        "key-deleted" => "Key deleted.",
        "events-saved" => "Admin event settings saved.",
        _ => return None,
    })
}

/// Milliseconds since the epoch as `yyyy-mm-dd hh:mm:ss UTC`.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// What a console page shows when an operation is refused.
impl Console {
    /// The user cleared for the target realm, if they may do `right` there (the REST
    /// API's check); else the page saying why not.
    pub async fn realm(&self, name: &str, right: Right) -> Result<RealmAdmin<'_>, Response> {
        self.auth
            .realm(&self.state, name, right)
            .await
            .map_err(self.fail())
    }

    /// A whole page for an error the REST API would answer.
    pub fn error_page(&self, e: AdminError) -> Response {
        let (status, message) = describe(e);
        self.page_for(status, &message)
    }

    /// `error_page`, as a function for `map_err`.
    pub fn fail(&self) -> impl Fn(AdminError) -> Response + '_ {
        |e| self.error_page(e)
    }

    /// A whole page for a refusal with `status` and `message`.
    pub fn page_for(&self, status: StatusCode, message: &str) -> Response {
        Page::new(self, "Error", None)
            .status(status)
            .body(format!(
                "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"{}\">Back to the realms</a></p>",
                status.canonical_reason().unwrap_or("Error"),
                escape(message),
                escape(&self.url("/"))
            ))
            .render()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_utc_dates() {
        assert_eq!(super::time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::time(1_795_651_200_000), "2026-11-26 00:00:00 UTC");
        assert_eq!(
            super::time(951_782_400_000 + 3_661_000),
            "2000-02-29 01:01:01 UTC"
        );
    }
}
