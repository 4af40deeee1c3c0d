//! `/admin/realms/{realm}/clients…`: client CRUD, secrets, service-account users.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::clients::{
    ClientError, NewClient, SECRET_CREATION_TIME, check_client, generate_secret, new_client,
    open_secret, secret_context,
};
use latchkey_core::merge::merge;
use latchkey_core::rep::{ClientRep, SecretRep};
use latchkey_core::roles::{REALM_MANAGEMENT, Right};
use latchkey_core::store::{ClientBundle, ClientQuery, ClientRecord, StoreError, WriteGuard};
use serde_json::json;

use super::lookup::client_or_404;
use super::out::user_out;
use super::{AdminAuth, created, no_content, paging};
use crate::error::AdminError;
use crate::extract::{KcJson, query_bool};
use crate::service::clients::{new_service_account, scope_defaults, service_account_for};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

/// Keycloak's answer to a client that fails validation (`ClientsResource`:
/// `ErrorResponseException(INVALID_INPUT, …)`), e.g. 400 `{"error": "invalid_input",
/// "error_description": "A redirect URI uses an illegal scheme"}`.
pub fn invalid_client(e: ClientError) -> AdminError {
    AdminError::Described(StatusCode::BAD_REQUEST, "invalid_input", e.to_string())
}

