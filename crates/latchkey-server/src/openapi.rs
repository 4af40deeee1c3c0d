//! The OpenAPI 3.0 document of the registration and admin APIs, served at
//! `GET /openapi.json` (issue 8 "hostile HTTP": schemathesis runs against it).
//!
//! The document is built from one table, [`OPERATIONS`], plus the component schemas; a
//! test walks the route registrations of `admin/mod.rs` and `registration/mod.rs` and fails
//! when a route is missing from the table or the table names a route that does not exist.
//! (Hand-kept rather than derived with a macro crate: the handlers take raw bodies and
//! Keycloak-shaped JSON, which a derive would describe less precisely than this table.)
//! CORS preflights (`OPTIONS`) are not API operations and are left out.

use std::sync::OnceLock;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::routes;
use crate::state::SharedState;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// An admin bearer token (master realm `admin-cli`, or realm-management roles).
    Admin,
    /// Registration: anonymous, an initial access token, or a bearer token.
    Register,
    /// A registration access token (or a bearer token with client rights).
    Client,
}

/// One operation: method, path, id, request body schema, success status and schema,
/// the error statuses it may answer, and its query parameters.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    pub tag: &'static str,
    pub auth: Auth,
    /// Component schema name of the JSON body (`None`: no body).
    pub body: Option<&'static str>,
    pub ok: u16,
    /// Component schema name of the success body; `[Name]` is an array of it.
    pub ok_schema: Option<&'static str>,
    pub errors: &'static [u16],
    pub query: &'static [(&'static str, &'static str)],
}

const R: &str = "/admin/realms/{realm}";

const READ: &[u16] = &[400, 401, 403, 404];
const WRITE: &[u16] = &[400, 401, 403, 404, 409, 413];
const REG_ERRORS: &[u16] = &[400, 401, 403, 404, 413, 429];

macro_rules! op {
    ($m:literal $p:expr, $id:literal, $tag:literal, $auth:ident, body $b:expr, $ok:literal $s:expr, $e:expr, $q:expr) => {
        Operation {
            method: $m,
            path: $p,
            id: $id,
            tag: $tag,
            auth: Auth::$auth,
            body: $b,
            ok: $ok,
            ok_schema: $s,
            errors: $e,
            query: $q,
        }
    };
}

