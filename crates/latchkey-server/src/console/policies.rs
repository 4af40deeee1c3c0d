//! Realm settings → Client registration → the policies: the anonymous and authenticated
//! sets as tables, adding a policy, and its edit form drawn from the provider's metadata.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use latchkey_core::policies::{POLICY_TYPE, Provider};
use latchkey_core::roles::Right;
use latchkey_core::store::ComponentRecord;
use serde_json::Value;

use super::form::{ConsolePost, QueryMap, lines};
use super::page::{Page, Tab, button_form, csrf_field, escape, field_error, invalid_attrs};
use super::user::{Answer, Console, describe};
use crate::error::AdminError;
use crate::service::RealmAdmin;
use crate::service::components::{self, ComponentIn};
use crate::service::scopes;

fn summary(p: &ComponentRecord) -> String {
    let parts: Vec<String> = p
        .config
        .iter()
        .map(|(k, v)| {
            let shown = if v.len() > 4 {
                format!("{} … ({} values)", v[..3].join(", "), v.len())
            } else {
                v.join(", ")
            };
            format!(
                "{k}: {}",
                if shown.is_empty() {
                    "(none)".into()
                } else {
                    shown
                }
            )
        })
        .collect();
    if parts.is_empty() {
        "no options".into()
    } else {
        parts.join("; ")
    }
}

pub(super) fn table(c: &Console, realm: &str, set: &str, policies: &[ComponentRecord]) -> String {
    let mut rows = String::new();
    for p in policies
        .iter()
        .filter(|p| p.sub_type.as_deref() == Some(set))
    {
        let edit = c.realm_url(realm, &format!("/client-registration/policies/{}", p.id));
        rows.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a></td><td><code>{}</code></td><td class=\"muted\">{}</td><td class=\"actions\"><a href=\"{}\">Edit</a> {}</td></tr>",
            escape(&edit),
            escape(&p.name),
            escape(&p.provider_id),
            escape(&summary(p)),
            escape(&edit),
            button_form(
                c,
                &format!("{edit}/delete"),
                &format!("Delete<span class=\"skip\"> {}</span>", escape(&p.name)),
                "",
                "small danger"
            ),
        ));
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"4\" class=\"muted\">No policies.</td></tr>".into();
    }
    let options: String = Provider::ALL
        .iter()
        .map(|p| {
            format!(
                "<option value=\"{id}\">{id}: {help}</option>",
                id = p.id(),
                help = escape(p.help_text())
            )
        })
        .collect();
    format!(
        "<table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Provider</th><th scope=\"col\">Options</th><th scope=\"col\">Actions</th></tr></thead><tbody>{rows}</tbody></table>\
         <form method=\"post\" action=\"{action}\" class=\"add-policy\">{csrf}<input type=\"hidden\" name=\"subType\" value=\"{set}\">\
         <div class=\"row\"><div><label for=\"{set}-provider\">Add an {set} policy: provider</label><select id=\"{set}-provider\" name=\"providerId\">{options}</select></div>\
         <div><label for=\"{set}-name\">Name (optional)</label><input type=\"text\" id=\"{set}-name\" name=\"name\"></div>\
         <div><button type=\"submit\">Add {set} policy</button></div></div></form>",
        action = escape(&c.realm_url(realm, "/client-registration/policies")),
        csrf = csrf_field(c),
    )
}

pub async fn create_policy(Path(realm): Path<String>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let provider_id = post.form.text("providerId");
    let Some(provider) = Provider::parse(&provider_id) else {
        return Err(c.error_page(AdminError::Invalid(format!(
            "Unknown client registration policy provider {provider_id:?}"
        ))));
    };
    // Start from the provider's defaults; the edit form that follows sets the rest.
    let mut config = BTreeMap::new();
    for p in provider.properties() {
        if let (Some(name), Some(default)) = (
            p.get("name").and_then(Value::as_str),
            p.get("defaultValue").and_then(Value::as_str),
        ) {
            config.insert(name.to_string(), vec![default.to_string()]);
        }
    }
    let name = post.form.text("name");
    let input = ComponentIn {
        name: Some(if name.is_empty() {
            provider_id.clone()
        } else {
            name
        }),
        provider_id: Some(provider_id),
        provider_type: Some(POLICY_TYPE.into()),
        sub_type: Some(post.form.text("subType")),
        config: Some(config),
        ..Default::default()
    };
    let admin = c.realm(&realm, Right::ManageRealm).await?;
    let created = components::create(&c.state, &admin, input)
        .await
        .map_err(c.fail())?;
    let to = format!(
        "/client-registration/policies/{}?done=policy-created",
        created.id
    );
    Ok(c.redirect(&realm, &to))
}

