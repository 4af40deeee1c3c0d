//! Realm settings → Client registration: the three realm switches and the client ID
//! metadata document switch with its trusted domains, the anonymous and
//! authenticated policy sets (`policies.rs`), and the dry-run explainer.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::http::StatusCode;
use latchkey_core::policies::{ANONYMOUS, AUTHENTICATED, Provider};
use latchkey_core::registration::cimd::{self, Settings};
use latchkey_core::rep::RealmRep;
use latchkey_core::roles::Right;
use latchkey_core::store::{ComponentRecord, RealmRecord};
use serde_json::Value;

use super::form::{ConsolePost, QueryMap};
use super::page::{Page, Tab, csrf_field, escape, field_error, invalid_attrs};
use super::policies;
use super::user::{Answer, Console, describe};
use crate::service::components::{self, EvaluateIn, Evaluation};
use crate::service::realms;
use crate::service::switches::{ANONYMOUS_SWITCH, AUTHENTICATED_SWITCH, POLICIES_SWITCH, switch};

/// What the dry-run form sent and what came back.
#[derive(Default)]
struct DryRun {
    set: String,
    source: String,
    metadata: String,
    /// (field, message)
    error: Option<(&'static str, String)>,
    result: Option<Evaluation>,
}

pub async fn page(c: Console, Path(realm): Path<String>, q: QueryMap) -> Answer {
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
            p.sub_type.as_deref() == Some(ANONYMOUS)
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
    let cimd_on = Settings::from_attributes(realm.rep.attributes.as_ref()).enabled;
    if cimd_on && enforced {
        let closed = policies.iter().find(|p| {
            p.sub_type.as_deref() == Some(ANONYMOUS)
                && p.provider_id == Provider::TrustedHosts.id()
                && p.config
                    .get("client-uris-must-match")
                    .and_then(|v| v.first())
                    .is_none_or(|v| v != "false")
                && p.config
                    .get("trusted-hosts")
                    .is_none_or(|v| v.iter().all(|h| h.trim().is_empty()))
        });
        if let Some(p) = closed {
            out.push(format!(
                "Client ID Metadata Documents are on, but the anonymous policy \u{201c}{}\u{201d} (Trusted Hosts) admits no host: every metadata document client will be refused until you add its redirect hosts to it.",
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

async fn render(
    c: &Console,
    realm_name: &str,
    done: Option<&String>,
    dry: DryRun,
    status: StatusCode,
) -> Answer {
    let admin = c.realm(realm_name, Right::ViewRealm).await?;
    let (realm, rights) = (&admin.realm, admin.rights());
    let all = policies::of(c, &admin).await?;
    let can_manage = rights.allows(Right::ManageRealm);
    let checkbox = |id: &str, name: &str, label: &str, help: &str| {
        format!(
            "<label class=\"check\" for=\"{id}\"><input type=\"checkbox\" id=\"{id}\" name=\"{name}\" value=\"true\"{}{}><span>{label}<span class=\"help\" id=\"{id}-help\">{help}</span></span></label>",
            if switch(realm, name) { " checked" } else { "" },
            if can_manage { "" } else { " disabled" },
        )
    };
    let warnings: String = warnings(realm, &all)
        .iter()
        .map(|w| format!("<p class=\"warning\" role=\"note\">{}</p>", escape(w)))
        .collect();
    let switches = format!(
        "<section class=\"card\"><h2>Who may register clients</h2>{warnings}<form method=\"post\" action=\"{}\">{}\
         {}{}{}{}<button type=\"submit\"{}>Save</button></form></section>",
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
        cimd_fields(
            realm,
            can_manage,
            checkbox(
                "cimd",
                cimd::ENABLED_ATTRIBUTE,
                "Client ID Metadata Documents",
                "A client whose client_id is an https URL is registered from the JSON document at that URL when it first signs a user in (MCP clients use this instead of registering). The anonymous policies below apply to it."
            )
        ),
        if can_manage { "" } else { " disabled" },
    );
    let lists = format!(
        "<section class=\"card\"><h2>Anonymous access policies</h2><p class=\"help\">Apply to registrations without a token.</p>{}</section>\
         <section class=\"card\"><h2>Authenticated access policies</h2><p class=\"help\">Apply to registrations with an initial access token or a bearer token.</p>{}</section>",
        policies::table(c, &realm.name, ANONYMOUS, &all),
        policies::table(c, &realm.name, AUTHENTICATED, &all),
    );
    let dry_html = dry_run_html(c, &realm.name, &dry);
    let body = format!(
        "<h1>Realm settings</h1><nav class=\"tabs\" aria-label=\"Realm settings\"><a href=\"{}\" aria-current=\"page\">Client registration</a></nav>{switches}{lists}{dry_html}",
        escape(&c.realm_url(&realm.name, "/client-registration")),
    );
    Ok(Page::new(
        c,
        "Client registration",
        Some((realm_name, Tab::Registration)),
    )
    .status(status)
    .flash(done)
    .body(body)
    .render())
}

fn dry_run_html(c: &Console, realm: &str, dry: &DryRun) -> String {
    let err = |field: &str| {
        dry.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    };
    let set = if dry.set.is_empty() {
        ANONYMOUS
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
            let mut rows = String::new();
            for p in &r.policies {
                rows.push_str(&format!(
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    escape(&p.name),
                    escape(&p.provider_id),
                    if p.passed {
                        "<span class=\"badge on\">passes</span>"
                    } else {
                        "<span class=\"badge off\">refuses</span>"
                    },
                    escape(p.message.as_deref().unwrap_or("")),
                ));
            }
            format!(
                "<div id=\"dry-run-result\" role=\"status\"><h3>{}</h3>{}{}\
                 <table><thead><tr><th scope=\"col\">Policy</th><th scope=\"col\">Provider</th><th scope=\"col\">Verdict</th><th scope=\"col\">Why</th></tr></thead><tbody>{rows}</tbody></table></div>",
                if r.allowed {
                    "This registration would be accepted."
                } else {
                    "This registration would be refused."
                },
                if r.policies_enabled {
                    ""
                } else {
                    "<p class=\"warning\">Policies are off in this realm: the verdicts below are not enforced.</p>"
                },
                if r.allowed && !r.client.enabled.unwrap_or(true) {
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
        a = option(ANONYMOUS),
        b = option(AUTHENTICATED),
        source = escape(&dry.source),
        source_attrs = invalid_attrs("dry-source", err("source")),
        source_err = field_error("dry-source", err("source")),
        metadata = escape(metadata),
        meta_attrs = invalid_attrs("dry-metadata", err("metadata")),
        meta_err = field_error("dry-metadata", err("metadata")),
    )
}

/// The metadata document switch (`checkbox`) and its trusted domains.
fn cimd_fields(realm: &RealmRecord, can_manage: bool, checkbox: String) -> String {
    let domains = Settings::from_attributes(realm.rep.attributes.as_ref())
        .trusted_domains
        .join(", ");
    format!(
        "{checkbox}<label for=\"cimd-domains\">Trusted domains for client metadata documents</label>\
         <input type=\"text\" id=\"cimd-domains\" name=\"{name}\" value=\"{value}\" placeholder=\"app.example.com, *.example.org\" aria-describedby=\"cimd-domains-help\"{disabled}>\
         <p class=\"help\" id=\"cimd-domains-help\">Host names a client's document URL may have, separated by commas; <code>*.example.org</code> admits every host below example.org. Empty: any host.</p>",
        name = cimd::TRUSTED_DOMAINS_ATTRIBUTE,
        value = escape(&domains),
        disabled = if can_manage { "" } else { " disabled" },
    )
}

pub async fn save_switches(Path(realm): Path<String>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let mut attributes: BTreeMap<String, String> = [
        ANONYMOUS_SWITCH,
        AUTHENTICATED_SWITCH,
        POLICIES_SWITCH,
        cimd::ENABLED_ATTRIBUTE,
    ]
    .into_iter()
    .map(|name| (name.to_string(), post.form.checked(name).to_string()))
    .collect();
    attributes.insert(
        cimd::TRUSTED_DOMAINS_ATTRIBUTE.to_string(),
        cimd::parse_domains(&post.form.text(cimd::TRUSTED_DOMAINS_ATTRIBUTE)).join(","),
    );
    let patch = RealmRep {
        attributes: Some(attributes),
        ..Default::default()
    };
    let admin = c.realm(&realm, Right::ManageRealm).await?;
    realms::update(&c.state, &admin, patch)
        .await
        .map_err(c.fail())?;
    Ok(c.redirect(&realm, "/client-registration?done=switches-saved"))
}

pub async fn evaluate(Path(realm): Path<String>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let mut dry = DryRun {
        set: post.form.text("auth"),
        source: post.form.text("sourceAddress"),
        metadata: post.form.get("metadata").unwrap_or("").to_string(),
        ..Default::default()
    };
    let metadata = match serde_json::from_str(&dry.metadata) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            dry.error = Some(("metadata", "The metadata must be a JSON object.".into()));
            return render(c, &realm, None, dry, StatusCode::BAD_REQUEST).await;
        }
        Err(e) => {
            dry.error = Some(("metadata", format!("This is not valid JSON: {e}.")));
            return render(c, &realm, None, dry, StatusCode::BAD_REQUEST).await;
        }
    };
    let input = EvaluateIn {
        auth: Some(dry.set.clone()),
        source_address: (!dry.source.is_empty()).then(|| dry.source.clone()),
        metadata: Some(metadata),
    };
    let admin = c.realm(&realm, Right::ViewRealm).await?;
    match components::evaluate(&c.state, &admin, input).await {
        Ok(result) => {
            dry.result = Some(result);
            render(c, &realm, None, dry, StatusCode::OK).await
        }
        Err(e) => {
            let (status, message) = describe(e);
            if status != StatusCode::BAD_REQUEST {
                return Err(c.page_for(status, &message));
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
