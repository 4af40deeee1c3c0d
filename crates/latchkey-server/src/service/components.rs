//! A realm's components, the client registration policies and key providers (Keycloak's
//! `ComponentResource`), and the dry run that explains which policies would pass or refuse
//! a registration (beyond Keycloak).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use latchkey_core::clients::new_client;
use latchkey_core::crypto::new_uuid;
use latchkey_core::key_providers::{KEY_PROVIDER_TYPE, KeySettings};
use latchkey_core::policies::{self, Action, POLICY_TYPE, Provider};
use latchkey_core::registration::convert::to_client_rep;
use latchkey_core::registration::metadata::{ClientMetadata, ValidationContext};
use latchkey_core::store::ComponentRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::audit::{self, Change, Resource};
use super::key_providers::KeyProviderIn;
use super::switches::{POLICIES_SWITCH, switch};
use super::{RealmAdmin, clients};
use crate::error::AdminError;
use crate::state::{SharedState, now_millis};

/// `ComponentRepresentation` as sent: what is absent is kept (or defaulted on creation).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, Vec<String>>>,
}

fn path(id: &str) -> String {
    format!("components/{id}")
}

/// Checks a component and fills it into `record` (400 `errorMessage` like Keycloak's
/// component validation).
/// Returns a key provider's settings, `None` for a policy.
fn fill(
    record: &mut ComponentRecord,
    input: ComponentIn,
) -> Result<Option<KeySettings>, AdminError> {
    let provider_type = input
        .provider_type
        .clone()
        .unwrap_or_else(|| record.provider_type.clone());
    if provider_type == KEY_PROVIDER_TYPE {
        if record.provider_type != KEY_PROVIDER_TYPE && !record.provider_id.is_empty() {
            return Err(AdminError::Invalid(
                "A registration policy stays a registration policy".into(),
            ));
        }
        let input = KeyProviderIn {
            name: input.name,
            provider_id: input.provider_id,
            parent_id: input.parent_id,
            config: input.config,
        };
        return super::key_providers::fill(record, input).map(Some);
    }
    if provider_type != POLICY_TYPE {
        return Err(AdminError::Invalid(format!(
            "Unsupported component type {provider_type:?}: client registration policies ({POLICY_TYPE}) or key providers ({KEY_PROVIDER_TYPE})"
        )));
    }
    if record.provider_type == KEY_PROVIDER_TYPE {
        return Err(AdminError::Invalid(
            "A key provider stays a key provider".into(),
        ));
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
    policies::validate_config(provider, record).map_err(AdminError::Invalid)?;
    Ok(None)
}

pub async fn list(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
) -> Result<Vec<ComponentRecord>, AdminError> {
    Ok(state.store.list_components(&admin.realm.id).await?.to_vec())
}

/// The component by id, or Keycloak's 404.
pub async fn get(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<ComponentRecord, AdminError> {
    list(state, admin)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(AdminError::NotFound("Could not find component"))
}

/// Creates a registration policy; returns it as stored.
pub async fn create(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    input: ComponentIn,
) -> Result<ComponentRecord, AdminError> {
    let realm = &admin.realm;
    let sent = audit::sent(&admin.realm, &input);
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
    match fill(&mut record, input)? {
        Some(settings) => super::key_providers::create(state, &record, settings).await?,
        None => state.store.create_component(&record).await?,
    }
    audit::record(
        state,
        admin,
        Change::create(Resource::Component, path(&record.id)).with(sent),
    )
    .await;
    Ok(record)
}

pub async fn update(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    input: ComponentIn,
) -> Result<(), AdminError> {
    let all = list(state, admin).await?;
    let mut record = all
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or(AdminError::NotFound("Could not find component"))?;
    let sent = audit::sent(&admin.realm, &input);
    if fill(&mut record, input)?.is_some() {
        super::key_providers::keeps_a_signer(&all, id, Some(&record))?;
    }
    state
        .store
        .update_component(&record)
        .await
        .map_err(super::key_providers::last_signer)?;
    audit::record(
        state,
        admin,
        Change::update(Resource::Component, path(&record.id)).with(sent),
    )
    .await;
    Ok(())
}

pub async fn delete(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<(), AdminError> {
    let all = list(state, admin).await?;
    let record = all
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or(AdminError::NotFound("Could not find component"))?;
    super::key_providers::keeps_a_signer(&all, id, None)?;
    state
        .store
        .delete_component(&admin.realm.id, &record.id)
        .await
        .map_err(super::key_providers::last_signer)?;
    audit::record(
        state,
        admin,
        Change::delete(Resource::Component, path(&record.id)),
    )
    .await;
    Ok(())
}

/// A registration to explain: the policy set (`anonymous` by default), the caller's
/// address and the RFC 7591 metadata.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateIn {
    pub auth: Option<String>,
    pub source_address: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// What the dry run found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// the policy set evaluated
    pub auth: String,
    pub policies_enabled: bool,
    /// the registration would pass (policies off, or none refuses)
    pub allowed: bool,
    pub policies: Vec<Verdict>,
    pub client: ClientOutcome,
    pub max_clients: Option<MaxClients>,
}

/// One policy's verdict.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub name: String,
    pub provider_id: String,
    pub passed: bool,
    /// why it refuses
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The client the registration would create, as the policies left it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientOutcome {
    pub enabled: Option<bool>,
    pub consent_required: Option<bool>,
    pub full_scope_allowed: Option<bool>,
}

/// The limit a max-clients policy sets, and the realm's count now.
#[derive(Debug, Serialize)]
pub struct MaxClients {
    pub limit: i64,
    pub policy: String,
    pub clients: i64,
}

/// Explains, without registering anything, which policies of a set would run on a
/// registration and whether each passes.
pub async fn evaluate(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    input: EvaluateIn,
) -> Result<Evaluation, AdminError> {
    let realm = &admin.realm;
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
    let scopes = clients::scope_defaults(state, realm).await?;
    let rep = to_client_rep(&meta, "evaluated-client", None, &scopes, &scopes.all);
    let mut client = new_client(&realm.id, rep, &scopes, &state.sealer, now_millis())
        .map_err(|e| bad(e.to_string()))?
        .record
        .rep;
    let components = state.store.list_components(&realm.id).await?;
    let enabled = switch(realm, POLICIES_SWITCH);
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
        check_source: true,
        client_count: Some(count),
    };
    let verdicts = policies::evaluate(&components, &set, &request);
    let allowed = !enabled || verdicts.iter().all(|v| v.refusal.is_none());
    let policies = verdicts
        .iter()
        .map(|v| Verdict {
            name: v.name.clone(),
            provider_id: v.provider_id.clone(),
            passed: v.refusal.is_none(),
            message: v
                .refusal
                .as_ref()
                .map(|why| policies::refusal_message(&v.name, why)),
        })
        .collect();
    Ok(Evaluation {
        auth: set,
        policies_enabled: enabled,
        allowed,
        policies,
        client: ClientOutcome {
            enabled: client.enabled,
            consent_required: client.consent_required,
            full_scope_allowed: client.full_scope_allowed,
        },
        max_clients: effects.max_clients.map(|(limit, policy)| MaxClients {
            limit,
            policy,
            clients: count,
        }),
    })
}