/// Every documented operation. Paths use the router's `{param}` syntax.
pub static OPERATIONS: &[Operation] = &[
    // Dynamic client registration (RFC 7591/7592 and Keycloak's `default` provider).
    op!("POST" routes::REGISTRATION_OIDC, "oidcRegister", "registration", Register, body Some("ClientMetadata"), 201 Some("ClientInformation"), REG_ERRORS, &[]),
    op!("GET" routes::REGISTRATION_OIDC_CLIENT, "oidcRead", "registration", Client, body None, 200 Some("ClientInformation"), REG_ERRORS, &[]),
    op!("PUT" routes::REGISTRATION_OIDC_CLIENT, "oidcUpdate", "registration", Client, body Some("ClientMetadata"), 200 Some("ClientInformation"), REG_ERRORS, &[]),
    op!("DELETE" routes::REGISTRATION_OIDC_CLIENT, "oidcDelete", "registration", Client, body None, 204 None, REG_ERRORS, &[]),
    op!("POST" routes::REGISTRATION_DEFAULT, "defaultRegister", "registration", Register, body Some("ClientRepresentation"), 201 Some("ClientRepresentation"), REG_ERRORS, &[]),
    op!("GET" routes::REGISTRATION_DEFAULT_CLIENT, "defaultRead", "registration", Client, body None, 200 Some("ClientRepresentation"), REG_ERRORS, &[]),
    op!("PUT" routes::REGISTRATION_DEFAULT_CLIENT, "defaultUpdate", "registration", Client, body Some("ClientRepresentation"), 200 Some("ClientRepresentation"), REG_ERRORS, &[]),
    op!("DELETE" routes::REGISTRATION_DEFAULT_CLIENT, "defaultDelete", "registration", Client, body None, 204 None, REG_ERRORS, &[]),
    op!("GET" routes::REGISTRATION_INSTALL_CLIENT, "installConfig", "registration", Client, body None, 200 Some("InstallConfig"), REG_ERRORS, &[]),
    // Realms.
    op!("GET" "/admin/realms", "listRealms", "realms", Admin, body None, 200 Some("[RealmRepresentation]"), &[400, 401, 403], &[("briefRepresentation", "boolean")]),
    op!("POST" "/admin/realms", "createRealm", "realms", Admin, body Some("RealmRepresentation"), 201 None, &[400, 401, 403, 409, 413], &[]),
    op!("GET" R, "getRealm", "realms", Admin, body None, 200 Some("RealmRepresentation"), READ, &[]),
    op!("PUT" R, "updateRealm", "realms", Admin, body Some("RealmRepresentation"), 204 None, WRITE, &[]),
    op!("DELETE" "/admin/realms/{realm}", "deleteRealm", "realms", Admin, body None, 204 None, READ, &[]),
    // Clients.
    op!("GET" "/admin/realms/{realm}/clients", "listClients", "clients", Admin, body None, 200 Some("[ClientRepresentation]"), READ, &[("clientId", "string"), ("search", "boolean"), ("first", "integer"), ("max", "integer")]),
    op!("POST" "/admin/realms/{realm}/clients", "createClient", "clients", Admin, body Some("ClientRepresentation"), 201 None, WRITE, &[]),
    op!("GET" "/admin/realms/{realm}/clients/{id}", "getClient", "clients", Admin, body None, 200 Some("ClientRepresentation"), READ, &[]),
    op!("PUT" "/admin/realms/{realm}/clients/{id}", "updateClient", "clients", Admin, body Some("ClientRepresentation"), 204 None, WRITE, &[]),
    op!("DELETE" "/admin/realms/{realm}/clients/{id}", "deleteClient", "clients", Admin, body None, 204 None, READ, &[]),
    op!("GET" "/admin/realms/{realm}/clients/{id}/client-secret", "getClientSecret", "clients", Admin, body None, 200 Some("Credential"), READ, &[]),
    op!("POST" "/admin/realms/{realm}/clients/{id}/client-secret", "regenerateClientSecret", "clients", Admin, body None, 200 Some("Credential"), READ, &[]),
    op!("GET" "/admin/realms/{realm}/clients/{id}/service-account-user", "getServiceAccountUser", "clients", Admin, body None, 200 Some("UserRepresentation"), READ, &[]),
    op!("POST" "/admin/realms/{realm}/clients/{id}/registration-access-token", "regenerateRegistrationAccessToken", "clients", Admin, body None, 200 Some("ClientRepresentation"), READ, &[]),
    // Roles.
    op!("GET" "/admin/realms/{realm}/clients/{id}/roles", "listClientRoles", "roles", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[("first", "integer"), ("max", "integer"), ("search", "string"), ("briefRepresentation", "boolean")]),
    op!("POST" "/admin/realms/{realm}/clients/{id}/roles", "createClientRole", "roles", Admin, body Some("RoleRepresentation"), 201 None, WRITE, &[]),
    op!("GET" "/admin/realms/{realm}/clients/{id}/roles/{name}", "getClientRole", "roles", Admin, body None, 200 Some("RoleRepresentation"), READ, &[]),
    op!("PUT" "/admin/realms/{realm}/clients/{id}/roles/{name}", "updateClientRole", "roles", Admin, body Some("RoleRepresentation"), 204 None, WRITE, &[]),
    op!("DELETE" "/admin/realms/{realm}/clients/{id}/roles/{name}", "deleteClientRole", "roles", Admin, body None, 204 None, READ, &[]),
    op!("GET" "/admin/realms/{realm}/roles", "listRealmRoles", "roles", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[("first", "integer"), ("max", "integer"), ("search", "string"), ("briefRepresentation", "boolean")]),
    op!("POST" "/admin/realms/{realm}/roles", "createRealmRole", "roles", Admin, body Some("RoleRepresentation"), 201 None, WRITE, &[]),
    op!("GET" "/admin/realms/{realm}/roles/{name}", "getRealmRole", "roles", Admin, body None, 200 Some("RoleRepresentation"), READ, &[]),
    op!("PUT" "/admin/realms/{realm}/roles/{name}", "updateRealmRole", "roles", Admin, body Some("RoleRepresentation"), 204 None, WRITE, &[]),
    op!("DELETE" "/admin/realms/{realm}/roles/{name}", "deleteRealmRole", "roles", Admin, body None, 204 None, READ, &[]),
    // Users.
    op!("GET" "/admin/realms/{realm}/users", "listUsers", "users", Admin, body None, 200 Some("[UserRepresentation]"), READ, &[("username", "string"), ("email", "string"), ("firstName", "string"), ("lastName", "string"), ("search", "string"), ("exact", "boolean"), ("first", "integer"), ("max", "integer")]),
    op!("POST" "/admin/realms/{realm}/users", "createUser", "users", Admin, body Some("UserRepresentation"), 201 None, WRITE, &[]),
    op!("GET" "/admin/realms/{realm}/users/count", "countUsers", "users", Admin, body None, 200 Some("Count"), READ, &[("username", "string"), ("email", "string"), ("search", "string")]),
    op!("GET" "/admin/realms/{realm}/users/{id}", "getUser", "users", Admin, body None, 200 Some("UserRepresentation"), READ, &[]),
    op!("PUT" "/admin/realms/{realm}/users/{id}", "updateUser", "users", Admin, body Some("UserRepresentation"), 204 None, WRITE, &[]),
    op!("DELETE" "/admin/realms/{realm}/users/{id}", "deleteUser", "users", Admin, body None, 204 None, READ, &[]),
    op!("PUT" "/admin/realms/{realm}/users/{id}/reset-password", "resetPassword", "users", Admin, body Some("CredentialRepresentation"), 204 None, WRITE, &[]),
    op!("GET" "/admin/realms/{realm}/users/{id}/role-mappings", "getRoleMappings", "role-mappings", Admin, body None, 200 Some("MappingsRepresentation"), READ, &[]),
    op!("GET" "/admin/realms/{realm}/users/{id}/role-mappings/realm", "getRealmRoleMappings", "role-mappings", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[]),
    op!("POST" "/admin/realms/{realm}/users/{id}/role-mappings/realm", "addRealmRoleMappings", "role-mappings", Admin, body Some("[RoleRepresentation]"), 204 None, WRITE, &[]),
    op!("DELETE" "/admin/realms/{realm}/users/{id}/role-mappings/realm", "removeRealmRoleMappings", "role-mappings", Admin, body Some("[RoleRepresentation]"), 204 None, WRITE, &[]),
    op!("GET" "/admin/realms/{realm}/users/{id}/role-mappings/realm/composite", "getEffectiveRealmRoleMappings", "role-mappings", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[]),
    op!("GET" "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}", "getClientRoleMappings", "role-mappings", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[]),
    op!("POST" "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}", "addClientRoleMappings", "role-mappings", Admin, body Some("[RoleRepresentation]"), 204 None, WRITE, &[]),
    op!("DELETE" "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}", "removeClientRoleMappings", "role-mappings", Admin, body Some("[RoleRepresentation]"), 204 None, WRITE, &[]),
    op!("GET" "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}/composite", "getEffectiveClientRoleMappings", "role-mappings", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[]),
    // Client scopes.
    op!("GET" "/admin/realms/{realm}/client-scopes", "listClientScopes", "client-scopes", Admin, body None, 200 Some("[ClientScopeRepresentation]"), READ, &[]),
    op!("POST" "/admin/realms/{realm}/client-scopes", "createClientScope", "client-scopes", Admin, body Some("ClientScopeRepresentation"), 201 None, WRITE, &[]),
    op!("GET" "/admin/realms/{realm}/client-scopes/{id}", "getClientScope", "client-scopes", Admin, body None, 200 Some("ClientScopeRepresentation"), READ, &[]),
    op!("PUT" "/admin/realms/{realm}/client-scopes/{id}", "updateClientScope", "client-scopes", Admin, body Some("ClientScopeRepresentation"), 204 None, WRITE, &[]),
    op!("DELETE" "/admin/realms/{realm}/client-scopes/{id}", "deleteClientScope", "client-scopes", Admin, body None, 204 None, WRITE, &[]),
    op!("GET" "/admin/realms/{realm}/default-default-client-scopes", "listDefaultDefaultClientScopes", "client-scopes", Admin, body None, 200 Some("[ScopeRef]"), READ, &[]),
    op!("GET" "/admin/realms/{realm}/default-optional-client-scopes", "listDefaultOptionalClientScopes", "client-scopes", Admin, body None, 200 Some("[ScopeRef]"), READ, &[]),
    op!("PUT" "/admin/realms/{realm}/default-default-client-scopes/{id}", "addDefaultDefaultClientScope", "client-scopes", Admin, body None, 204 None, READ, &[]),
    op!("DELETE" "/admin/realms/{realm}/default-default-client-scopes/{id}", "removeDefaultDefaultClientScope", "client-scopes", Admin, body None, 204 None, READ, &[]),
    op!("PUT" "/admin/realms/{realm}/default-optional-client-scopes/{id}", "addDefaultOptionalClientScope", "client-scopes", Admin, body None, 204 None, READ, &[]),
    op!("DELETE" "/admin/realms/{realm}/default-optional-client-scopes/{id}", "removeDefaultOptionalClientScope", "client-scopes", Admin, body None, 204 None, READ, &[]),
    // Initial access tokens.
    op!("GET" "/admin/realms/{realm}/clients-initial-access", "listInitialAccessTokens", "initial-access", Admin, body None, 200 Some("[ClientInitialAccessPresentation]"), READ, &[]),
    op!("POST" "/admin/realms/{realm}/clients-initial-access", "createInitialAccessToken", "initial-access", Admin, body Some("ClientInitialAccessCreate"), 201 Some("ClientInitialAccessPresentation"), WRITE, &[]),
    op!("DELETE" "/admin/realms/{realm}/clients-initial-access/{id}", "deleteInitialAccessToken", "initial-access", Admin, body None, 204 None, READ, &[]),
    // Events.
    op!("GET" "/admin/realms/{realm}/events", "listEvents", "events", Admin, body None, 200 Some("[EventRepresentation]"), READ, &[("type", "string"), ("client", "string"), ("user", "string"), ("ipAddress", "string"), ("dateFrom", "string"), ("dateTo", "string"), ("first", "integer"), ("max", "integer"), ("direction", "string")]),
    op!("DELETE" "/admin/realms/{realm}/events", "clearEvents", "events", Admin, body None, 204 None, READ, &[]),
    op!("GET" "/admin/realms/{realm}/admin-events", "listAdminEvents", "events", Admin, body None, 200 Some("[AdminEventRepresentation]"), READ, &[("operationTypes", "string"), ("resourceTypes", "string"), ("authRealm", "string"), ("authClient", "string"), ("authUser", "string"), ("authIpAddress", "string"), ("resourcePath", "string"), ("dateFrom", "string"), ("dateTo", "string"), ("first", "integer"), ("max", "integer"), ("direction", "string")]),
    op!("DELETE" "/admin/realms/{realm}/admin-events", "clearAdminEvents", "events", Admin, body None, 204 None, READ, &[]),
    // Components (registration policies).
    op!("GET" "/admin/realms/{realm}/components", "listComponents", "components", Admin, body None, 200 Some("[ComponentRepresentation]"), READ, &[("type", "string"), ("parent", "string"), ("name", "string")]),
    op!("POST" "/admin/realms/{realm}/components", "createComponent", "components", Admin, body Some("ComponentRepresentation"), 201 None, WRITE, &[]),
    op!("GET" "/admin/realms/{realm}/components/{id}", "getComponent", "components", Admin, body None, 200 Some("ComponentRepresentation"), READ, &[]),
    op!("PUT" "/admin/realms/{realm}/components/{id}", "updateComponent", "components", Admin, body Some("ComponentRepresentation"), 204 None, WRITE, &[]),
    op!("DELETE" "/admin/realms/{realm}/components/{id}", "deleteComponent", "components", Admin, body None, 204 None, READ, &[]),
    op!("GET" "/admin/realms/{realm}/client-registration-policy/providers", "listPolicyProviders", "components", Admin, body None, 200 Some("[ComponentTypeRepresentation]"), READ, &[]),
    op!("POST" "/admin/realms/{realm}/client-registration-policy/evaluate", "evaluatePolicies", "components", Admin, body Some("PolicyEvaluation"), 200 Some("PolicyExplanation"), WRITE, &[]),
];

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

