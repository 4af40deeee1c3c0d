//! Events: the realm's registration events with filters (type, client, dates) and paging,
//! and its admin events (operation, resource type, dates) with the switch that records
//! them; both filtered by the admin API's own query language, so the filters mean the same.

use axum::extract::Path;
use axum::http::StatusCode;
use latchkey_core::rep::RealmRep;
use latchkey_core::roles::Right;

use super::form::{ConsolePost, QueryMap};
use super::page::{self, Page, Tab, escape, field_error, invalid_attrs};
use super::user::{Answer, Console, describe};
use crate::error::AdminError;
use crate::service::{audit, events, realms};

const PAGE: i64 = 25;

const TYPES: [&str; 8] = [
    "CLIENT_REGISTER",
    "CLIENT_REGISTER_ERROR",
    "CLIENT_INFO",
    "CLIENT_INFO_ERROR",
    "CLIENT_UPDATE",
    "CLIENT_UPDATE_ERROR",
    "CLIENT_DELETE",
    "CLIENT_DELETE_ERROR",
];

pub async fn list(c: Console, Path(realm): Path<String>, q: QueryMap) -> Answer {
    if q.get("kind").map(String::as_str) == Some("admin") {
        return admin_list(c, realm, q).await;
    }
    let admin = c.realm(&realm, Right::ViewEvents).await?;
    let filters = Filters::read(
        &q,
        &[
            ("type", "type"),
            ("client", "client"),
            ("dateFrom", "dateFrom"),
            ("dateTo", "dateTo"),
        ],
    );
    let (kind, client, from, to) = (
        filters.value("type"),
        filters.value("client"),
        filters.value("dateFrom"),
        filters.value("dateTo"),
    );
    let (list, error) = match events::query(Some(&filters.api_query())) {
        Ok(q) => (
            events::list(&c.state, &admin, &q).await.map_err(c.fail())?,
            None,
        ),
        Err(e) => (Vec::new(), Some(e)),
    };
    let (status, error) = shown(error);
    let mut rows = String::new();
    for e in list.iter().take(PAGE as usize) {
        let s = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
        let details: Vec<String> = e.details.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let on = if e.kind.ends_with("_ERROR") {
            "off"
        } else {
            "on"
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td><span class=\"badge {on}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
            page::time(e.time),
            escape(&e.kind),
            s(&e.client_id),
            s(&e.ip_address),
            s(&e.error),
            escape(&details.join(", ")),
        ));
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"6\" class=\"muted\">No events match.</td></tr>".into();
    }
    let base = c.realm_url(&realm, "/events");
    let pager = filters.pager(&base, &[], list.len());
    let options = options("All types", &TYPES, kind);
    let body = format!(
        "<h1>Events</h1>{tabs}<h2>Registration events</h2><p class=\"help\">Requests to the client registration endpoints, accepted and refused, newest first.</p>\
         <form method=\"get\" action=\"{base_e}\" class=\"row\" role=\"search\">\
         <div><label for=\"ev-type\">Type</label><select id=\"ev-type\" name=\"type\">{options}</select></div>\
         <div><label for=\"ev-client\">Client ID</label><input type=\"text\" id=\"ev-client\" name=\"client\" value=\"{client_e}\"></div>\
         {dates}<div><button type=\"submit\">Filter</button></div></form>{form_error}\
         <table><thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Type</th><th scope=\"col\">Client</th><th scope=\"col\">Address</th><th scope=\"col\">Error</th><th scope=\"col\">Details</th></tr></thead><tbody>{rows}</tbody></table>\
         <nav class=\"pager\" aria-label=\"Pages\">{pager}</nav>",
        tabs = kind_tabs(&c, &realm, false),
        base_e = escape(&base),
        client_e = escape(client),
        dates = date_filters("ev", (from, to), true, error.as_deref()),
        form_error = form_error(error.as_deref()),
    );
    Ok(Page::new(&c, "Events", Some((&realm, Tab::Events)))
        .status(status)
        .body(body)
        .render())
}

/// The filters of an event listing: each form field (trimmed, empty = unset) under the
/// admin API's name for it, and the page shown.
struct Filters {
    fields: Vec<(&'static str, &'static str, String)>,
    page_no: i64,
}

impl Filters {
    fn read(q: &QueryMap, names: &[(&'static str, &'static str)]) -> Filters {
        let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        Filters {
            fields: names
                .iter()
                .map(|(form, api)| (*form, *api, get(form)))
                .collect(),
            page_no: get("page").parse().unwrap_or(0i64).max(0),
        }
    }

    fn value(&self, form: &str) -> &str {
        self.fields
            .iter()
            .find(|(f, _, _)| *f == form)
            .map(|(_, _, v)| v.as_str())
            .unwrap_or("")
    }

