//! The clients list: search by client ID, filters by how a client was registered, by use
//! (never used, unused for N days) and by "waiting for approval", paging, and the bulk actions on a selection (enable, disable,
//! delete), each first shown on a confirmation page that names the count.

use axum::extract::Path;
use latchkey_core::last_used;
use latchkey_core::messages::display;
use latchkey_core::registration::kind::RegistrationKind;
use latchkey_core::roles::Right;
use latchkey_core::store::{ClientQuery, ClientRecord, Usage};

use super::clients::{DISABLED_BY_ADMIN, last_used, registration_auth, state_badge, waiting};
use super::form::{ConsolePost, QueryMap};
use super::page::{self, Page, Tab, button_form, csrf_field, escape};
use super::user::{Answer, Console};
use crate::service::client_bulk::{self, BulkAction, MAX_SELECTION};
use crate::service::clients;
use crate::state::now_millis;

const PAGE: i64 = 50;

/// The words the console shows for a registration kind.
pub(super) fn kind_label(kind: RegistrationKind) -> &'static str {
    match kind {
        RegistrationKind::Admin => "by an administrator",
        RegistrationKind::Anonymous => "anonymous",
        RegistrationKind::InitialAccessToken => "initial access token",
        RegistrationKind::Bearer => "bearer (access token)",
        RegistrationKind::Cimd => "client ID metadata document",
        RegistrationKind::Authenticated => "authenticated (token not recorded)",
    }
}

/// The list's filters, read from its query and written back into its links.
struct Filters {
    search: String,
    kind: Option<RegistrationKind>,
    /// `never`, `unused` (for `days`) or empty
    usage: String,
    days: i64,
    only_waiting: bool,
    page: i64,
}

/// The longest "unused for N days" the filter takes (a century).
const MAX_DAYS: i64 = 36_500;

