//! A realm's clients: the admin operations on them (create, change, delete, secrets,
//! registration access tokens, service-account users), and what creating or changing a
//! client needs besides the client itself, alike from the admin API, dynamic client
//! registration and the console: the realm's `ScopeDefaults` and the client's
//! service-account user.

use std::sync::Arc;

use axum::http::StatusCode;
use latchkey_core::client_secrets;
use latchkey_core::clients::{
    ClientError, NewClient, SECRET_CREATION_TIME, ScopeDefaults, check_client,
    check_not_document_url, generate_secret, new_client, secret_context,
    service_account_user as sa_user,
};
use latchkey_core::crypto::{hash_token, random_token};
use latchkey_core::merge::merge;
use latchkey_core::realm_setup::default_role_name;
use latchkey_core::registration::cimd;
use latchkey_core::registration::convert::REGISTRATION_AUTH_ATTRIBUTE;
use latchkey_core::registration::kind::REGISTRATION_METHOD_ATTRIBUTE;
use latchkey_core::rep::ClientRep;
use latchkey_core::roles::REALM_MANAGEMENT;
use latchkey_core::store::{
    ClientBundle, ClientQuery, ClientRecord, Guarded, RealmRecord, StoreError, UserRecord,
    WriteGuard,
};

use super::audit::{self, Change, Resource};
use super::{RealmAdmin, or_conflict, secrets};
use crate::error::AdminError;
use crate::state::{SharedState, now_millis};

/// Keycloak's answer to a client that fails validation (`ClientsResource`:
/// `ErrorResponseException(INVALID_INPUT, …)`), e.g. 400 `{"error": "invalid_input",
/// "error_description": "A redirect URI uses an illegal scheme"}`.
fn invalid_client(e: ClientError) -> AdminError {
    invalid_input(e.to_string())
}

fn invalid_input(message: String) -> AdminError {
    AdminError::Described(StatusCode::BAD_REQUEST, "invalid_input", message)
}

fn invalid_request(message: &str) -> AdminError {
    AdminError::Described(StatusCode::BAD_REQUEST, "invalid_request", message.into())
}

fn path(id: &str) -> String {
    format!("clients/{id}")
}

/// The client by UUID, or Keycloak's 404.
pub async fn get(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<ClientRecord, AdminError> {
    state
        .store
        .client(&admin.realm.id, id)
        .await?
        .ok_or(AdminError::NotFound("Could not find client"))
}

pub async fn list(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    query: &ClientQuery,
) -> Result<Vec<ClientRecord>, AdminError> {
    Ok(state.store.list_clients(&admin.realm.id, query).await?)
}

/// How many clients `list` finds with `query`'s filters, ignoring its page.
pub async fn count(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    query: &ClientQuery,
) -> Result<i64, AdminError> {
    Ok(state
        .store
        .count_listed_clients(&admin.realm.id, query)
        .await?)
}

/// Creates a client from Keycloak's representation (defaults, secret, service account).
pub async fn create(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    rep: ClientRep,
) -> Result<ClientRecord, AdminError> {
    let realm = &admin.realm;
    let sent = audit::sent(&admin.realm, &rep);
    let mut rep = rep;
    drop_derived(&mut rep);
    let scopes = scope_defaults(state, realm).await?;
    let NewClient { record, .. } =
        new_client(&realm.id, rep, &scopes, &state.sealer, now_millis()).map_err(invalid_client)?;
    check_not_document_url(&record.client_id).map_err(invalid_client)?;
    let exists = || format!("Client {} already exists", record.client_id);
    if state
        .store
        .client_by_client_id(&realm.id, &record.client_id)
        .await?
        .is_some()
    {
        return Err(AdminError::Conflict(exists()));
    }
    let service_account = new_service_account(state, realm, &record).await?;
    let bundle = ClientBundle {
        client: record.clone(),
        service_account,
    };
    or_conflict(
        state
            .store
            .create_client(bundle, &WriteGuard::default())
            .await,
        exists,
    )?;
    audit::record(
        state,
        admin,
        Change::create(Resource::Client, path(&record.id)).with(sent),
    )
    .await;
    Ok(record)
}

/// The attributes the representation derives from the stored client (`client.last.used`):
/// sent back by an editor that round-trips a representation, they are not stored.
fn drop_derived(rep: &mut ClientRep) {
    if let Some(a) = rep.attributes.as_mut() {
        a.remove(latchkey_core::last_used::LAST_USED_ATTRIBUTE);
    }
}

/// How many times an update meeting a concurrent secret rotation is tried in all.
const STALE_ATTEMPTS: u32 = 3;

/// Whether an update was written, or found the client's secret rotated since its read.
enum Written {
    Done,
    Stale,
}

/// Keycloak's partial update of a client; a new `secret` is taken, an empty one ignored.
/// A registration read that rotates the secret between this update's read and its write
/// makes the write fail rather than put the old secret back; the update is then redone on
/// a fresh read, a few times, and otherwise refused with 409.
pub async fn update(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    patch: ClientRep,
) -> Result<(), AdminError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match update_once(state, admin, id, patch.clone()).await? {
            Written::Done => return Ok(()),
            Written::Stale if attempts < STALE_ATTEMPTS => {}
            Written::Stale => {
                return Err(AdminError::Conflict(
                    "the client changed during the update; send it again".into(),
                ));
            }
        }
    }
}

