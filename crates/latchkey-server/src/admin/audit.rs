//! Admin events, the admin API's half of the audit trail: every successful change made
//! through the admin API is recorded, when the realm's `adminEventsEnabled` is on
//! (Keycloak's default: off), and read back at `GET /admin/realms/{realm}/admin-events`
//! with Keycloak's filters.
//!
//! One layer around the admin routes does the recording, so no handler can forget it:
//! `AdminAuth` leaves the caller in an [`AuditSlot`] the layer put in the request, and
//! after a 2xx answer the layer derives Keycloak's operation and resource type from the
//! method and path.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use latchkey_core::crypto::new_row_id;
use latchkey_core::roles::Right;
use latchkey_core::store::{AdminEventQuery, AdminEventRecord, RealmRecord};
use serde_json::{Value, json};

use super::AdminAuth;
use super::events::{new_window, window_param};
use crate::error::AdminError;
use crate::state::{SharedState, now_millis};

/// Who made an admin request, as `AdminAuth` found it.
#[derive(Debug, Clone)]
pub struct AuditCaller {
    pub realm_id: String,
    pub realm_name: String,
    /// The UUID of the client the token was issued to.
    pub client_id: String,
    pub user_id: String,
    pub ip_address: String,
}

/// Filled by the `AdminAuth` extractor, read by [`record`] once the handler has answered.
#[derive(Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Option<AuditCaller>>>);

impl AuditSlot {
    pub fn set(&self, caller: AuditCaller) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(caller);
        }
    }

    fn take(&self) -> Option<AuditCaller> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Keycloak's operation and resource type for a change at `segments` (the path below
/// `/admin/realms/{realm}`); `None` for requests that change nothing.
pub fn classify(method: &Method, segments: &[&str]) -> Option<(&'static str, &'static str)> {
    let op = match *method {
        Method::POST => "CREATE",
        Method::PUT => "UPDATE",
        Method::DELETE => "DELETE",
        _ => return None,
    };
    let resource = match segments {
        [] => "REALM",
        ["clients", _, "client-secret"] | ["clients", _, "registration-access-token"] => {
            return Some(("ACTION", "CLIENT"));
        }
        ["clients", _, "roles", ..] => "CLIENT_ROLE",
        ["clients", ..] => "CLIENT",
        ["roles", ..] => "REALM_ROLE",
        ["users", _, "reset-password"] => return Some(("ACTION", "USER")),
        ["users", _, "role-mappings", "realm", ..] => "REALM_ROLE_MAPPING",
        ["users", _, "role-mappings", "clients", ..] => "CLIENT_ROLE_MAPPING",
        ["users", ..] => "USER",
        ["client-scopes", ..] => "CLIENT_SCOPE",
        ["default-default-client-scopes", ..] | ["default-optional-client-scopes", ..] => {
            "REALM_SCOPE_MAPPING"
        }
        ["clients-initial-access", ..] => "CLIENT_INITIAL_ACCESS_MODEL",
        ["components", ..] => "COMPONENT",
        _ => return None,
    };
    Some((op, resource))
}

/// The request body as stored in `representation`, without credentials: Keycloak keeps
/// whatever was sent, but a database dump alone must reveal no usable credential (secrets,
/// tokens and passwords are stored only hashed or encrypted).
fn representation(body: &[u8]) -> Option<String> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in ["secret", "credentials", "registrationAccessToken", "value"] {
                    map.remove(key);
                }
                map.values_mut().for_each(scrub);
            }
            Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    scrub(&mut v);
    Some(v.to_string())
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// What a change at `path` (`/admin/realms…`) would be recorded as, and in which realm:
/// `None` when nothing is to be recorded (not a change, or admin events off there).
async fn wanted(
    state: &SharedState,
    method: &Method,
    path: &str,
) -> Option<(&'static str, &'static str, Option<RealmRecord>, Vec<String>)> {
    let rest = path.strip_prefix("/admin/realms")?;
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    // The realm the event belongs to: the one in the path, or for realm creation the
    // caller's own (known only after authentication).
    let (target, below): (Option<String>, Vec<&str>) = match segments.split_first() {
        Some((realm, below)) => (Some(decode(realm)), below.to_vec()),
        None if *method == Method::POST => (None, Vec::new()),
        None => return None,
    };
    let (op, resource) = classify(method, &below)?;
    let realm = match &target {
        Some(name) => match state.store.realm_by_name(name).await {
            Ok(Some(r)) if r.rep.admin_events_enabled == Some(true) => Some(r),
            _ => return None,
        },
        None => None,
    };
    Some((
        op,
        resource,
        realm,
        below.iter().map(|s| decode(s)).collect(),
    ))
}

