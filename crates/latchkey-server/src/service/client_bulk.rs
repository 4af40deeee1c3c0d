//! Changes to many of a realm's clients at once (the console's bulk actions): one store
//! call loads the selection and one writes it, and each client changed still gets the
//! admin event its single change records. Built-in clients are never disabled or deleted
//! this way.

use latchkey_core::clients::is_built_in;
use latchkey_core::rep::{ClientRep, StringMap};
use latchkey_core::store::ClientRecord;

use super::RealmAdmin;
use super::audit::{self, Change, Resource};
use crate::error::AdminError;
use crate::state::SharedState;

/// The most clients one bulk action takes: enough for a page of registrations to clear,
/// few enough that one transaction stays short.
pub const MAX_SELECTION: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Enable,
    Disable,
    Delete,
}

impl BulkAction {
    pub fn parse(s: &str) -> Option<BulkAction> {
        match s {
            "enable" => Some(BulkAction::Enable),
            "disable" => Some(BulkAction::Disable),
            "delete" => Some(BulkAction::Delete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Enable => "enable",
            BulkAction::Disable => "disable",
            BulkAction::Delete => "delete",
        }
    }

    /// Whether the action would take a built-in client out of service.
    fn spares_built_ins(self) -> bool {
        self != BulkAction::Enable
    }
}

/// A selection of clients for an action: those it changes and the built-in ones it skips
/// (by client id). Ids that are no client of the realm are dropped.
#[derive(Debug, Default)]
pub struct Selection {
    pub clients: Vec<ClientRecord>,
    pub built_in: Vec<String>,
}

/// The realm's clients among `ids`, from one query; more than [`MAX_SELECTION`] is refused.
pub async fn select(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    ids: &[String],
    action: BulkAction,
) -> Result<Selection, AdminError> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.len() > MAX_SELECTION {
        return Err(AdminError::Invalid(format!(
            "{} clients selected; select at most {MAX_SELECTION} at once",
            ids.len()
        )));
    }
    let mut selection = Selection::default();
    for client in state.store.clients_by_ids(&admin.realm.id, &ids).await? {
        if action.spares_built_ins() && is_built_in(&client.client_id, &admin.realm.name) {
            selection.built_in.push(client.client_id);
        } else {
            selection.clients.push(client);
        }
    }
    Ok(selection)
}

/// Applies `action` to the selection's clients (one store call), then records one admin
/// event per client changed, as the single change does. `attributes` are set on each
/// client enabled or disabled (the console's mark of a client an administrator disabled).
/// Returns how many clients changed.
pub async fn apply(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    selection: Selection,
    action: BulkAction,
    attributes: StringMap,
) -> Result<usize, AdminError> {
    let realm_id = &admin.realm.id;
    let changed = match action {
        BulkAction::Delete => {
            let ids: Vec<String> = selection.clients.into_iter().map(|c| c.id).collect();
            let deleted = state.store.delete_clients(realm_id, &ids).await?;
            for id in &deleted {
                audit::record(state, admin, Change::delete(Resource::Client, path(id))).await;
            }
            deleted.len()
        }
        BulkAction::Enable | BulkAction::Disable => {
            let patch = ClientRep {
                enabled: Some(action == BulkAction::Enable),
                attributes: Some(attributes),
                ..Default::default()
            };
            let mut clients = selection.clients;
            for client in &mut clients {
                client.rep.enabled = patch.enabled;
                let attrs = client.rep.attributes.get_or_insert_with(Default::default);
                for (k, v) in patch.attributes.iter().flatten() {
                    attrs.insert(k.clone(), v.clone());
                }
            }
            let updated = state.store.update_client_docs(realm_id, &clients).await?;
            for id in &updated {
                let sent = audit::sent(&admin.realm, &patch);
                let change = Change::update(Resource::Client, path(id)).with(sent);
                audit::record(state, admin, change).await;
            }
            updated.len()
        }
    };
    Ok(changed)
}

fn path(id: &str) -> String {
    format!("clients/{id}")
}
