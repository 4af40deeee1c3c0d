//! Client secrets that expire (the `client-secret-expiration` registration policy): the
//! lifetime a client's next secret gets, and the rotation a registration read makes in the
//! last quarter of a secret's life (RFC 7591 §3.2.1 lets the server issue a new secret
//! with any response).

use latchkey_core::client_secrets;
use latchkey_core::policies;
use latchkey_core::registration::convert::REGISTRATION_AUTH_ATTRIBUTE;
use latchkey_core::rep::ClientRep;
use latchkey_core::store::{ClientRecord, RealmRecord, StoreError};

use crate::service::switches::{POLICIES_SWITCH, switch};
use crate::state::{SharedState, now_millis};

/// The policy set a client was registered under.
fn registered_set(rep: &ClientRep) -> &'static str {
    let registered = rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(REGISTRATION_AUTH_ATTRIBUTE));
    if registered.map(String::as_str) == Some(policies::ANONYMOUS) {
        policies::ANONYMOUS
    } else {
        policies::AUTHENTICATED
    }
}

/// The lifetime, in seconds, of a new secret replacing `client`'s: only a secret that
/// expires is replaced by one that expires (a client created without the policy never
/// gains an expiry), living what its registration policy set says now, or as long as
/// the secret it replaces when that set no longer has the policy.
pub async fn next_lifetime(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
) -> Result<Option<i64>, StoreError> {
    if client_secrets::expires_at(&client.rep) == 0 {
        return Ok(None);
    }
    if switch(realm, POLICIES_SWITCH) {
        let components = state.store.list_components(&realm.id).await?;
        if let Some(l) = policies::secret_lifetime(&components, registered_set(&client.rep)) {
            return Ok(Some(l));
        }
    }
    Ok(client_secrets::lifetime(&client.rep))
}

/// On a registration read: when the secret is in the last quarter of its life, replaces
/// it with a new one in one compare-and-set write (the old one keeps working until its
/// own expiry). Of concurrent reads one rotates; the others answer with the client as the
/// store then holds it. Returns the client to answer with.
pub async fn rotate_if_due(
    state: &SharedState,
    realm: &RealmRecord,
    client: ClientRecord,
) -> Result<ClientRecord, StoreError> {
    let now = now_millis() / 1000;
    if !client.rep.uses_secret() || !client_secrets::rotation_due(&client.rep, now) {
        return Ok(client);
    }
    let Some(expected) = client.secret_sealed.clone() else {
        return Ok(client);
    };
    let Some(lifetime) = next_lifetime(state, realm, &client).await? else {
        return Ok(client);
    };
    let (next, _) = client_secrets::rotate(&client, &state.sealer, now, lifetime);
    match state.store.rotate_client_secret(&next, &expected).await {
        Ok(()) => {
            state.metrics.secret_rotated();
            tracing::info!(client = %client.client_id, "client secret rotated");
            Ok(next)
        }
        Err(StoreError::Precondition { .. }) => Ok(state
            .store
            .client(&realm.id, &client.id)
            .await?
            .unwrap_or(client)),
        Err(e) => Err(e),
    }
}
