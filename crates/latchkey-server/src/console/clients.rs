//! Clients: list with search and the "waiting for approval" filter, enable/disable
//! (approval), secret regeneration, registration access tokens, delete, and a detail view
//! of the registered metadata and how the client was registered.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::registration::convert::{REGISTRATION_AUTH_ATTRIBUTE, to_metadata};
use latchkey_core::roles::Right;
use latchkey_core::store::{ClientQuery, ClientRecord, EventQuery, EventWindow};
use serde_json::{Value, json};

use super::page::{self, Page, Tab, button_form};
use super::{Console, ConsolePost, QueryMap, api_path, escape, json_of};
use crate::admin::clients as api;
use crate::extract::KcJson;
use crate::state::SharedState;

const PAGE: i64 = 50;

/// Set when an administrator disables a client in the console, so that a client disabled
/// on purpose does not read as waiting for approval.
const DISABLED_BY_ADMIN: &str = "console.disabled-by-admin";

/// Registered through the registration endpoints and still disabled (the `client-disabled`
/// policy), unless an administrator disabled it: waiting for an administrator.
fn waiting(c: &ClientRecord) -> bool {
    let by_admin = c
        .rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(DISABLED_BY_ADMIN))
        .is_some_and(|v| v == "true");
    !c.rep.is_enabled() && registration_auth(c).is_some() && !by_admin
}

fn registration_auth(c: &ClientRecord) -> Option<&str> {
    c.rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(REGISTRATION_AUTH_ATTRIBUTE))
        .map(String::as_str)
}

fn state_badge(c: &ClientRecord) -> &'static str {
    if waiting(c) {
        "<span class=\"badge wait\">waiting for approval</span>"
    } else if c.rep.is_enabled() {
        "<span class=\"badge on\">enabled</span>"
    } else {
        "<span class=\"badge off\">disabled</span>"
    }
}

