//! Keycloak's own providers: `default` (its `ClientRepresentation`, camelCase, with
//! `secret` and `registrationAccessToken`) and `install` (the adapter's keycloak.json).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use latchkey_core::clients::{NewClient, new_client, open_secret};
use latchkey_core::crypto::{ct_eq, hash_token, new_uuid, random_token};
use latchkey_core::merge::merge;
use latchkey_core::registration::convert::{REGISTRATION_AUTH_ATTRIBUTE, validate_keycloak_rep};
use latchkey_core::registration::metadata::ValidationContext;
use latchkey_core::rep::ClientRep;
use latchkey_core::store::{ClientBundle, ClientRecord, RealmRecord, StoreError, WriteGuard};
use serde_json::json;

use super::oidc::realm_or_404;
use super::{Caller, Op, RegError, authenticate, record};
use crate::admin::clients::{scope_defaults, service_account_for};
use crate::bearer::bearer_token;
use crate::error::no_store;
use crate::oidc::token::ClientAddr;
use crate::routes::{self, for_realm};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

fn parse_rep(body: &[u8]) -> Result<ClientRep, RegError> {
    serde_json::from_slice(body)
        .map_err(|_| RegError::metadata("the body is not a valid client representation"))
}

fn context(state: &SharedState) -> ValidationContext {
    ValidationContext {
        dev_mode: state.settings.dev_mode,
    }
}

/// The representation a registration returns: with the secret, and the new registration
/// access token when one was just issued.
fn rep_out(state: &SharedState, client: &ClientRecord, rat: Option<String>) -> ClientRep {
    let mut rep = client.rep.clone();
    rep.id = Some(client.id.clone());
    rep.client_id = Some(client.client_id.clone());
    rep.secret = open_secret(client, &state.sealer);
    rep.registration_access_token = rat;
    rep.access = None;
    rep
}

fn json_response(status: StatusCode, rep: &ClientRep) -> Response {
    let mut resp = (status, axum::Json(rep)).into_response();
    no_store(&mut resp);
    resp
}

