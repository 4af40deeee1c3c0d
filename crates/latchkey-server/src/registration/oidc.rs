//! The `openid-connect` provider: RFC 7591 registration, RFC 7592 read, update and delete,
//! OIDC DCR 1.0 metadata, CORS preflight.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::clients::{NewClient, generate_secret, new_client, open_secret, secret_context};
use latchkey_core::crypto::{ct_eq, hash_token, new_uuid, random_token};
use latchkey_core::registration::convert::{
    REGISTRATION_AUTH_ATTRIBUTE, to_client_rep, to_metadata,
};
use latchkey_core::registration::metadata::{ClientMetadata, ValidationContext, parse_object};
use latchkey_core::store::{ClientBundle, ClientRecord, RealmRecord, StoreError, WriteGuard};
use serde_json::{Map, Value, json};

use super::{Caller, Op, RegError, allowed_origin, authenticate, record, require_json, with_cors};
use crate::admin::clients::{scope_defaults, service_account_for};
use crate::error::no_store;
use crate::oidc::enabled_realm;
use crate::oidc::token::ClientAddr;
use crate::routes::{self, for_realm};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

/// The realm of a registration request, or 404.
pub async fn realm_or_404(state: &SharedState, name: &str) -> Result<RealmRecord, RegError> {
    enabled_realm(state, name)
        .await
        .map_err(RegError::internal)?
        .ok_or(RegError {
            status: StatusCode::NOT_FOUND,
            error: "invalid_request",
            description: "Realm does not exist".into(),
        })
}

pub fn registration_client_uri(base: &BaseUrl, realm: &str, client_id: &str) -> String {
    format!(
        "{}/{}",
        base.join(&for_realm(routes::REGISTRATION_OIDC, realm)),
        crate::admin::encode_segment(client_id)
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

fn context(state: &SharedState) -> ValidationContext {
    ValidationContext {
        dev_mode: state.settings.dev_mode,
    }
}

/// Realm client-scope names, for mapping a requested `scope`.
async fn realm_scope_names(
    state: &SharedState,
    realm: &RealmRecord,
) -> Result<Vec<String>, RegError> {
    Ok(state
        .store
        .list_scopes(&realm.id)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect())
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
    let origin = allowed_origin(&state, &realm, &headers).await;
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
                &[],
            )
            .await;
            return with_cors(e.into_response(), origin);
        }
    };
    let resp = match register(&state, &base, &realm, &caller, &headers, &body).await {
        Ok((client, body)) => {
            record(
                &state,
                &realm,
                Op::Create,
                Some(&client.client_id),
                Some(&caller),
                ip.as_deref(),
                None,
                &[],
            )
            .await;
            let mut resp = json_response(StatusCode::CREATED, body);
            if let Ok(loc) = HeaderValue::from_str(&registration_client_uri(
                &base,
                &realm.name,
                &client.client_id,
            )) {
                resp.headers_mut().insert(header::LOCATION, loc);
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
                &[],
            )
            .await;
            e.into_response()
        }
    };
    with_cors(resp, origin)
}

