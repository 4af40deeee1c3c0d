//! A client: a detail view of the registered metadata and how the client was registered,
//! enable/disable (approval), secret regeneration, registration access tokens, delete.
//! The list and its bulk actions are `client_list.rs`.

use axum::extract::Path;
use latchkey_core::messages::display;
use latchkey_core::registration::convert::{REGISTRATION_AUTH_ATTRIBUTE, to_metadata};
use latchkey_core::rep::ClientRep;
use latchkey_core::roles::Right;
use latchkey_core::store::{ClientRecord, EventQuery, EventWindow};
use serde_json::Value;

use super::form::{ConsolePost, QueryMap};
use super::page::{self, Page, Tab, button_form, escape};
use super::user::{Answer, Console};
use crate::service::{clients, events};

/// Set when an administrator disables a client in the console, so that a client disabled
/// on purpose does not read as waiting for approval.
pub(super) const DISABLED_BY_ADMIN: &str = "console.disabled-by-admin";

/// Registered through the registration endpoints and still disabled (the `client-disabled`
/// policy), unless an administrator disabled it: waiting for an administrator.
pub(super) fn waiting(c: &ClientRecord) -> bool {
    let by_admin = c
        .rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(DISABLED_BY_ADMIN))
        .is_some_and(|v| v == "true");
    !c.rep.is_enabled() && registration_auth(c).is_some() && !by_admin
}

pub(super) fn registration_auth(c: &ClientRecord) -> Option<&str> {
    c.rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(REGISTRATION_AUTH_ATTRIBUTE))
        .map(String::as_str)
}

/// The day the client was last used (`YYYY-MM-DD`, UTC), or "never".
pub(super) fn last_used(c: &ClientRecord) -> String {
    c.last_used.map_or_else(
        || "<span class=\"muted\">never</span>".to_string(),
        |d| format!("<time>{}</time>", latchkey_core::last_used::iso_date(d)),
    )
}

pub(super) fn state_badge(c: &ClientRecord) -> &'static str {
    if waiting(c) {
        "<span class=\"badge wait\">waiting for approval</span>"
    } else if c.rep.is_enabled() {
        "<span class=\"badge on\">enabled</span>"
    } else {
        "<span class=\"badge off\">disabled</span>"
    }
}

pub async fn detail(c: Console, Path((realm, id)): Path<(String, String)>, q: QueryMap) -> Answer {
    render_detail(&c, &realm, &id, q.get("done"), None).await
}