pub async fn create(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let realm = match realm_or_404(&state, &realm_name).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let caller = match authenticate(&state, &realm, &headers, Op::Create, None).await {
        Ok(c) => c,
        Err(e) => {
            record(
                &state,
                &realm,
                Op::Create,
                None,
                None,
                ip.as_deref(),
                Some(&e),
                &[("provider", "default".into())],
            )
            .await;
            return e.into_response();
        }
    };
    match register(&state, &realm, &caller, &headers, &body).await {
        Ok((client, rat)) => {
            record(
                &state,
                &realm,
                Op::Create,
                Some(&client.client_id),
                Some(&caller),
                ip.as_deref(),
                None,
                &[("provider", "default".into())],
            )
            .await;
            let mut resp = json_response(StatusCode::CREATED, &rep_out(&state, &client, Some(rat)));
            let location = format!(
                "{}/{}",
                base.join(&for_realm(routes::REGISTRATION_DEFAULT, &realm.name)),
                crate::admin::encode_segment(&client.client_id)
            );
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Err(e) => {
            record(
                &state,
                &realm,
                Op::Create,
                None,
                Some(&caller),
                ip.as_deref(),
                Some(&e),
                &[("provider", "default".into())],
            )
            .await;
            e.into_response()
        }
    }
}

async fn register(
    state: &SharedState,
    realm: &RealmRecord,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(ClientRecord, String), RegError> {
    super::require_json(headers)?;
    let mut rep = parse_rep(body)?;
    validate_keycloak_rep(&rep, context(state))?;
    let client_id = rep
        .client_id
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(new_uuid);
    if state
        .store
        .client_by_client_id(&realm.id, &client_id)
        .await?
        .is_some()
    {
        return Err(RegError::metadata("Client Identifier in use"));
    }
    rep.client_id = Some(client_id);
    rep.id = None;
    rep.access = None;
    rep.registration_access_token = None;
    // Like Keycloak, the caller's representation decides: without `protocol` or
    // `publicClient` the client is confidential (new_client fills the protocol in after).
    rep.attributes.get_or_insert_with(Default::default).insert(
        REGISTRATION_AUTH_ATTRIBUTE.into(),
        caller.registration_auth().into(),
    );
    let scopes = scope_defaults(state, realm)
        .await
        .map_err(|_| RegError::internal("scope defaults"))?;
    let NewClient { mut record, .. } =
        new_client(&realm.id, rep, &scopes, &state.sealer, now_millis())
            .map_err(|e| RegError::metadata(e.to_string()))?;
    let rat = random_token::<32>();
    record.rat_hash = Some(hash_token(&rat));
    let service_account = service_account_for(state, realm, &record)
        .await
        .map_err(|_| RegError::internal("service account"))?;
    let guard = WriteGuard {
        initial_access_token: match caller {
            Caller::InitialAccess(t) => Some(t.token_hash.clone()),
            _ => None,
        },
        now_secs: now_millis() / 1000,
        ..Default::default()
    };
    match state
        .store
        .create_client(
            ClientBundle {
                client: record.clone(),
                service_account,
            },
            &guard,
        )
        .await
    {
        Ok(()) => Ok((record, rat)),
        Err(StoreError::Precondition { .. }) => Err(RegError::invalid_token(
            "No remaining count on initial access token",
        )),
        Err(StoreError::Conflict { .. }) => Err(RegError::metadata("Client Identifier in use")),
        Err(e) => Err(e.into()),
    }
}

async fn open(
    state: &SharedState,
    realm_name: &str,
    client_id: &str,
    headers: &HeaderMap,
    op: Op,
    ip: Option<&str>,
) -> Result<(RealmRecord, ClientRecord, Caller), Response> {
    let realm = realm_or_404(state, realm_name)
        .await
        .map_err(IntoResponse::into_response)?;
    let client = state
        .store
        .client_by_client_id(&realm.id, client_id)
        .await
        .map_err(|e| RegError::from(e).into_response())?;
    match authenticate(state, &realm, headers, op, client.as_ref()).await {
        Ok(caller) => match client {
            Some(c) => Ok((realm, c, caller)),
            None => Err(RegError::not_found().into_response()),
        },
        Err(e) => {
            record(
                state,
                &realm,
                op,
                Some(client_id),
                None,
                ip,
                Some(&e),
                &[("provider", "default".into())],
            )
            .await;
            Err(e.into_response())
        }
    }
}

pub async fn read(
    State(state): State<SharedState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
) -> Response {
    match open(
        &state,
        &realm_name,
        &client_id,
        &headers,
        Op::View,
        ip.as_deref(),
    )
    .await
    {
        Ok((realm, client, caller)) => {
            record(
                &state,
                &realm,
                Op::View,
                Some(&client.client_id),
                Some(&caller),
                ip.as_deref(),
                None,
                &[("provider", "default".into())],
            )
            .await;
            json_response(StatusCode::OK, &rep_out(&state, &client, None))
        }
        Err(resp) => resp,
    }
}

pub async fn update(
    State(state): State<SharedState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (realm, client, caller) = match open(
        &state,
        &realm_name,
        &client_id,
        &headers,
        Op::Update,
        ip.as_deref(),
    )
    .await
    {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    match replace(&state, &realm, client.clone(), &caller, &headers, &body).await {
        Ok((client, rat)) => {
            record(
                &state,
                &realm,
                Op::Update,
                Some(&client.client_id),
                Some(&caller),
                ip.as_deref(),
                None,
                &[("provider", "default".into())],
            )
            .await;
            json_response(StatusCode::OK, &rep_out(&state, &client, Some(rat)))
        }
        Err(e) => {
            record(
                &state,
                &realm,
                Op::Update,
                Some(&client.client_id),
                Some(&caller),
                ip.as_deref(),
                Some(&e),
                &[("provider", "default".into())],
            )
            .await;
            e.into_response()
        }
    }
}

/// Keycloak's update: the members sent replace the stored ones; the registration access
/// token rotates.
async fn replace(
    state: &SharedState,
    realm: &RealmRecord,
    mut client: ClientRecord,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(ClientRecord, String), RegError> {
    super::require_json(headers)?;
    let mut patch = parse_rep(body)?;
    if patch
        .client_id
        .as_ref()
        .is_some_and(|c| *c != client.client_id)
    {
        return Err(RegError::metadata("Client Identifier modified"));
    }
    if let Some(given) = patch.secret.take() {
        let same = open_secret(&client, &state.sealer)
            .is_some_and(|s| ct_eq(s.as_bytes(), given.as_bytes()));
        if !same {
            return Err(RegError::metadata(
                "secret is managed by the server and cannot be changed",
            ));
        }
    }
    patch.id = None;
    patch.access = None;
    patch.registration_access_token = None;
    if let Some(attrs) = patch.attributes.as_mut() {
        attrs.remove(REGISTRATION_AUTH_ATTRIBUTE);
    }
    let merged = merge(&client.rep, &patch, &["attributes"]).map_err(RegError::internal)?;
    validate_keycloak_rep(&merged, context(state))?;
    client.rep = merged;
    if !client.rep.uses_secret() {
        client.secret_sealed = None;
    } else if client.secret_sealed.is_none() {
        let s = latchkey_core::clients::generate_secret();
        client.secret_sealed = Some(state.sealer.seal(
            s.as_bytes(),
            &latchkey_core::clients::secret_context(&client.id),
        ));
    }
    let rat = random_token::<32>();
    let new_hash = hash_token(&rat);
    let guard = WriteGuard {
        expected_rat: match caller {
            Caller::RegistrationToken => bearer_token(headers).map(hash_token),
            _ => client.rat_hash.clone(),
        },
        new_rat: Some(new_hash.clone()),
        now_secs: now_millis() / 1000,
        ..Default::default()
    };
    let service_account = service_account_for(state, realm, &client)
        .await
        .map_err(|_| RegError::internal("service account"))?;
    client.rat_hash = Some(new_hash);
    state
        .store
        .update_client(
            ClientBundle {
                client: client.clone(),
                service_account,
            },
            &guard,
        )
        .await
        .map_err(|e| match e {
            StoreError::Precondition { .. } => RegError::invalid_token(
                "Not authorized to update client. Maybe missing token or bad token type.",
            ),
            other => other.into(),
        })?;
    Ok((client, rat))
}

pub async fn delete(
    State(state): State<SharedState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let (realm, client, caller) = match open(
        &state,
        &realm_name,
        &client_id,
        &headers,
        Op::Delete,
        ip.as_deref(),
    )
    .await
    {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    match state.store.delete_client(&realm.id, &client.id).await {
        Ok(()) => {
            record(
                &state,
                &realm,
                Op::Delete,
                Some(&client.client_id),
                Some(&caller),
                ip.as_deref(),
                None,
                &[("provider", "default".into())],
            )
            .await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => RegError::from(e).into_response(),
    }
}

/// `install/{client_id}`: the adapter configuration. A token (bearer or registration),
/// the client's own Basic credentials, or nothing for a public client.
pub async fn install(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path((realm_name, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let realm = match realm_or_404(&state, &realm_name).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let client = match state.store.client_by_client_id(&realm.id, &client_id).await {
        Ok(c) => c,
        Err(e) => return RegError::from(e).into_response(),
    };
    let basic_ok = client
        .as_ref()
        .is_some_and(|c| basic_matches(&state, &headers, c));
    let public_ok = client.as_ref().is_some_and(|c| c.rep.is_public())
        && headers.get(header::AUTHORIZATION).is_none();
    if !basic_ok
        && !public_ok
        && let Err(e) = authenticate(&state, &realm, &headers, Op::View, client.as_ref()).await
    {
        return e.into_response();
    }
    let Some(client) = client else {
        return RegError::not_found().into_response();
    };
    let mut doc = json!({
        "realm": realm.name,
        "auth-server-url": format!("{}/", base.0),
        "ssl-required": realm.rep.ssl_required.clone().unwrap_or_else(|| "external".into()),
        "resource": client.client_id,
        "confidential-port": 0,
    });
    if client.rep.is_public() {
        doc["public-client"] = json!(true);
    } else if let Some(secret) = open_secret(&client, &state.sealer) {
        doc["credentials"] = json!({"secret": secret});
    }
    if client.rep.is_bearer_only() {
        doc["bearer-only"] = json!(true);
    }
    let mut resp = axum::Json(doc).into_response();
    no_store(&mut resp);
    resp
}

fn basic_matches(state: &SharedState, headers: &HeaderMap, client: &ClientRecord) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim().to_string())
    else {
        return false;
    };
    let Some(text) = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return false;
    };
    let Some((id, secret)) = text.split_once(':') else {
        return false;
    };
    let Some(stored) = open_secret(client, &state.sealer) else {
        return false;
    };
    id == client.client_id && ct_eq(secret.as_bytes(), stored.as_bytes())
}
