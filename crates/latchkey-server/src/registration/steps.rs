//! The steps every registration operation shares, whichever the provider: the caller
//! authenticated first (`auth`), the outcome recorded after (`audit`).

use latchkey_core::store::ClientRecord;

use super::auth::Caller;
use super::error::RegError;
use super::request::{Context, Op};
use crate::service::secrets;

/// How many times an update meeting a concurrent secret rotation is tried in all.
const STALE_ATTEMPTS: u32 = 3;

/// The steps every provider's operations share: authenticated first, recorded after.
impl Context {
    /// A registration: authenticates the caller (a refusal is recorded without a client
    /// id), then runs `register` for it and records the outcome with the new client's id.
    pub(super) async fn create_client<T>(
        &self,
        register: impl AsyncFnOnce(&Caller) -> Result<(ClientRecord, T), RegError>,
    ) -> Result<(ClientRecord, T), RegError> {
        let caller = match self.authenticate(Op::Create, None).await {
            Ok(caller) => caller,
            Err(e) => return self.outcome(Op::Create, None, None, Err(e)).await,
        };
        let result = register(&caller).await;
        let client_id = result.as_ref().ok().map(|(c, _)| c.client_id.clone());
        self.outcome(Op::Create, client_id.as_deref(), Some(&caller), result)
            .await
    }

    /// The path's client, for a caller allowed to view it, its secret rotated when due
    /// (`service::secrets::rotate_if_due`); the read is recorded.
    pub(super) async fn read_client(&self, client_id: &str) -> Result<ClientRecord, RegError> {
        let (client, caller) = self.load_and_authenticate(client_id, Op::View).await?;
        let client = match secrets::rotate_if_due(&self.state, &self.realm, client).await {
            Ok(client) => client,
            Err(e) => {
                return self
                    .outcome(Op::View, Some(client_id), Some(&caller), Err(e.into()))
                    .await;
            }
        };
        self.record(Op::View, Some(&client.client_id), Some(&caller), None)
            .await;
        Ok(client)
    }

    /// An update of the path's client: for a caller allowed to update it, runs `replace`
    /// on it and records the outcome. A registration read that rotates the secret between
    /// the read and the write makes the write fail rather than put the old secret back
    /// (`RegError::stale`); the update is then redone on a fresh read, a few times.
    pub(super) async fn update_client<T, F>(
        &self,
        client_id: &str,
        replace: impl Fn(ClientRecord, Caller) -> F,
    ) -> Result<T, RegError>
    where
        F: Future<Output = Result<T, RegError>>,
    {
        let mut attempts = 0;
        loop {
            let (client, caller) = self.load_and_authenticate(client_id, Op::Update).await?;
            let result = replace(client, caller.clone()).await;
            attempts += 1;
            if matches!(&result, Err(e) if e.stale) && attempts < STALE_ATTEMPTS {
                continue;
            }
            return self
                .outcome(Op::Update, Some(client_id), Some(&caller), result)
                .await;
        }
    }

    /// RFC 7592 §2.3 (both providers): for a caller allowed to delete the path's client,
    /// deletes it; afterwards the client, its secret, its registration access token and the
    /// access tokens it was issued stop working. The outcome is recorded.
    pub(super) async fn delete_client(&self, client_id: &str) -> Result<(), RegError> {
        let (client, caller) = self.load_and_authenticate(client_id, Op::Delete).await?;
        let result = self
            .state
            .store
            .delete_client(&self.realm.id, &client.id)
            .await
            .map_err(RegError::from);
        self.outcome(Op::Delete, Some(client_id), Some(&caller), result)
            .await
    }
}