/// The layer around the admin routes.
pub async fn record(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if !matches!(method, Method::POST | Method::PUT | Method::DELETE) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    if wanted(&state, &method, &path).await.is_none() {
        return next.run(req).await;
    }

    let (mut parts, body) = req.into_parts();
    let limit = state.settings.max_body_size;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return AdminError::Described(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "request body too large".into(),
            )
            .into_response();
        }
    };
    let slot = AuditSlot::default();
    parts.extensions.insert(slot.clone());
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    if !response.status().is_success() {
        return response;
    }
    let Some(caller) = slot.take() else {
        return response;
    };
    let location = location_of(&response);
    record_change(&state, &method, &path, &bytes, caller, location).await;
    response
}

/// The `Location` header of an answer (it names what a POST created).
pub fn location_of(response: &Response) -> Option<String> {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Records a successful change made at `path` (`/admin/realms…`, as the admin API names
/// it) by `caller`; `location` is the answer's `Location` header (what was created). The layer above calls it, and so does the console, whose changes call the
/// admin handlers directly.
pub async fn record_change(
    state: &SharedState,
    method: &Method,
    path: &str,
    body: &[u8],
    caller: AuditCaller,
    location: Option<String>,
) {
    let Some((op, resource, realm, below)) = wanted(state, method, path).await else {
        return;
    };
    let location_id = location
        .as_deref()
        .and_then(|l| l.rsplit('/').next())
        .map(decode);
    let (realm, resource_path) = match realm {
        Some(realm) => {
            let mut path = below;
            if let (true, Some(id)) = (op == "CREATE", &location_id)
                && path.last() != Some(id)
            {
                path.push(id.clone());
            }
            (realm, path.join("/"))
        }
        None => {
            // A new realm: recorded in the caller's realm, as Keycloak does.
            let Ok(Some(own)) = state.store.realm_by_name(&caller.realm_name).await else {
                return;
            };
            if own.rep.admin_events_enabled != Some(true) {
                return;
            }
            (own, location_id.unwrap_or_default())
        }
    };
    let details = realm.rep.admin_events_details_enabled == Some(true) && op != "ACTION";
    let event = AdminEventRecord {
        id: new_row_id(),
        realm_id: realm.id.clone(),
        time: now_millis(),
        operation_type: op.to_string(),
        resource_type: resource.to_string(),
        resource_path,
        auth_realm_id: caller.realm_id,
        auth_client_id: caller.client_id,
        auth_user_id: caller.user_id,
        ip_address: caller.ip_address,
        representation: if details { representation(body) } else { None },
    };
    if let Err(e) = state.store.insert_admin_event(&event).await {
        tracing::warn!(error = %e, "could not record an admin event");
    }
}

fn event_out(e: &AdminEventRecord) -> Value {
    let mut v = json!({
        "id": e.id,
        "time": e.time,
        "realmId": e.realm_id,
        "authDetails": {
            "realmId": e.auth_realm_id,
            "clientId": e.auth_client_id,
            "userId": e.auth_user_id,
            "ipAddress": e.ip_address,
        },
        "operationType": e.operation_type,
        "resourceType": e.resource_type,
        "resourcePath": e.resource_path,
    });
    if let Some(r) = &e.representation {
        v["representation"] = json!(r);
    }
    v
}

/// Parses Keycloak's `admin-events` query (`operationTypes` and `resourceTypes` repeat).
pub fn parse_query(raw: Option<&str>) -> Result<AdminEventQuery, AdminError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| AdminError::BadRequest("malformed query".into()))?;
    let mut q = AdminEventQuery {
        window: new_window(),
        ..Default::default()
    };
    for (k, v) in pairs {
        if window_param(&mut q.window, &k, &v)? {
            continue;
        }
        match k.as_str() {
            "operationTypes" => q.operation_types.push(v),
            "resourceTypes" => q.resource_types.push(v),
            "authRealm" => q.auth_realm_id = Some(v),
            "authClient" => q.auth_client_id = Some(v),
            "authUser" => q.auth_user_id = Some(v),
            "authIpAddress" => q.ip_address = Some(v),
            "resourcePath" => q.resource_path = Some(v),
            _ => {}
        }
    }
    Ok(q)
}

