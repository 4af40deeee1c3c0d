//! The `openid-connect` provider: RFC 7591 registration, RFC 7592 read, update and delete,
//! OIDC DCR 1.0 metadata, CORS preflight.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::clients::{NewClient, new_client, open_secret};
use latchkey_core::crypto::{ct_eq, hash_token, new_row_id};
use latchkey_core::registration::convert::{to_client_rep, to_metadata};
use latchkey_core::registration::metadata::{ClientMetadata, parse_object};
use latchkey_core::store::{ClientRecord, RealmRecord};
use serde_json::{Map, Value, json};

use super::{
    Audit, Op, RegError, RegRequest, allowed_origin, authenticate, context, enforce, open,
    realm_or_404, require_json, store_new, store_replaced, with_cors,
};
use latchkey_core::clients::ScopeDefaults;

use super::realm_scopes;
use crate::error::no_store;
use crate::extract::ClientAddr;
use crate::routes::{self, for_realm};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

const PROVIDER: &str = "openid-connect";

pub fn registration_client_uri(base: &BaseUrl, realm: &str, client_id: &str) -> String {
    format!(
        "{}/{}",
        base.join(&for_realm(routes::REGISTRATION_OIDC, realm)),
        crate::urls::encode_segment(client_id)
    )
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
        m.insert("client_secret_expires_at".into(), json!(0));
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

fn json_response(status: StatusCode, body: Map<String, Value>) -> Response {
    let mut resp = (status, axum::Json(Value::Object(body))).into_response();
    // RFC 7591 §3.2.1: the response carries credentials.
    no_store(&mut resp);
    resp
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
async fn describe(
    state: &SharedState,
    scopes: &ScopeDefaults,
    obj: &Map<String, Value>,
    client_id: &str,
    existing: Option<&ClientRecord>,
) -> Result<(ClientMetadata, latchkey_core::rep::ClientRep), RegError> {
    let meta = ClientMetadata::validate(obj, context(state))?;
    let rep = to_client_rep(
        &meta,
        client_id,
        existing.map(|c| &c.rep),
        scopes,
        &scopes.all,
    );
    Ok((meta, rep))
}

pub async fn preflight(
    State(state): State<SharedState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let realm_name = params
        .iter()
        .find(|(k, _)| k == "realm")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let Ok(realm) = realm_or_404(&state, &realm_name).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let origin = allowed_origin(&state, &realm, &headers).await;
    let mut resp = StatusCode::OK.into_response();
    if origin.is_some() {
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("DELETE, GET, OPTIONS, POST, PUT"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type, DPoP"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("3600"),
        );
    }
    with_cors(resp, origin)
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
    let origin = allowed_origin(&state, &realm, &headers).await;
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
            let client_id = result.as_ref().ok().map(|(c, _, _)| c.client_id.clone());
            audit
                .outcome(Op::Create, client_id.as_deref(), Some(&caller), result)
                .await
        }
    };
    let resp = match result {
        Ok((client, secret, rat)) => {
            let body = response_body(&base, &realm, &client, secret, Some(&rat));
            // Location is the body's registration_client_uri (RFC 7591 §3.2.1), built once.
            let location = body
                .get("registration_client_uri")
                .and_then(Value::as_str)
                .and_then(|uri| HeaderValue::from_str(uri).ok());
            let mut resp = json_response(StatusCode::CREATED, body);
            if let Some(loc) = location {
                resp.headers_mut().insert(header::LOCATION, loc);
            }
            resp
        }
        Err(e) => e.into_response(),
    };
    with_cors(resp, origin)
}

/// RFC 7591 §3.1: validates, applies defaults and stores a new client. Returns it with its
/// secret (if any) and registration access token.
async fn register(
    state: &SharedState,
    realm: &RealmRecord,
    audit: &Audit<'_>,
    req: &RegRequest<'_>,
) -> Result<(ClientRecord, Option<String>, String), RegError> {
    require_json(req.headers)?;
    let obj = parse_object(req.body)?;
    if obj.get("client_id").is_some_and(|v| !v.is_null()) {
        return Err(RegError::metadata("Client Identifier included"));
    }
    let client_id = new_row_id();
    let scopes = realm_scopes(state, realm).await?;
    let (meta, rep) = describe(state, &scopes, &obj, &client_id, None).await?;
    let NewClient { mut record, secret } =
        new_client(&realm.id, rep, &scopes, &state.sealer, now_millis()).map_err(RegError::from)?;
    let requested = requested_scopes(&meta);
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
    // Fetched only once the policies admit the client (trusted-hosts checks this URI too),
    // so an untrusted registrant cannot make the server fetch a URL of its choosing.
    check_sector(state, &meta).await?;
    let rat = store_new(audit, req.caller, &mut record, &admitted).await?;
    Ok((record, secret, rat))
}

