//! Registration events: every operation, allowed or refused, is one (`CLIENT_REGISTER` …
//! and their `_ERROR` forms), with the request's realm, the caller's address and the
//! provider it used. Recording never fails the request.

use std::collections::BTreeMap;

use latchkey_core::crypto::new_row_id;
use latchkey_core::store::EventRecord;

use super::auth::Caller;
use super::error::RegError;
use super::request::{Context, Op};
use crate::service::switches::{POLICIES_SWITCH, switch};
use crate::state::now_millis;

impl Context {
    pub(super) async fn record(
        &self,
        op: Op,
        client_id: Option<&str>,
        caller: Option<&Caller>,
        error: Option<&RegError>,
    ) {
        self.state
            .metrics
            .registration(op.event(), error.map(|e| e.error));
        if op == Op::Create && error.is_none() {
            // Stored with the client itself (`store_new`).
            return;
        }
        // Refusals of unauthenticated callers are stored up to a bound per address and
        // window, and only counted beyond it: nobody can grow the events table at will.
        let unauthenticated = caller.is_none_or(|c| matches!(c, Caller::Anonymous));
        if error.is_some() && unauthenticated {
            let key = crate::limits::address_key(self.addr.0.as_deref());
            if self.state.refused_events.hit(&key).is_err() {
                self.state.metrics.event_not_stored(op.event());
                return;
            }
        }
        let event = self.event(op, client_id, caller, error);
        if let Err(e) = self.state.store.insert_event(&event).await {
            tracing::warn!(error = %e, "could not record a registration event");
        }
    }

    /// The event for an operation's outcome.
    pub(super) fn event(
        &self,
        op: Op,
        client_id: Option<&str>,
        caller: Option<&Caller>,
        error: Option<&RegError>,
    ) -> EventRecord {
        let mut details = BTreeMap::new();
        details.insert("provider".to_string(), self.provider.to_string());
        if let Some(c) = caller {
            details.insert("auth_method".to_string(), c.kind().to_string());
            details.insert(
                "registration_auth".to_string(),
                c.registration_auth().to_string(),
            );
        }
        if let Some(e) = error {
            details.insert("error_description".to_string(), e.description.clone());
            if let Some(p) = &e.policy {
                details.insert("policy".to_string(), p.clone());
            }
        }
        if !switch(&self.realm, POLICIES_SWITCH) {
            details.insert("policies".to_string(), "disabled".to_string());
        }
        EventRecord {
            id: new_row_id(),
            realm_id: self.realm.id.clone(),
            time: now_millis(),
            kind: match error {
                Some(_) => format!("{}_ERROR", op.event()),
                None => op.event().to_string(),
            },
            client_id: client_id.map(str::to_string),
            user_id: caller.and_then(Caller::user_id),
            ip_address: self.addr.0.clone(),
            error: error.map(|e| e.error.to_string()),
            details,
        }
    }

    /// Records the outcome of `op` and passes it on.
    pub(super) async fn outcome<T>(
        &self,
        op: Op,
        client_id: Option<&str>,
        caller: Option<&Caller>,
        result: Result<T, RegError>,
    ) -> Result<T, RegError> {
        self.record(op, client_id, caller, result.as_ref().err())
            .await;
        result
    }
}
