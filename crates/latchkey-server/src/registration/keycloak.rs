//! Keycloak's own providers: `default` (its `ClientRepresentation`, camelCase, with
//! `secret` and `registrationAccessToken`) and `install` (the adapter's keycloak.json).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::clients::{NewClient, new_client, open_secret};
use latchkey_core::crypto::{ct_eq, new_uuid};
use latchkey_core::merge::merge;
use latchkey_core::registration::convert::{REGISTRATION_AUTH_ATTRIBUTE, validate_keycloak_rep};
use latchkey_core::rep::ClientRep;
use latchkey_core::store::{ClientRecord, RealmRecord};
use serde_json::json;

use super::oidc::delete_client;
use super::realm_scopes;
use super::{
    Audit, Op, RegError, RegRequest, authenticate, context, enforce, open, realm_or_404,
    require_json, store_new, store_replaced,
};
use crate::error::no_store;
use crate::extract::ClientAddr;
use crate::routes::{self, for_realm};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

const PROVIDER: &str = "default";

/// The client scopes a representation asks for (policies see unknown ones too).
fn requested_scopes(rep: &ClientRep) -> Vec<String> {
    rep.default_client_scopes
        .iter()
        .flatten()
        .chain(rep.optional_client_scopes.iter().flatten())
        .cloned()
        .collect()
}

