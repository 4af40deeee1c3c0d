//! The subset of Keycloak's admin REST API Latchkey serves, with Keycloak's
//! representations, statuses and error bodies: realms, clients, users, roles, role
//! mappings, client scopes, components, initial access tokens, events. Authorization is
//! the `AdminAuth` extractor plus one `AdminAuth::realm(…, Right)` call per handler, made
//! before anything is read; the handler then calls the operation in `service/` and shapes
//! its answer (status, `Location`, representation from `out.rs`).

pub mod clients;
pub mod components;
pub mod events;
pub mod initial_access;
pub mod out;
pub mod realms;
pub mod roles;
pub mod scopes;
pub mod users;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use latchkey_core::roles::expand;

use crate::bearer::{BearerError, bearer_token, verify_access_token};
use crate::error::AdminError;
use crate::extract::ClientAddr;
pub use crate::service::{AdminAuth, RealmAdmin};
use crate::state::SharedState;
use crate::urls::{BaseUrl, encode_segment};

pub fn routes() -> Router<SharedState> {
    use axum::routing::{post, put};
    const R: &str = "/admin/realms/{realm}";
    Router::new()
        .route("/admin/realms", get(realms::list).post(realms::create))
        .route(
            R,
            get(realms::get).put(realms::update).delete(realms::delete),
        )
        .route(
            &format!("{R}/clients"),
            get(clients::list).post(clients::create),
        )
        .route(
            &format!("{R}/clients/{{id}}"),
            get(clients::get)
                .put(clients::update)
                .delete(clients::delete),
        )
        .route(
            &format!("{R}/clients/{{id}}/client-secret"),
            get(clients::get_secret).post(clients::regenerate_secret),
        )
        .route(
            &format!("{R}/clients/{{id}}/service-account-user"),
            get(clients::service_account_user),
        )
        .route(
            &format!("{R}/clients/{{id}}/roles"),
            get(roles::list_client).post(roles::create_client),
        )
        .route(
            &format!("{R}/clients/{{id}}/roles/{{name}}"),
            get(roles::get_client)
                .put(roles::update_client)
                .delete(roles::delete_client),
        )
        .route(
            &format!("{R}/roles"),
            get(roles::list_realm).post(roles::create_realm),
        )
        .route(
            &format!("{R}/roles/{{name}}"),
            get(roles::get_realm)
                .put(roles::update_realm)
                .delete(roles::delete_realm),
        )
        .route(&format!("{R}/users"), get(users::list).post(users::create))
        .route(&format!("{R}/users/count"), get(users::count))
        .route(
            &format!("{R}/users/{{id}}"),
            get(users::get).put(users::update).delete(users::delete),
        )
        .route(
            &format!("{R}/users/{{id}}/reset-password"),
            put(users::reset_password),
        )
        .route(
            &format!("{R}/users/{{id}}/role-mappings"),
            get(users::role_mappings),
        )
        .route(
            &format!("{R}/users/{{id}}/role-mappings/realm"),
            get(users::realm_mappings)
                .post(users::add_realm_mappings)
                .delete(users::remove_realm_mappings),
        )
        .route(
            &format!("{R}/users/{{id}}/role-mappings/realm/composite"),
            get(users::realm_mappings_composite),
        )
        .route(
            &format!("{R}/users/{{id}}/role-mappings/clients/{{client}}"),
            get(users::client_mappings)
                .post(users::add_client_mappings)
                .delete(users::remove_client_mappings),
        )
        .route(
            &format!("{R}/users/{{id}}/role-mappings/clients/{{client}}/composite"),
            get(users::client_mappings_composite),
        )
        .route(
            &format!("{R}/client-scopes"),
            get(scopes::list).post(scopes::create),
        )
        .route(
            &format!("{R}/client-scopes/{{id}}"),
            get(scopes::get).put(scopes::update).delete(scopes::delete),
        )
        .route(
            &format!("{R}/default-default-client-scopes"),
            get(scopes::list_default),
        )
        .route(
            &format!("{R}/default-optional-client-scopes"),
            get(scopes::list_optional),
        )
        .route(
            &format!("{R}/default-default-client-scopes/{{id}}"),
            put(scopes::add_default).delete(scopes::remove_default),
        )
        // Either DELETE takes the scope out of whichever set holds it, as in Keycloak.
        .route(
            &format!("{R}/default-optional-client-scopes/{{id}}"),
            put(scopes::add_optional).delete(scopes::remove_optional),
        )
        .route(
            &format!("{R}/clients/{{id}}/registration-access-token"),
            post(clients::registration_access_token),
        )
        .route(
            &format!("{R}/clients-initial-access"),
            get(initial_access::list).post(initial_access::create),
        )
        .route(
            &format!("{R}/clients-initial-access/{{id}}"),
            axum::routing::delete(initial_access::delete),
        )
        .route(
            &format!("{R}/events"),
            get(events::list).delete(events::clear),
        )
        .route(
            &format!("{R}/admin-events"),
            get(events::list_admin).delete(events::clear_admin),
        )
        .route(
            &format!("{R}/components"),
            get(components::list).post(components::create),
        )
        .route(
            &format!("{R}/components/{{id}}"),
            get(components::get)
                .put(components::update)
                .delete(components::delete),
        )
        .route(
            &format!("{R}/client-registration-policy/providers"),
            get(components::providers),
        )
        .route(
            &format!("{R}/client-registration-policy/evaluate"),
            post(components::evaluate),
        )
}

/// The caller of an admin endpoint: a valid bearer access token of some realm, whose
/// subject is an enabled user. Roles are read from the store at each request (not from
/// the token), so a revoked role or deleted user stops working at once. The rights in the
/// realm addressed are checked next, by `AdminAuth::realm` in the handler.
impl FromRequestParts<SharedState> for AdminAuth {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or(AdminError::Unauthorized)?;
        let verified = match verify_access_token(state, token, None).await {
            Ok(v) => v,
            Err(BearerError::Invalid) => return Err(AdminError::Unauthorized),
            Err(BearerError::Internal(e)) => return Err(AdminError::Internal(e)),
        };
        let Ok(ClientAddr(ip_address)) = ClientAddr::from_request_parts(parts, state).await;
        let direct = state.store.user_role_ids(&verified.user.id).await?;
        let all = state.store.all_roles(&verified.realm.id).await?;
        Ok(AdminAuth {
            realm: verified.realm.name,
            effective: expand(&direct, &all),
            user: verified.user,
            client: verified.client.id,
            ip_address: ip_address.unwrap_or_default(),
        })
    }
}

/// 201 with an empty body and an absolute `Location`: the new resource's admin API URL,
/// `below` that of its realm.
pub fn created(base: &BaseUrl, realm: &str, below: &[&str]) -> Response {
    let path: String = std::iter::once(realm)
        .chain(below.iter().copied())
        .map(|s| format!("/{}", encode_segment(s)))
        .collect();
    let location = base.join(&format!("/admin/realms{path}"));
    (StatusCode::CREATED, [(header::LOCATION, location)]).into_response()
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `first` / `max` paging from a query map.
pub fn paging(q: &std::collections::HashMap<String, String>, default_max: i64) -> (i64, i64) {
    let first = q
        .get("first")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0i64)
        .max(0);
    let max = q
        .get("max")
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_max);
    (first, if max < 0 { default_max } else { max })
}
