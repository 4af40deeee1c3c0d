//! Realm settings → Client registration: the three realm switches, the anonymous and
//! authenticated policy sets (forms drawn from the providers' metadata), and the dry-run
//! explainer.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::policies::{self, Provider};
use latchkey_core::roles::Right;
use latchkey_core::store::{ComponentRecord, RealmRecord};
use serde_json::{Value, json};

use super::page::{Page, Tab, button_form, csrf_field, field_error, invalid_attrs};
use super::{Console, ConsolePost, QueryMap, api_path, describe, escape, json_of, lines};
use crate::admin::components;
use crate::extract::KcJson;
use crate::service::switches::{ANONYMOUS_SWITCH, AUTHENTICATED_SWITCH, POLICIES_SWITCH, switch};
use crate::state::SharedState;

/// What the dry-run form sent and what came back.
#[derive(Default)]
struct DryRun {
    set: String,
    source: String,
    metadata: String,
    /// (field, message)
    error: Option<(&'static str, String)>,
    result: Option<Value>,
}

async fn policies_of(c: &Console, realm: &RealmRecord) -> Result<Vec<ComponentRecord>, Response> {
    let mut all: Vec<ComponentRecord> = c
        .state
        .store
        .list_components(&realm.id)
        .await
        .map_err(|e| c.error_page(e.into()))?
        .as_ref()
        .clone();
    all.retain(|p| p.provider_type == policies::POLICY_TYPE);
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

pub async fn page(c: Console, Path(realm): Path<String>, q: QueryMap) -> Response {
    render(&c, &realm, q.get("done"), DryRun::default(), StatusCode::OK).await
}

/// The warnings where the effective state surprises.
fn warnings(realm: &RealmRecord, policies: &[ComponentRecord]) -> Vec<String> {
    let anonymous = switch(realm, ANONYMOUS_SWITCH);
    let authenticated = switch(realm, AUTHENTICATED_SWITCH);
    let enforced = switch(realm, POLICIES_SWITCH);
    let mut out = Vec::new();
    if anonymous && enforced {
        let hosts = policies.iter().find(|p| {
            p.sub_type.as_deref() == Some(policies::ANONYMOUS)
                && p.provider_id == Provider::TrustedHosts.id()
                && p.config
                    .get("host-sending-registration-request-must-match")
                    .and_then(|v| v.first())
                    .is_none_or(|v| v != "false")
                && p.config
                    .get("trusted-hosts")
                    .is_none_or(|v| v.iter().all(|h| h.trim().is_empty()))
        });
        if let Some(p) = hosts {
            out.push(format!(
                "Anonymous registration is on, but the anonymous policy \u{201c}{}\u{201d} (Trusted Hosts) admits no host: every anonymous registration will be refused until you add a host to it.",
                p.name
            ));
        }
    }
    if !enforced && (anonymous || authenticated) {
        out.push(
            "Policies are off: registrations are checked against none of the policies below, so callers get the clients they ask for."
                .into(),
        );
    }
    if !anonymous && !authenticated {
        out.push("Both anonymous and authenticated registration are off: nobody can register a client through the registration endpoints (administrators still can through the admin API and this console).".into());
    }
    out
}

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

fn policy_table(c: &Console, realm: &str, set: &str, policies: &[ComponentRecord]) -> String {
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

async fn render(
    c: &Console,
    realm_name: &str,
    done: Option<&String>,
    dry: DryRun,
    status: StatusCode,
) -> Response {
    let (realm, rights) = match c.realm(realm_name, Right::ViewRealm).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let policies = match policies_of(c, &realm).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let can_manage = rights.allows(Right::ManageRealm);
    let checkbox = |id: &str, name: &str, label: &str, help: &str| {
        format!(
            "<label class=\"check\" for=\"{id}\"><input type=\"checkbox\" id=\"{id}\" name=\"{name}\" value=\"true\"{}{}><span>{label}<span class=\"help\" id=\"{id}-help\">{help}</span></span></label>",
            if switch(&realm, name) { " checked" } else { "" },
            if can_manage { "" } else { " disabled" },
        )
    };
    let warnings: String = warnings(&realm, &policies)
        .iter()
        .map(|w| format!("<p class=\"warning\" role=\"note\">{}</p>", escape(w)))
        .collect();
    let switches = format!(
        "<section class=\"card\"><h2>Who may register clients</h2>{warnings}<form method=\"post\" action=\"{}\">{}\
         {}{}{}<button type=\"submit\"{}>Save</button></form></section>",
        escape(&c.realm_url(&realm.name, "/client-registration/switches")),
        csrf_field(c),
        checkbox(
            "anonymous",
            ANONYMOUS_SWITCH,
            "Anonymous registration",
            "Anyone who can reach the registration endpoint may register a client without a token; the anonymous policies below decide what they get."
        ),
        checkbox(
            "authenticated",
            AUTHENTICATED_SWITCH,
            "Authenticated registration",
            "Callers with an initial access token or an access token carrying the create-client role may register clients; the authenticated policies below apply."
        ),
        checkbox(
            "policies",
            POLICIES_SWITCH,
            "Enforce registration policies",
            "When off, no policy below is checked or applied to registrations (Keycloak always enforces them)."
        ),
        if can_manage { "" } else { " disabled" },
    );
    let lists = format!(
        "<section class=\"card\"><h2>Anonymous access policies</h2><p class=\"help\">Apply to registrations without a token.</p>{}</section>\
         <section class=\"card\"><h2>Authenticated access policies</h2><p class=\"help\">Apply to registrations with an initial access token or a bearer token.</p>{}</section>",
        policy_table(c, &realm.name, policies::ANONYMOUS, &policies),
        policy_table(c, &realm.name, policies::AUTHENTICATED, &policies),
    );
    let dry_html = dry_run_html(c, &realm.name, &dry);
    let body = format!(
        "<h1>Realm settings</h1><nav class=\"tabs\" aria-label=\"Realm settings\"><a href=\"{}\" aria-current=\"page\">Client registration</a></nav>{switches}{lists}{dry_html}",
        escape(&c.realm_url(&realm.name, "/client-registration")),
    );
    Page::new(
        c,
        "Client registration",
        Some((realm_name, Tab::Registration)),
    )
    .status(status)
    .flash(done)
    .body(body)
    .render()
}

fn dry_run_html(c: &Console, realm: &str, dry: &DryRun) -> String {
    let err = |field: &str| {
        dry.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    };
    let set = if dry.set.is_empty() {
        policies::ANONYMOUS
    } else {
        dry.set.as_str()
    };
    let option = |v: &str| {
        format!(
            "<option value=\"{v}\"{}>{v}</option>",
            if v == set { " selected" } else { "" }
        )
    };
    let metadata = if dry.metadata.is_empty() {
        "{\n  \"client_name\": \"My app\",\n  \"redirect_uris\": [\"https://app.example.com/callback\"]\n}"
    } else {
        dry.metadata.as_str()
    };
    let result = match &dry.result {
        Some(r) => {
            let allowed = r.get("allowed").and_then(Value::as_bool).unwrap_or(false);
            let mut rows = String::new();
            for p in r
                .get("policies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let passed = p.get("passed").and_then(Value::as_bool).unwrap_or(false);
                rows.push_str(&format!(
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    escape(p.get("name").and_then(Value::as_str).unwrap_or("")),
                    escape(p.get("providerId").and_then(Value::as_str).unwrap_or("")),
                    if passed {
                        "<span class=\"badge on\">passes</span>"
                    } else {
                        "<span class=\"badge off\">refuses</span>"
                    },
                    escape(p.get("message").and_then(Value::as_str).unwrap_or("")),
                ));
            }
            let enabled = r
                .get("client")
                .and_then(|c| c.get("enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(true);
            format!(
                "<div id=\"dry-run-result\" role=\"status\"><h3>{}</h3>{}{}\
                 <table><thead><tr><th scope=\"col\">Policy</th><th scope=\"col\">Provider</th><th scope=\"col\">Verdict</th><th scope=\"col\">Why</th></tr></thead><tbody>{rows}</tbody></table></div>",
                if allowed {
                    "This registration would be accepted."
                } else {
                    "This registration would be refused."
                },
                if r.get("policiesEnabled").and_then(Value::as_bool) == Some(false) {
                    "<p class=\"warning\">Policies are off in this realm: the verdicts below are not enforced.</p>"
                } else {
                    ""
                },
                if allowed && !enabled {
                    "<p class=\"muted\">The client would start disabled, waiting for approval.</p>"
                } else {
                    ""
                },
            )
        }
        None => String::new(),
    };
    format!(
        "<section class=\"card\" id=\"dry-run\"><h2>Dry run: which policy refuses?</h2><p class=\"help\">Paste a registration request's metadata (RFC 7591 JSON) to see which policies would pass or refuse it. Nothing is registered.</p>\
         <form method=\"post\" action=\"{action}#dry-run\">{csrf}<div class=\"row\"><div><label for=\"dry-set\">Policy set</label><select id=\"dry-set\" name=\"auth\">{a}{b}</select></div>\
         <div><label for=\"dry-source\">Caller's address (optional)</label><input type=\"text\" id=\"dry-source\" name=\"sourceAddress\" value=\"{source}\" placeholder=\"127.0.0.1\"{source_attrs}>{source_err}</div></div>\
         <label for=\"dry-metadata\">Client metadata (JSON)</label><textarea id=\"dry-metadata\" name=\"metadata\" rows=\"8\"{meta_attrs}>{metadata}</textarea>{meta_err}\
         <button type=\"submit\">Explain</button></form>{result}</section>",
        action = escape(&c.realm_url(realm, "/client-registration/evaluate")),
        csrf = csrf_field(c),
        a = option(policies::ANONYMOUS),
        b = option(policies::AUTHENTICATED),
        source = escape(&dry.source),
        source_attrs = invalid_attrs("dry-source", err("source")),
        source_err = field_error("dry-source", err("source")),
        metadata = escape(metadata),
        meta_attrs = invalid_attrs("dry-metadata", err("metadata")),
        meta_err = field_error("dry-metadata", err("metadata")),
    )
}

pub async fn save_switches(
    State(state): State<SharedState>,
    Path(realm): Path<String>,
    post: ConsolePost,
) -> Response {
    let c = &post.console;
    let mut attrs = BTreeMap::new();
    for name in [ANONYMOUS_SWITCH, AUTHENTICATED_SWITCH, POLICIES_SWITCH] {
        attrs.insert(name, post.form.checked(name).to_string());
    }
    let patch_json = json!({ "attributes": attrs });
    let patch = match serde_json::from_value(patch_json.clone()) {
        Ok(p) => p,
        Err(e) => return c.error_page(crate::error::AdminError::internal(e)),
    };
    let answer = crate::admin::realms::update(
        State(state),
        c.auth.clone(),
        Path(realm.clone()),
        KcJson(patch),
    )
    .await;
    match post
        .audited(Method::PUT, &api_path(&realm, ""), &patch_json, answer)
        .await
    {
        Ok(_) => Redirect::to(&c.realm_url(&realm, "/client-registration?done=switches-saved"))
            .into_response(),
        Err(e) => c.error_page(e),
    }
}

pub async fn create_policy(
    State(state): State<SharedState>,
    Path(realm): Path<String>,
    post: ConsolePost,
) -> Response {
    let c = &post.console;
    let provider_id = post.form.text("providerId");
    let Some(provider) = Provider::parse(&provider_id) else {
        return c.error_page(crate::error::AdminError::Invalid(format!(
            "Unknown client registration policy provider {provider_id:?}"
        )));
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
    let input = json!({
        "name": if name.is_empty() { provider_id.clone() } else { name },
        "providerId": provider_id,
        "providerType": policies::POLICY_TYPE,
        "subType": post.form.text("subType"),
        "config": config,
    });
    let input_json = input.clone();
    let input = match serde_json::from_value(input) {
        Ok(i) => i,
        Err(e) => return c.error_page(crate::error::AdminError::internal(e)),
    };
    let answer = components::create(
        State(state),
        c.auth.clone(),
        c.base.clone(),
        Path(realm.clone()),
        KcJson(input),
    )
    .await;
    match post
        .audited(
            Method::POST,
            &api_path(&realm, "/components"),
            &input_json,
            answer,
        )
        .await
    {
        Ok(resp) => {
            let id = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.rsplit('/').next())
                .unwrap_or("")
                .to_string();
            Redirect::to(&c.realm_url(
                &realm,
                &format!("/client-registration/policies/{id}?done=policy-created"),
            ))
            .into_response()
        }
        Err(e) => c.error_page(e),
    }
}

async fn find_policy(
    c: &Console,
    realm: &RealmRecord,
    id: &str,
) -> Result<ComponentRecord, Response> {
    policies_of(c, realm)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| {
            c.error_page(crate::error::AdminError::NotFound(
                "Could not find component",
            ))
        })
}

pub async fn edit_policy(
    c: Console,
    Path((realm, id)): Path<(String, String)>,
    q: QueryMap,
) -> Response {
    let (realm, _) = match c.realm(&realm, Right::ViewRealm).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let policy = match find_policy(&c, &realm, &id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    edit_form(&c, &realm, &policy, q.get("done"), None, StatusCode::OK).await
}

async fn edit_form(
    c: &Console,
    realm: &RealmRecord,
    policy: &ComponentRecord,
    done: Option<&String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
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
    let scopes: Vec<String> = match c.state.store.list_scopes(&realm.id).await {
        Ok(s) => s.iter().map(|s| s.name.clone()).collect(),
        Err(e) => return c.error_page(e.into()),
    };
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
    Page::new(c, &policy.name, Some((&realm.name, Tab::Registration)))
        .status(status)
        .flash(done)
        .body(body)
        .render()
}

pub async fn update_policy(
    State(state): State<SharedState>,
    Path((realm_name, id)): Path<(String, String)>,
    post: ConsolePost,
) -> Response {
    let c = &post.console;
    let (realm, _) = match c.realm(&realm_name, Right::ViewRealm).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let mut policy = match find_policy(c, &realm, &id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
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
    let input_json = json!({"name": name, "config": config});
    let input = match serde_json::from_value(input_json.clone()) {
        Ok(i) => i,
        Err(e) => return c.error_page(crate::error::AdminError::internal(e)),
    };
    let answer = components::update(
        State(state),
        c.auth.clone(),
        Path((realm.name.clone(), id.clone())),
        KcJson(input),
    )
    .await;
    match post
        .audited(
            Method::PUT,
            &api_path(&realm.name, &format!("/components/{id}")),
            &input_json,
            answer,
        )
        .await
    {
        Ok(_) => Redirect::to(&c.realm_url(&realm.name, "/client-registration?done=policy-saved"))
            .into_response(),
        Err(e) => {
            let (status, message) = describe(e);
            if status == StatusCode::FORBIDDEN || status.is_server_error() {
                return c.error_page(crate::error::AdminError::Forbidden);
            }
            // Show what was typed, with the error beside its field.
            policy.config = config;
            if !name.is_empty() {
                policy.name = name;
            }
            edit_form(c, &realm, &policy, None, Some(message), status).await
        }
    }
}

pub async fn delete_policy(
    State(state): State<SharedState>,
    Path((realm, id)): Path<(String, String)>,
    post: ConsolePost,
) -> Response {
    let c = &post.console;
    let path = api_path(&realm, &format!("/components/{id}"));
    let answer = components::delete(State(state), c.auth.clone(), Path((realm.clone(), id))).await;
    match post
        .audited(Method::DELETE, &path, &Value::Null, answer)
        .await
    {
        Ok(_) => Redirect::to(&c.realm_url(&realm, "/client-registration?done=policy-deleted"))
            .into_response(),
        Err(e) => c.error_page(e),
    }
}

pub async fn evaluate(
    State(state): State<SharedState>,
    Path(realm): Path<String>,
    post: ConsolePost,
) -> Response {
    let c = &post.console;
    let mut dry = DryRun {
        set: post.form.text("auth"),
        source: post.form.text("sourceAddress"),
        metadata: post.form.get("metadata").unwrap_or("").to_string(),
        ..Default::default()
    };
    let metadata: Value = match serde_json::from_str(&dry.metadata) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            dry.error = Some(("metadata", "The metadata must be a JSON object.".into()));
            return render(c, &realm, None, dry, StatusCode::BAD_REQUEST).await;
        }
        Err(e) => {
            dry.error = Some(("metadata", format!("This is not valid JSON: {e}.")));
            return render(c, &realm, None, dry, StatusCode::BAD_REQUEST).await;
        }
    };
    let mut input = json!({"auth": dry.set, "metadata": metadata});
    if !dry.source.is_empty() {
        input["sourceAddress"] = json!(dry.source);
    }
    let input = match serde_json::from_value(input) {
        Ok(i) => i,
        Err(e) => return c.error_page(crate::error::AdminError::internal(e)),
    };
    match json_of(
        components::evaluate(
            State(state),
            c.auth.clone(),
            Path(realm.clone()),
            KcJson(input),
        )
        .await,
    )
    .await
    {
        Ok((_, v)) => {
            dry.result = Some(v);
            render(c, &realm, None, dry, StatusCode::OK).await
        }
        Err(e) => {
            let (status, message) = describe(e);
            if status != StatusCode::BAD_REQUEST {
                return c.error_page(crate::error::AdminError::Described(
                    status, "error", message,
                ));
            }
            let field = if message.contains("sourceAddress") {
                "source"
            } else {
                "metadata"
            };
            dry.error = Some((field, message));
            render(c, &realm, None, dry, status).await
        }
    }
}
