//! Resource servers (RFC 8707): the URIs clients may name with `resource`; list, add,
//! delete, through the same operations and rights as the admin API (`view-realm` to see,
//! `manage-realm` to change).

use axum::extract::Path;
use axum::http::StatusCode;
use latchkey_core::roles::Right;

use super::form::{ConsolePost, QueryMap, lines};
use super::page::{Page, Tab, button_form, csrf_field, escape, field_error, invalid_attrs};
use super::user::{Answer, Console, describe};
use crate::service::resource_servers::{self, ResourceServerRep};

/// What the add form sent back, for showing it again with an error.
#[derive(Default)]
struct Typed {
    uri: String,
    name: String,
    scopes: String,
    /// (field, message)
    error: Option<(&'static str, String)>,
}

pub async fn list(c: Console, Path(realm): Path<String>, q: QueryMap) -> Answer {
    render(&c, &realm, q.get("done"), Typed::default(), StatusCode::OK).await
}

async fn render(
    c: &Console,
    realm: &str,
    done: Option<&String>,
    typed: Typed,
    status: StatusCode,
) -> Answer {
    let admin = c.realm(realm, Right::ViewRealm).await?;
    let may_change = admin.rights().allows(Right::ManageRealm);
    let servers = resource_servers::list(&c.state, &admin)
        .await
        .map_err(c.fail())?;
    let mut rows = String::new();
    for s in &servers {
        let scopes = if s.scopes.is_empty() {
            "<span class=\"muted\">every client</span>".to_string()
        } else {
            escape(&s.scopes.join(", "))
        };
        let delete = if may_change {
            button_form(
                c,
                &c.realm_url(realm, &format!("/resource-servers/{}/delete", s.id)),
                &format!(
                    "Delete<span class=\"skip\"> resource server {}</span>",
                    escape(&s.uri)
                ),
                "",
                "small danger",
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{scopes}</td><td class=\"actions\">{delete}</td></tr>",
            escape(&s.uri),
            escape(&s.name),
        ));
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"4\" class=\"muted\">No resource servers: a token request naming a resource is refused.</td></tr>".into();
    }
    let err = |f: &str| {
        typed
            .error
            .as_ref()
            .filter(|(n, _)| *n == f)
            .map(|(_, m)| m.as_str())
    };
    let form = if may_change {
        format!(
            "<section class=\"card\"><h2>Add a resource server</h2><form method=\"post\" action=\"{action}\">{csrf}\
             <label for=\"rs-uri\">URI (https, or http to a loopback address; no query or fragment)</label><input type=\"url\" id=\"rs-uri\" name=\"uri\" required size=\"60\" value=\"{uri}\"{uri_a}>{uri_e}\
             <label for=\"rs-name\">Name (optional)</label><input type=\"text\" id=\"rs-name\" name=\"name\" value=\"{name}\"{name_a}>{name_e}\
             <label for=\"rs-scopes\">Client scopes that admit a client (optional, one per line; none: every client)</label><textarea id=\"rs-scopes\" name=\"scopes\" rows=\"2\"{sc_a}>{scopes}</textarea>{sc_e}\
             <button type=\"submit\">Add resource server</button></form></section>",
            action = escape(&c.realm_url(realm, "/resource-servers")),
            csrf = csrf_field(c),
            uri = escape(&typed.uri),
            name = escape(&typed.name),
            scopes = escape(&typed.scopes),
            uri_a = invalid_attrs("rs-uri", err("uri")),
            uri_e = field_error("rs-uri", err("uri")),
            name_a = invalid_attrs("rs-name", err("name")),
            name_e = field_error("rs-name", err("name")),
            sc_a = invalid_attrs("rs-scopes", err("scopes")),
            sc_e = field_error("rs-scopes", err("scopes")),
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>Resource servers</h1><p class=\"help\">The resources (RFC 8707) clients may ask tokens for with the <code>resource</code> parameter; a token's audience is the resource it was asked for.</p>{form}\
         <h2>Resource servers of this realm</h2><table><thead><tr><th scope=\"col\">URI</th><th scope=\"col\">Name</th><th scope=\"col\">Client scopes</th><th scope=\"col\">Actions</th></tr></thead><tbody>{rows}</tbody></table>"
    );
    Ok(
        Page::new(c, "Resource servers", Some((realm, Tab::ResourceServers)))
            .status(status)
            .flash(done)
            .body(body)
            .render(),
    )
}

pub async fn create(Path(realm): Path<String>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let mut typed = Typed {
        uri: post.form.text("uri"),
        name: post.form.text("name"),
        scopes: post.form.get("scopes").unwrap_or("").to_string(),
        error: None,
    };
    let rep = ResourceServerRep {
        id: None,
        uri: Some(typed.uri.clone()),
        name: (!typed.name.is_empty()).then(|| typed.name.clone()),
        scopes: Some(lines(&typed.scopes)),
    };
    let admin = c.realm(&realm, Right::ManageRealm).await?;
    match resource_servers::create(&c.state, &admin, rep).await {
        Ok(_) => Ok(c.redirect(&realm, "/resource-servers?done=resource-server-added")),
        Err(e) => {
            let (status, message) = describe(e);
            if !matches!(status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) {
                return Err(c.page_for(status, &message));
            }
            let field = if message.starts_with("scopes") {
                "scopes"
            } else if message.starts_with("name") {
                "name"
            } else {
                "uri"
            };
            typed.error = Some((field, message));
            render(c, &realm, None, typed, status).await
        }
    }
}

pub async fn delete(Path((realm, id)): Path<(String, String)>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let admin = c.realm(&realm, Right::ManageRealm).await?;
    resource_servers::delete(&c.state, &admin, &id)
        .await
        .map_err(c.fail())?;
    Ok(c.redirect(&realm, "/resource-servers?done=resource-server-deleted"))
}