    /// The admin API query for this page: one more event than a page, to know whether
    /// there is a next one.
    fn api_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = self
            .fields
            .iter()
            .filter(|(_, _, v)| !v.is_empty())
            .map(|(_, api, v)| (*api, v.clone()))
            .collect();
        pairs.push(("first", (self.page_no * PAGE).to_string()));
        pairs.push(("max", (PAGE + 1).to_string()));
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }

    /// Links to the newer and older pages, keeping the filters (`fixed` pairs first).
    fn pager(&self, base: &str, fixed: &[(&str, &str)], fetched: usize) -> String {
        let link = |p: i64| {
            let mut pairs: Vec<(&str, String)> =
                fixed.iter().map(|(k, v)| (*k, v.to_string())).collect();
            pairs.extend(self.fields.iter().map(|(form, _, v)| (*form, v.clone())));
            pairs.push(("page", p.to_string()));
            let qs = serde_urlencoded::to_string(&pairs).unwrap_or_default();
            escape(&format!("{base}?{qs}"))
        };
        let mut pager = String::new();
        if self.page_no > 0 {
            pager.push_str(&format!(
                "<a href=\"{}\">← Newer</a>",
                link(self.page_no - 1)
            ));
        }
        if fetched as i64 > PAGE {
            pager.push_str(&format!(
                "<a href=\"{}\">Older →</a>",
                link(self.page_no + 1)
            ));
        }
        pager
    }
}

/// The page's status and the message to show beside the form for a bad filter (a 400,
/// with no events).
fn shown(error: Option<AdminError>) -> (StatusCode, Option<String>) {
    match error.map(describe) {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    }
}

/// A filter's `<option>`s: "all" (`""`), then each value, `selected` marked.
fn options(all: &str, values: &[&str], selected: &str) -> String {
    std::iter::once(format!("<option value=\"\">{all}</option>"))
        .chain(values.iter().map(|v| {
            format!(
                "<option value=\"{v}\"{}>{v}</option>",
                if *v == selected { " selected" } else { "" }
            )
        }))
        .collect()
}

/// A listing's two date filters (`{id}-from`, `{id}-to`), each showing the error that
/// names it; `examples` adds example dates as placeholders.
fn date_filters(id: &str, (from, to): (&str, &str), examples: bool, error: Option<&str>) -> String {
    let field = |suffix: &str, name: &str, label: &str, value: &str, example: &str| {
        let id = format!("{id}-{suffix}");
        let error = error.filter(|m| m.contains(name));
        let placeholder = if examples {
            format!(" placeholder=\"{example}\"")
        } else {
            String::new()
        };
        format!(
            "<div><label for=\"{id}\">{label} (yyyy-mm-dd)</label><input type=\"text\" id=\"{id}\" name=\"{name}\" value=\"{}\"{placeholder}{}>{}</div>",
            escape(value),
            invalid_attrs(&id, error),
            field_error(&id, error),
        )
    };
    field("from", "dateFrom", "From", from, "2026-01-31")
        + &field("to", "dateTo", "To", to, "2026-12-31")
}

/// A bad filter's message under the form, unless a date field shows it.
fn form_error(error: Option<&str>) -> String {
    match error {
        Some(m) if !m.contains("dateFrom") && !m.contains("dateTo") => {
            format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m))
        }
        _ => String::new(),
    }
}

fn kind_tabs(c: &Console, realm: &str, admin: bool) -> String {
    let current = |on: bool| if on { " aria-current=\"page\"" } else { "" };
    format!(
        "<nav class=\"tabs\" aria-label=\"Event kinds\"><a href=\"{}\"{}>Registration events</a><a href=\"{}\"{}>Admin events</a></nav>",
        escape(&c.realm_url(realm, "/events")),
        current(!admin),
        escape(&c.realm_url(realm, "/events?kind=admin")),
        current(admin),
    )
}

const OPERATIONS: [&str; 4] = ["CREATE", "UPDATE", "DELETE", "ACTION"];

