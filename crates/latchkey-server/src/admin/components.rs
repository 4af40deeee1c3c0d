//! `/admin/realms/{realm}/components…` for registration policies (Keycloak's
//! `ComponentResource`), the policy providers' metadata, and the dry-run explainer
//! `client-registration-policy/evaluate` (beyond Keycloak).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::clients::new_client;
use latchkey_core::crypto::new_uuid;
use latchkey_core::policies::{self, Action, POLICY_TYPE, Provider};
use latchkey_core::registration::convert::to_client_rep;
use latchkey_core::registration::metadata::{ClientMetadata, ValidationContext};
use latchkey_core::roles::Right;
use latchkey_core::store::{ComponentRecord, RealmRecord};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AdminAuth, created, no_content};
use crate::error::AdminError;
use crate::extract::KcJson;
use crate::service::switches::{POLICIES_SWITCH, switch};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

/// `ComponentRepresentation` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentIn {
    name: Option<String>,
    provider_id: Option<String>,
    provider_type: Option<String>,
    parent_id: Option<String>,
    sub_type: Option<String>,
    config: Option<BTreeMap<String, Vec<String>>>,
}

fn component_out(c: &ComponentRecord) -> Value {
    json!({
        "id": c.id, "name": c.name, "providerId": c.provider_id, "providerType": c.provider_type,
        "parentId": c.parent_id, "subType": c.sub_type, "config": c.config,
    })
}

/// Checks a component and fills it into `record` (400 `errorMessage` like Keycloak's
/// component validation).
fn fill(record: &mut ComponentRecord, input: ComponentIn) -> Result<(), AdminError> {
    let provider_type = input
        .provider_type
        .unwrap_or_else(|| record.provider_type.clone());
    if provider_type != POLICY_TYPE {
        return Err(AdminError::Invalid(format!(
            "Unsupported component type {provider_type:?}: only client registration policies ({POLICY_TYPE})"
        )));
    }
    let provider_id = input
        .provider_id
        .unwrap_or_else(|| record.provider_id.clone());
    let provider = Provider::parse(&provider_id).ok_or_else(|| {
        AdminError::Invalid(format!(
            "Unknown client registration policy provider {provider_id:?}"
        ))
    })?;
    let sub_type = input.sub_type.or_else(|| record.sub_type.clone());
    if !matches!(
        sub_type.as_deref(),
        Some(policies::ANONYMOUS | policies::AUTHENTICATED)
    ) {
        return Err(AdminError::Invalid(
            "subType must be \"anonymous\" or \"authenticated\"".into(),
        ));
    }
    record.provider_type = provider_type;
    record.provider_id = provider_id.clone();
    record.sub_type = sub_type;
    record.name = input
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| {
            if record.name.is_empty() {
                provider_id
            } else {
                record.name.clone()
            }
        });
    if let Some(config) = input.config {
        record.config = config;
    }
    if let Some(parent) = input.parent_id.filter(|p| *p != record.realm_id) {
        return Err(AdminError::Invalid(format!(
            "parentId {parent:?} is not this realm"
        )));
    }
    policies::validate_config(provider, record).map_err(AdminError::Invalid)
}

async fn component_or_404(
    state: &SharedState,
    realm: &RealmRecord,
    id: &str,
) -> Result<ComponentRecord, AdminError> {
    state
        .store
        .list_components(&realm.id)
        .await?
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or(AdminError::NotFound("Could not find component"))
}

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewRealm).await?;
    let all = state.store.list_components(&realm.id).await?;
    let out: Vec<Value> = all
        .iter()
        .filter(|c| q.get("type").is_none_or(|t| *t == c.provider_type))
        .filter(|c| q.get("parent").is_none_or(|p| *p == c.parent_id))
        .filter(|c| q.get("name").is_none_or(|n| *n == c.name))
        .map(component_out)
        .collect();
    Ok(axum::Json(out).into_response())
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(input): KcJson<ComponentIn>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageRealm).await?;
    let mut record = ComponentRecord {
        id: new_uuid(),
        realm_id: realm.id.clone(),
        parent_id: realm.id.clone(),
        provider_type: POLICY_TYPE.into(),
        provider_id: String::new(),
        sub_type: None,
        name: String::new(),
        config: BTreeMap::new(),
    };
    fill(&mut record, input)?;
    state.store.create_component(&record).await?;
    Ok(created(
        &base,
        &["admin", "realms", &realm.name, "components", &record.id],
    ))
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewRealm).await?;
    Ok(axum::Json(component_out(&component_or_404(&state, &realm, &id).await?)).into_response())
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
    KcJson(input): KcJson<ComponentIn>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageRealm).await?;
    let mut record = component_or_404(&state, &realm, &id).await?;
    fill(&mut record, input)?;
    state.store.update_component(&record).await?;
    Ok(no_content())
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageRealm).await?;
    let record = component_or_404(&state, &realm, &id).await?;
    state.store.delete_component(&realm.id, &record.id).await?;
    Ok(no_content())
}