async fn update_once(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    mut patch: ClientRep,
) -> Result<Written, AdminError> {
    let realm = &admin.realm;
    let mut client = get(state, admin, id).await?;
    let read_secret = client.secret_sealed.clone();
    let sent = audit::sent(&admin.realm, &patch);
    patch.id = None;
    patch.access = None;
    patch.registration_access_token = None;
    drop_derived(&mut patch);
    let new_secret = patch.secret.take().filter(|s| !s.is_empty());
    let exists = || "Client already exists".to_string();
    if let Some(new_id) = patch.client_id.clone().filter(|c| *c != client.client_id) {
        if new_id.trim().is_empty() {
            return Err(invalid_input("clientId is missing".into()));
        }
        check_not_document_url(&new_id).map_err(invalid_client)?;
        if state
            .store
            .client_by_client_id(&realm.id, &new_id)
            .await?
            .is_some()
        {
            return Err(AdminError::Conflict(exists()));
        }
        client.client_id = new_id;
    }
    client.rep = merge(&client.rep, &patch, &["attributes"]).map_err(AdminError::internal)?;
    client.rep.client_id = Some(client.client_id.clone());
    check_client(&client.rep).map_err(invalid_client)?;
    if client.rep.uses_secret() {
        if new_secret.is_some() || client.secret_sealed.is_none() {
            let secret = new_secret.unwrap_or_else(generate_secret);
            set_secret(&mut client, &secret, state);
        }
    } else {
        client.secret_sealed = None;
        client.previous_secret = None;
    }
    let service_account = service_account_for(state, realm, &client).await?;
    let id = client.id.clone();
    let bundle = ClientBundle {
        client,
        service_account,
    };
    let guard = WriteGuard {
        expected_secret: Some(read_secret),
        ..Default::default()
    };
    match state.store.update_client(bundle, &guard).await {
        Err(StoreError::Precondition {
            failed: Guarded::ClientSecret,
        }) => return Ok(Written::Stale),
        written => or_conflict(written, exists)?,
    }
    audit::record(
        state,
        admin,
        Change::update(Resource::Client, path(&id)).with(sent),
    )
    .await;
    Ok(Written::Done)
}

/// Replaces the secret; a previous one kept by a rotation stops working with it.
fn set_secret(client: &mut ClientRecord, secret: &str, state: &SharedState) {
    client.previous_secret = None;
    client.secret_sealed = Some(
        state
            .sealer
            .seal(secret.as_bytes(), &secret_context(&client.id)),
    );
    client
        .rep
        .attributes
        .get_or_insert_with(Default::default)
        .insert(
            SECRET_CREATION_TIME.into(),
            (now_millis() / 1000).to_string(),
        );
}

