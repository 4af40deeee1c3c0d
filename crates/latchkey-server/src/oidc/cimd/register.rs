//! A validated metadata document as a stored client: created on first use (the realm's
//! anonymous policy set applies, `max-clients` held by the store's create transaction,
//! `CLIENT_REGISTER` stored with it), updated when the document changed
//! (`CLIENT_UPDATE`), left alone when it did not.

use std::collections::BTreeMap;

use latchkey_core::clients::{NewClient, check_client, new_client};
use latchkey_core::crypto::hash_token;
use latchkey_core::policies::{self, Action};
use latchkey_core::registration::cimd::{self, Refusal};
use latchkey_core::registration::convert::{REGISTRATION_AUTH_ATTRIBUTE, to_client_rep};
use latchkey_core::registration::metadata::ClientMetadata;
use latchkey_core::rep::ClientRep;
use latchkey_core::store::{ClientBundle, ClientRecord, Guarded, StoreError, WriteGuard};

use super::events::{Events, internal};
use crate::service::clients::scope_defaults;
use crate::service::switches::{POLICIES_SWITCH, switch};
use crate::state::now_millis;

/// The hash of the validated metadata the stored client was made from: a document that
/// validates to the same metadata changes nothing.
const DOCUMENT_HASH_ATTRIBUTE: &str = "cimd.metadata.hash";

/// The stored client for `meta`, created or updated as needed.
pub(super) async fn store(
    events: &Events<'_>,
    meta: &ClientMetadata,
    outcome: &str,
) -> Result<ClientRecord, Refusal> {
    let (state, realm) = (events.state, events.realm);
    let hash = hash_token(&serde_json::to_string(meta).map_err(internal)?);
    let existing = state
        .store
        .client_by_client_id(&realm.id, events.client_id)
        .await
        .map_err(internal)?;
    match existing {
        Some(client) if stored_hash(&client.rep) == Some(hash.as_str()) => Ok(client),
        Some(client) => update(events, client, meta, &hash, outcome).await,
        None => create(events, meta, &hash, outcome).await,
    }
}

fn stored_hash(rep: &ClientRep) -> Option<&str> {
    rep.attributes
        .as_ref()?
        .get(DOCUMENT_HASH_ATTRIBUTE)
        .map(String::as_str)
}

fn mark(rep: &mut ClientRep, hash: &str) {
    let attrs = rep.attributes.get_or_insert_with(Default::default);
    attrs.insert(
        REGISTRATION_AUTH_ATTRIBUTE.into(),
        cimd::REGISTRATION_AUTH.into(),
    );
    attrs.insert(DOCUMENT_HASH_ATTRIBUTE.into(), hash.into());
}

/// The anonymous policy set's verdict on `client` (nothing when the realm's policies are
/// off), without trusted-hosts' check of the caller's address: the request comes from a
/// user's browser, not from the client. Returns the client limit the store must hold.
async fn enforce(
    events: &Events<'_>,
    client: &mut ClientRep,
    previous: Option<&ClientRep>,
    offered: &[String],
) -> Result<Option<(i64, String)>, Refusal> {
    let (state, realm) = (events.state, events.realm);
    if !switch(realm, POLICIES_SWITCH) {
        return Ok(None);
    }
    let components = state
        .store
        .list_components(&realm.id)
        .await
        .map_err(internal)?;
    let (action, max_clients) = match previous {
        None => (
            Action::Create,
            policies::apply_on_create(&components, policies::ANONYMOUS, client).max_clients,
        ),
        Some(_) => (Action::Update, None),
    };
    let resolved = BTreeMap::new();
    let request = policies::Request {
        action,
        source: None,
        check_source: false,
        resolved_hosts: &resolved,
        client,
        previous,
        requested_scopes: &[],
        offered_scopes: offered,
        client_count: None,
    };
    for verdict in policies::evaluate(&components, policies::ANONYMOUS, &request) {
        if let Some(why) = verdict.refusal {
            return Err(policy_refusal(&verdict.name, &why));
        }
    }
    Ok(max_clients)
}