/// `GET /admin/realms/{realm}/admin-events`.
pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewEvents).await?;
    let q = parse_query(raw.as_deref())?;
    let events = state.store.list_admin_events(&realm.id, &q).await?;
    Ok(axum::Json(events.iter().map(event_out).collect::<Vec<_>>()).into_response())
}

/// `DELETE /admin/realms/{realm}/admin-events`.
pub async fn clear(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    let (realm, _): (RealmRecord, _) = auth.realm(&state, &realm, Right::ManageEvents).await?;
    state.store.clear_admin_events(&realm.id).await?;
    Ok(super::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_map_to_keycloak_operation_and_resource_types() {
        type Case<'a> = (Method, &'a [&'a str], Option<(&'a str, &'a str)>);
        let cases: &[Case] = &[
            (Method::PUT, &[], Some(("UPDATE", "REALM"))),
            (Method::POST, &["clients"], Some(("CREATE", "CLIENT"))),
            (Method::PUT, &["clients", "x"], Some(("UPDATE", "CLIENT"))),
            (
                Method::DELETE,
                &["clients", "x"],
                Some(("DELETE", "CLIENT")),
            ),
            (
                Method::POST,
                &["clients", "x", "client-secret"],
                Some(("ACTION", "CLIENT")),
            ),
            (
                Method::POST,
                &["clients", "x", "roles"],
                Some(("CREATE", "CLIENT_ROLE")),
            ),
            (
                Method::PUT,
                &["users", "u", "reset-password"],
                Some(("ACTION", "USER")),
            ),
            (
                Method::POST,
                &["users", "u", "role-mappings", "realm"],
                Some(("CREATE", "REALM_ROLE_MAPPING")),
            ),
            (
                Method::DELETE,
                &["users", "u", "role-mappings", "clients", "c"],
                Some(("DELETE", "CLIENT_ROLE_MAPPING")),
            ),
            (
                Method::POST,
                &["clients-initial-access"],
                Some(("CREATE", "CLIENT_INITIAL_ACCESS_MODEL")),
            ),
            (
                Method::PUT,
                &["components", "c"],
                Some(("UPDATE", "COMPONENT")),
            ),
            (Method::GET, &["clients"], None),
            (
                Method::POST,
                &["client-registration-policy", "evaluate"],
                None,
            ),
        ];
        for (method, path, want) in cases {
            assert_eq!(classify(method, path), *want, "{method} {path:?}");
        }
    }

    #[test]
    fn representations_lose_credentials() {
        let body = br#"{"clientId":"a","secret":"s3cret","attributes":{"x":"y"},
            "credentials":[{"type":"password","value":"pw"}]}"#;
        let r = representation(body).unwrap();
        assert!(!r.contains("s3cret") && !r.contains("pw"), "{r}");
        assert!(r.contains("\"clientId\":\"a\""));
        assert_eq!(representation(b"not json"), None);
    }
}