/// The detail page; `shown_once` is a secret or token to show now and never again.
async fn render_detail(
    c: &Console,
    realm: &str,
    id: &str,
    done: Option<&String>,
    shown_once: Option<(&str, String)>,
) -> Answer {
    let admin = c.realm(realm, Right::ViewClients).await?;
    let (realm, rights) = (&admin.realm, admin.rights());
    let client = clients::get(&c.state, &admin, id).await.map_err(c.fail())?;
    let url = c.realm_url(&realm.name, &format!("/clients/{}", client.id));
    let mut metadata = to_metadata(&client.rep);
    // A page names a built-in client in words, never by its message key.
    if let Some(Value::String(name)) = metadata.get_mut("client_name") {
        *name = display(name).into_owned();
    }
    let metadata = serde_json::to_string_pretty(&Value::Object(metadata)).unwrap_or_default();
    let first_registration = EventQuery {
        types: vec!["CLIENT_REGISTER".into()],
        client_id: Some(client.client_id.clone()),
        window: EventWindow {
            max: 1,
            ascending: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let registered = events::list(&c.state, &admin, &first_registration)
        .await
        .ok()
        .and_then(|e| e.into_iter().next());
    let how = match (registration_auth(&client), &registered) {
        (_, Some(e)) => format!(
            "through the registration endpoint ({}), {}{}",
            e.details
                .get("auth_method")
                .or_else(|| e.details.get("auth"))
                .map(String::as_str)
                .unwrap_or_else(|| registration_auth(&client).unwrap_or("")),
            page::time(e.time),
            e.ip_address
                .as_deref()
                .map(|ip| format!(" from {ip}"))
                .unwrap_or_default()
        ),
        (Some(a), None) => format!("through the registration endpoint ({a})"),
        (None, None) => "by an administrator (admin API or console)".into(),
    };
    let once = match shown_once {
        Some((label, value)) => format!(
            "<section class=\"card\" id=\"shown-once\"><h2>{label}</h2><p class=\"warning\">Copy it now: it is shown only this once.</p>\
             <div class=\"secret\"><label for=\"once-value\" class=\"skip\">{label}</label><input type=\"text\" id=\"once-value\" readonly value=\"{}\" size=\"60\">\
             <button type=\"button\" class=\"secondary\" data-copy=\"once-value\">Copy</button></div></section>",
            escape(&value)
        ),
        None => String::new(),
    };
    let manage = rights.allows(Right::ManageClients);
    let actions = if manage {
        let toggle = if client.rep.is_enabled() {
            button_form(
                c,
                &format!("{url}/enabled"),
                "Disable",
                "<input type=\"hidden\" name=\"enabled\" value=\"false\">",
                "secondary",
            )
        } else {
            button_form(
                c,
                &format!("{url}/enabled"),
                if waiting(&client) {
                    "Approve (enable)"
                } else {
                    "Enable"
                },
                "<input type=\"hidden\" name=\"enabled\" value=\"true\">",
                "",
            )
        };
        let secret = if client.rep.uses_secret() {
            button_form(
                c,
                &format!("{url}/secret"),
                "Regenerate secret",
                "",
                "secondary",
            )
        } else {
            String::new()
        };
        format!(
            "<section class=\"card\"><h2>Actions</h2><p>{toggle} {secret} {}</p><p>{}</p></section>",
            button_form(
                c,
                &format!("{url}/registration-access-token"),
                "Mint a registration access token",
                "",
                "secondary"
            ),
            button_form(c, &format!("{url}/delete"), "Delete client", "", "danger"),
        )
    } else {
        String::new()
    };
    let body = format!(
        "<p><a href=\"{back}\">← Clients</a></p><h1>Client {cid}</h1>{once}\
         <section class=\"card\"><dl class=\"facts\"><dt>Client ID</dt><dd><code>{cid}</code></dd><dt>Name</dt><dd>{name}</dd>\
         <dt>State</dt><dd>{badge}</dd><dt>Type</dt><dd>{kind}</dd><dt>Registered</dt><dd>{how}</dd><dt>Created</dt><dd>{created}</dd>\
         <dt>Last used</dt><dd>{last_used}</dd><dt>Internal ID</dt><dd><code>{uuid}</code></dd></dl></section>{actions}\
         <section class=\"card\"><h2>Registered metadata</h2><pre id=\"metadata\">{metadata}</pre></section>",
        back = escape(&c.realm_url(&realm.name, "/clients")),
        cid = escape(&client.client_id),
        name = escape(&display(client.rep.name.as_deref().unwrap_or(""))),
        badge = state_badge(&client),
        kind = if client.rep.is_public() {
            "public"
        } else {
            "confidential"
        },
        how = escape(&how),
        created = page::time(client.created_at),
        last_used = last_used(&client),
        uuid = escape(&client.id),
        metadata = escape(&metadata),
    );
    Ok(
        Page::new(c, &client.client_id, Some((&realm.name, Tab::Clients)))
            .flash(done)
            .body(body)
            .render(),
    )
}

pub async fn set_enabled(Path((realm, id)): Path<(String, String)>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let enabled = post.form.get("enabled") == Some("true");
    let patch = ClientRep {
        enabled: Some(enabled),
        attributes: Some([(DISABLED_BY_ADMIN.to_string(), (!enabled).to_string())].into()),
        ..Default::default()
    };
    let admin = c.realm(&realm, Right::ManageClients).await?;
    clients::update(&c.state, &admin, &id, patch)
        .await
        .map_err(c.fail())?;
    let done = if enabled {
        "client-enabled"
    } else {
        "client-disabled"
    };
    let to = if post.form.get("back") == Some("list") {
        format!("/clients?done={done}")
    } else {
        format!("/clients/{id}?done={done}")
    };
    Ok(c.redirect(&realm, &to))
}

pub async fn regenerate_secret(
    Path((realm, id)): Path<(String, String)>,
    post: ConsolePost,
) -> Answer {
    let c = &post.console;
    let admin = c.realm(&realm, Right::ManageClients).await?;
    let secret = clients::regenerate_secret(&c.state, &admin, &id)
        .await
        .map_err(c.fail())?;
    render_detail(c, &realm, &id, None, Some(("New client secret", secret))).await
}

pub async fn registration_access_token(
    Path((realm, id)): Path<(String, String)>,
    post: ConsolePost,
) -> Answer {
    let c = &post.console;
    let admin = c.realm(&realm, Right::ManageClients).await?;
    let (_, token) = clients::registration_access_token(&c.state, &admin, &id)
        .await
        .map_err(c.fail())?;
    let shown = Some(("New registration access token", token));
    render_detail(c, &realm, &id, None, shown).await
}

pub async fn delete(Path((realm, id)): Path<(String, String)>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let admin = c.realm(&realm, Right::ManageClients).await?;
    clients::delete(&c.state, &admin, &id)
        .await
        .map_err(c.fail())?;
    Ok(c.redirect(&realm, "/clients?done=client-deleted"))
}
