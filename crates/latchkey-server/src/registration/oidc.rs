//! The `openid-connect` provider: RFC 7591 registration, RFC 7592 read, update and delete,
//! OIDC DCR 1.0 metadata, CORS preflight.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::client_secrets;
use latchkey_core::clients::{NewClient, ScopeDefaults, new_client, open_secret};
use latchkey_core::crypto::{ct_eq, hash_token, new_row_id};
use latchkey_core::registration::convert::{to_client_rep, to_metadata};
use latchkey_core::registration::metadata::{ClientMetadata, parse_object};
use latchkey_core::rep::ClientRep;
use latchkey_core::store::{ClientRecord, RealmRecord};
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::cors;
use super::error::RegError;
use super::request::{Context, Provider, Registration, client_uri, created, json_no_store};
use crate::routes;
use crate::service::clients;
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

/// The `openid-connect` provider; browsers may call it (CORS).
pub struct OidcProvider;

impl Provider for OidcProvider {
    const ID: &'static str = "openid-connect";
    const CORS: bool = true;
}

pub fn registration_client_uri(base: &BaseUrl, realm: &str, client_id: &str) -> String {
    client_uri(base, routes::REGISTRATION_OIDC, realm, client_id)
}

/// The RFC 7591 §3.2.1 response body of a stored client.
fn response_body(
    base: &BaseUrl,
    realm: &RealmRecord,
    client: &ClientRecord,
    secret: Option<String>,
    rat: Option<&str>,
) -> Map<String, Value> {
    let mut m = to_metadata(&client.rep);
    m.insert("client_id".into(), json!(client.client_id));
    m.insert(
        "client_id_issued_at".into(),
        json!(client.created_at / 1000),
    );
    if let Some(s) = secret {
        m.insert("client_secret".into(), json!(s));
        m.insert(
            "client_secret_expires_at".into(),
            json!(client_secrets::expires_at(&client.rep)),
        );
    }
    m.insert(
        "registration_client_uri".into(),
        json!(registration_client_uri(
            base,
            &realm.name,
            &client.client_id
        )),
    );
    if let Some(t) = rat {
        m.insert("registration_access_token".into(), json!(t));
    }
    m
}

/// OIDC DCR §2: every redirect URI must be listed in the sector identifier document.
async fn check_sector(state: &SharedState, meta: &ClientMetadata) -> Result<(), RegError> {
    let Some(uri) = &meta.sector_identifier_uri else {
        return Ok(());
    };
    let doc = state
        .fetcher
        .get_json(uri)
        .await
        .map_err(|e| RegError::metadata(format!("sector_identifier_uri: {e}")))?;
    let listed: Vec<&str> = doc
        .as_array()
        .ok_or_else(|| {
            RegError::metadata("sector_identifier_uri must return a JSON array of URIs")
        })?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if let Some(missing) = meta
        .redirect_uris
        .iter()
        .find(|r| !listed.contains(&r.as_str()))
    {
        return Err(RegError::metadata(format!(
            "redirect URI {missing:?} is not listed in the sector_identifier_uri document"
        )));
    }
    Ok(())
}

/// The scope names a registration asks for (policies see unknown ones too).
fn requested_scopes(meta: &ClientMetadata) -> Vec<String> {
    meta.scope
        .iter()
        .flat_map(|s| s.split(' '))
        .map(str::to_string)
        .collect()
}

/// Validates a request body into metadata and the Keycloak client it describes.
fn describe(
    reg: &Context,
    scope_defaults: &ScopeDefaults,
    obj: &Map<String, Value>,
    client_id: &str,
    existing: Option<&ClientRecord>,
) -> Result<(ClientMetadata, ClientRep), RegError> {
    let meta = ClientMetadata::validate(obj, reg.validation_context())?;
    let rep = to_client_rep(
        &meta,
        client_id,
        existing.map(|c| &c.rep),
        scope_defaults,
        &scope_defaults.all,
    );
    Ok((meta, rep))
}

