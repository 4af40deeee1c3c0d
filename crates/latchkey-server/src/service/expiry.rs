//! Expiry of registered clients left unused: the sweep of the `unused-client-expiration`
//! registration policies. Every node runs it; the store's conditional delete makes each
//! expiry happen once, and never to a client whose use was recorded first.

use std::collections::BTreeMap;

use latchkey_core::Millis;
use latchkey_core::crypto::new_row_id;
use latchkey_core::last_used;
use latchkey_core::policies;
use latchkey_core::registration::convert::REGISTRATION_AUTH_ATTRIBUTE;
use latchkey_core::store::{ClientRecord, EventRecord, RealmRecord, StoreResult};

use super::switches::{POLICIES_SWITCH, switch};
use crate::state::AppState;

/// Deletes, in every realm, the registered clients its `unused-client-expiration` policies
/// say have been unused too long at `now`; each deletion is a `CLIENT_DELETE` event with
/// `reason` `expired`. Returns how many clients this call deleted. A realm whose
/// registration policies are switched off expires nothing, as no policy of it runs.
pub async fn expire_unused_clients(state: &AppState, now: Millis) -> StoreResult<u64> {
    expire_unused_clients_in_pages(state, now, PAGE).await
}

/// Candidates read at once: what a sweep holds in memory, whatever the realm's size.
const PAGE: usize = 500;

/// `expire_unused_clients`, reading candidates `page` at a time.
pub async fn expire_unused_clients_in_pages(
    state: &AppState,
    now: Millis,
    page: usize,
) -> StoreResult<u64> {
    let mut expired = 0;
    for realm in state.store.list_realms().await? {
        if switch(&realm, POLICIES_SWITCH) {
            expired += expire_in_realm(state, &realm, now, page.max(1)).await?;
        }
    }
    Ok(expired)
}

async fn expire_in_realm(
    state: &AppState,
    realm: &RealmRecord,
    now: Millis,
    page: usize,
) -> StoreResult<u64> {
    let components = state.store.list_components(&realm.id).await?;
    let Some(shortest) = policies::shortest_expiry(&components) else {
        return Ok(0);
    };
    let today = last_used::day(now);
    let mut expired = 0;
    // Every client unused for the shortest period is a candidate; each is then held to the
    // period of the set that registered it.
    let mut after: Option<String> = None;
    loop {
        let candidates = state
            .store
            .unused_clients(&realm.id, today - shortest, after.as_deref(), page)
            .await?;
        let last_page = candidates.len() < page;
        after = candidates.last().map(|c| c.id.clone());
        for client in &candidates {
            expired += expire_one(state, realm, &components, client, today, now).await?;
        }
        if last_page {
            return Ok(expired);
        }
    }
}

/// Expires the candidate if its set's period says so: 1 if this call deleted it.
async fn expire_one(
    state: &AppState,
    realm: &RealmRecord,
    components: &[latchkey_core::store::ComponentRecord],
    client: &ClientRecord,
    today: i64,
    now: Millis,
) -> StoreResult<u64> {
    let Some(days) = policies::expiry_days(components, registration_auth(client)) else {
        return Ok(0);
    };
    let event = expired_event(client, now);
    if !state
        .store
        .expire_client(&realm.id, &client.id, today - days, &event)
        .await?
    {
        return Ok(0);
    }
    tracing::info!(realm = %realm.name, client = %client.client_id, days, "expired an unused client");
    state.metrics.client_expired();
    Ok(1)
}

fn registration_auth(c: &ClientRecord) -> Option<&str> {
    c.rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(REGISTRATION_AUTH_ATTRIBUTE))
        .map(String::as_str)
}

fn expired_event(client: &ClientRecord, now: Millis) -> EventRecord {
    let mut details = BTreeMap::new();
    details.insert("reason".to_string(), "expired".to_string());
    if let Some(auth) = registration_auth(client) {
        details.insert("registration_auth".to_string(), auth.to_string());
    }
    let last = client
        .last_used
        .unwrap_or(last_used::day(client.created_at));
    details.insert("last_used".to_string(), last_used::iso_date(last));
    EventRecord {
        id: new_row_id(),
        realm_id: client.realm_id.clone(),
        time: now,
        kind: "CLIENT_DELETE".into(),
        client_id: Some(client.client_id.clone()),
        user_id: None,
        ip_address: None,
        error: None,
        details,
    }
}