/// The client as the admin API shows it: with its secret when the caller may view it.
fn client_out(state: &SharedState, c: &ClientRecord, with_secret: bool) -> ClientRep {
    let mut rep = c.rep.clone();
    rep.id = Some(c.id.clone());
    rep.client_id = Some(c.client_id.clone());
    if with_secret {
        rep.secret = open_secret(c, &state.sealer);
    }
    let access: BTreeMap<String, bool> = ["view", "configure", "manage"]
        .into_iter()
        .map(|k| (k.to_string(), true))
        .collect();
    rep.access = Some(access);
    rep
}

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let (realm, rights) = auth.realm(&state, &realm, Right::QueryClients).await?;
    let (first, max) = paging(&q, i64::MAX);
    let query = ClientQuery {
        client_id: q.get("clientId").cloned(),
        search: query_bool(q.get("search")).unwrap_or(false),
        first,
        max: Some(max),
    };
    let view = rights.allows(Right::ViewClients);
    let clients = state.store.list_clients(&realm.id, &query).await?;
    let out: Vec<ClientRep> = clients
        .iter()
        .map(|c| client_out(&state, c, view))
        .collect();
    Ok(axum::Json(out).into_response())
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    KcJson(rep): KcJson<ClientRep>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm_name, Right::CreateClient).await?;
    let scopes = scope_defaults(&state, &realm).await?;
    let NewClient { record, .. } =
        new_client(&realm.id, rep, &scopes, &state.sealer, now_millis()).map_err(invalid_client)?;
    if state
        .store
        .client_by_client_id(&realm.id, &record.client_id)
        .await?
        .is_some()
    {
        return Err(AdminError::Conflict(format!(
            "Client {} already exists",
            record.client_id
        )));
    }
    let service_account = new_service_account(&state, &realm, &record).await?;
    let id = record.id.clone();
    let client_id = record.client_id.clone();
    match state
        .store
        .create_client(
            ClientBundle {
                client: record,
                service_account,
            },
            &WriteGuard::default(),
        )
        .await
    {
        Ok(()) => Ok(created(
            &base,
            &["admin", "realms", &realm.name, "clients", &id],
        )),
        Err(StoreError::Conflict { .. }) => Err(AdminError::Conflict(format!(
            "Client {client_id} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewClients).await?;
    let client = client_or_404(&state, &realm, &id).await?;
    Ok(axum::Json(client_out(&state, &client, true)).into_response())
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
    KcJson(mut patch): KcJson<ClientRep>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
    let mut client = client_or_404(&state, &realm, &id).await?;
    patch.id = None;
    patch.access = None;
    patch.registration_access_token = None;
    let new_secret = patch.secret.take().filter(|s| !s.is_empty());
    if let Some(new_id) = patch.client_id.clone().filter(|c| *c != client.client_id) {
        if new_id.trim().is_empty() {
            return Err(AdminError::Described(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                "clientId is missing".into(),
            ));
        }
        if state
            .store
            .client_by_client_id(&realm.id, &new_id)
            .await?
            .is_some()
        {
            return Err(AdminError::Conflict("Client already exists".into()));
        }
        client.client_id = new_id;
    }
    client.rep = merge(&client.rep, &patch, &["attributes"]).map_err(AdminError::internal)?;
    client.rep.client_id = Some(client.client_id.clone());
    check_client(&client.rep).map_err(invalid_client)?;
    if client.rep.uses_secret() {
        if new_secret.is_some() || client.secret_sealed.is_none() {
            let secret = new_secret.unwrap_or_else(generate_secret);
            set_secret(&mut client, &secret, &state);
        }
    } else {
        client.secret_sealed = None;
    }
    let service_account = service_account_for(&state, &realm, &client).await?;
    match state
        .store
        .update_client(
            ClientBundle {
                client,
                service_account,
            },
            &WriteGuard::default(),
        )
        .await
    {
        Ok(()) => Ok(no_content()),
        Err(StoreError::Conflict { .. }) => {
            Err(AdminError::Conflict("Client already exists".into()))
        }
        Err(e) => Err(e.into()),
    }
}

fn set_secret(client: &mut ClientRecord, secret: &str, state: &SharedState) {
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

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
    let client = client_or_404(&state, &realm, &id).await?;
    if client.client_id == REALM_MANAGEMENT {
        return Err(AdminError::Described(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Could not delete client".into(),
        ));
    }
    state.store.delete_client(&realm.id, &client.id).await?;
    Ok(no_content())
}

pub async fn get_secret(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewClients).await?;
    let client = client_or_404(&state, &realm, &id).await?;
    Ok(match open_secret(&client, &state.sealer) {
        Some(value) => axum::Json(SecretRep {
            kind: "secret".into(),
            value,
        })
        .into_response(),
        None => axum::Json(json!({"type": "secret"})).into_response(),
    })
}

pub async fn regenerate_secret(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
    let mut client = client_or_404(&state, &realm, &id).await?;
    if !client.rep.uses_secret() {
        return Err(AdminError::Described(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client does not authenticate with a secret".into(),
        ));
    }
    let secret = generate_secret();
    set_secret(&mut client, &secret, &state);
    state
        .store
        .update_client(
            ClientBundle {
                client,
                service_account: None,
            },
            &WriteGuard::default(),
        )
        .await?;
    Ok(axum::Json(SecretRep {
        kind: "secret".into(),
        value: secret,
    })
    .into_response())
}

pub async fn service_account_user(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewClients).await?;
    let client = client_or_404(&state, &realm, &id).await?;
    let user = match state
        .store
        .service_account_user(&realm.id, &client.id)
        .await?
    {
        Some(u) if client.rep.service_accounts() => u,
        _ => {
            return Err(AdminError::BadRequest(format!(
                "Service account not enabled for the client '{}'",
                client.client_id
            )));
        }
    };
    Ok(axum::Json(user_out(&user)).into_response())
}

/// `POST …/clients/{id}/registration-access-token`: a new registration access token for
/// the client (the old one stops working); the client then counts as registered by an
/// authenticated caller, as Keycloak's minted token says.
pub async fn registration_access_token(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
    let mut client = client_or_404(&state, &realm, &id).await?;
    let token = latchkey_core::crypto::random_token::<32>();
    let hash = latchkey_core::crypto::hash_token(&token);
    client
        .rep
        .attributes
        .get_or_insert_with(Default::default)
        .insert(
            latchkey_core::registration::convert::REGISTRATION_AUTH_ATTRIBUTE.into(),
            "authenticated".into(),
        );
    let guard = WriteGuard {
        new_rat: Some(hash.clone()),
        ..Default::default()
    };
    client.rat_hash = Some(hash);
    state
        .store
        .update_client(
            ClientBundle {
                client: client.clone(),
                service_account: None,
            },
            &guard,
        )
        .await?;
    let mut rep = client_out(&state, &client, true);
    rep.registration_access_token = Some(token);
    Ok(axum::Json(rep).into_response())
}
