//! Realm → Keys: the realm's signing keys (kid, algorithm, status, priority, provider),
//! a one-click rotation per algorithm (a new provider of higher priority, the old key
//! passive) and deletion of keys that no longer sign. Reading needs `view-realm`, changing
//! `manage-realm`; each change goes through the components operations and records their
//! admin events.

use axum::extract::Path;
use axum::http::StatusCode;
use latchkey_core::key_providers::{self, KEY_PROVIDER_TYPE};
use latchkey_core::keys::Alg;
use latchkey_core::roles::Right;

use super::form::{ConsolePost, QueryMap};
use super::page::{Page, Tab, button_form, escape};
use super::user::{Answer, Console};
use crate::service::components::{self, ComponentIn};

pub async fn list(c: Console, Path(realm): Path<String>, q: QueryMap) -> Answer {
    let admin = c.realm(&realm, Right::ViewRealm).await?;
    let may_change = admin.rights().allows(Right::ManageRealm);
    let keys = c
        .state
        .realm_keys(&admin.realm)
        .await
        .map_err(|e| c.page_for(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    let mut rows = String::new();
    for k in &keys.entries {
        let alg = k.settings.alg.as_str();
        let signing = keys.signer(alg).is_some_and(|s| s.kid == k.kid);
        let status = if signing {
            "ACTIVE (signing)"
        } else {
            k.settings.status()
        };
        let (provider_id, provider) = k.provider.clone().unwrap_or_default();
        let delete = if may_change && !k.settings.active && !provider_id.is_empty() {
            button_form(
                &c,
                &c.realm_url(&realm, &format!("/keys/{provider_id}/delete")),
                &format!("Delete<span class=\"skip\"> key {}</span>", escape(&k.kid)),
                "",
                "small danger",
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{alg}</td><td>{status}</td><td>{}</td><td>{}</td><td class=\"actions\">{delete}</td></tr>",
            escape(&k.kid),
            k.settings.priority,
            escape(&provider),
        ));
    }
    let rotate = if may_change {
        let buttons: String = Alg::ALL
            .iter()
            .map(|alg| {
                button_form(
                    &c,
                    &c.realm_url(&realm, &format!("/keys/{}/rotate", alg.as_str())),
                    &format!("Rotate {}", alg.as_str()),
                    "",
                    "small",
                )
            })
            .collect();
        format!(
            "<section class=\"card\"><h2>Rotate</h2><p class=\"help\">Adds a key of higher priority that signs from now on; the old key becomes passive and keeps verifying the tokens it signed. Delete it once they have expired.</p>{buttons}</section>"
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>Keys</h1><p class=\"help\">Per algorithm the active, enabled key of highest priority signs; passive keys stay in the JWKS and verify; disabled keys neither sign nor verify.</p>{rotate}\
         <h2>Keys of this realm</h2><table><thead><tr><th scope=\"col\">Kid</th><th scope=\"col\">Algorithm</th><th scope=\"col\">Status</th><th scope=\"col\">Priority</th><th scope=\"col\">Provider</th><th scope=\"col\">Actions</th></tr></thead><tbody>{rows}</tbody></table>"
    );
    Ok(Page::new(&c, "Keys", Some((&realm, Tab::Keys)))
        .flash(q.get("done"))
        .body(body)
        .render())
}

/// Adds a provider above every provider of the algorithm (the same kind and key size as
/// the signing key's), then makes the previous signing key passive.
pub async fn rotate(Path((realm, alg)): Path<(String, String)>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let admin = c.realm(&realm, Right::ManageRealm).await?;
    let alg =
        Alg::parse(&alg).ok_or_else(|| c.page_for(StatusCode::NOT_FOUND, "No such algorithm"))?;
    let providers: Vec<_> = components::list(&c.state, &admin)
        .await
        .map_err(c.fail())?
        .into_iter()
        .filter(|p| p.provider_type == KEY_PROVIDER_TYPE)
        .filter_map(|p| key_providers::settings(&p).map(|s| (p, s)))
        .filter(|(_, s)| s.alg == alg)
        .collect();
    let keys = c
        .state
        .realm_keys(&admin.realm)
        .await
        .map_err(|e| c.page_for(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    let signing = keys.signer(alg.as_str()).map(|k| k.kid.clone());
    let top = providers.iter().map(|(_, s)| s.priority).max().unwrap_or(0);
    let old = providers
        .iter()
        .find(|(p, _)| Some(&p.id) == signing.as_ref());
    let (provider_id, mut config) = match alg {
        Alg::Rs256 => (
            key_providers::RSA_GENERATED,
            [(
                "keySize".to_string(),
                vec![old.map_or(2048, |(_, s)| s.rsa_bits).to_string()],
            )]
            .into(),
        ),
        Alg::Es256 => (
            key_providers::ECDSA_GENERATED,
            std::collections::BTreeMap::new(),
        ),
    };
    config.insert("priority".into(), vec![top.saturating_add(100).to_string()]);
    let input = ComponentIn {
        name: Some(provider_id.into()),
        provider_id: Some(provider_id.into()),
        provider_type: Some(KEY_PROVIDER_TYPE.into()),
        config: Some(config),
        ..Default::default()
    };
    components::create(&c.state, &admin, input)
        .await
        .map_err(c.fail())?;
    if let Some((p, _)) = old {
        let mut config = p.config.clone();
        config.insert("active".into(), vec!["false".into()]);
        let input = ComponentIn {
            config: Some(config),
            ..Default::default()
        };
        components::update(&c.state, &admin, &p.id, input)
            .await
            .map_err(c.fail())?;
    }
    Ok(c.redirect(&realm, "/keys?done=key-rotated"))
}

/// Deletes a key that does not sign (passive or disabled) with its provider.
pub async fn delete(Path((realm, id)): Path<(String, String)>, post: ConsolePost) -> Answer {
    let c = &post.console;
    let admin = c.realm(&realm, Right::ManageRealm).await?;
    let provider = components::get(&c.state, &admin, &id)
        .await
        .map_err(c.fail())?;
    match key_providers::settings(&provider) {
        Some(s) if !s.active || !s.enabled => {}
        _ => {
            return Err(c.page_for(
                StatusCode::BAD_REQUEST,
                "Only a passive or disabled key can be deleted here",
            ));
        }
    }
    components::delete(&c.state, &admin, &id)
        .await
        .map_err(c.fail())?;
    Ok(c.redirect(&realm, "/keys?done=key-deleted"))
}
