//! The realm list and realm creation.

use axum::extract::Path;
use axum::http::StatusCode;
use latchkey_core::rep::RealmRep;

use super::form::{ConsolePost, QueryMap};
use super::page::{Page, escape, field_error, invalid_attrs};
use super::user::{Answer, Console, describe};
use crate::service::realms;

pub async fn list(c: Console, q: QueryMap) -> Answer {
    render(&c, q.get("done"), None, "", StatusCode::OK).await
}

async fn render(
    c: &Console,
    done: Option<&String>,
    error: Option<&str>,
    name: &str,
    status: StatusCode,
) -> Answer {
    let realms = realms::visible(&c.state, &c.auth).await.map_err(c.fail())?;
    let mut rows = String::new();
    for (realm, _) in &realms {
        let enabled = if realm.rep.enabled.unwrap_or(false) {
            "<span class=\"badge on\">enabled</span>"
        } else {
            "<span class=\"badge off\">disabled</span>"
        };
        rows.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{enabled}</td><td><a href=\"{}\">Client registration</a> · <a href=\"{}\">Initial access tokens</a> · <a href=\"{}\">Events</a></td></tr>",
            escape(&c.realm_url(&realm.name, "/clients")),
            escape(&realm.name),
            escape(realm.rep.display_name.as_deref().unwrap_or("")),
            escape(&c.realm_url(&realm.name, "/client-registration")),
            escape(&c.realm_url(&realm.name, "/initial-access")),
            escape(&c.realm_url(&realm.name, "/events")),
        ));
    }
    let table = if rows.is_empty() {
        "<p class=\"warning\">You have no administration rights in any realm. Ask an administrator for a realm-management role.</p>".to_string()
    } else {
        format!(
            "<table><caption class=\"muted\">Realms you administer</caption><thead><tr><th scope=\"col\">Realm</th><th scope=\"col\">Display name</th><th scope=\"col\">State</th><th scope=\"col\">Go to</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    let create = if c.auth.may_create_realm() {
        format!(
            "<section class=\"card\"><h2>Create a realm</h2><form method=\"post\" action=\"{}\">{}\
             <label for=\"realm-name\">Realm name</label><p class=\"help\" id=\"realm-name-help\">Used in URLs and issuers (<code>/realms/&lt;name&gt;</code>); no slashes.</p>\
             <input type=\"text\" id=\"realm-name\" name=\"realm\" value=\"{}\" required{}>{}\
             <label for=\"realm-display\">Display name (optional)</label><input type=\"text\" id=\"realm-display\" name=\"displayName\">\
             <button type=\"submit\">Create realm</button></form></section>",
            escape(&c.url("/realms")),
            super::page::csrf_field(c),
            escape(name),
            invalid_attrs("realm-name", error),
            field_error("realm-name", error),
        )
    } else {
        String::new()
    };
    Ok(Page::new(c, "Realms", None)
        .status(status)
        .flash(done)
        .body(format!("<h1>Realms</h1>{table}{create}"))
        .render())
}

pub async fn create(post: ConsolePost) -> Answer {
    let c = &post.console;
    let name = post.form.text("realm");
    let display = post.form.text("displayName");
    let rep = RealmRep {
        realm: Some(name.clone()),
        enabled: Some(true),
        display_name: (!display.is_empty()).then_some(display),
        ..Default::default()
    };
    let created = match c.auth.realm_creator() {
        Ok(creator) => {
            realms::create(
                &c.state,
                creator,
                serde_json::to_value(&rep).unwrap_or_default(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(_) => Ok(c.redirect(&name, "/client-registration?done=realm-created")),
        Err(e) => {
            let (status, message) = describe(e);
            render(c, None, Some(&message), &name, status).await
        }
    }
}

/// A realm's start page: its clients.
pub async fn home(c: Console, Path(realm): Path<String>) -> Answer {
    Ok(c.redirect(&realm, "/clients"))
}
