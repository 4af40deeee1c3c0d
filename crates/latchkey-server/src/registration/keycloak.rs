//! Keycloak's own providers: `default` (its `ClientRepresentation`, camelCase, with
//! `secret` and `registrationAccessToken`) and `install` (the adapter's keycloak.json).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::client_secrets::{self, SECRET_EXPIRATION_TIME};
use latchkey_core::clients::{NewClient, SECRET_CREATION_TIME, new_client, open_secret};
use latchkey_core::crypto::new_uuid;
use latchkey_core::merge::merge;
use latchkey_core::registration::convert::{REGISTRATION_AUTH_ATTRIBUTE, validate_keycloak_rep};
use latchkey_core::registration::kind::REGISTRATION_METHOD_ATTRIBUTE;
use latchkey_core::rep::ClientRep;
use latchkey_core::store::ClientRecord;
use serde_json::json;

use super::auth::Caller;
use super::error::RegError;
use super::request::{Context, Op, Provider, Registration, client_uri, created, json_no_store};
use crate::routes;
use crate::service::clients;
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

/// Keycloak's `default` provider; its answers carry no CORS headers.
pub struct DefaultProvider;

impl Provider for DefaultProvider {
    const ID: &'static str = "default";
    const CORS: bool = false;
}

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

pub async fn create(reg: Registration<DefaultProvider>, base: BaseUrl, body: Bytes) -> Response {
    let result = reg
        .create_client(async |caller| register(&reg, caller, &body).await)
        .await;
    reg.answer(result.map(|(client, rat)| {
        let location = client_uri(
            &base,
            routes::REGISTRATION_DEFAULT,
            &reg.realm.name,
            &client.client_id,
        );
        created(rep_out(&reg.state, &client, Some(rat)), &location)
    }))
}

/// Keycloak's `AbstractClientRegistrationProvider.create`: the caller's representation as
/// sent (a client id of its choosing, or a generated one), under the same validation rules
/// as the `openid-connect` provider.
async fn register(
    reg: &Context,
    caller: &Caller,
    body: &[u8],
) -> Result<(ClientRecord, String), RegError> {
    let (state, realm) = (&reg.state, &reg.realm);
    reg.require_json()?;
    let mut rep = parse_rep(body)?;
    validate_keycloak_rep(&rep, reg.validation_context())?;
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
    // The secret's expiry is the policies' to set, not the registrant's.
    if let Some(attrs) = rep.attributes.as_mut() {
        attrs.remove(SECRET_EXPIRATION_TIME);
    }
    let scope_defaults = clients::scope_defaults(state, realm)
        .await
        .map_err(|_| RegError::internal("scope defaults"))?;
    let requested = requested_scopes(&rep);
    // Without `protocol` or `publicClient` the client is confidential, as in Keycloak.
    let NewClient { mut record, .. } =
        new_client(&realm.id, rep, &scope_defaults, &state.sealer, now_millis())
            .map_err(RegError::from)?;
    let admitted = reg
        .enforce(caller, None, &mut record.rep, &requested, &scope_defaults)
        .await?;
    let rat = reg.store_new(caller, &mut record, &admitted).await?;
    Ok((record, rat))
}

pub async fn read(
    reg: Registration<DefaultProvider>,
    Path((_, client_id)): Path<(String, String)>,
) -> Response {
    let result = reg.read_client(&client_id).await;
    reg.answer(
        result.map(|client| json_no_store(StatusCode::OK, rep_out(&reg.state, &client, None))),
    )
}

pub async fn update(
    reg: Registration<DefaultProvider>,
    Path((_, client_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let result = reg
        .update_client(&client_id, |client, caller| {
            let (reg, body) = (&reg, &body);
            async move { replace(reg, client, &caller, body).await }
        })
        .await;
    reg.answer(result.map(|(client, rat)| {
        json_no_store(StatusCode::OK, rep_out(&reg.state, &client, Some(rat)))
    }))
}

/// Keycloak's update: the members sent replace the stored ones (attributes merge per key);
/// the registration access token rotates.
async fn replace(
    reg: &Context,
    mut client: ClientRecord,
    caller: &Caller,
    body: &[u8],
) -> Result<(ClientRecord, String), RegError> {
    reg.require_json()?;
    let mut patch = parse_rep(body)?;
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
        // The server's own: how the client registered and when its secret expires.
        for key in [
            REGISTRATION_AUTH_ATTRIBUTE,
            REGISTRATION_METHOD_ATTRIBUTE,
            SECRET_CREATION_TIME,
            SECRET_EXPIRATION_TIME,
        ] {
            attrs.remove(key);
        }
    }
    let requested = requested_scopes(&patch);
    let mut merged = merge(&client.rep, &patch, &["attributes"]).map_err(RegError::internal)?;
    validate_keycloak_rep(&merged, reg.validation_context())?;
    let scope_defaults = clients::scope_defaults(&reg.state, &reg.realm)
        .await
        .map_err(|_| RegError::internal("scope defaults"))?;
    let admitted = reg
        .enforce(
            caller,
            Some(&client),
            &mut merged,
            &requested,
            &scope_defaults,
        )
        .await?;
    client.rep = merged;
    let rat = reg.store_replaced(caller, &mut client, &admitted).await?;
    Ok((client, rat))
}

pub async fn delete(
    reg: Registration<DefaultProvider>,
    Path((_, client_id)): Path<(String, String)>,
) -> Response {
    let result = reg.delete_client(&client_id).await;
    reg.answer(result.map(|()| StatusCode::NO_CONTENT.into_response()))
}

/// `install/{client_id}`: the adapter configuration. A token (bearer or registration),
/// the client's own Basic credentials, or nothing for a public client; nothing is
/// recorded.
pub async fn install(
    reg: Registration<DefaultProvider>,
    base: BaseUrl,
    Path((_, client_id)): Path<(String, String)>,
) -> Response {
    let result = adapter_config(&reg, &base, &client_id).await;
    reg.answer(result)
}

async fn adapter_config(
    reg: &Context,
    base: &BaseUrl,
    client_id: &str,
) -> Result<Response, RegError> {
    let (state, realm) = (&reg.state, &reg.realm);
    let client = state
        .store
        .client_by_client_id(&realm.id, client_id)
        .await?;
    let basic_ok = client
        .as_ref()
        .is_some_and(|c| basic_matches(state, &reg.headers, c));
    let public_ok = client.as_ref().is_some_and(|c| c.rep.is_public())
        && reg.headers.get(header::AUTHORIZATION).is_none();
    if !basic_ok && !public_ok {
        reg.authenticate(Op::View, client.as_ref()).await?;
    }
    let client = client.ok_or_else(RegError::not_found)?;
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
    Ok(json_no_store(StatusCode::OK, doc))
}

fn basic_matches(state: &SharedState, headers: &HeaderMap, client: &ClientRecord) -> bool {
    let Some(Ok((id, secret))) = crate::oidc::client_auth::basic_credentials(headers) else {
        return false;
    };
    id == client.client_id
        && client_secrets::accepts(client, &state.sealer, &secret, now_millis() / 1000)
}