fn parse_rep(body: &[u8]) -> Result<ClientRep, RegError> {
    serde_json::from_slice(body)
        .map_err(|_| RegError::metadata("the body is not a valid client representation"))
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
    let audit = Audit {
        state: &state,
        realm: &realm,
        ip: ip.as_deref(),
        provider: PROVIDER,
    };
    let result = match authenticate(&state, &realm, &headers, Op::Create, None, ip.as_deref()).await
    {
        Err(e) => audit.outcome(Op::Create, None, None, Err(e)).await,
        Ok(caller) => {
            let req = RegRequest {
                caller: &caller,
                source: ClientAddr(ip.clone()).ip(),
                headers: &headers,
                body: &body,
            };
            let result = register(&state, &realm, &audit, &req).await;
            let client_id = result.as_ref().ok().map(|(c, _)| c.client_id.clone());
            audit
                .outcome(Op::Create, client_id.as_deref(), Some(&caller), result)
                .await
        }
    };
    match result {
        Ok((client, rat)) => {
            let mut resp = json_response(StatusCode::CREATED, &rep_out(&state, &client, Some(rat)));
            let location = format!(
                "{}/{}",
                base.join(&for_realm(routes::REGISTRATION_DEFAULT, &realm.name)),
                crate::urls::encode_segment(&client.client_id)
            );
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// Keycloak's `AbstractClientRegistrationProvider.create`: the caller's representation as
/// sent (a client id of its choosing, or a generated one), under the same validation rules
/// as the `openid-connect` provider.
async fn register(
    state: &SharedState,
    realm: &RealmRecord,
    audit: &Audit<'_>,
    req: &RegRequest<'_>,
) -> Result<(ClientRecord, String), RegError> {
    require_json(req.headers)?;
    let mut rep = parse_rep(req.body)?;
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
    // A registration's secret is always the server's (256 random bits): one the
    // registrant chose is ignored, here and on update (Keycloak keeps it; the admin API
    // still may set one).
    rep.secret = None;
    let scopes = realm_scopes(state, realm).await?;
    let requested = requested_scopes(&rep);
    // Without `protocol` or `publicClient` the client is confidential, as in Keycloak.
    let NewClient { mut record, .. } =
        new_client(&realm.id, rep, &scopes, &state.sealer, now_millis()).map_err(RegError::from)?;
    let admitted = enforce(
        state,
        realm,
        req,
        None,
        &mut record.rep,
        &requested,
        &scopes,
    )
    .await?;
    let rat = store_new(audit, req.caller, &mut record, &admitted).await?;
    Ok((record, rat))
}

pub async fn read(
    State(state): State<SharedState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let realm = match realm_or_404(&state, &realm_name).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let audit = Audit {
        state: &state,
        realm: &realm,
        ip: ip.as_deref(),
        provider: PROVIDER,
    };
    match open(&audit, &client_id, &headers, Op::View).await {
        Ok((client, caller)) => {
            audit
                .record(Op::View, Some(&client.client_id), Some(&caller), None)
                .await;
            json_response(StatusCode::OK, &rep_out(&state, &client, None))
        }
        Err(e) => e.into_response(),
    }
}

pub async fn update(
    State(state): State<SharedState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let realm = match realm_or_404(&state, &realm_name).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let audit = Audit {
        state: &state,
        realm: &realm,
        ip: ip.as_deref(),
        provider: PROVIDER,
    };
    let result = match open(&audit, &client_id, &headers, Op::Update).await {
        Err(e) => Err(e),
        Ok((client, caller)) => {
            let req = RegRequest {
                caller: &caller,
                source: ClientAddr(ip.clone()).ip(),
                headers: &headers,
                body: &body,
            };
            let result = replace(&state, &realm, client, &req).await;
            audit
                .outcome(Op::Update, Some(&client_id), Some(&caller), result)
                .await
        }
    };
    match result {
        Ok((client, rat)) => json_response(StatusCode::OK, &rep_out(&state, &client, Some(rat))),
        Err(e) => e.into_response(),
    }
}

/// Keycloak's update: the members sent replace the stored ones (attributes merge per key);
/// the registration access token rotates.
async fn replace(
    state: &SharedState,
    realm: &RealmRecord,
    mut client: ClientRecord,
    req: &RegRequest<'_>,
) -> Result<(ClientRecord, String), RegError> {
    require_json(req.headers)?;
    let mut patch = parse_rep(req.body)?;
    if patch
        .client_id
        .as_ref()
        .is_some_and(|c| *c != client.client_id)
    {
        return Err(RegError::metadata("Client Identifier modified"));
    }
    // The secret stays the server's: a sent one is ignored (see `register`).
    patch.secret = None;
    patch.id = None;
    patch.access = None;
    patch.registration_access_token = None;
    if let Some(attrs) = patch.attributes.as_mut() {
        attrs.remove(REGISTRATION_AUTH_ATTRIBUTE);
    }
    let requested = requested_scopes(&patch);
    let mut merged = merge(&client.rep, &patch, &["attributes"]).map_err(RegError::internal)?;
    validate_keycloak_rep(&merged, context(state))?;
    let scopes = realm_scopes(state, realm).await?;
    enforce(
        state,
        realm,
        req,
        Some(&client),
        &mut merged,
        &requested,
        &scopes,
    )
    .await?;
    client.rep = merged;
    let rat = store_replaced(state, realm, req.caller, req.headers, &mut client).await?;
    Ok((client, rat))
}

pub async fn delete(
    State(state): State<SharedState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let realm = match realm_or_404(&state, &realm_name).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let audit = Audit {
        state: &state,
        realm: &realm,
        ip: ip.as_deref(),
        provider: PROVIDER,
    };
    match delete_client(&audit, &client_id, &headers).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `install/{client_id}`: the adapter configuration. A token (bearer or registration),
/// the client's own Basic credentials, or nothing for a public client.
pub async fn install(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path((realm_name, client_id)): Path<(String, String)>,
    ClientAddr(ip): ClientAddr,
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
        && let Err(e) = authenticate(
            &state,
            &realm,
            &headers,
            Op::View,
            client.as_ref(),
            ip.as_deref(),
        )
        .await
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
    let Some(Ok((id, secret))) = crate::oidc::client_auth::basic_credentials(headers) else {
        return false;
    };
    let Some(stored) = open_secret(client, &state.sealer) else {
        return false;
    };
    id == client.client_id && ct_eq(secret.as_bytes(), stored.as_bytes())
}