/// A CORS preflight (`OPTIONS`); a realm that is not there (or cannot be read) is a bare
/// 404.
pub async fn preflight(reg: Result<Registration<OidcProvider>, Response>) -> Response {
    match reg {
        Ok(reg) => cors::preflight(reg.origin.clone()),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

pub async fn create(reg: Registration<OidcProvider>, base: BaseUrl, body: Bytes) -> Response {
    let result = reg
        .create_client(async |caller| register(&reg, caller, &body).await)
        .await;
    reg.answer(result.map(|(client, (secret, rat))| {
        let body = response_body(&base, &reg.realm, &client, secret, Some(&rat));
        // Location is the body's registration_client_uri (RFC 7591 §3.2.1), built once.
        let location = body
            .get("registration_client_uri")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        created(body, &location)
    }))
}

/// RFC 7591 §3.1: validates, applies defaults and stores a new client. Returns it with its
/// secret (if any) and registration access token.
async fn register(
    reg: &Context,
    caller: &Caller,
    body: &[u8],
) -> Result<(ClientRecord, (Option<String>, String)), RegError> {
    let (state, realm) = (&reg.state, &reg.realm);
    reg.require_json()?;
    let obj = parse_object(body)?;
    if obj.get("client_id").is_some_and(|v| !v.is_null()) {
        return Err(RegError::metadata("Client Identifier included"));
    }
    let client_id = new_row_id();
    let scope_defaults = clients::scope_defaults(state, realm)
        .await
        .map_err(|_| RegError::internal("scope defaults"))?;
    let (meta, rep) = describe(reg, &scope_defaults, &obj, &client_id, None)?;
    let NewClient { mut record, secret } =
        new_client(&realm.id, rep, &scope_defaults, &state.sealer, now_millis())
            .map_err(RegError::from)?;
    let requested = requested_scopes(&meta);
    let admitted = reg
        .enforce(caller, None, &mut record.rep, &requested, &scope_defaults)
        .await?;
    // Fetched only once the policies admit the client (trusted-hosts checks this URI too),
    // so an untrusted registrant cannot make the server fetch a URL of its choosing.
    check_sector(state, &meta).await?;
    let rat = reg.store_new(caller, &mut record, &admitted).await?;
    Ok((record, (secret, rat)))
}

pub async fn read(
    reg: Registration<OidcProvider>,
    base: BaseUrl,
    Path((_, client_id)): Path<(String, String)>,
) -> Response {
    let result = reg.read_client(&client_id).await;
    reg.answer(result.map(|client| {
        let secret = open_secret(&client, &reg.state.sealer);
        // RFC 7592 §2.1: reading does not rotate the registration access token.
        json_no_store(
            StatusCode::OK,
            response_body(&base, &reg.realm, &client, secret, None),
        )
    }))
}

pub async fn update(
    reg: Registration<OidcProvider>,
    base: BaseUrl,
    Path((_, client_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let result = reg
        .update_client(&client_id, |client, caller| {
            let (reg, base, body) = (&reg, &base, &body);
            async move { replace(reg, base, client, &caller, body).await }
        })
        .await;
    reg.answer(result.map(|(client, secret, rat)| {
        json_no_store(
            StatusCode::OK,
            response_body(&base, &reg.realm, &client, secret, Some(&rat)),
        )
    }))
}

/// RFC 7592 §2.2: the body replaces the registration; server-managed members may only be
/// repeated unchanged; the registration access token rotates.
async fn replace(
    reg: &Context,
    base: &BaseUrl,
    mut client: ClientRecord,
    caller: &Caller,
    body: &[u8],
) -> Result<(ClientRecord, Option<String>, String), RegError> {
    let (state, realm) = (&reg.state, &reg.realm);
    reg.require_json()?;
    let obj = parse_object(body)?;
    match obj.get("client_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if *s == client.client_id => {}
        Some(_) => return Err(RegError::metadata("Client Identifier modified")),
    }
    let managed = |key: &str| {
        RegError::metadata(format!(
            "{key} is managed by the server and cannot be changed"
        ))
    };
    let given = |key: &str| obj.get(key).filter(|v| !v.is_null());
    let current_secret = open_secret(&client, &state.sealer);
    if let Some(g) = given("client_secret") {
        let same = g
            .as_str()
            .zip(current_secret.as_deref())
            .is_some_and(|(g, c)| ct_eq(g.as_bytes(), c.as_bytes()));
        if !same {
            return Err(managed("client_secret"));
        }
    }
    if let Some(g) = given("registration_access_token") {
        let same = g.as_str().map(hash_token).as_deref() == client.rat_hash.as_deref();
        if !same {
            return Err(managed("registration_access_token"));
        }
    }
    for (key, current) in [
        (
            "registration_client_uri",
            Some(json!(registration_client_uri(
                base,
                &realm.name,
                &client.client_id
            ))),
        ),
        ("client_id_issued_at", Some(json!(client.created_at / 1000))),
        (
            "client_secret_expires_at",
            current_secret
                .as_ref()
                .map(|_| json!(client_secrets::expires_at(&client.rep))),
        ),
    ] {
        if let Some(g) = given(key)
            && Some(g) != current.as_ref()
        {
            return Err(managed(key));
        }
    }
    let scope_defaults = clients::scope_defaults(state, realm)
        .await
        .map_err(|_| RegError::internal("scope defaults"))?;
    let (meta, mut rep) = describe(reg, &scope_defaults, &obj, &client.client_id, Some(&client))?;
    let requested = requested_scopes(&meta);
    let admitted = reg
        .enforce(caller, Some(&client), &mut rep, &requested, &scope_defaults)
        .await?;
    check_sector(state, &meta).await?;
    client.rep = rep;
    let rat = reg.store_replaced(caller, &mut client, &admitted).await?;
    let secret = open_secret(&client, &state.sealer);
    Ok((client, secret, rat))
}

pub async fn delete(
    reg: Registration<OidcProvider>,
    Path((_, client_id)): Path<(String, String)>,
) -> Response {
    let result = reg.delete_client(&client_id).await;
    reg.answer(result.map(|()| StatusCode::NO_CONTENT.into_response()))
}