impl Filters {
    fn read(q: &QueryMap) -> Filters {
        Filters {
            search: q
                .get("search")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            kind: q.get("kind").and_then(|k| RegistrationKind::parse(k)),
            usage: match q.get("usage").map(String::as_str) {
                Some(u @ ("never" | "unused")) => u.to_string(),
                _ => String::new(),
            },
            days: q
                .get("days")
                .and_then(|d| d.trim().parse().ok())
                .unwrap_or(30i64)
                .clamp(1, MAX_DAYS),
            only_waiting: q.get("waiting").is_some_and(|v| v == "1"),
            page: q
                .get("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0i64)
                .clamp(0, i64::MAX / PAGE - 1),
        }
    }

    fn query(&self) -> ClientQuery {
        ClientQuery {
            client_id: (!self.search.is_empty()).then(|| self.search.clone()),
            search: true,
            registration: self.kind,
            usage: match self.usage.as_str() {
                "never" => Some(Usage::Never),
                "unused" => Some(Usage::UnusedSince(
                    last_used::day(now_millis()) - self.days + 1,
                )),
                _ => None,
            },
            ..Default::default()
        }
    }

    fn link(&self, base: &str, page: i64) -> String {
        let qs = serde_urlencoded::to_string([
            ("search", self.search.as_str()),
            (
                "kind",
                self.kind.map(RegistrationKind::as_str).unwrap_or(""),
            ),
            ("usage", self.usage.as_str()),
            ("days", &self.days.to_string()),
            ("waiting", if self.only_waiting { "1" } else { "" }),
            ("page", &page.to_string()),
        ])
        .unwrap_or_default();
        escape(&format!("{base}?{qs}"))
    }
}

/// One page of clients and how many match: paged by the store, except for "waiting for
/// approval", which reads each matching client's state.
async fn page_of(
    c: &Console,
    admin: &crate::service::RealmAdmin<'_>,
    f: &Filters,
) -> Result<(Vec<ClientRecord>, i64), axum::response::Response> {
    let mut query = f.query();
    if f.only_waiting {
        let mut all = clients::list(&c.state, admin, &query)
            .await
            .map_err(c.fail())?;
        all.retain(waiting);
        let total = all.len() as i64;
        let shown = all
            .into_iter()
            .skip((f.page * PAGE) as usize)
            .take(PAGE as usize)
            .collect();
        return Ok((shown, total));
    }
    let total = clients::count(&c.state, admin, &query)
        .await
        .map_err(c.fail())?;
    query.first = f.page * PAGE;
    query.max = Some(PAGE);
    let shown = clients::list(&c.state, admin, &query)
        .await
        .map_err(c.fail())?;
    Ok((shown, total))
}

pub async fn list(c: Console, Path(realm): Path<String>, q: QueryMap) -> Answer {
    let admin = c.realm(&realm, Right::QueryClients).await?;
    let realm = &admin.realm;
    let f = Filters::read(&q);
    let (shown, total) = page_of(&c, &admin, &f).await?;
    let manage = admin.rights().allows(Right::ManageClients);
    let mut rows = String::new();
    for client in &shown {
        let url = c.realm_url(&realm.name, &format!("/clients/{}", client.id));
        let (toggle, select) = if manage {
            (
                toggle_button(&c, &url, client),
                format!(
                    "<td><input type=\"checkbox\" name=\"id\" value=\"{}\" form=\"bulk\" aria-label=\"Select {}\"></td>",
                    escape(&client.id),
                    escape(&client.client_id)
                ),
            )
        } else {
            (String::new(), String::new())
        };
        rows.push_str(&format!(
            "<tr>{select}<td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"actions\">{toggle}</td></tr>",
            escape(&url),
            escape(&client.client_id),
            escape(&display(client.rep.name.as_deref().unwrap_or(""))),
            state_badge(client),
            escape(registration_auth(client).map_or("admin", |_| {
                kind_label(RegistrationKind::of(&client.rep))
            })),
            page::time(client.created_at),
            last_used(client),
        ));
    }
    let columns = if manage { 8 } else { 7 };
    if rows.is_empty() {
        rows = format!("<tr><td colspan=\"{columns}\" class=\"muted\">No clients match.</td></tr>");
    }
    let base = c.realm_url(&realm.name, "/clients");
    let mut pager = String::new();
    if f.page > 0 {
        pager.push_str(&format!(
            "<a href=\"{}\">← Previous</a>",
            f.link(&base, f.page - 1)
        ));
    }
    if (f.page + 1) * PAGE < total {
        pager.push_str(&format!(
            "<a href=\"{}\">Next →</a>",
            f.link(&base, f.page + 1)
        ));
    }
    let waiting_count = shown.iter().filter(|c| waiting(c)).count();
    let mut kinds = format!(
        "<option value=\"\"{}>Any way</option>",
        if f.kind.is_none() { " selected" } else { "" }
    );
    for k in RegistrationKind::ALL {
        kinds.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            k.as_str(),
            if f.kind == Some(k) { " selected" } else { "" },
            kind_label(k)
        ));
    }
    let bulk = if manage {
        format!(
            "<form id=\"bulk\" method=\"post\" action=\"{}\" class=\"row\">{}\
             <p class=\"muted\">With the selected clients (at most {MAX_SELECTION}):</p>\
             <button type=\"submit\" name=\"action\" value=\"enable\" class=\"small secondary\">Enable selected</button>\
             <button type=\"submit\" name=\"action\" value=\"disable\" class=\"small secondary\">Disable selected</button>\
             <button type=\"submit\" name=\"action\" value=\"delete\" class=\"small danger\">Delete selected</button></form>",
            escape(&format!("{base}/bulk")),
            csrf_field(&c),
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>Clients</h1><form method=\"get\" action=\"{base_e}\" class=\"row\" role=\"search\">\
         <div><label for=\"client-search\">Search by client ID</label><input type=\"search\" id=\"client-search\" name=\"search\" value=\"{search_e}\"></div>\
         <div><label for=\"kind\">Registered</label><select id=\"kind\" name=\"kind\">{kinds}</select></div>\
         <div><label for=\"usage\">Use</label><select id=\"usage\" name=\"usage\">{usages}</select></div>\
         <div><label for=\"days\">Unused for (days)</label><input type=\"number\" id=\"days\" name=\"days\" min=\"1\" max=\"{MAX_DAYS}\" value=\"{days}\"></div>\
         <div><label class=\"check\" for=\"waiting\"><input type=\"checkbox\" id=\"waiting\" name=\"waiting\" value=\"1\"{w}><span>Only clients waiting for approval</span></label></div>\
         <div><button type=\"submit\">Filter</button></div></form>\
         <p class=\"muted\" id=\"client-count\">{total} client(s){wc}.</p>{bulk}\
         <table><thead><tr>{select_head}<th scope=\"col\">Client ID</th><th scope=\"col\">Name</th><th scope=\"col\">State</th><th scope=\"col\">Registered</th><th scope=\"col\">Created</th><th scope=\"col\">Last used</th><th scope=\"col\">Actions</th></tr></thead><tbody>{rows}</tbody></table>\
         <nav class=\"pager\" aria-label=\"Pages\">{pager}</nav>",
        base_e = escape(&base),
        search_e = escape(&f.search),
        days = f.days,
        usages = [
            ("", "Any"),
            ("never", "Never used"),
            ("unused", "Unused for N days")
        ]
        .iter()
        .map(|(v, label)| format!(
            "<option value=\"{v}\"{}>{label}</option>",
            if f.usage == *v { " selected" } else { "" }
        ))
        .collect::<String>(),
        w = if f.only_waiting { " checked" } else { "" },
        wc = if f.only_waiting || waiting_count == 0 {
            String::new()
        } else {
            format!(", {waiting_count} waiting for approval on this page")
        },
        select_head = if manage {
            "<th scope=\"col\"><span class=\"skip\">Select</span></th>"
        } else {
            ""
        },
    );
    Ok(Page::new(&c, "Clients", Some((&realm.name, Tab::Clients)))
        .flash(q.get("done"))
        .body(body)
        .render())
}

