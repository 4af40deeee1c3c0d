//! The storage contract. Every method is one atomic unit: it commits whole or not at all.
//! Only `latchkey-store` implements it and only it knows SQL.

use async_trait::async_trait;
use serde_json::Value;

use crate::Millis;
use crate::rep::{ClientRep, ClientScopeRep, RealmRep, RoleRep, UserRep};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; `what` names it (`realm name`, `clientId`, `username`…).
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    #[error("not found")]
    NotFound,
    /// The database failed; the text is for logs, never for clients.
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone)]
pub struct RealmRecord {
    pub id: String,
    pub name: String,
    pub rep: RealmRep,
}

/// A realm signing key. `private_sealed` is the PKCS#8 document sealed with the master key.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub kid: String,
    pub realm_id: String,
    pub alg: String,
    pub private_sealed: String,
    pub public_jwk: Value,
    pub created_at: Millis,
}

/// A client. `rep` never holds the secret; `secret_sealed` is the sealed secret of a
/// confidential client.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub id: String,
    pub realm_id: String,
    pub client_id: String,
    pub rep: ClientRep,
    pub secret_sealed: Option<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: String,
    pub realm_id: String,
    /// Lowercase, as Keycloak stores it.
    pub username: String,
    pub email: Option<String>,
    pub rep: UserRep,
    /// Argon2id PHC string.
    pub password_hash: Option<String>,
    /// The client UUID whose service account this user is.
    pub service_account_client: Option<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub struct RoleRecord {
    pub id: String,
    pub realm_id: String,
    /// The owning client's UUID for a client role, `None` for a realm role.
    pub client: Option<String>,
    pub name: String,
    pub rep: RoleRep,
    /// The owning client's `clientId`; filled on read, ignored on write.
    pub client_client_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ScopeRecord {
    pub id: String,
    pub realm_id: String,
    pub name: String,
    pub rep: ClientScopeRep,
}

/// A refresh token, stored only by hash (SPEC §10).
#[derive(Debug, Clone)]
pub struct RefreshTokenRecord {
    pub hash: String,
    pub realm_id: String,
    pub client_uuid: String,
    pub user_id: String,
    pub scope: String,
    pub session_id: String,
    pub auth_time: Millis,
    pub expires_at: Millis,
}

/// Everything a new realm starts with, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct RealmBundle {
    pub realm: Option<RealmRecord>,
    pub keys: Vec<KeyRecord>,
    pub scopes: Vec<ScopeRecord>,
    /// `(scope id, true for a default scope / false for an optional one)`
    pub default_scopes: Vec<(String, bool)>,
    pub roles: Vec<RoleRecord>,
    pub clients: Vec<ClientRecord>,
    pub users: Vec<UserRecord>,
    /// `(user id, role id)`
    pub user_roles: Vec<(String, String)>,
}

/// A client with what comes with it: its service-account user and that user's roles.
#[derive(Debug, Clone)]
pub struct ClientBundle {
    pub client: ClientRecord,
    pub service_account: Option<(UserRecord, Vec<String>)>,
}

