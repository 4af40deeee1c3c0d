//! Initial access tokens: create (the token shown once, with a copy button), list with
//! remaining counts, delete.

use axum::extract::Path;
use axum::http::StatusCode;
use latchkey_core::roles::Right;

use super::form::{ConsolePost, QueryMap, lines};
use super::page::{self, Page, Tab, button_form, csrf_field, escape, field_error, invalid_attrs};
use super::user::{Answer, Console, describe};
use crate::service::initial_access::{self, CreateInitialAccess};

/// What the create form sent back, for showing it again with an error.
#[derive(Default)]
struct Typed {
    expiration: String,
    count: String,
    origins: String,
    /// (field, message)
    error: Option<(&'static str, String)>,
}

pub async fn list(c: Console, Path(realm): Path<String>, q: QueryMap) -> Answer {
    render(
        &c,
        &realm,
        q.get("done"),
        Typed::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render(
    c: &Console,
    realm: &str,
    done: Option<&String>,
    typed: Typed,
    created: Option<String>,
    status: StatusCode,
) -> Answer {
    let admin = c.realm(realm, Right::ViewClients).await?;
    let tokens = initial_access::list(&c.state, &admin)
        .await
        .map_err(c.fail())?;
    let mut rows = String::new();
    for t in &tokens {
        let expires = if t.expiration == 0 {
            "never".to_string()
        } else {
            page::time((t.created_at + t.expiration) * 1000)
        };
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{expires}</td><td>{} of {}</td><td>{}</td><td class=\"actions\">{}</td></tr>",
            escape(&t.id),
            page::time(t.created_at * 1000),
            t.remaining,
            t.count,
            escape(&t.web_origins.join(", ")),
            button_form(
                c,
                &c.realm_url(realm, &format!("/initial-access/{}/delete", t.id)),
                &format!("Delete<span class=\"skip\"> token {}</span>", escape(&t.id)),
                "",
                "small danger"
            ),
        ));
    }
    if rows.is_empty() {
        rows =
            "<tr><td colspan=\"6\" class=\"muted\">No live initial access tokens.</td></tr>".into();
    }
    let shown = match created {
        Some(token) => format!(
            "<section class=\"card\" id=\"new-token\"><h2>New initial access token</h2><p class=\"warning\">Copy it now: it is shown only this once. Registration requests send it as <code>Authorization: Bearer &lt;token&gt;</code>.</p>\
             <div class=\"secret\"><label for=\"new-token-value\" class=\"skip\">Initial access token</label><input type=\"text\" id=\"new-token-value\" readonly value=\"{}\" size=\"60\">\
             <button type=\"button\" class=\"secondary\" data-copy=\"new-token-value\">Copy</button></div></section>",
            escape(&token)
        ),
        None => String::new(),
    };
    let err = |f: &str| {
        typed
            .error
            .as_ref()
            .filter(|(n, _)| *n == f)
            .map(|(_, m)| m.as_str())
    };
    let form = format!(
        "<section class=\"card\"><h2>Create an initial access token</h2><form method=\"post\" action=\"{action}\">{csrf}<div class=\"row\">\
         <div><label for=\"iat-expiration\">Expiration (seconds, 0 = never)</label><input type=\"number\" id=\"iat-expiration\" name=\"expiration\" min=\"0\" value=\"{exp}\"{exp_a}>{exp_e}</div>\
         <div><label for=\"iat-count\">Number of registrations it allows</label><input type=\"number\" id=\"iat-count\" name=\"count\" min=\"0\" value=\"{count}\"{count_a}>{count_e}</div></div>\
         <label for=\"iat-origins\">Web origins allowed to use it from a browser (optional, one per line)</label><textarea id=\"iat-origins\" name=\"webOrigins\" rows=\"2\"{or_a}>{origins}</textarea>{or_e}\
         <button type=\"submit\">Create token</button></form></section>",
        action = escape(&c.realm_url(realm, "/initial-access")),
        csrf = csrf_field(c),
        exp = escape(if typed.expiration.is_empty() {
            "86400"
        } else {
            &typed.expiration
        }),
        count = escape(if typed.count.is_empty() {
            "1"
        } else {
            &typed.count
        }),
        origins = escape(&typed.origins),
        exp_a = invalid_attrs("iat-expiration", err("expiration")),
        exp_e = field_error("iat-expiration", err("expiration")),
        count_a = invalid_attrs("iat-count", err("count")),
        count_e = field_error("iat-count", err("count")),
        or_a = invalid_attrs("iat-origins", err("webOrigins")),
        or_e = field_error("iat-origins", err("webOrigins")),
    );
    let body = format!(
        "<h1>Initial access tokens</h1><p class=\"help\">An initial access token lets its holder register clients (authenticated registration) a limited number of times.</p>{shown}{form}\
         <h2>Live tokens</h2><table><thead><tr><th scope=\"col\">ID</th><th scope=\"col\">Created</th><th scope=\"col\">Expires</th><th scope=\"col\">Remaining</th><th scope=\"col\">Web origins</th><th scope=\"col\">Actions</th></tr></thead><tbody>{rows}</tbody></table>"
    );
    Ok(Page::new(
        c,
        "Initial access tokens",
        Some((realm, Tab::InitialAccess)),
    )
    .status(status)
    .flash(done)
    .body(body)
    .render())
}

pub async fn create(Path(realm): Path<String>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let mut typed = Typed {
        expiration: post.form.text("expiration"),
        count: post.form.text("count"),
        origins: post.form.get("webOrigins").unwrap_or("").to_string(),
        error: None,
    };
    let number = |s: &str, default: i32| -> Option<i32> {
        if s.is_empty() {
            Some(default)
        } else {
            s.parse().ok()
        }
    };
    let Some(expiration) = number(&typed.expiration, 0) else {
        typed.error = Some(("expiration", "Enter a whole number of seconds.".into()));
        return render(c, &realm, None, typed, None, StatusCode::BAD_REQUEST).await;
    };
    let Some(count) = number(&typed.count, 1) else {
        typed.error = Some(("count", "Enter a whole number.".into()));
        return render(c, &realm, None, typed, None, StatusCode::BAD_REQUEST).await;
    };
    let origins = lines(&typed.origins);
    if let Some(bad) = origins
        .iter()
        .find(|o| !(o.starts_with("https://") || o.starts_with("http://")) || o.ends_with('/'))
    {
        typed.error = Some((
            "webOrigins",
            format!("{bad:?} is not an origin (scheme://host[:port], no path)."),
        ));
        return render(c, &realm, None, typed, None, StatusCode::BAD_REQUEST).await;
    }
    let input = CreateInitialAccess {
        expiration: Some(expiration),
        count: Some(count),
        web_origins: Some(origins),
    };
    let admin = c.realm(&realm, Right::ManageClients).await?;
    match initial_access::create(&c.state, &admin, input).await {
        Ok((_, token)) => {
            render(
                c,
                &realm,
                None,
                Typed::default(),
                Some(token),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let (status, message) = describe(e);
            if status != StatusCode::BAD_REQUEST {
                return Err(c.page_for(status, &message));
            }
            let field = if message.contains("count") {
                "count"
            } else {
                "expiration"
            };
            typed.error = Some((field, message));
            render(c, &realm, None, typed, None, status).await
        }
    }
}

pub async fn delete(Path((realm, id)): Path<(String, String)>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let admin = c.realm(&realm, Right::ManageClients).await?;
    initial_access::delete(&c.state, &admin, &id)
        .await
        .map_err(c.fail())?;
    Ok(c.redirect(&realm, "/initial-access?done=token-deleted"))
}