async fn register(
    state: &SharedState,
    base: &BaseUrl,
    realm: &RealmRecord,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(ClientRecord, Map<String, Value>), RegError> {
    require_json(headers)?;
    let obj = parse_object(body)?;
    if obj.get("client_id").is_some_and(|v| !v.is_null()) {
        return Err(RegError::metadata("Client Identifier included"));
    }
    let meta = ClientMetadata::validate(&obj, context(state))?;
    check_sector(state, &meta).await?;
    let scopes = scope_defaults(state, realm)
        .await
        .map_err(|_| RegError::internal("scope defaults"))?;
    let names = realm_scope_names(state, realm).await?;
    let client_id = new_uuid();
    let mut rep = to_client_rep(&meta, &client_id, None, &scopes, &names);
    rep.attributes.get_or_insert_with(Default::default).insert(
        REGISTRATION_AUTH_ATTRIBUTE.into(),
        caller.registration_auth().into(),
    );
    let NewClient { mut record, secret } =
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
    let bundle = ClientBundle {
        client: record.clone(),
        service_account,
    };
    match state.store.create_client(bundle, &guard).await {
        Ok(()) => {}
        Err(StoreError::Precondition { .. }) => {
            return Err(RegError::invalid_token(
                "No remaining count on initial access token",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let body = response_body(base, realm, &record, secret, Some(&rat));
    Ok((record, body))
}

/// Loads the path's client and authenticates the caller for `op` on it.
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
    let client = match state.store.client_by_client_id(&realm.id, client_id).await {
        Ok(c) => c,
        Err(e) => return Err(RegError::from(e).into_response()),
    };
    match authenticate(state, &realm, headers, op, client.as_ref()).await {
        Ok(caller) => match client {
            Some(c) => Ok((realm, c, caller)),
            None => Err(RegError::not_found().into_response()),
        },
        Err(e) => {
            record(state, &realm, op, Some(client_id), None, ip, Some(&e), &[]).await;
            Err(e.into_response())
        }
    }
}

pub async fn read(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path((realm_name, client_id)): Path<(String, String)>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let (realm, client, caller) = match open(
        &state,
        &realm_name,
        &client_id,
        &headers,
        Op::View,
        ip.as_deref(),
    )
    .await
    {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let origin = allowed_origin(&state, &realm, &headers).await;
    record(
        &state,
        &realm,
        Op::View,
        Some(&client.client_id),
        Some(&caller),
        ip.as_deref(),
        None,
        &[],
    )
    .await;
    let secret = open_secret(&client, &state.sealer);
    // RFC 7592 §2.1: reading does not rotate the registration access token.
    with_cors(
        json_response(
            StatusCode::OK,
            response_body(&base, &realm, &client, secret, None),
        ),
        origin,
    )
}

pub async fn update(
    State(state): State<SharedState>,
    base: BaseUrl,
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
    let origin = allowed_origin(&state, &realm, &headers).await;
    let resp = match replace(
        &state,
        &base,
        &realm,
        client.clone(),
        &caller,
        &headers,
        &body,
    )
    .await
    {
        Ok(body) => {
            record(
                &state,
                &realm,
                Op::Update,
                Some(&client.client_id),
                Some(&caller),
                ip.as_deref(),
                None,
                &[],
            )
            .await;
            json_response(StatusCode::OK, body)
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
                &[],
            )
            .await;
            e.into_response()
        }
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
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, RegError> {
    require_json(headers)?;
    let obj = parse_object(body)?;
    match obj.get("client_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if *s == client.client_id => {}
        Some(_) => return Err(RegError::metadata("Client Identifier modified")),
    }
    let current_secret = open_secret(&client, &state.sealer);
    let unchanged = |key: &str, current: Option<Value>| -> Result<(), RegError> {
        match (obj.get(key), current) {
            (None | Some(Value::Null), _) => Ok(()),
            (Some(given), Some(cur)) if *given == cur => Ok(()),
            _ => Err(RegError::metadata(format!(
                "{key} is managed by the server and cannot be changed"
            ))),
        }
    };
    if let Some(given) = obj.get("client_secret").filter(|v| !v.is_null()) {
        let same = match (given.as_str(), &current_secret) {
            (Some(g), Some(c)) => ct_eq(g.as_bytes(), c.as_bytes()),
            _ => false,
        };
        if !same {
            return Err(RegError::metadata(
                "client_secret is managed by the server and cannot be changed",
            ));
        }
    }
    let presented = crate::bearer::bearer_token(headers).map(hash_token);
    if let Some(given) = obj
        .get("registration_access_token")
        .filter(|v| !v.is_null())
    {
        let same = given
            .as_str()
            .map(hash_token)
            .is_some_and(|h| client.rat_hash.as_deref() == Some(h.as_str()));
        if !same {
            return Err(RegError::metadata(
                "registration_access_token is managed by the server and cannot be changed",
            ));
        }
    }
    unchanged(
        "registration_client_uri",
        Some(json!(registration_client_uri(
            base,
            &realm.name,
            &client.client_id
        ))),
    )?;
    unchanged("client_id_issued_at", Some(json!(client.created_at / 1000)))?;
    unchanged(
        "client_secret_expires_at",
        current_secret.as_ref().map(|_| json!(0)),
    )?;

    let meta = ClientMetadata::validate(&obj, context(state))?;
    check_sector(state, &meta).await?;
    let scopes = scope_defaults(state, realm)
        .await
        .map_err(|_| RegError::internal("scope defaults"))?;
    let names = realm_scope_names(state, realm).await?;
    client.rep = to_client_rep(&meta, &client.client_id, Some(&client.rep), &scopes, &names);
    let secret = if meta.uses_secret() {
        match current_secret {
            Some(s) => Some(s),
            None => {
                let s = generate_secret();
                client.secret_sealed =
                    Some(state.sealer.seal(s.as_bytes(), &secret_context(&client.id)));
                Some(s)
            }
        }
    } else {
        client.secret_sealed = None;
        None
    };
    let rat = random_token::<32>();
    let new_hash = hash_token(&rat);
    let guard = WriteGuard {
        expected_rat: match caller {
            Caller::RegistrationToken => presented,
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
    Ok(response_body(base, realm, &client, secret, Some(&rat)))
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
    let origin = allowed_origin(&state, &realm, &headers).await;
    let resp = match state.store.delete_client(&realm.id, &client.id).await {
        Ok(()) => {
            record(
                &state,
                &realm,
                Op::Delete,
                Some(&client.client_id),
                Some(&caller),
                ip.as_deref(),
                None,
                &[],
            )
            .await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            let e = RegError::from(e);
            record(
                &state,
                &realm,
                Op::Delete,
                Some(&client.client_id),
                Some(&caller),
                ip.as_deref(),
                Some(&e),
                &[],
            )
            .await;
            e.into_response()
        }
    };
    with_cors(resp, origin)
}
