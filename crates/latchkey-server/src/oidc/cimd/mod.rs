//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): the
//! authorization and token endpoints find a client whose `client_id` is an https URL by
//! fetching that URL (`lookup_client`), when the realm switch is on.
//!
//! - The URL rules and the realm's trusted domains are checked before anything is fetched;
//!   the fetch goes through the one outbound fetcher (address guard, no redirects, the
//!   realm's size limit, a time limit).
//! - A document is kept per node, in `AppState::cimd_documents`, for its HTTP cache
//!   lifetime clamped to the realm's bounds (`lifetime`); at most one fetch per URL is in
//!   flight on a node, concurrent requests share its outcome; a failure or an invalid
//!   document is never kept, so the next request fetches again.
//! - The client is stored as an ordinary client of the realm (`register`), so an admin
//!   sees, disables or deletes it; a changed document updates it at the next fetch, and a
//!   document gone or invalid at that fetch stops new authorizations and token requests
//!   (access tokens already issued live on).

mod events;
mod lifetime;
mod register;

use latchkey_core::registration::cimd::{self, Refusal, Settings};
use latchkey_core::registration::convert::REGISTRATION_AUTH_ATTRIBUTE;
use latchkey_core::registration::metadata::ValidationContext;
use latchkey_core::store::{ClientRecord, RealmRecord};
use serde_json::Value;

use crate::state::{SharedState, now_millis};
use events::{Events, internal};

/// The client a request names: for a `client_id` that is a document URL in a realm with
/// the switch on, the client its document describes (fetched, validated, stored, as the
/// module says); for any other id, the stored client. `Ok(None)`: no such client. The
/// caller still checks that the client is enabled. `ip` is the caller's address, for the
/// events.
pub async fn lookup_client(
    state: &SharedState,
    realm: &RealmRecord,
    client_id: &str,
    ip: Option<&str>,
) -> Result<Option<ClientRecord>, Refusal> {
    let stored = state
        .store
        .client_by_client_id(&realm.id, client_id)
        .await
        .map_err(internal)?;
    if !cimd::is_document_url(client_id) {
        return Ok(stored);
    }
    let settings = Settings::from_attributes(realm.rep.attributes.as_ref());
    if stored.as_ref().is_some_and(|c| !is_document_client(c)) {
        // A client an admin imported under a URL id is served as it is.
        return Ok(stored);
    }
    if !settings.enabled {
        return Ok(None);
    }
    let events = Events {
        state,
        realm,
        client_id,
        ip,
    };
    let url = match cimd::check_url(client_id, state.settings.dev_mode) {
        Ok(url) => url,
        Err(why) => {
            let refusal = Refusal::new("invalid_client", why);
            events
                .refused("CLIENT_REGISTER_ERROR", &refusal, None)
                .await;
            return Err(refusal);
        }
    };
    let host = url.host_str().unwrap_or("");
    if !settings.host_trusted(host) {
        let refusal = Refusal::new(
            "invalid_client",
            format!("client_id host {host} is not one of the realm's trusted domains"),
        );
        events
            .refused("CLIENT_REGISTER_ERROR", &refusal, None)
            .await;
        return Err(refusal);
    }
    let key = format!("{}\n{client_id}", realm.id);
    if state.cimd_documents.fresh(&key, now_millis()).is_some()
        && let Some(client) = stored
    {
        return Ok(Some(client));
    }
    state
        .cimd_documents
        .coalesce(&key, || fetch_and_store(&events, &settings, &key))
        .await
        .map(Some)
}

/// The host a consent page names for a document client and whether all its redirect URIs
/// are on loopback hosts (`None` for other clients).
pub fn consent_facts(client: &ClientRecord) -> Option<(String, bool)> {
    if !is_document_client(client) {
        return None;
    }
    cimd::consent_facts(
        &client.client_id,
        client.rep.redirect_uris.as_deref().unwrap_or_default(),
    )
}

fn is_document_client(client: &ClientRecord) -> bool {
    client
        .rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(REGISTRATION_AUTH_ATTRIBUTE))
        .is_some_and(|a| a == cimd::REGISTRATION_AUTH)
}

/// One fetch of the document, then the stored client brought up to date; the document is
/// kept for its lifetime only once the client is stored.
async fn fetch_and_store(
    events: &Events<'_>,
    settings: &Settings,
    key: &str,
) -> Result<ClientRecord, Refusal> {
    let state = events.state;
    let fetched = match state
        .fetcher
        .get_document(events.client_id, settings.max_bytes)
        .await
    {
        Ok(f) => f,
        Err(e) => {
            let refusal = Refusal::new("invalid_client", format!("client metadata document: {e}"));
            events
                .refused("CLIENT_REGISTER_ERROR", &refusal, None)
                .await;
            return Err(refusal);
        }
    };
    let now = now_millis();
    let keep = lifetime::seconds(
        &fetched,
        now,
        settings.cache_min_secs,
        settings.cache_max_secs,
    );
    let outcome = format!("http 200, {} bytes, kept {keep} s", fetched.body.len());
    let checked = match serde_json::from_slice::<Value>(&fetched.body) {
        Ok(Value::Object(doc)) => {
            let ctx = ValidationContext {
                dev_mode: state.settings.dev_mode,
            };
            cimd::validate_document(&doc, events.client_id, ctx).map_err(Refusal::from)
        }
        Ok(_) | Err(_) => Err(Refusal::new(
            "invalid_client_metadata",
            "the client metadata document is not a JSON object",
        )),
    };
    let meta = match checked {
        Ok(meta) => meta,
        Err(refusal) => {
            events
                .refused("CLIENT_REGISTER_ERROR", &refusal, Some(&outcome))
                .await;
            return Err(refusal);
        }
    };
    let client = register::store(events, &meta, &outcome).await?;
    if keep > 0 {
        state
            .cimd_documents
            .insert(key, (), now + (keep as i64) * 1000, now);
    }
    Ok(client)
}
