//! Looking up what an admin request addresses, answering Keycloak's 404 when it is not
//! there; shared by the client, role and user resources.

use latchkey_core::store::{ClientRecord, RealmRecord};

use crate::error::AdminError;
use crate::state::SharedState;

/// The client by UUID, or Keycloak's 404.
pub async fn client_or_404(
    state: &SharedState,
    realm: &RealmRecord,
    id: &str,
) -> Result<ClientRecord, AdminError> {
    state
        .store
        .client(&realm.id, id)
        .await?
        .ok_or(AdminError::NotFound("Could not find client"))
}
