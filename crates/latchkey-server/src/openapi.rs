//! The OpenAPI 3.0 document of the registration and admin APIs, served at
//! `GET /openapi.json` (schemathesis runs against it).
//!
//! The document is built from the route table the router mounts (`routes::Table`): each
//! documented entry carries its [`Operation`], so the document can neither omit a route
//! nor name one that does not exist; the component schemas are kept here.
//! (Hand-kept rather than derived with a macro crate: the handlers take raw bodies and
//! Keycloak-shaped JSON, which a derive would describe less precisely than the table.)

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::routes::{self, Auth, Operation, Route, Table, route};
use crate::state::SharedState;

/// The `GET /openapi.json` entry, serving the document of `table`.
pub fn routes(table: &Table) -> Vec<Route> {
    let doc = Arc::new(document(table));
    let handler = move |state: State<SharedState>| serve(state, doc.clone());
    vec![route!(GET routes::OPENAPI => handler, hidden "the document itself")]
}

/// `GET /openapi.json`; `servers` names the relative path so that tools resolve paths.
async fn serve(State(state): State<SharedState>, doc: Arc<Value>) -> Response {
    let mut doc = Value::clone(&doc);
    let base = match state.settings.relative_path.as_str() {
        "" => "/".to_string(),
        p => p.to_string(),
    };
    doc["servers"] = json!([{"url": base}]);
    axum::Json(doc).into_response()
}

fn schema_ref(name: &str) -> Value {
    match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(item) => {
            json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}})
        }
        None => json!({"$ref": format!("#/components/schemas/{name}")}),
    }
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn describe_status(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad request: invalid JSON, metadata or parameter",
        401 => "Missing, invalid or expired token",
        403 => "Token lacks the role, or a policy refused",
        404 => "Realm or resource not found",
        408 => "The request body did not arrive within --http-read-timeout",
        409 => "Conflict: the name or identifier is in use",
        413 => "Request body over --max-request-size",
        429 => "Rate limit: see Retry-After",
        431 => "Request headers over --max-header-size",
        _ => "Other",
    }
}

fn operation(path: &str, op: &Operation) -> Value {
    let mut params: Vec<Value> = Vec::new();
    for name in path_params(path) {
        params.push(json!({
            "name": name, "in": "path", "required": true,
            "schema": {"type": "string", "minLength": 1},
        }));
    }
    for (name, ty) in op.query {
        params
            .push(json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}}));
    }
    let mut responses = Map::new();
    let mut ok = json!({"description": describe_status(op.ok)});
    if let Some(s) = op.ok_schema {
        ok["content"] = json_content(schema_ref(s));
    }
    if op.ok == 201 {
        ok["headers"] = json!({"Location": {"schema": {"type": "string"}}});
    }
    responses.insert(op.ok.to_string(), ok);
    let mut errors: Vec<u16> = op.errors.to_vec();
    errors.push(431); // any request, from the outermost layer
    if op.body.is_some() {
        errors.push(408); // a body that stalls (`boundary::check`)
    }
    for code in errors {
        let mut r = json!({
            "description": describe_status(code),
            "content": json_content(schema_ref("Error")),
        });
        if code == 429 {
            r["headers"] = json!({"Retry-After": {"schema": {"type": "integer"}}});
        }
        responses.insert(code.to_string(), r);
    }
    let mut out = json!({
        "operationId": op.id,
        "tags": [op.tag],
        "parameters": params,
        "responses": responses,
        "security": match op.auth {
            Auth::Admin => json!([{"bearer": []}]),
            Auth::Register => json!([{}, {"bearer": []}]),
            Auth::Client => json!([{"bearer": []}, {}]),
        },
    });
    if let Some(body) = op.body {
        out["requestBody"] = json!({"required": true, "content": json_content(schema_ref(body))});
    }
    out
}

/// `{realm}`, `{id}`… in order.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// The document of every operation in `table`, keyed by path and method.
pub fn document(table: &Table) -> Value {
    let mut paths = Map::new();
    for (route, op) in table.operations() {
        let item = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation(route.path, op);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Latchkey registration and admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Dynamic client registration (RFC 7591/7592, Keycloak's `default` provider) and the Keycloak admin REST API subset. Paths are below --http-relative-path.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An access token (admin API), an initial access token or a registration access token (registration)."},
            },
            "schemas": schemas(),
        },
    })
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn string_map() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

fn multi_map() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}})
}