pub async fn read(
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
    let audit = Audit {
        state: &state,
        realm: &realm,
        ip: ip.as_deref(),
        provider: PROVIDER,
    };
    let origin = allowed_origin(&state, &realm, &headers).await;
    let resp = match open(&audit, &client_id, &headers, Op::View).await {
        Ok((client, caller)) => {
            audit
                .record(Op::View, Some(&client.client_id), Some(&caller), None)
                .await;
            let secret = open_secret(&client, &state.sealer);
            // RFC 7592 §2.1: reading does not rotate the registration access token.
            json_response(
                StatusCode::OK,
                response_body(&base, &realm, &client, secret, None),
            )
        }
        Err(e) => e.into_response(),
    };
    with_cors(resp, origin)
}

pub async fn update(
    State(state): State<SharedState>,
    base: BaseUrl,
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
    let origin = allowed_origin(&state, &realm, &headers).await;
    let result = match open(&audit, &client_id, &headers, Op::Update).await {
        Err(e) => Err(e),
        Ok((client, caller)) => {
            let req = RegRequest {
                caller: &caller,
                source: ClientAddr(ip.clone()).ip(),
                headers: &headers,
                body: &body,
            };
            let result = replace(&state, &base, &realm, client, &req).await;
            audit
                .outcome(Op::Update, Some(&client_id), Some(&caller), result)
                .await
        }
    };
    let resp = match result {
        Ok((client, secret, rat)) => json_response(
            StatusCode::OK,
            response_body(&base, &realm, &client, secret, Some(&rat)),
        ),
        Err(e) => e.into_response(),
    };
    with_cors(resp, origin)
}

/// RFC 7592 §2.2: the body replaces the registration; server-managed members may only be
/// repeated unchanged; the registration access token rotates.
async fn replace(
    state: &SharedState,
    base: &BaseUrl,
    realm: &RealmRecord,
    mut client: ClientRecord,
    req: &RegRequest<'_>,
) -> Result<(ClientRecord, Option<String>, String), RegError> {
    require_json(req.headers)?;
    let obj = parse_object(req.body)?;
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
            current_secret.as_ref().map(|_| json!(0)),
        ),
    ] {
        if let Some(g) = given(key)
            && Some(g) != current.as_ref()
        {
            return Err(managed(key));
        }
    }
    let scopes = realm_scopes(state, realm).await?;
    let (meta, mut rep) = describe(state, &scopes, &obj, &client.client_id, Some(&client)).await?;
    let requested = requested_scopes(&meta);
    enforce(
        state,
        realm,
        req,
        Some(&client),
        &mut rep,
        &requested,
        &scopes,
    )
    .await?;
    check_sector(state, &meta).await?;
    client.rep = rep;
    let rat = store_replaced(state, realm, req.caller, req.headers, &mut client).await?;
    let secret = open_secret(&client, &state.sealer);
    Ok((client, secret, rat))
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
    let origin = allowed_origin(&state, &realm, &headers).await;
    let resp = match delete_client(&audit, &client_id, &headers).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    };
    with_cors(resp, origin)
}

/// RFC 7592 §2.3 (both providers): afterwards the client, its secret, its registration
/// access token and the access tokens it was issued stop working.
pub async fn delete_client(
    audit: &Audit<'_>,
    client_id: &str,
    headers: &HeaderMap,
) -> Result<(), RegError> {
    let (client, caller) = open(audit, client_id, headers, Op::Delete).await?;
    let result = audit
        .state
        .store
        .delete_client(&audit.realm.id, &client.id)
        .await
        .map_err(RegError::from);
    audit
        .outcome(Op::Delete, Some(client_id), Some(&caller), result)
        .await
}