fn policy_refusal(name: &str, why: &str) -> Refusal {
    Refusal {
        error: "insufficient_scope",
        description: policies::refusal_message(name, why),
        policy: Some(name.to_string()),
    }
}

async fn create(
    events: &Events<'_>,
    meta: &ClientMetadata,
    hash: &str,
    outcome: &str,
) -> Result<ClientRecord, Refusal> {
    let (state, realm) = (events.state, events.realm);
    let defaults = scope_defaults(state, realm).await.map_err(internal)?;
    let mut rep = to_client_rep(meta, events.client_id, None, &defaults, &defaults.all);
    // The user decides: a client that describes itself is shown on a consent page, with
    // the host its document came from.
    rep.consent_required = Some(true);
    mark(&mut rep, hash);
    let refused = async |refusal: Refusal| {
        events
            .refused("CLIENT_REGISTER_ERROR", &refusal, Some(outcome))
            .await;
        Err(refusal)
    };
    let NewClient { mut record, .. } =
        match new_client(&realm.id, rep, &defaults, &state.sealer, now_millis()) {
            Ok(c) => c,
            Err(e) => return refused(Refusal::new("invalid_client_metadata", e.to_string())).await,
        };
    let max_clients = match enforce(events, &mut record.rep, None, &defaults.offered).await {
        Ok(m) => m,
        Err(refusal) => return refused(refusal).await,
    };
    let mut event = events.event("CLIENT_REGISTER", None, Some(outcome));
    if !switch(realm, POLICIES_SWITCH) {
        event
            .details
            .insert("policies".to_string(), "disabled".to_string());
    }
    let guard = WriteGuard {
        max_clients: max_clients.as_ref().map(|(n, _)| *n),
        now_secs: now_millis() / 1000,
        event: Some(event),
        ..Default::default()
    };
    let bundle = ClientBundle {
        client: record.clone(),
        service_account: None,
    };
    match state.store.create_client(bundle, &guard).await {
        Ok(()) => Ok(record),
        Err(StoreError::Precondition {
            failed: Guarded::MaxClients,
        }) => {
            let (max, name) = max_clients.unwrap_or_default();
            refused(policy_refusal(
                &name,
                &format!("It's allowed to have max {max} clients per realm"),
            ))
            .await
        }
        // Another node stored it first.
        Err(StoreError::Conflict { .. }) => state
            .store
            .client_by_client_id(&realm.id, events.client_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("client vanished after a conflict")),
        Err(e) => Err(internal(e)),
    }
}

async fn update(
    events: &Events<'_>,
    mut client: ClientRecord,
    meta: &ClientMetadata,
    hash: &str,
    outcome: &str,
) -> Result<ClientRecord, Refusal> {
    let (state, realm) = (events.state, events.realm);
    let defaults = scope_defaults(state, realm).await.map_err(internal)?;
    // What an admin set (enabled, consent, scopes) stays; what the document says changes.
    let mut rep = to_client_rep(
        meta,
        events.client_id,
        Some(&client.rep),
        &defaults,
        &defaults.all,
    );
    mark(&mut rep, hash);
    let refused = async |refusal: Refusal| {
        events
            .refused("CLIENT_UPDATE_ERROR", &refusal, Some(outcome))
            .await;
        Err(refusal)
    };
    if let Err(e) = check_client(&rep) {
        return refused(Refusal::new("invalid_client_metadata", e.to_string())).await;
    }
    if let Err(refusal) = enforce(events, &mut rep, Some(&client.rep), &defaults.offered).await {
        return refused(refusal).await;
    }
    client.rep = rep;
    let bundle = ClientBundle {
        client: client.clone(),
        service_account: None,
    };
    let guard = WriteGuard {
        now_secs: now_millis() / 1000,
        ..Default::default()
    };
    match state.store.update_client(bundle, &guard).await {
        Ok(()) => {
            events
                .store(events.event("CLIENT_UPDATE", None, Some(outcome)))
                .await;
            Ok(client)
        }
        // Deleted by an admin meanwhile: the next request registers it again.
        Err(StoreError::NotFound) => Err(Refusal::new(
            "invalid_client",
            "the client was deleted meanwhile; try again",
        )),
        Err(e) => Err(internal(e)),
    }
}