pub async fn list(c: Console, Path(realm): Path<String>, q: QueryMap) -> Response {
    let (realm, rights) = match c.realm(&realm, Right::QueryClients).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let search = q
        .get("search")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let only_waiting = q.get("waiting").is_some_and(|v| v == "1");
    let page_no: i64 = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0i64)
        .max(0);
    let query = ClientQuery {
        client_id: (!search.is_empty()).then(|| search.clone()),
        search: true,
        first: 0,
        max: None,
    };
    let mut clients = match c.state.store.list_clients(&realm.id, &query).await {
        Ok(list) => list,
        Err(e) => return c.error_page(e.into()),
    };
    if only_waiting {
        clients.retain(waiting);
    }
    let total = clients.len() as i64;
    let shown: Vec<&ClientRecord> = clients
        .iter()
        .skip((page_no * PAGE) as usize)
        .take(PAGE as usize)
        .collect();
    let manage = rights.allows(Right::ManageClients);
    let mut rows = String::new();
    for client in &shown {
        let url = c.realm_url(&realm.name, &format!("/clients/{}", client.id));
        let toggle = if !manage {
            String::new()
        } else if client.rep.is_enabled() {
            button_form(
                &c,
                &format!("{url}/enabled"),
                &format!(
                    "Disable<span class=\"skip\"> {}</span>",
                    escape(&client.client_id)
                ),
                "<input type=\"hidden\" name=\"enabled\" value=\"false\"><input type=\"hidden\" name=\"back\" value=\"list\">",
                "small secondary",
            )
        } else {
            button_form(
                &c,
                &format!("{url}/enabled"),
                &format!(
                    "{}<span class=\"skip\"> {}</span>",
                    if waiting(client) { "Approve" } else { "Enable" },
                    escape(&client.client_id)
                ),
                "<input type=\"hidden\" name=\"enabled\" value=\"true\"><input type=\"hidden\" name=\"back\" value=\"list\">",
                "small",
            )
        };
        rows.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"actions\">{toggle}</td></tr>",
            escape(&url),
            escape(&client.client_id),
            escape(client.rep.name.as_deref().unwrap_or("")),
            state_badge(client),
            escape(registration_auth(client).unwrap_or("admin")),
            page::time(client.created_at),
        ));
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"6\" class=\"muted\">No clients match.</td></tr>".into();
    }
    let base = c.realm_url(&realm.name, "/clients");
    let link = |p: i64| {
        let qs = serde_urlencoded::to_string([
            ("search", search.as_str()),
            ("waiting", if only_waiting { "1" } else { "" }),
            ("page", &p.to_string()),
        ])
        .unwrap_or_default();
        escape(&format!("{base}?{qs}"))
    };
    let mut pager = String::new();
    if page_no > 0 {
        pager.push_str(&format!("<a href=\"{}\">← Previous</a>", link(page_no - 1)));
    }
    if (page_no + 1) * PAGE < total {
        pager.push_str(&format!("<a href=\"{}\">Next →</a>", link(page_no + 1)));
    }
    let waiting_count = clients.iter().filter(|c| waiting(c)).count();
    let body = format!(
        "<h1>Clients</h1><form method=\"get\" action=\"{base_e}\" class=\"row\" role=\"search\">\
         <div><label for=\"client-search\">Search by client ID</label><input type=\"search\" id=\"client-search\" name=\"search\" value=\"{search_e}\"></div>\
         <div><label class=\"check\" for=\"waiting\"><input type=\"checkbox\" id=\"waiting\" name=\"waiting\" value=\"1\"{w}><span>Only clients waiting for approval</span></label></div>\
         <div><button type=\"submit\">Filter</button></div></form>\
         <p class=\"muted\">{total} client(s){wc}.</p>\
         <table><thead><tr><th scope=\"col\">Client ID</th><th scope=\"col\">Name</th><th scope=\"col\">State</th><th scope=\"col\">Registered</th><th scope=\"col\">Created</th><th scope=\"col\">Actions</th></tr></thead><tbody>{rows}</tbody></table>\
         <nav class=\"pager\" aria-label=\"Pages\">{pager}</nav>",
        base_e = escape(&base),
        search_e = escape(&search),
        w = if only_waiting { " checked" } else { "" },
        wc = if only_waiting || waiting_count == 0 {
            String::new()
        } else {
            format!(", {waiting_count} waiting for approval on this list")
        },
    );
    Page::new(&c, "Clients", Some((&realm.name, Tab::Clients)))
        .flash(q.get("done"))
        .body(body)
        .render()
}

pub async fn detail(
    c: Console,
    Path((realm, id)): Path<(String, String)>,
    q: QueryMap,
) -> Response {
    render_detail(&c, &realm, &id, q.get("done"), None).await
}