/// Deletes a client; `realm-management`, which holds the admin roles, stays.
pub async fn delete(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<(), AdminError> {
    let client = get(state, admin, id).await?;
    if client.client_id == REALM_MANAGEMENT {
        return Err(invalid_request("Could not delete client"));
    }
    state
        .store
        .delete_client(&admin.realm.id, &client.id)
        .await?;
    audit::record(
        state,
        admin,
        Change::delete(Resource::Client, path(&client.id)),
    )
    .await;
    Ok(())
}

/// A new secret for a confidential client (the old one, and a previous one kept by a
/// rotation, stop working); a secret that expired gets a fresh expiry
/// (`secrets::next_lifetime`). Returns it.
pub async fn regenerate_secret(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<String, AdminError> {
    let mut client = get(state, admin, id).await?;
    if !client.rep.uses_secret() {
        return Err(invalid_request(
            "client does not authenticate with a secret",
        ));
    }
    let lifetime = secrets::next_lifetime(state, &admin.realm, &client).await?;
    let secret = generate_secret();
    set_secret(&mut client, &secret, state);
    if let Some(lifetime) = lifetime {
        client_secrets::set_expiry(&mut client.rep, now_millis() / 1000, lifetime);
    }
    let path = format!("{}/client-secret", path(&client.id));
    let bundle = ClientBundle {
        client,
        service_account: None,
    };
    state
        .store
        .update_client(bundle, &WriteGuard::default())
        .await?;
    audit::record(state, admin, Change::action(Resource::Client, path)).await;
    Ok(secret)
}

/// A new registration access token for the client (the old one stops working); the client
/// then counts as registered by an authenticated caller, as Keycloak's minted token says.
/// Returns the client as stored and the token.
pub async fn registration_access_token(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<(ClientRecord, String), AdminError> {
    let mut client = get(state, admin, id).await?;
    // A client ID metadata document client is what its document says; a token would let
    // the registration endpoint change it behind the document's back.
    let registered_by = client
        .rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(REGISTRATION_AUTH_ATTRIBUTE));
    if registered_by.is_some_and(|r| r == cimd::REGISTRATION_AUTH) {
        return Err(invalid_request(
            "a client ID metadata document client has no registration access token",
        ));
    }
    let token = random_token::<32>();
    let hash = hash_token(&token);
    let attributes = client.rep.attributes.get_or_insert_with(Default::default);
    attributes.insert(REGISTRATION_AUTH_ATTRIBUTE.into(), "authenticated".into());
    // The token is the administrator's, not the credential the client registered with.
    attributes.remove(REGISTRATION_METHOD_ATTRIBUTE);
    let guard = WriteGuard {
        new_rat: Some(hash.clone()),
        ..Default::default()
    };
    client.rat_hash = Some(hash);
    let bundle = ClientBundle {
        client: client.clone(),
        service_account: None,
    };
    state.store.update_client(bundle, &guard).await?;
    let path = format!("{}/registration-access-token", path(&client.id));
    audit::record(state, admin, Change::action(Resource::Client, path)).await;
    Ok((client, token))
}

/// The client's service-account user; 400 when service accounts are off for it.
pub async fn service_account_user(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<UserRecord, AdminError> {
    let client = get(state, admin, id).await?;
    match state
        .store
        .service_account_user(&admin.realm.id, &client.id)
        .await?
    {
        Some(u) if client.rep.service_accounts() => Ok(u),
        _ => Err(AdminError::BadRequest(format!(
            "Service account not enabled for the client '{}'",
            client.client_id
        ))),
    }
}

/// The realm's `ScopeDefaults`: the names of its default and optional client scopes, and
/// of all of them.
pub async fn scope_defaults(
    state: &SharedState,
    realm: &RealmRecord,
) -> Result<Arc<ScopeDefaults>, AdminError> {
    let scopes = state.store.list_scopes(&realm.id).await?;
    let links = state.store.realm_default_scopes(&realm.id).await?;
    Ok(state.scope_defaults(&realm.id, scopes, links))
}

/// The service-account user a client needs, with the realm's default role.
pub async fn service_account_for(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
) -> Result<Option<(UserRecord, Vec<String>)>, AdminError> {
    if !client.rep.service_accounts() || client.rep.is_public() {
        return Ok(None);
    }
    if state
        .store
        .service_account_user(&realm.id, &client.id)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    new_service_account(state, realm, client).await
}

/// `service_account_for` a client being created, which cannot have one yet.
pub async fn new_service_account(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
) -> Result<Option<(UserRecord, Vec<String>)>, AdminError> {
    if !client.rep.service_accounts() || client.rep.is_public() {
        return Ok(None);
    }
    let user = sa_user(client, now_millis());
    // From the realm's cached roles, not a query.
    let default_role = default_role_name(&realm.name);
    let default_role = state
        .store
        .all_roles(&realm.id)
        .await?
        .iter()
        .find(|r| r.client.is_none() && r.name == default_role)
        .map(|r| r.id.clone());
    Ok(Some((user, default_role.into_iter().collect())))
}
