//! Storing a registration: a new client with its first registration access token, or a
//! replaced one whose token rotates by compare-and-set; the store's refusals become
//! Keycloak's.

use latchkey_core::client_secrets;
use latchkey_core::clients::{
    SECRET_CREATION_TIME, check_client, check_registered_client_id, generate_secret, secret_context,
};
use latchkey_core::crypto::{hash_token, random_token};
use latchkey_core::registration::convert::REGISTRATION_AUTH_ATTRIBUTE;
use latchkey_core::registration::kind::REGISTRATION_METHOD_ATTRIBUTE;
use latchkey_core::store::{ClientBundle, ClientRecord, Guarded, StoreError, WriteGuard};

use super::auth::Caller;
use super::error::RegError;
use super::policies::Admitted;
use super::request::{Context, Op};
use crate::bearer::bearer_token;
use crate::service::clients::{new_service_account, service_account_for};
use crate::state::now_millis;

impl Context {
    /// Stores a new client with a fresh registration access token and its service account;
    /// an initial access token's use is spent, and the `CLIENT_REGISTER` event stored, in
    /// the same transaction. Returns the token.
    pub(super) async fn store_new(
        &self,
        caller: &Caller,
        client: &mut ClientRecord,
        admitted: &Admitted,
    ) -> Result<String, RegError> {
        let (state, realm) = (&self.state, &self.realm);
        // A registrant never takes a built-in client's id, whatever its case.
        check_registered_client_id(&client.client_id, &realm.name)?;
        let attributes = client.rep.attributes.get_or_insert_with(Default::default);
        attributes.insert(
            REGISTRATION_AUTH_ATTRIBUTE.into(),
            caller.registration_auth().into(),
        );
        attributes.insert(REGISTRATION_METHOD_ATTRIBUTE.into(), caller.kind().into());
        let rat = random_token::<32>();
        client.rat_hash = Some(hash_token(&rat));
        let service_account = new_service_account(state, realm, client)
            .await
            .map_err(|_| RegError::internal("service account"))?;
        let guard = WriteGuard {
            initial_access_token: match caller {
                Caller::InitialAccess(t) => Some(t.token_hash.clone()),
                _ => None,
            },
            max_clients: admitted.max_clients.as_ref().map(|(n, _)| *n),
            now_secs: now_millis() / 1000,
            event: Some(self.event(Op::Create, Some(&client.client_id), Some(caller), None)),
            ..Default::default()
        };
        let bundle = ClientBundle {
            client: client.clone(),
            service_account,
        };
        match state.store.create_client(bundle, &guard).await {
            Ok(()) => Ok(rat),
            Err(StoreError::Precondition {
                failed: Guarded::MaxClients,
            }) => {
                let (max, name) = admitted.max_clients.clone().unwrap_or_default();
                Err(RegError::policy(
                    &name,
                    &format!("It's allowed to have max {max} clients per realm"),
                ))
            }
            Err(StoreError::Precondition { .. }) => Err(RegError::invalid_token(
                "No remaining count on initial access token",
            )),
            Err(StoreError::Conflict { .. }) => Err(RegError::metadata("Client Identifier in use")),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores a replaced client and rotates its registration access token by
    /// compare-and-set: with the token itself, the stored hash must still be the presented
    /// one (of two updates with one token exactly one wins). A client that turns
    /// confidential gets a secret living `admitted.secret_lifetime`. Returns the new token.
    pub(super) async fn store_replaced(
        &self,
        caller: &Caller,
        client: &mut ClientRecord,
        admitted: &Admitted,
    ) -> Result<String, RegError> {
        let state = &self.state;
        let read_secret = client.secret_sealed.clone();
        // The rules `new_client` applies on create hold for the replaced client too.
        check_client(&client.rep)?;
        if !client.rep.uses_secret() {
            client.secret_sealed = None;
            client.previous_secret = None;
            client_secrets::clear_expiry(&mut client.rep);
        } else if client.secret_sealed.is_none() {
            let s = generate_secret();
            client.secret_sealed =
                Some(state.sealer.seal(s.as_bytes(), &secret_context(&client.id)));
            let now = now_millis() / 1000;
            let attrs = client.rep.attributes.get_or_insert_with(Default::default);
            attrs.insert(SECRET_CREATION_TIME.into(), now.to_string());
            match admitted.secret_lifetime {
                Some(lifetime) => client_secrets::set_expiry(&mut client.rep, now, lifetime),
                None => client_secrets::clear_expiry(&mut client.rep),
            }
        }
        let rat = random_token::<32>();
        let new_hash = hash_token(&rat);
        let guard = WriteGuard {
            expected_rat: match caller {
                Caller::RegistrationToken => bearer_token(&self.headers).map(hash_token),
                _ => client.rat_hash.clone(),
            },
            new_rat: Some(new_hash.clone()),
            expected_secret: Some(read_secret),
            now_secs: now_millis() / 1000,
            ..Default::default()
        };
        let service_account = service_account_for(state, &self.realm, client)
            .await
            .map_err(|_| RegError::internal("service account"))?;
        client.rat_hash = Some(new_hash);
        let bundle = ClientBundle {
            client: client.clone(),
            service_account,
        };
        match state.store.update_client(bundle, &guard).await {
            Ok(()) => Ok(rat),
            Err(StoreError::Precondition {
                failed: Guarded::ClientSecret,
            }) => Err(RegError::stale()),
            Err(StoreError::Precondition { .. }) => Err(RegError::invalid_token(
                "Not authorized to update client. Maybe missing token or bad token type.",
            )),
            Err(e) => Err(e.into()),
        }
    }
}