/// The detail page; `shown_once` is a secret or token to show now and never again.
async fn render_detail(
    c: &Console,
    realm: &str,
    id: &str,
    done: Option<&String>,
    shown_once: Option<(&str, String)>,
) -> Response {
    let (realm, rights) = match c.realm(realm, Right::ViewClients).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let client = match crate::admin::lookup::client_or_404(&c.state, &realm, id).await {
        Ok(cl) => cl,
        Err(e) => return c.error_page(e),
    };
    let url = c.realm_url(&realm.name, &format!("/clients/{}", client.id));
    let metadata =
        serde_json::to_string_pretty(&Value::Object(to_metadata(&client.rep))).unwrap_or_default();
    let registered = c
        .state
        .store
        .list_events(
            &realm.id,
            &EventQuery {
                types: vec!["CLIENT_REGISTER".into()],
                client_id: Some(client.client_id.clone()),
                window: EventWindow {
                    max: 1,
                    ascending: true,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
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
         <dt>Internal ID</dt><dd><code>{uuid}</code></dd></dl></section>{actions}\
         <section class=\"card\"><h2>Registered metadata</h2><pre id=\"metadata\">{metadata}</pre></section>",
        back = escape(&c.realm_url(&realm.name, "/clients")),
        cid = escape(&client.client_id),
        name = escape(client.rep.name.as_deref().unwrap_or("")),
        badge = state_badge(&client),
        kind = if client.rep.is_public() {
            "public"
        } else {
            "confidential"
        },
        how = escape(&how),
        created = page::time(client.created_at),
        uuid = escape(&client.id),
        metadata = escape(&metadata),
    );
    Page::new(c, &client.client_id, Some((&realm.name, Tab::Clients)))
        .flash(done)
        .body(body)
        .render()
}

pub async fn set_enabled(
    State(state): State<SharedState>,
    Path((realm, id)): Path<(String, String)>,
    post: ConsolePost,
) -> Response {
    let c = &post.console;
    let enabled = post.form.get("enabled") == Some("true");
    let patch = json!({
        "enabled": enabled,
        "attributes": { DISABLED_BY_ADMIN: (!enabled).to_string() },
    });
    let patch_json = patch.clone();
    let patch = match serde_json::from_value(patch) {
        Ok(p) => p,
        Err(e) => return c.error_page(crate::error::AdminError::internal(e)),
    };
    let answer = api::update(
        State(state),
        c.auth.clone(),
        Path((realm.clone(), id.clone())),
        KcJson(patch),
    )
    .await;
    match post
        .audited(
            Method::PUT,
            &api_path(&realm, &format!("/clients/{id}")),
            &patch_json,
            answer,
        )
        .await
    {
        Ok(_) => {
            let done = if enabled {
                "client-enabled"
            } else {
                "client-disabled"
            };
            let to = if post.form.get("back") == Some("list") {
                c.realm_url(&realm, &format!("/clients?done={done}"))
            } else {
                c.realm_url(&realm, &format!("/clients/{id}?done={done}"))
            };
            Redirect::to(&to).into_response()
        }
        Err(e) => c.error_page(e),
    }
}

pub async fn regenerate_secret(
    State(state): State<SharedState>,
    Path((realm, id)): Path<(String, String)>,
    post: ConsolePost,
) -> Response {
    let c = &post.console;
    let answer = api::regenerate_secret(
        State(state),
        c.auth.clone(),
        Path((realm.clone(), id.clone())),
    )
    .await;
    let path = api_path(&realm, &format!("/clients/{id}/client-secret"));
    match json_of(
        post.audited(Method::POST, &path, &Value::Null, answer)
            .await,
    )
    .await
    {
        Ok((_, v)) => {
            let secret = v
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            render_detail(c, &realm, &id, None, Some(("New client secret", secret))).await
        }
        Err(e) => c.error_page(e),
    }
}

pub async fn registration_access_token(
    State(state): State<SharedState>,
    Path((realm, id)): Path<(String, String)>,
    post: ConsolePost,
) -> Response {
    let c = &post.console;
    let answer = api::registration_access_token(
        State(state),
        c.auth.clone(),
        Path((realm.clone(), id.clone())),
    )
    .await;
    let path = api_path(&realm, &format!("/clients/{id}/registration-access-token"));
    match json_of(
        post.audited(Method::POST, &path, &Value::Null, answer)
            .await,
    )
    .await
    {
        Ok((_, v)) => {
            let token = v
                .get("registrationAccessToken")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            render_detail(
                c,
                &realm,
                &id,
                None,
                Some(("New registration access token", token)),
            )
            .await
        }
        Err(e) => c.error_page(e),
    }
}

pub async fn delete(
    State(state): State<SharedState>,
    Path((realm, id)): Path<(String, String)>,
    post: ConsolePost,
) -> Response {
    let c = &post.console;
    let path = api_path(&realm, &format!("/clients/{id}"));
    let answer = api::delete(State(state), c.auth.clone(), Path((realm.clone(), id))).await;
    match post
        .audited(Method::DELETE, &path, &Value::Null, answer)
        .await
    {
        Ok(_) => Redirect::to(&c.realm_url(&realm, "/clients?done=client-deleted")).into_response(),
        Err(e) => {
            let (status, message) = super::describe(e);
            c.error_page(crate::error::AdminError::Described(
                if status.is_server_error() {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    status
                },
                "error",
                message,
            ))
        }
    }
}
