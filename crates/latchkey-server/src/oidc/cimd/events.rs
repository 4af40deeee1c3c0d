//! The events of document clients (`CLIENT_REGISTER`, `CLIENT_UPDATE` and their `_ERROR`
//! forms, with the fetch outcome and the refusing policy), and the refusal for a server
//! failure.

use std::collections::BTreeMap;

use latchkey_core::crypto::new_row_id;
use latchkey_core::registration::cimd::{self, Refusal};
use latchkey_core::store::{EventRecord, RealmRecord};

use crate::state::{SharedState, now_millis};

/// What the event details call this way of registering.
const PROVIDER: &str = "client-id-metadata-document";

/// Records what happens to one document client: realm, client id (the URL), the caller's
/// address.
pub(super) struct Events<'a> {
    pub(super) state: &'a SharedState,
    pub(super) realm: &'a RealmRecord,
    pub(super) client_id: &'a str,
    pub(super) ip: Option<&'a str>,
}

impl Events<'_> {
    pub(super) fn event(
        &self,
        kind: &str,
        refusal: Option<&Refusal>,
        outcome: Option<&str>,
    ) -> EventRecord {
        let mut details = BTreeMap::new();
        details.insert("provider".to_string(), PROVIDER.to_string());
        details.insert(
            "registration_auth".to_string(),
            cimd::REGISTRATION_AUTH.to_string(),
        );
        if let Some(o) = outcome {
            details.insert("fetch".to_string(), o.to_string());
        }
        if let Some(r) = refusal {
            details.insert("error_description".to_string(), r.description.clone());
            if let Some(p) = &r.policy {
                details.insert("policy".to_string(), p.clone());
            }
        }
        EventRecord {
            id: new_row_id(),
            realm_id: self.realm.id.clone(),
            time: now_millis(),
            kind: kind.to_string(),
            client_id: Some(self.client_id.to_string()),
            user_id: None,
            ip_address: self.ip.map(str::to_string),
            error: refusal.map(|r| r.error.to_string()),
            details,
        }
    }

    /// A refusal's event; as for registration, an address's refusals are stored up to a
    /// bound per window, so nobody grows the events table by presenting bad URLs.
    pub(super) async fn refused(&self, kind: &str, refusal: &Refusal, outcome: Option<&str>) {
        if refusal.is_internal() {
            return;
        }
        let key = crate::limits::address_key(self.ip);
        if self.state.refused_events.hit(&key).is_err() {
            self.state.metrics.event_not_stored(kind);
            return;
        }
        self.store(self.event(kind, Some(refusal), outcome)).await;
    }

    pub(super) async fn store(&self, event: EventRecord) {
        if let Err(e) = self.state.store.insert_event(&event).await {
            tracing::warn!(error = %e, "could not record a client metadata document event");
        }
    }
}

pub(super) fn internal(e: impl std::fmt::Debug) -> Refusal {
    tracing::error!(error = ?e, "client metadata document: internal error");
    Refusal::new("server_error", "internal error")
}