/// `GET /openapi.json`; `servers` names the relative path so that tools resolve paths.
pub async fn serve(State(state): State<SharedState>) -> Response {
    let mut doc = document().clone();
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
        409 => "Conflict: the name or identifier is in use",
        413 => "Request body over --max-request-size",
        429 => "Rate limit: see Retry-After",
        431 => "Request headers over --max-header-size",
        _ => "Other",
    }
}

fn operation(op: &Operation) -> Value {
    let mut params: Vec<Value> = Vec::new();
    for name in path_params(op.path) {
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

fn build() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method.to_ascii_lowercase()] = operation(op);
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
    use super::*;
    use std::collections::BTreeSet;

    /// `(METHOD, path)` of every `.route(…)` in a router source file, read from the text.
    fn routes_in(source: &str) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for chunk in source.split(".route(").skip(1) {
            // The call's text: up to its closing parenthesis.
            let mut depth = 1;
            let mut end = chunk.len();
            for (i, c) in chunk.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let call = &chunk[..end];
            let (path_expr, handlers) = call.split_once(',').unwrap();
            let path = resolve_path(path_expr.trim());
            let bytes = handlers.as_bytes();
            for m in ["get", "post", "put", "delete", "patch"] {
                let mut from = 0;
                while let Some(pos) = handlers[from..].find(&format!("{m}(")) {
                    let at = from + pos;
                    let before = if at == 0 { b' ' } else { bytes[at - 1] };
                    if !(before.is_ascii_alphanumeric() || before == b'_') {
                        out.insert((m.to_ascii_uppercase(), path.clone()));
                    }
                    from = at + m.len();
                }
            }
        }
        out
    }

    fn resolve_path(expr: &str) -> String {
        let consts = [
            (
                "routes::REGISTRATION_OIDC_CLIENT",
                routes::REGISTRATION_OIDC_CLIENT,
            ),
            ("routes::REGISTRATION_OIDC", routes::REGISTRATION_OIDC),
            (
                "routes::REGISTRATION_DEFAULT_CLIENT",
                routes::REGISTRATION_DEFAULT_CLIENT,
            ),
            ("routes::REGISTRATION_DEFAULT", routes::REGISTRATION_DEFAULT),
            (
                "routes::REGISTRATION_INSTALL_CLIENT",
                routes::REGISTRATION_INSTALL_CLIENT,
            ),
        ];
        if let Some((_, v)) = consts.iter().find(|(k, _)| *k == expr) {
            return v.to_string();
        }
        if expr == "R" {
            return R.to_string();
        }
        let inner = expr
            .trim_start_matches("&format!(")
            .trim_end_matches(')')
            .trim_matches('"');
        assert!(!inner.contains("::"), "unknown route expression {expr}");
        inner
            .replace("{R}", R)
            .replace("{{", "{")
            .replace("}}", "}")
    }

    #[test]
    fn the_document_lists_exactly_the_routes_of_the_router() {
        let mut routed = routes_in(include_str!("admin/mod.rs"));
        routed.extend(routes_in(include_str!("registration/mod.rs")));
        let documented: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|o| (o.method.to_string(), o.path.to_string()))
            .collect();
        assert_eq!(
            documented.len(),
            OPERATIONS.len(),
            "an operation is listed twice"
        );
        let missing: Vec<_> = routed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routed).collect();
        assert!(
            missing.is_empty(),
            "routes missing from the document: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "documented routes that do not exist: {extra:?}"
        );
        assert!(routed.len() > 60, "the route parser found too few routes");
    }

    #[test]
    fn every_reference_resolves_and_ids_are_unique() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "dangling $ref {name}");
        }
        let ids: BTreeSet<&str> = OPERATIONS.iter().map(|o| o.id).collect();
        assert_eq!(ids.len(), OPERATIONS.len());
        for op in OPERATIONS {
            for p in path_params(op.path) {
                assert!(!p.is_empty());
            }
        }
    }
}
