//! The subset of Keycloak's admin REST API Latchkey serves, with Keycloak's
//! representations, statuses and error bodies: realms, clients, users, roles, role
//! mappings, user sessions, client scopes, components, signing keys, initial access tokens, events; and resource servers
//! (RFC 8707), which Keycloak does not have. Authorization is
//! the `AdminAuth` extractor plus one `AdminAuth::realm(…, Right)` call per handler, made
//! before anything is read; the handler then calls the operation in `service/` and shapes
//! its answer (status, `Location`, representation from `out.rs`).

mod answer;
mod auth;
pub mod clients;
pub mod components;
pub mod events;
pub mod initial_access;
pub mod keys;
pub mod out;
pub mod realms;
pub mod resource_servers;
pub mod roles;
pub mod scopes;
pub mod sessions;
pub mod users;

use crate::routes::{Route, route};

/// The admin API's routes, every one an operation of the OpenAPI document.
pub fn routes() -> Vec<Route> {
    const READ: &[u16] = &[400, 401, 403, 404];
    const WRITE: &[u16] = &[400, 401, 403, 404, 409, 413, 415];
    vec![
        // Realms.
        route!(GET "/admin/realms" => realms::list, "listRealms", "realms", Admin, body None, 200 Some("[RealmRepresentation]"), &[400, 401, 403], &[("briefRepresentation", "boolean")]),
        route!(POST "/admin/realms" => realms::create, "createRealm", "realms", Admin, body Some("RealmRepresentation"), 201 None, &[400, 401, 403, 409, 413, 415], &[]),
        route!(GET "/admin/realms/{realm}" => realms::get, "getRealm", "realms", Admin, body None, 200 Some("RealmRepresentation"), READ, &[]),
        route!(PUT "/admin/realms/{realm}" => realms::update, "updateRealm", "realms", Admin, body Some("RealmRepresentation"), 204 None, WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}" => realms::delete, "deleteRealm", "realms", Admin, body None, 204 None, READ, &[]),
        route!(POST "/admin/realms/{realm}/partialImport" => realms::partial_import, "partialImport", "realms", Admin, body Some("PartialImportRepresentation"), 200 Some("PartialImportResults"), WRITE, &[]),
        route!(POST "/admin/realms/{realm}/partial-export" => realms::partial_export, "partialExport", "realms", Admin, body None, 200 Some("RealmRepresentation"), READ, &[("exportClients", "boolean"), ("exportGroupsAndRoles", "boolean")]),
        // Clients.
        route!(GET "/admin/realms/{realm}/clients" => clients::list, "listClients", "clients", Admin, body None, 200 Some("[ClientRepresentation]"), READ, &[("clientId", "string"), ("search", "boolean"), ("first", "integer"), ("max", "integer")]),
        route!(POST "/admin/realms/{realm}/clients" => clients::create, "createClient", "clients", Admin, body Some("ClientRepresentation"), 201 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/clients/{id}" => clients::get, "getClient", "clients", Admin, body None, 200 Some("ClientRepresentation"), READ, &[]),
        route!(PUT "/admin/realms/{realm}/clients/{id}" => clients::update, "updateClient", "clients", Admin, body Some("ClientRepresentation"), 204 None, WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}/clients/{id}" => clients::delete, "deleteClient", "clients", Admin, body None, 204 None, READ, &[]),
        route!(GET "/admin/realms/{realm}/clients/{id}/client-secret" => clients::get_secret, "getClientSecret", "clients", Admin, body None, 200 Some("Credential"), READ, &[]),
        route!(POST "/admin/realms/{realm}/clients/{id}/client-secret" => clients::regenerate_secret, "regenerateClientSecret", "clients", Admin, body None, 200 Some("Credential"), READ, &[]),
        route!(GET "/admin/realms/{realm}/clients/{id}/service-account-user" => clients::service_account_user, "getServiceAccountUser", "clients", Admin, body None, 200 Some("UserRepresentation"), READ, &[]),
        route!(POST "/admin/realms/{realm}/clients/{id}/registration-access-token" => clients::registration_access_token, "regenerateRegistrationAccessToken", "clients", Admin, body None, 200 Some("ClientRepresentation"), READ, &[]),
        // Roles.
        route!(GET "/admin/realms/{realm}/clients/{id}/roles" => roles::list_client, "listClientRoles", "roles", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[("first", "integer"), ("max", "integer"), ("search", "string"), ("briefRepresentation", "boolean")]),
        route!(POST "/admin/realms/{realm}/clients/{id}/roles" => roles::create_client, "createClientRole", "roles", Admin, body Some("RoleRepresentation"), 201 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/clients/{id}/roles/{name}" => roles::get_client, "getClientRole", "roles", Admin, body None, 200 Some("RoleRepresentation"), READ, &[]),
        route!(PUT "/admin/realms/{realm}/clients/{id}/roles/{name}" => roles::update_client, "updateClientRole", "roles", Admin, body Some("RoleRepresentation"), 204 None, WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}/clients/{id}/roles/{name}" => roles::delete_client, "deleteClientRole", "roles", Admin, body None, 204 None, READ, &[]),
        route!(GET "/admin/realms/{realm}/roles" => roles::list_realm, "listRealmRoles", "roles", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[("first", "integer"), ("max", "integer"), ("search", "string"), ("briefRepresentation", "boolean")]),
        route!(POST "/admin/realms/{realm}/roles" => roles::create_realm, "createRealmRole", "roles", Admin, body Some("RoleRepresentation"), 201 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/roles/{name}" => roles::get_realm, "getRealmRole", "roles", Admin, body None, 200 Some("RoleRepresentation"), READ, &[]),
        route!(PUT "/admin/realms/{realm}/roles/{name}" => roles::update_realm, "updateRealmRole", "roles", Admin, body Some("RoleRepresentation"), 204 None, WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}/roles/{name}" => roles::delete_realm, "deleteRealmRole", "roles", Admin, body None, 204 None, READ, &[]),
        // Users.
        route!(GET "/admin/realms/{realm}/users" => users::list, "listUsers", "users", Admin, body None, 200 Some("[UserRepresentation]"), READ, &[("username", "string"), ("email", "string"), ("firstName", "string"), ("lastName", "string"), ("search", "string"), ("exact", "boolean"), ("first", "integer"), ("max", "integer")]),
        route!(POST "/admin/realms/{realm}/users" => users::create, "createUser", "users", Admin, body Some("UserRepresentation"), 201 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/users/count" => users::count, "countUsers", "users", Admin, body None, 200 Some("Count"), READ, &[("username", "string"), ("email", "string"), ("search", "string")]),
        route!(GET "/admin/realms/{realm}/users/{id}" => users::get, "getUser", "users", Admin, body None, 200 Some("UserRepresentation"), READ, &[]),
        route!(PUT "/admin/realms/{realm}/users/{id}" => users::update, "updateUser", "users", Admin, body Some("UserRepresentation"), 204 None, WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}/users/{id}" => users::delete, "deleteUser", "users", Admin, body None, 204 None, READ, &[]),
        route!(PUT "/admin/realms/{realm}/users/{id}/reset-password" => users::reset_password, "resetPassword", "users", Admin, body Some("CredentialRepresentation"), 204 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/users/{id}/role-mappings" => users::role_mappings, "getRoleMappings", "role-mappings", Admin, body None, 200 Some("MappingsRepresentation"), READ, &[]),
        route!(GET "/admin/realms/{realm}/users/{id}/role-mappings/realm" => users::realm_mappings, "getRealmRoleMappings", "role-mappings", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[]),
        route!(POST "/admin/realms/{realm}/users/{id}/role-mappings/realm" => users::add_realm_mappings, "addRealmRoleMappings", "role-mappings", Admin, body Some("[RoleRepresentation]"), 204 None, WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}/users/{id}/role-mappings/realm" => users::remove_realm_mappings, "removeRealmRoleMappings", "role-mappings", Admin, body Some("[RoleRepresentation]"), 204 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/users/{id}/role-mappings/realm/composite" => users::realm_mappings_composite, "getEffectiveRealmRoleMappings", "role-mappings", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[]),
        route!(GET "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}" => users::client_mappings, "getClientRoleMappings", "role-mappings", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[]),
        route!(POST "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}" => users::add_client_mappings, "addClientRoleMappings", "role-mappings", Admin, body Some("[RoleRepresentation]"), 204 None, WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}" => users::remove_client_mappings, "removeClientRoleMappings", "role-mappings", Admin, body Some("[RoleRepresentation]"), 204 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}/composite" => users::client_mappings_composite, "getEffectiveClientRoleMappings", "role-mappings", Admin, body None, 200 Some("[RoleRepresentation]"), READ, &[]),
        // User sessions.
        route!(GET "/admin/realms/{realm}/users/{id}/sessions" => sessions::of_user, "getUserSessions", "sessions", Admin, body None, 200 Some("[UserSessionRepresentation]"), READ, &[]),
        route!(POST "/admin/realms/{realm}/users/{id}/logout" => sessions::logout_user, "logoutUser", "sessions", Admin, body None, 204 None, READ, &[]),
        route!(DELETE "/admin/realms/{realm}/sessions/{id}" => sessions::delete, "deleteSession", "sessions", Admin, body None, 204 None, READ, &[("isOffline", "boolean")]),
        // Client scopes.
        route!(GET "/admin/realms/{realm}/client-scopes" => scopes::list, "listClientScopes", "client-scopes", Admin, body None, 200 Some("[ClientScopeRepresentation]"), READ, &[]),
        route!(POST "/admin/realms/{realm}/client-scopes" => scopes::create, "createClientScope", "client-scopes", Admin, body Some("ClientScopeRepresentation"), 201 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/client-scopes/{id}" => scopes::get, "getClientScope", "client-scopes", Admin, body None, 200 Some("ClientScopeRepresentation"), READ, &[]),
        route!(PUT "/admin/realms/{realm}/client-scopes/{id}" => scopes::update, "updateClientScope", "client-scopes", Admin, body Some("ClientScopeRepresentation"), 204 None, WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}/client-scopes/{id}" => scopes::delete, "deleteClientScope", "client-scopes", Admin, body None, 204 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/default-default-client-scopes" => scopes::list_default, "listDefaultDefaultClientScopes", "client-scopes", Admin, body None, 200 Some("[ScopeRef]"), READ, &[]),
        route!(GET "/admin/realms/{realm}/default-optional-client-scopes" => scopes::list_optional, "listDefaultOptionalClientScopes", "client-scopes", Admin, body None, 200 Some("[ScopeRef]"), READ, &[]),
        route!(PUT "/admin/realms/{realm}/default-default-client-scopes/{id}" => scopes::add_default, "addDefaultDefaultClientScope", "client-scopes", Admin, body None, 204 None, READ, &[]),
        route!(DELETE "/admin/realms/{realm}/default-default-client-scopes/{id}" => scopes::remove_default, "removeDefaultDefaultClientScope", "client-scopes", Admin, body None, 204 None, READ, &[]),
        route!(PUT "/admin/realms/{realm}/default-optional-client-scopes/{id}" => scopes::add_optional, "addDefaultOptionalClientScope", "client-scopes", Admin, body None, 204 None, READ, &[]),
        // Either DELETE takes the scope out of whichever set holds it, as in Keycloak.
        route!(DELETE "/admin/realms/{realm}/default-optional-client-scopes/{id}" => scopes::remove_optional, "removeDefaultOptionalClientScope", "client-scopes", Admin, body None, 204 None, READ, &[]),
        // Initial access tokens.
        route!(GET "/admin/realms/{realm}/clients-initial-access" => initial_access::list, "listInitialAccessTokens", "initial-access", Admin, body None, 200 Some("[ClientInitialAccessPresentation]"), READ, &[]),
        route!(POST "/admin/realms/{realm}/clients-initial-access" => initial_access::create, "createInitialAccessToken", "initial-access", Admin, body Some("ClientInitialAccessCreate"), 201 Some("ClientInitialAccessPresentation"), WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}/clients-initial-access/{id}" => initial_access::delete, "deleteInitialAccessToken", "initial-access", Admin, body None, 204 None, READ, &[]),
        // Resource servers (RFC 8707).
        route!(GET "/admin/realms/{realm}/resource-servers" => resource_servers::list, "listResourceServers", "resource-servers", Admin, body None, 200 Some("[ResourceServerRepresentation]"), READ, &[]),
        route!(POST "/admin/realms/{realm}/resource-servers" => resource_servers::create, "createResourceServer", "resource-servers", Admin, body Some("ResourceServerRepresentation"), 201 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/resource-servers/{id}" => resource_servers::get, "getResourceServer", "resource-servers", Admin, body None, 200 Some("ResourceServerRepresentation"), READ, &[]),
        route!(PUT "/admin/realms/{realm}/resource-servers/{id}" => resource_servers::update, "updateResourceServer", "resource-servers", Admin, body Some("ResourceServerRepresentation"), 204 None, WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}/resource-servers/{id}" => resource_servers::delete, "deleteResourceServer", "resource-servers", Admin, body None, 204 None, READ, &[]),
        // Events.
        route!(GET "/admin/realms/{realm}/events" => events::list, "listEvents", "events", Admin, body None, 200 Some("[EventRepresentation]"), READ, &[("type", "string"), ("client", "string"), ("user", "string"), ("ipAddress", "string"), ("dateFrom", "string"), ("dateTo", "string"), ("first", "integer"), ("max", "integer"), ("direction", "string")]),
        route!(DELETE "/admin/realms/{realm}/events" => events::clear, "clearEvents", "events", Admin, body None, 204 None, READ, &[]),
        route!(GET "/admin/realms/{realm}/admin-events" => events::list_admin, "listAdminEvents", "events", Admin, body None, 200 Some("[AdminEventRepresentation]"), READ, &[("operationTypes", "string"), ("resourceTypes", "string"), ("authRealm", "string"), ("authClient", "string"), ("authUser", "string"), ("authIpAddress", "string"), ("resourcePath", "string"), ("dateFrom", "string"), ("dateTo", "string"), ("first", "integer"), ("max", "integer"), ("direction", "string")]),
        route!(DELETE "/admin/realms/{realm}/admin-events" => events::clear_admin, "clearAdminEvents", "events", Admin, body None, 204 None, READ, &[]),
        // Components (registration policies).
        route!(GET "/admin/realms/{realm}/components" => components::list, "listComponents", "components", Admin, body None, 200 Some("[ComponentRepresentation]"), READ, &[("type", "string"), ("parent", "string"), ("name", "string")]),
        route!(POST "/admin/realms/{realm}/components" => components::create, "createComponent", "components", Admin, body Some("ComponentRepresentation"), 201 None, WRITE, &[]),
        route!(GET "/admin/realms/{realm}/components/{id}" => components::get, "getComponent", "components", Admin, body None, 200 Some("ComponentRepresentation"), READ, &[]),
        route!(PUT "/admin/realms/{realm}/components/{id}" => components::update, "updateComponent", "components", Admin, body Some("ComponentRepresentation"), 204 None, WRITE, &[]),
        route!(DELETE "/admin/realms/{realm}/components/{id}" => components::delete, "deleteComponent", "components", Admin, body None, 204 None, READ, &[]),
        route!(GET "/admin/realms/{realm}/keys" => keys::list, "getKeyMetadata", "keys", Admin, body None, 200 Some("KeysMetadataRepresentation"), READ, &[]),
        route!(GET "/admin/realms/{realm}/client-registration-policy/providers" => components::providers, "listPolicyProviders", "components", Admin, body None, 200 Some("[ComponentTypeRepresentation]"), READ, &[]),
        route!(POST "/admin/realms/{realm}/client-registration-policy/evaluate" => components::evaluate, "evaluatePolicies", "components", Admin, body Some("PolicyEvaluation"), 200 Some("PolicyExplanation"), WRITE, &[]),
    ]
}