/// The realm's registration policies, by name.
pub(super) async fn of(
    c: &Console,
    admin: &RealmAdmin<'_>,
) -> Result<Vec<ComponentRecord>, Response> {
    let mut all = components::list(&c.state, admin).await.map_err(c.fail())?;
    all.retain(|p| p.provider_type == POLICY_TYPE);
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

async fn find(c: &Console, admin: &RealmAdmin<'_>, id: &str) -> Result<ComponentRecord, Response> {
    of(c, admin)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| c.error_page(AdminError::NotFound("Could not find component")))
}

pub async fn edit_policy(
    c: Console,
    Path((realm, id)): Path<(String, String)>,
    q: QueryMap,
) -> Answer {
    let admin = c.realm(&realm, Right::ViewRealm).await?;
    let policy = find(&c, &admin, &id).await?;
    edit_form(&c, &admin, &policy, q.get("done"), None, StatusCode::OK).await
}

async fn edit_form(
    c: &Console,
    admin: &RealmAdmin<'_>,
    policy: &ComponentRecord,
    done: Option<&String>,
    error: Option<String>,
    status: StatusCode,
) -> Answer {
    let realm = &admin.realm;
    let provider = Provider::parse(&policy.provider_id);
    let props = provider.map(Provider::properties).unwrap_or_default();
    // Which field an error belongs to: the property it names, else the form as a whole.
    let error_field = error.as_ref().map(|e| {
        props
            .iter()
            .filter_map(|p| p.get("name").and_then(Value::as_str))
            .find(|n| e.contains(n))
            .unwrap_or(match policy.provider_id.as_str() {
                "trusted-hosts" => "host-sending-registration-request-must-match",
                _ => "name",
            })
            .to_string()
    });
    let err_for = |field: &str| {
        (error_field.as_deref() == Some(field))
            .then_some(error.as_deref())
            .flatten()
    };
    let scopes: Vec<String> = scopes::list(&c.state, admin)
        .await
        .map_err(c.fail())?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mut fields = String::new();
    for p in &props {
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        let label = p.get("label").and_then(Value::as_str).unwrap_or(name);
        let help = p.get("helpText").and_then(Value::as_str).unwrap_or("");
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("String");
        let id = format!("cfg-{name}");
        let values = policy.config.get(name).cloned().unwrap_or_default();
        let e = err_for(name);
        let attrs = invalid_attrs(&id, e);
        let help_html = format!("<p class=\"help\" id=\"{id}-help\">{}</p>", escape(help));
        let input = match kind {
            "boolean" => {
                let on = values
                    .first()
                    .map(String::as_str)
                    .or_else(|| p.get("defaultValue").and_then(Value::as_str))
                    == Some("true");
                format!(
                    "<input type=\"hidden\" name=\"present\" value=\"{n}\"><label class=\"check\" for=\"{id}\"><input type=\"checkbox\" id=\"{id}\" name=\"cfg.{n}\" value=\"true\"{}{attrs}><span>{}{help_html}</span></label>",
                    if on { " checked" } else { "" },
                    escape(label),
                    n = escape(name),
                )
            }
            "MultivaluedList" => {
                let mut options: Vec<String> = p
                    .get("options")
                    .and_then(Value::as_array)
                    .map(|o| {
                        o.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                if options.is_empty() && name == "allowed-client-scopes" {
                    options = scopes.clone();
                }
                for v in &values {
                    if !options.contains(v) {
                        options.push(v.clone());
                    }
                }
                let boxes: String = options
                    .iter()
                    .enumerate()
                    .map(|(i, o)| {
                        format!(
                            "<label class=\"check\" for=\"{id}-{i}\"><input type=\"checkbox\" id=\"{id}-{i}\" name=\"cfg.{n}\" value=\"{v}\"{}><span><code>{v}</code></span></label>",
                            if values.contains(o) { " checked" } else { "" },
                            n = escape(name),
                            v = escape(o),
                        )
                    })
                    .collect();
                format!(
                    "<input type=\"hidden\" name=\"present\" value=\"{n}\"><fieldset{attrs}><legend>{}</legend>{help_html}{boxes}</fieldset>",
                    escape(label),
                    n = escape(name),
                )
            }
            "MultivaluedString" => format!(
                "<input type=\"hidden\" name=\"present\" value=\"{n}\"><label for=\"{id}\">{} (one per line)</label>{help_html}<textarea id=\"{id}\" name=\"cfg.{n}\" rows=\"4\" aria-describedby=\"{id}-help\"{attrs}>{}</textarea>",
                escape(label),
                escape(&values.join("\n")),
                n = escape(name),
            ),
            _ => format!(
                "<input type=\"hidden\" name=\"present\" value=\"{n}\"><label for=\"{id}\">{}</label>{help_html}<input type=\"{}\" id=\"{id}\" name=\"cfg.{n}\" value=\"{}\" aria-describedby=\"{id}-help\"{attrs}>",
                escape(label),
                if kind == "int" { "number" } else { "text" },
                escape(values.first().map(String::as_str).unwrap_or("")),
                n = escape(name),
            ),
        };
        fields.push_str(&input);
        fields.push_str(&field_error(&id, e));
    }
    if props.is_empty() {
        fields.push_str("<p class=\"muted\">This policy has no options.</p>");
    }
    let name_err = err_for("name");
    let action = c.realm_url(
        &realm.name,
        &format!("/client-registration/policies/{}", policy.id),
    );
    let body = format!(
        "<p><a href=\"{back}\">← Client registration</a></p><h1>{set} policy: {name}</h1>\
         <p class=\"help\"><code>{provider}</code>: {help}</p>\
         <section class=\"card\"><form method=\"post\" action=\"{action}\">{csrf}\
         <label for=\"policy-name\">Name</label><input type=\"text\" id=\"policy-name\" name=\"name\" value=\"{name}\" required{name_attrs}>{name_err}\
         {fields}<button type=\"submit\">Save policy</button></form></section>\
         <section class=\"card\"><h2>Delete</h2>{delete}</section>",
        back = escape(&c.realm_url(&realm.name, "/client-registration")),
        set = escape(policy.sub_type.as_deref().unwrap_or("")),
        name = escape(&policy.name),
        provider = escape(&policy.provider_id),
        help = escape(provider.map(Provider::help_text).unwrap_or("")),
        action = escape(&action),
        csrf = csrf_field(c),
        name_attrs = invalid_attrs("policy-name", name_err),
        name_err = field_error("policy-name", name_err),
        delete = button_form(
            c,
            &format!("{action}/delete"),
            "Delete this policy",
            "",
            "danger"
        ),
    );
    Ok(
        Page::new(c, &policy.name, Some((&realm.name, Tab::Registration)))
            .status(status)
            .flash(done)
            .body(body)
            .render(),
    )
}

pub async fn update_policy(
    Path((realm_name, id)): Path<(String, String)>,
    post: ConsolePost,
) -> Answer {
    let c = &post.console;
    let admin = c.realm(&realm_name, Right::ViewRealm).await?;
    let mut policy = find(c, &admin, &id).await?;
    let provider = Provider::parse(&policy.provider_id);
    let kinds: BTreeMap<String, String> = provider
        .map(Provider::properties)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            Some((
                p.get("name")?.as_str()?.to_string(),
                p.get("type")?.as_str()?.to_string(),
            ))
        })
        .collect();
    let mut config = BTreeMap::new();
    for name in post.form.all("present") {
        let Some(kind) = kinds.get(&name) else {
            continue;
        };
        let key = format!("cfg.{name}");
        let values = match kind.as_str() {
            "boolean" => vec![post.form.checked(&key).to_string()],
            "MultivaluedList" => post.form.all(&key),
            "MultivaluedString" => lines(&post.form.text(&key)),
            _ => vec![post.form.text(&key)],
        };
        config.insert(name, values);
    }
    let name = post.form.text("name");
    let input = ComponentIn {
        name: Some(name.clone()),
        config: Some(config.clone()),
        ..Default::default()
    };
    let updated = match c
        .auth
        .realm(&c.state, &realm_name, Right::ManageRealm)
        .await
    {
        Ok(manager) => components::update(&c.state, &manager, &id, input).await,
        Err(e) => Err(e),
    };
    match updated {
        Ok(()) => Ok(c.redirect(&admin.realm.name, "/client-registration?done=policy-saved")),
        Err(e) => {
            let (status, message) = describe(e);
            if status == StatusCode::FORBIDDEN || status.is_server_error() {
                return Err(c.error_page(AdminError::Forbidden));
            }
            // Show what was typed, with the error beside its field.
            policy.config = config;
            if !name.is_empty() {
                policy.name = name;
            }
            edit_form(c, &admin, &policy, None, Some(message), status).await
        }
    }
}

pub async fn delete_policy(Path((realm, id)): Path<(String, String)>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let admin = c.realm(&realm, Right::ManageRealm).await?;
    components::delete(&c.state, &admin, &id)
        .await
        .map_err(c.fail())?;
    Ok(c.redirect(&realm, "/client-registration?done=policy-deleted"))
}
