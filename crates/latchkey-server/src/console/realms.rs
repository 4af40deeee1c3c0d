//! The realm list and realm creation.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::rep::RealmRep;
use latchkey_core::roles::{
    AdminRights, CREATE_REALM_ROLE, MASTER_ADMIN_ROLE, MASTER_REALM, Right,
};
use serde_json::json;

use super::page::{Page, field_error, invalid_attrs};
use super::{Console, ConsolePost, QueryMap, describe, escape};
use crate::extract::KcJson;
use crate::state::SharedState;

pub async fn list(c: Console, q: QueryMap) -> Response {
    render(&c, q.get("done"), None, "", StatusCode::OK).await
}

fn may_create(c: &Console) -> bool {
    c.auth.realm == MASTER_REALM
        && (c.auth.effective.realm.contains(MASTER_ADMIN_ROLE)
            || c.auth.effective.realm.contains(CREATE_REALM_ROLE))
}

async fn render(
    c: &Console,
    done: Option<&String>,
    error: Option<&str>,
    name: &str,
    status: StatusCode,
) -> Response {
    let realms = match c.state.store.list_realms().await {
        Ok(r) => r,
        Err(e) => return c.error_page(e.into()),
    };
    let mut rows = String::new();
    for realm in &realms {
        let Some(rights) = AdminRights::new(&c.auth.realm, &realm.name, &c.auth.effective) else {
            continue;
        };
        if !rights.allows(Right::Any) {
            continue;
        }
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
    let create = if may_create(c) {
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
    Page::new(c, "Realms", None)
        .status(status)
        .flash(done)
        .body(format!("<h1>Realms</h1>{table}{create}"))
        .render()
}

pub async fn create(State(state): State<SharedState>, post: ConsolePost) -> Response {
    let c = &post.console;
    let name = post.form.text("realm");
    let display = post.form.text("displayName");
    let mut rep = json!({"realm": name, "enabled": true});
    if !display.is_empty() {
        rep["displayName"] = json!(display);
    }
    let rep_json = rep.clone();
    let rep: RealmRep = match serde_json::from_value(rep) {
        Ok(r) => r,
        Err(e) => return c.error_page(crate::error::AdminError::internal(e)),
    };
    let answer =
        crate::admin::realms::create(State(state), c.auth.clone(), c.base.clone(), KcJson(rep))
            .await;
    match post
        .audited(Method::POST, "/admin/realms", &rep_json, answer)
        .await
    {
        Ok(_) => Redirect::to(&c.realm_url(&name, "/client-registration?done=realm-created"))
            .into_response(),
        Err(e) => {
            let (status, message) = describe(e);
            render(c, None, Some(&message), &name, status).await
        }
    }
}

/// A realm's start page: its clients.
pub async fn home(c: Console, Path(realm): Path<String>) -> Response {
    Redirect::to(&c.realm_url(&realm, "/clients")).into_response()
}