fn schemas() -> Value {
    let s = json!({"type": "string"});
    let b = json!({"type": "boolean"});
    let i = json!({"type": "integer", "format": "int64"});
    let obj = json!({"type": "object"});
    let metadata = json!({
        "redirect_uris": {
            "type": "array",
            "items": {"type": "string", "format": "uri", "pattern": "^https://[a-z]{1,12}\\.example(/[a-z0-9]{0,12}){0,3}$"},
        },
        "post_logout_redirect_uris": strings(),
        "token_endpoint_auth_method": s,
        "token_endpoint_auth_signing_alg": s,
        "grant_types": strings(),
        "response_types": strings(),
        "client_name": s,
        "client_uri": s,
        "logo_uri": s,
        "scope": s,
        "contacts": strings(),
        "tos_uri": s,
        "policy_uri": s,
        "jwks_uri": s,
        "jwks": {"type": "object", "properties": {"keys": {"type": "array", "items": obj}}},
        "sector_identifier_uri": s,
        "subject_type": s,
        "application_type": s,
        "id_token_signed_response_alg": s,
        "userinfo_signed_response_alg": s,
        "request_object_signing_alg": s,
        "software_id": s,
        "software_version": s,
        "software_statement": s,
        "tls_client_certificate_bound_access_tokens": b,
        "backchannel_logout_uri": s,
        "backchannel_logout_session_required": b,
        "frontchannel_logout_uri": s,
        "frontchannel_logout_session_required": b,
        "default_max_age": i,
        "require_auth_time": b,
        "default_acr_values": strings(),
        "initiate_login_uri": s,
        "request_uris": strings(),
    });
    let mut information = metadata.clone();
    information["redirect_uris"] = strings();
    for (k, v) in [
        ("client_id", s.clone()),
        ("client_secret", s.clone()),
        ("client_id_issued_at", i.clone()),
        ("client_secret_expires_at", i.clone()),
        ("registration_access_token", s.clone()),
        ("registration_client_uri", s.clone()),
    ] {
        information[k] = v;
    }
    let mut m = Map::new();
    macro_rules! schema {
        ($($name:literal => $v:tt),* $(,)?) => { $( m.insert($name.to_string(), json!($v)); )* };
    }
    schema! {
        "Error" => {
            "type": "object",
            "description": "An OAuth error (`error`, `error_description`) or a Keycloak admin error (`error` or `errorMessage`).",
            "properties": {"error": s, "error_description": s, "errorMessage": s},
        },
        "ClientMetadata" => {
            "type": "object",
            "description": "RFC 7591 §2 client metadata (OIDC Dynamic Registration 1.0 §2).",
            "properties": metadata,
            "required": ["redirect_uris"],
        },
        "ClientInformation" => {
            "type": "object",
            "description": "RFC 7591 §3.2.1 / RFC 7592 §3: the metadata as registered, with credentials.",
            "properties": information,
            "required": ["client_id"],
        },
        "ClientRepresentation" => {
            "type": "object",
            "description": "Keycloak's ClientRepresentation.",
            "properties": {
                "id": s, "clientId": s, "name": s, "description": s, "rootUrl": s,
                "adminUrl": s, "baseUrl": s, "enabled": b, "alwaysDisplayInConsole": b,
                "clientAuthenticatorType": s, "secret": s, "registrationAccessToken": s,
                "redirectUris": strings(), "webOrigins": strings(), "notBefore": i,
                "bearerOnly": b, "consentRequired": b, "standardFlowEnabled": b,
                "implicitFlowEnabled": b, "directAccessGrantsEnabled": b,
                "serviceAccountsEnabled": b, "publicClient": b, "frontchannelLogout": b,
                "protocol": s, "attributes": string_map(), "fullScopeAllowed": b,
                "nodeReRegistrationTimeout": i, "surrogateAuthRequired": b,
                "defaultClientScopes": strings(), "optionalClientScopes": strings(),
                "protocolMappers": {"type": "array", "items": obj},
                "authenticationFlowBindingOverrides": string_map(),
                "access": {"type": "object", "additionalProperties": b},
            },
            "required": ["clientId"],
        },
        "InstallConfig" => {
            "type": "object",
            "description": "Keycloak's adapter configuration (keycloak.json).",
            "properties": {
                "realm": s, "auth-server-url": s, "ssl-required": s, "resource": s,
                "public-client": b, "confidential-port": i,
                "credentials": {"type": "object", "properties": {"secret": s}},
            },
        },
        "RealmRepresentation" => {
            "type": "object",
            "properties": {
                "id": s, "realm": s, "displayName": s, "enabled": b, "sslRequired": s,
                "registrationAllowed": b, "accessTokenLifespan": i, "ssoSessionIdleTimeout": i,
                "ssoSessionMaxLifespan": i, "attributes": string_map(),
                "defaultDefaultClientScopes": strings(), "defaultOptionalClientScopes": strings(),
                "bruteForceProtected": b, "permanentLockout": b, "maxTemporaryLockouts": i,
                "bruteForceStrategy": {"type": "string", "enum": ["MULTIPLE", "LINEAR"]},
                "failureFactor": i, "waitIncrementSeconds": i, "maxFailureWaitSeconds": i,
                "maxDeltaTimeSeconds": i, "quickLoginCheckMilliSeconds": i,
                "minimumQuickLoginWaitSeconds": i,
            },
            "required": ["realm"],
        },
        "PartialImportRepresentation" => {
            "type": "object",
            "properties": {
                "ifResourceExists": {"type": "string", "enum": ["FAIL", "SKIP", "OVERWRITE"]},
                "users": {"type": "array", "items": {"$ref": "#/components/schemas/UserRepresentation"}},
                "clients": {"type": "array", "items": {"$ref": "#/components/schemas/ClientRepresentation"}},
                "roles": {"type": "object", "properties": {"realm": {"type": "array", "items": obj}, "client": obj}},
                "groups": {"type": "array", "items": obj},
                "identityProviders": {"type": "array", "items": obj},
            },
        },
        "PartialImportResults" => {
            "type": "object",
            "properties": {
                "overwritten": i, "added": i, "skipped": i,
                "results": {"type": "array", "items": {"type": "object", "properties": {
                    "action": {"type": "string", "enum": ["ADDED", "SKIPPED", "OVERWRITTEN"]},
                    "resourceType": s, "resourceName": s, "id": s,
                }}},
            },
        },
        "UserRepresentation" => {
            "type": "object",
            "properties": {
                "id": s, "username": s, "email": s, "firstName": s, "lastName": s,
                "enabled": b, "emailVerified": b, "createdTimestamp": i,
                "attributes": multi_map(), "requiredActions": strings(),
                "serviceAccountClientId": s,
                "credentials": {"type": "array", "items": {"$ref": "#/components/schemas/CredentialRepresentation"}},
            },
            "required": ["username"],
        },
        "CredentialRepresentation" => {
            "type": "object",
            "properties": {"type": s, "value": s, "temporary": b},
            "required": ["value"],
        },
        "Credential" => {
            "type": "object",
            "description": "A client secret: `{\"type\": \"secret\", \"value\": …}`.",
            "properties": {"type": s, "value": s},
        },
        "Count" => {"type": "integer"},
        "UserSessionRepresentation" => {
            "type": "object",
            "properties": {
                "id": s, "username": s, "userId": s, "ipAddress": s, "start": i,
                "lastAccess": i, "rememberMe": b, "clients": string_map(),
            },
        },
        "RoleRepresentation" => {
            "type": "object",
            "properties": {
                "id": s, "name": s, "description": s, "composite": b, "clientRole": b,
                "containerId": s, "attributes": multi_map(),
            },
            "required": ["name"],
        },
        "MappingsRepresentation" => {
            "type": "object",
            "properties": {
                "realmMappings": {"type": "array", "items": {"$ref": "#/components/schemas/RoleRepresentation"}},
                "clientMappings": {"type": "object", "additionalProperties": obj},
            },
        },
        "ClientScopeRepresentation" => {
            "type": "object",
            "properties": {
                "id": s, "name": s, "description": s, "protocol": s,
                "attributes": string_map(),
                "protocolMappers": {"type": "array", "items": obj},
            },
            "required": ["name"],
        },
        "ScopeRef" => {"type": "object", "properties": {"id": s, "name": s, "protocol": s}},
        "ResourceServerRepresentation" => {
            "type": "object",
            "properties": {"id": s, "uri": s, "name": s, "scopes": strings()},
        },
        "ClientInitialAccessCreate" => {
            "type": "object",
            "properties": {
                "expiration": {"type": "integer", "minimum": 0},
                "count": {"type": "integer", "minimum": 0},
                "webOrigins": strings(),
            },
        },
        "ClientInitialAccessPresentation" => {
            "type": "object",
            "properties": {
                "id": s, "token": s, "timestamp": i, "expiration": i, "count": i,
                "remainingCount": i, "webOrigins": strings(),
            },
        },
        "EventRepresentation" => {
            "type": "object",
            "properties": {
                "id": s, "time": i, "type": s, "realmId": s, "clientId": s, "userId": s,
                "sessionId": s, "ipAddress": s, "error": s, "details": string_map(),
            },
        },
        "AdminEventRepresentation" => {
            "type": "object",
            "properties": {
                "id": s, "time": i, "realmId": s, "operationType": s, "resourceType": s,
                "resourcePath": s, "representation": s, "error": s,
                "authDetails": {
                    "type": "object",
                    "properties": {
                        "realmId": {"type": "string", "nullable": true},
                        "clientId": {"type": "string", "nullable": true},
                        "userId": {"type": "string", "nullable": true},
                        "ipAddress": {"type": "string", "nullable": true},
                    },
                },
            },
        },
        "ComponentRepresentation" => {
            "type": "object",
            "properties": {
                "id": s, "name": s, "providerId": s, "providerType": s, "parentId": s,
                "subType": s, "config": multi_map(),
            },
        },
        "KeysMetadataRepresentation" => {
            "type": "object",
            "properties": {
                "active": string_map(),
                "keys": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "providerId": s, "providerPriority": i, "kid": s, "status": s,
                        "type": s, "algorithm": s, "publicKey": s, "use": s,
                    },
                }},
            },
        },
        "ComponentTypeRepresentation" => {
            "type": "object",
            "properties": {
                "id": s, "helpText": s,
                "properties": {"type": "array", "items": obj},
                "metadata": obj,
            },
        },
        "PolicyEvaluation" => {
            "type": "object",
            "description": "A registration to explain: who registers (`anonymous` or `authenticated`), from where, with which metadata.",
            "properties": {"auth": s, "sourceAddress": s, "metadata": obj},
        },
        "PolicyExplanation" => {"type": "object"},
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::http::Method;

    use super::*;
    use crate::routes::Doc;

    /// The admin API and registration are documented whole (CORS preflights are not API
    /// operations); pages, protocol endpoints and probes are not documented at all.
    #[test]
    fn exactly_the_api_routes_are_documented() {
        let table = crate::table();
        let api = table.admin.iter().chain(&table.registration);
        for r in api.filter(|r| r.method != Method::OPTIONS) {
            assert!(
                matches!(r.doc, Doc::Api(_)),
                "{} {} has no operation",
                r.method,
                r.path
            );
        }
        let others = [&table.ops, &table.oidc, &table.console, &table.openapi];
        for r in others.into_iter().flatten() {
            assert!(
                matches!(r.doc, Doc::Hidden(why) if !why.is_empty()),
                "{} {} is not an API operation",
                r.method,
                r.path
            );
        }
        for r in table.iter().filter(|r| r.method == Method::OPTIONS) {
            assert!(matches!(r.doc, Doc::Hidden(_)), "{} is documented", r.path);
        }
    }

    #[test]
    fn routes_and_operation_ids_are_unique() {
        let table = crate::table();
        let mut seen = BTreeSet::new();
        for r in table.iter() {
            assert!(
                seen.insert((r.method.as_str(), r.path)),
                "{} {} is listed twice",
                r.method,
                r.path
            );
        }
        let mut ids = BTreeSet::new();
        for (_, op) in table.operations() {
            assert!(ids.insert(op.id), "operation id {} is used twice", op.id);
        }
        let documented: usize = document(&table)["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(documented, table.operations().count());
    }

    /// Every `{param}` is a whole segment, so the document lists it as a path parameter, and
    /// no query parameter shares its name.
    #[test]
    fn every_path_parameter_is_documented() {
        let table = crate::table();
        for r in table.iter() {
            assert!(r.path.starts_with('/'), "{}", r.path);
            let params = path_params(r.path);
            assert_eq!(
                params.len(),
                r.path.matches('{').count(),
                "{}: a parameter is not a whole segment",
                r.path
            );
            assert_eq!(r.path.matches('{').count(), r.path.matches('}').count());
            let unique: BTreeSet<&str> = params.iter().copied().collect();
            assert_eq!(unique.len(), params.len(), "{}: a name is repeated", r.path);
            for p in &params {
                assert!(
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{}: parameter {p:?}",
                    r.path
                );
            }
            if let Doc::Api(op) = &r.doc {
                for (q, _) in op.query {
                    assert!(!unique.contains(q), "{}: {q} is a path and a query", r.path);
                }
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let table = crate::table();
        let doc = document(&table);
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "dangling $ref {name}");
        }
        for (r, op) in table.operations() {
            if op.ok == 204 {
                assert!(
                    op.ok_schema.is_none(),
                    "{} {}: 204 has no body",
                    r.method,
                    r.path
                );
            }
        }
    }
}