/// Admin events: changes made through the admin API or this console, when the realm
/// records them (`adminEventsEnabled`, off by default as in Keycloak).
async fn admin_list(c: Console, realm_name: String, q: QueryMap) -> Answer {
    let admin = c.realm(&realm_name, Right::ViewEvents).await?;
    let (realm, rights) = (&admin.realm, admin.rights());
    let filters = Filters::read(
        &q,
        &[
            ("operationType", "operationTypes"),
            ("resourceType", "resourceTypes"),
            ("dateFrom", "dateFrom"),
            ("dateTo", "dateTo"),
        ],
    );
    let (operation, resource, from, to) = (
        filters.value("operationType"),
        filters.value("resourceType"),
        filters.value("dateFrom"),
        filters.value("dateTo"),
    );
    let (list, error) = match audit::query(Some(&filters.api_query())) {
        Ok(q) => (
            audit::list(&c.state, &admin, &q).await.map_err(c.fail())?,
            None,
        ),
        Err(e) => (Vec::new(), Some(e)),
    };
    let (status, error) = shown(error);
    let on_page = &list[..list.len().min(PAGE as usize)];
    // Who made each change, by name (the events store ids).
    let mut names: std::collections::HashMap<(&str, &str), String> = Default::default();
    for e in on_page {
        let key = (e.auth_realm_id.as_str(), e.auth_user_id.as_str());
        if names.contains_key(&key) {
            continue;
        }
        if let Ok(Some(u)) = c.state.store.user(key.0, key.1).await {
            names.insert(key, u.username);
        }
    }
    let mut rows = String::new();
    for e in on_page {
        let by = names
            .get(&(e.auth_realm_id.as_str(), e.auth_user_id.as_str()))
            .unwrap_or(&e.auth_user_id);
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td class=\"muted\">{}</td></tr>",
            page::time(e.time),
            escape(&e.operation_type),
            escape(&e.resource_type),
            escape(&e.resource_path),
            escape(by),
            escape(&e.ip_address),
            escape(e.representation.as_deref().unwrap_or("")),
        ));
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"7\" class=\"muted\">No admin events match.</td></tr>".into();
    }
    let base = c.realm_url(&realm.name, "/events");
    let pager = filters.pager(&base, &[("kind", "admin")], list.len());
    let options = options("All operations", &OPERATIONS, operation);
    let enabled = realm.rep.admin_events_enabled == Some(true);
    let details = realm.rep.admin_events_details_enabled == Some(true);
    let settings = if rights.allows(Right::ManageEvents) || rights.allows(Right::ManageRealm) {
        format!(
            "<form method=\"post\" action=\"{}\" class=\"card\">{}\
             <label class=\"check\" for=\"admin-events-enabled\"><input type=\"checkbox\" id=\"admin-events-enabled\" name=\"adminEventsEnabled\" value=\"true\"{}><span>Record admin events<span class=\"help\">Every change made through the admin API or this console is recorded in this realm (off by default, as in Keycloak).</span></span></label>\
             <label class=\"check\" for=\"admin-events-details\"><input type=\"checkbox\" id=\"admin-events-details\" name=\"adminEventsDetailsEnabled\" value=\"true\"{}><span>Include the representation<span class=\"help\">Also store what was sent (credentials and secrets are left out).</span></span></label>\
             <button type=\"submit\">Save</button></form>",
            escape(&c.realm_url(&realm.name, "/events/settings")),
            super::page::csrf_field(&c),
            if enabled { " checked" } else { "" },
            if details { " checked" } else { "" },
        )
    } else {
        String::new()
    };
    let off = if enabled {
        String::new()
    } else {
        "<p class=\"warning\">This realm does not record admin events: changes are not being kept.</p>".to_string()
    };
    let body = format!(
        "<h1>Events</h1>{tabs}<h2>Admin events</h2>{off}{settings}\
         <form method=\"get\" action=\"{base_e}\" class=\"row\" role=\"search\"><input type=\"hidden\" name=\"kind\" value=\"admin\">\
         <div><label for=\"ae-op\">Operation</label><select id=\"ae-op\" name=\"operationType\">{options}</select></div>\
         <div><label for=\"ae-resource\">Resource type</label><input type=\"text\" id=\"ae-resource\" name=\"resourceType\" value=\"{resource_e}\" placeholder=\"CLIENT\"></div>\
         {dates}<div><button type=\"submit\">Filter</button></div></form>{form_error}\
         <table><thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Operation</th><th scope=\"col\">Resource</th><th scope=\"col\">Path</th><th scope=\"col\">By user</th><th scope=\"col\">Address</th><th scope=\"col\">Representation</th></tr></thead><tbody>{rows}</tbody></table>\
         <nav class=\"pager\" aria-label=\"Pages\">{pager}</nav>",
        tabs = kind_tabs(&c, &realm.name, true),
        base_e = escape(&base),
        resource_e = escape(resource),
        dates = date_filters("ae", (from, to), false, error.as_deref()),
        form_error = form_error(error.as_deref()),
    );
    Ok(
        Page::new(&c, "Admin events", Some((&realm.name, Tab::Events)))
            .status(status)
            .flash(q.get("done"))
            .body(body)
            .render(),
    )
}

/// Switches the realm's admin-event recording (a realm update, as the admin API does it).
pub async fn save_settings(Path(realm): Path<String>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let patch = RealmRep {
        admin_events_enabled: Some(post.form.checked("adminEventsEnabled")),
        admin_events_details_enabled: Some(post.form.checked("adminEventsDetailsEnabled")),
        ..Default::default()
    };
    let admin = c.realm(&realm, Right::ManageRealm).await?;
    realms::update(&c.state, &admin, patch)
        .await
        .map_err(c.fail())?;
    Ok(c.redirect(&realm, "/events?kind=admin&done=events-saved"))
}