fn toggle_button(c: &Console, url: &str, client: &ClientRecord) -> String {
    if client.rep.is_enabled() {
        button_form(
            c,
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
            c,
            &format!("{url}/enabled"),
            &format!(
                "{}<span class=\"skip\"> {}</span>",
                if waiting(client) { "Approve" } else { "Enable" },
                escape(&client.client_id)
            ),
            "<input type=\"hidden\" name=\"enabled\" value=\"true\"><input type=\"hidden\" name=\"back\" value=\"list\">",
            "small",
        )
    }
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 client".into()
    } else {
        format!("{n} clients")
    }
}

/// A bulk action: without `confirm`, the page that names what it will change; with it,
/// the change, then what was done.
pub async fn bulk(Path(realm): Path<String>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let admin = c.realm(&realm, Right::ManageClients).await?;
    let Some(action) = post.form.get("action").and_then(BulkAction::parse) else {
        return Err(c.page_for(
            axum::http::StatusCode::BAD_REQUEST,
            "Choose enable, disable or delete.",
        ));
    };
    let ids = post.form.all("id");
    let selection = client_bulk::select(&c.state, &admin, &ids, action)
        .await
        .map_err(c.fail())?;
    let back = c.realm_url(&admin.realm.name, "/clients");
    let verb = match action {
        BulkAction::Enable => "Enable",
        BulkAction::Disable => "Disable",
        BulkAction::Delete => "Delete",
    };
    let skipped = if selection.built_in.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"warning\" id=\"skipped\">Built-in clients are never {} in bulk; skipped: {}.</p>",
            if action == BulkAction::Delete {
                "deleted"
            } else {
                "disabled"
            },
            selection
                .built_in
                .iter()
                .map(|id| format!("<code>{}</code>", escape(&display(id))))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let count = selection.clients.len();
    if post.form.get("confirm") != Some("yes") || count == 0 {
        let title = format!("{verb} {}?", plural(count));
        let listed: String = selection
            .clients
            .iter()
            .map(|cl| {
                format!(
                    "<li><code>{}</code><input type=\"hidden\" name=\"id\" value=\"{}\"></li>",
                    escape(&cl.client_id),
                    escape(&cl.id)
                )
            })
            .collect();
        let form = if count == 0 {
            "<p>No client to change.</p>".to_string()
        } else {
            format!(
                "<form method=\"post\" action=\"{}\">{}<input type=\"hidden\" name=\"action\" value=\"{}\">\
                 <input type=\"hidden\" name=\"confirm\" value=\"yes\"><ul class=\"selection\">{listed}</ul>\
                 <button type=\"submit\" class=\"{}\">{title_e}</button> <a href=\"{}\">Cancel</a></form>",
                escape(&format!("{back}/bulk")),
                csrf_field(c),
                action.as_str(),
                if action == BulkAction::Delete {
                    "danger"
                } else {
                    ""
                },
                escape(&back),
                title_e = escape(&format!("{verb} {}", plural(count))),
            )
        };
        let body = format!(
            "<p><a href=\"{}\">← Clients</a></p><h1>{}</h1>{skipped}{form}",
            escape(&back),
            escape(&title)
        );
        return Ok(
            Page::new(c, &title, Some((&admin.realm.name, Tab::Clients)))
                .body(body)
                .render(),
        );
    }
    let marks = match action {
        BulkAction::Delete => Default::default(),
        _ => [(
            DISABLED_BY_ADMIN.to_string(),
            (action == BulkAction::Disable).to_string(),
        )]
        .into(),
    };
    let done = client_bulk::apply(&c.state, &admin, selection, action, marks)
        .await
        .map_err(c.fail())?;
    let past = match action {
        BulkAction::Enable => "enabled",
        BulkAction::Disable => "disabled",
        BulkAction::Delete => "deleted",
    };
    let body = format!(
        "<p><a href=\"{}\">← Clients</a></p><h1>Clients {past}</h1><p role=\"status\" id=\"bulk-done\">{} {past}.</p>{skipped}",
        escape(&back),
        plural(done)
    );
    Ok(
        Page::new(c, "Clients", Some((&admin.realm.name, Tab::Clients)))
            .body(body)
            .render(),
    )
}