pub async fn providers(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    auth.realm(&state, &realm, Right::ViewRealm).await?;
    let out: Vec<Value> = Provider::ALL.iter().map(|p| p.component_type()).collect();
    Ok(axum::Json(out).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateIn {
    auth: Option<String>,
    source_address: Option<String>,
    metadata: Option<Map<String, Value>>,
}

/// Explains, without registering anything, which policies of a set would run on a
/// registration and whether each passes.
pub async fn evaluate(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    KcJson(input): KcJson<EvaluateIn>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewRealm).await?;
    let bad = |m: String| AdminError::Described(StatusCode::BAD_REQUEST, "invalid_request", m);
    let set = input.auth.unwrap_or_else(|| policies::ANONYMOUS.into());
    if set != policies::ANONYMOUS && set != policies::AUTHENTICATED {
        return Err(bad("auth must be \"anonymous\" or \"authenticated\"".into()));
    }
    let source = match input.source_address {
        Some(a) => Some(
            a.parse()
                .map_err(|_| bad(format!("sourceAddress {a:?} is not an IP address")))?,
        ),
        None => None,
    };
    let metadata = input.metadata.unwrap_or_default();
    let ctx = ValidationContext {
        dev_mode: state.settings.dev_mode,
    };
    let meta = ClientMetadata::validate(&metadata, ctx)
        .map_err(|e| AdminError::Described(StatusCode::BAD_REQUEST, e.code(), e.to_string()))?;
    let scopes = crate::service::clients::scope_defaults(&state, &realm).await?;
    let rep = to_client_rep(&meta, "evaluated-client", None, &scopes, &scopes.all);
    let mut client = new_client(&realm.id, rep, &scopes, &state.sealer, now_millis())
        .map_err(|e| bad(e.to_string()))?
        .record
        .rep;
    let components = state.store.list_components(&realm.id).await?;
    let enabled = switch(&realm, POLICIES_SWITCH);
    let effects = policies::apply_on_create(&components, &set, &mut client);
    let count = state.store.count_clients(&realm.id).await?;
    let requested: Vec<String> = meta
        .scope
        .iter()
        .flat_map(|s| s.split(' '))
        .map(str::to_string)
        .collect();
    let resolved = BTreeMap::new();
    let request = policies::Request {
        action: Action::Create,
        source,
        resolved_hosts: &resolved,
        client: &client,
        previous: None,
        requested_scopes: &requested,
        offered_scopes: &scopes.offered,
        client_count: Some(count),
    };
    let verdicts = policies::evaluate(&components, &set, &request);
    let allowed = !enabled || verdicts.iter().all(|v| v.refusal.is_none());
    let results: Vec<Value> = verdicts
        .iter()
        .map(|v| {
            let mut r =
                json!({"name": v.name, "providerId": v.provider_id, "passed": v.refusal.is_none()});
            if let Some(why) = &v.refusal {
                r["message"] = json!(policies::refusal_message(&v.name, why));
            }
            r
        })
        .collect();
    Ok(axum::Json(json!({
        "auth": set,
        "policiesEnabled": enabled,
        "allowed": allowed,
        "policies": results,
        "client": {
            "enabled": client.enabled,
            "consentRequired": client.consent_required,
            "fullScopeAllowed": client.full_scope_allowed,
        },
        "maxClients": effects.max_clients.map(|(n, name)| json!({"limit": n, "policy": name, "clients": count})),
    }))
    .into_response())
}