/// Filters of `GET /admin/realms/{r}/users`. Service-account users never match, as in
/// Keycloak.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub username: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Matches username, email, first and last name.
    pub search: Option<String>,
    pub exact: bool,
    pub first: i64,
    pub max: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ClientQuery {
    pub client_id: Option<String>,
    /// substring match on `clientId` instead of exact
    pub search: bool,
    pub first: i64,
    pub max: Option<i64>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Succeeds when the database answers (readiness).
    async fn ping(&self) -> StoreResult<()>;

    async fn list_realms(&self) -> StoreResult<Vec<RealmRecord>>;
    async fn realm_by_name(&self, name: &str) -> StoreResult<Option<RealmRecord>>;
    async fn create_realm(&self, bundle: RealmBundle) -> StoreResult<()>;
    async fn update_realm(&self, realm: &RealmRecord) -> StoreResult<()>;
    /// Removes the realm and everything in it.
    async fn delete_realm(&self, realm_id: &str) -> StoreResult<()>;

    async fn realm_keys(&self, realm_id: &str) -> StoreResult<Vec<KeyRecord>>;

    async fn list_clients(&self, realm_id: &str, q: &ClientQuery)
    -> StoreResult<Vec<ClientRecord>>;
    async fn client(&self, realm_id: &str, id: &str) -> StoreResult<Option<ClientRecord>>;
    async fn client_by_client_id(
        &self,
        realm_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<ClientRecord>>;
    async fn create_client(&self, bundle: ClientBundle) -> StoreResult<()>;
    /// Replaces the client; creates the service-account user if the bundle carries one.
    async fn update_client(&self, bundle: ClientBundle) -> StoreResult<()>;
    /// Removes the client, its roles and their mappings, its service-account user and its
    /// refresh tokens.
    async fn delete_client(&self, realm_id: &str, id: &str) -> StoreResult<()>;

    async fn list_users(&self, realm_id: &str, q: &UserQuery) -> StoreResult<Vec<UserRecord>>;
    async fn count_users(&self, realm_id: &str, q: &UserQuery) -> StoreResult<i64>;
    async fn user(&self, realm_id: &str, id: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_username(
        &self,
        realm_id: &str,
        username: &str,
    ) -> StoreResult<Option<UserRecord>>;
    async fn user_by_email(&self, realm_id: &str, email: &str) -> StoreResult<Option<UserRecord>>;
    async fn service_account_user(
        &self,
        realm_id: &str,
        client_uuid: &str,
    ) -> StoreResult<Option<UserRecord>>;
    async fn create_user(&self, user: &UserRecord, role_ids: &[String]) -> StoreResult<()>;
    async fn update_user(&self, user: &UserRecord) -> StoreResult<()>;
    async fn delete_user(&self, realm_id: &str, id: &str) -> StoreResult<()>;

    /// Realm roles (`client = None`) or one client's roles, by name.
    async fn list_roles(
        &self,
        realm_id: &str,
        client: Option<&str>,
    ) -> StoreResult<Vec<RoleRecord>>;
    /// Every role of the realm, realm and client roles alike.
    async fn all_roles(&self, realm_id: &str) -> StoreResult<Vec<RoleRecord>>;
    async fn role_by_name(
        &self,
        realm_id: &str,
        client: Option<&str>,
        name: &str,
    ) -> StoreResult<Option<RoleRecord>>;
    async fn create_role(&self, role: &RoleRecord) -> StoreResult<()>;
    async fn update_role(&self, role: &RoleRecord) -> StoreResult<()>;
    async fn delete_role(&self, realm_id: &str, id: &str) -> StoreResult<()>;

    async fn user_role_ids(&self, user_id: &str) -> StoreResult<Vec<String>>;
    /// Idempotent: roles already mapped stay mapped once.
    async fn add_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()>;
    async fn remove_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()>;

    async fn list_scopes(&self, realm_id: &str) -> StoreResult<Vec<ScopeRecord>>;
    async fn create_scope(&self, scope: &ScopeRecord) -> StoreResult<()>;
    async fn update_scope(&self, scope: &ScopeRecord) -> StoreResult<()>;
    async fn delete_scope(&self, realm_id: &str, id: &str) -> StoreResult<()>;
    /// `(scope id, default?)` of the realm's default and optional scope sets.
    async fn realm_default_scopes(&self, realm_id: &str) -> StoreResult<Vec<(String, bool)>>;
    async fn set_realm_default_scope(
        &self,
        realm_id: &str,
        scope_id: &str,
        default: bool,
    ) -> StoreResult<()>;
    async fn remove_realm_default_scope(&self, realm_id: &str, scope_id: &str) -> StoreResult<()>;

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()>;
    /// Takes a refresh token out of the store if it exists and has not expired: at most one
    /// caller ever gets it, so a rotated token cannot be used twice.
    async fn take_refresh_token(
        &self,
        hash: &str,
        now: Millis,
    ) -> StoreResult<Option<RefreshTokenRecord>>;
}
