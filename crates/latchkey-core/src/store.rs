//! The storage contract. Every method is one atomic unit: it commits whole or not at all.
//! Only `latchkey-store` implements it and only it knows SQL.

use async_trait::async_trait;
use serde_json::Value;

use crate::Millis;
use crate::ident::{self, InvalidIdentifier};
use crate::registration::kind::RegistrationKind;
use crate::rep::{ClientRep, ClientScopeRep, RealmRep, RoleRep, UserRep};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; `what` names it (`realm name`, `clientId`, `username`…).
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    #[error("not found")]
    NotFound,
    /// An identifier broke the shared rule (`ident::check`); nothing was written.
    #[error("{0}")]
    Invalid(#[from] crate::ident::InvalidIdentifier),
    /// A condition the write depended on no longer held; nothing was written.
    #[error("{failed}")]
    Precondition { failed: Guarded },
    /// The database failed; the text is for logs, never for clients.
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The conditions a `WriteGuard` can make a write depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Guarded {
    #[error("initial access token used up or expired")]
    InitialAccessToken,
    #[error("registration access token already rotated")]
    RegistrationToken,
    #[error("the realm has reached its maximum number of clients")]
    MaxClients,
    #[error("client secret already rotated")]
    ClientSecret,
    /// A key provider change that would leave an algorithm without an active, enabled key
    /// (`key_providers::orphaned_alg`, decided under the realm's lock).
    #[error("the realm would have no active key for one of its algorithms")]
    LastSigningKey,
    /// A rotation's refresh token was spent, expired or never issued
    /// (`Store::rotate_refresh_token`).
    #[error("refresh token already spent or expired")]
    RefreshToken,
}

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
    /// Hash of the current registration access token, if one was issued.
    pub rat_hash: Option<String>,
    pub created_at: Millis,
    /// The last day (days since the Unix epoch, UTC) the client was used, if ever
    /// (`Store::touch_client`).
    pub last_used: Option<i64>,
    /// The secret a rotation replaced, still accepted until its own expiry
    /// (`client_secrets`).
    pub previous_secret: Option<PreviousSecret>,
}

/// A replaced client secret, sealed like the current one and bound to the same row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousSecret {
    pub sealed: String,
    /// Seconds since the epoch.
    pub expires_at: i64,
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

/// What can revoke a token (`Store::is_revoked`): its own `jti`, its login session
/// (`sid`), and its client's part of that session. A session revoked by a replay revokes
/// every token of it; one revoked by a logout only those without `offline_access` in their
/// scope (Keycloak's offline sessions outlive the login session). A client's part is
/// revoked by the revocation of one of its refresh tokens (`Store::revoke_refresh_token`).
#[derive(Debug, Clone, Copy)]
pub struct Revocable<'a> {
    pub jti: Option<&'a str>,
    pub session: Option<&'a str>,
    /// The id (not the `clientId`) of the client the token was issued to; counts only
    /// with `session`.
    pub client: Option<&'a str>,
    /// The token's scope holds `offline_access`.
    pub offline: bool,
}

/// A refresh token, stored only by hash (a database dump alone reveals no usable
/// credential).
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
    /// The resources (RFC 8707) the token was granted for; its refreshes may narrow them,
    /// never widen them. Empty: none was asked for.
    pub resources: Vec<String>,
}

/// A login session as its live refresh tokens show it (`Store::login_sessions`). Offline
/// tokens (scope word `offline_access`) are Keycloak's offline session of the same login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    pub id: String,
    pub user_id: String,
    /// When the user signed in (the tokens' `auth_time`).
    pub started: Millis,
    /// The clients holding a refresh token of the session that is not offline, by internal
    /// id, sorted; empty when the session lives on in offline tokens only.
    pub clients: Vec<String>,
    /// The latest expiry among those tokens; 0 when there are none.
    pub online_until: Millis,
    /// The clients holding an offline token of the session, sorted.
    pub offline_clients: Vec<String>,
}

/// Whose login sessions `Store::login_sessions` reads.
#[derive(Debug, Clone, Copy)]
pub enum SessionsOf<'a> {
    /// A user's, by user id.
    User(&'a str),
    /// The one session of this id.
    Id(&'a str),
}

/// An entry of the transient store (`Store::put_transient`'s arguments as one record).
#[derive(Debug, Clone)]
pub struct TransientRecord {
    pub kind: String,
    pub id: String,
    pub realm_id: String,
    pub data: Value,
    pub expires_at: Millis,
}

/// A resource server of a realm (RFC 8707): an absolute URI a client may ask a token for
/// with `resource`, and the client scopes that let a client do so (empty: every client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServerRecord {
    pub id: String,
    pub realm_id: String,
    /// Unique in the realm; matched exactly against a request's `resource`.
    pub uri: String,
    pub name: String,
    /// Client scope names; a client with any of them (default or optional) may ask.
    pub scopes: Vec<String>,
}

/// The identifiers a record stores in columns of their own, checked against the shared rule
/// (`ident::check`) by the store before any write.
pub trait Identified {
    fn check_identifiers(&self) -> Result<(), InvalidIdentifier>;
}

impl Identified for RealmRecord {
    fn check_identifiers(&self) -> Result<(), InvalidIdentifier> {
        ident::check("realm", &self.name)
    }
}

impl Identified for ClientRecord {
    fn check_identifiers(&self) -> Result<(), InvalidIdentifier> {
        ident::check("clientId", &self.client_id)
    }
}

impl Identified for UserRecord {
    fn check_identifiers(&self) -> Result<(), InvalidIdentifier> {
        // A service account's name is its client's id behind a fixed prefix, so a client id
        // of the full length still gets one.
        let name = match &self.service_account_client {
            Some(_) => self
                .username
                .strip_prefix(ident::SERVICE_ACCOUNT_PREFIX)
                .unwrap_or(&self.username),
            None => &self.username,
        };
        ident::check("username", name)?;
        for (field, value) in [
            ("email", &self.email),
            ("firstName", &self.rep.first_name),
            ("lastName", &self.rep.last_name),
        ] {
            if let Some(v) = value {
                ident::check(field, v)?;
            }
        }
        Ok(())
    }
}

impl Identified for RoleRecord {
    fn check_identifiers(&self) -> Result<(), InvalidIdentifier> {
        ident::check("name", &self.name)
    }
}

impl Identified for ScopeRecord {
    fn check_identifiers(&self) -> Result<(), InvalidIdentifier> {
        ident::check("name", &self.name)
    }
}

impl Identified for ResourceServerRecord {
    fn check_identifiers(&self) -> Result<(), InvalidIdentifier> {
        ident::check("uri", &self.uri)?;
        ident::check("name", &self.name)?;
        self.scopes
            .iter()
            .try_for_each(|s| ident::check("scopes", s))
    }
}

impl Identified for ClientBundle {
    fn check_identifiers(&self) -> Result<(), InvalidIdentifier> {
        self.client.check_identifiers()?;
        match &self.service_account {
            Some((user, _)) => user.check_identifiers(),
            None => Ok(()),
        }
    }
}

impl Identified for RealmBundle {
    fn check_identifiers(&self) -> Result<(), InvalidIdentifier> {
        self.realm
            .iter()
            .try_for_each(Identified::check_identifiers)?;
        self.scopes
            .iter()
            .try_for_each(Identified::check_identifiers)?;
        self.roles
            .iter()
            .try_for_each(Identified::check_identifiers)?;
        self.clients
            .iter()
            .try_for_each(Identified::check_identifiers)?;
        self.users
            .iter()
            .try_for_each(Identified::check_identifiers)
    }
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
    pub components: Vec<ComponentRecord>,
}

/// What a partial import writes into an existing realm, in one transaction: the deletions
/// first (a client with its roles, role mappings and service account, as `delete_client`;
/// users and roles with their mappings), then the rows.
#[derive(Debug, Clone, Default)]
pub struct RealmChanges {
    pub delete_clients: Vec<String>,
    pub delete_roles: Vec<String>,
    pub delete_users: Vec<String>,
    pub clients: Vec<ClientRecord>,
    pub roles: Vec<RoleRecord>,
    pub users: Vec<UserRecord>,
    /// `(user id, role id)`
    pub user_roles: Vec<(String, String)>,
}

impl Identified for RealmChanges {
    fn check_identifiers(&self) -> Result<(), InvalidIdentifier> {
        self.clients
            .iter()
            .try_for_each(Identified::check_identifiers)?;
        self.roles
            .iter()
            .try_for_each(Identified::check_identifiers)?;
        self.users
            .iter()
            .try_for_each(Identified::check_identifiers)
    }
}

/// A client with what comes with it: its service-account user and that user's roles.
#[derive(Debug, Clone)]
pub struct ClientBundle {
    pub client: ClientRecord,
    pub service_account: Option<(UserRecord, Vec<String>)>,
}

/// What a client write depends on, checked in the same transaction.
#[derive(Debug, Clone, Default)]
pub struct WriteGuard {
    /// Create: spend one use of this initial access token (by hash); refused when it is
    /// used up or expired at `now_secs`.
    pub initial_access_token: Option<String>,
    /// Update: the registration access token hash must still be this one (rotation).
    pub expected_rat: Option<String>,
    /// Update: replace the registration access token hash with this one.
    pub new_rat: Option<String>,
    /// Update: the sealed secret must still be the one the caller read (`Some(None)`: the
    /// client had none). A secret rotation between that read and this write fails the
    /// write with `Guarded::ClientSecret`, so it never puts back a replaced secret.
    pub expected_secret: Option<Option<String>>,
    /// Create: refused when the realm already has this many clients (all of them, as
    /// Keycloak's max-clients policy counts), checked under a lock on the realm row so that
    /// concurrent creators, on any node, queue.
    pub max_clients: Option<i64>,
    pub now_secs: i64,
    /// Create: an event stored in the same transaction, so that an acknowledged
    /// registration always has its event (and costs one commit, not two).
    pub event: Option<EventRecord>,
}

/// A Keycloak component (`ComponentRepresentation`); registration policies are these.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentRecord {
    pub id: String,
    pub realm_id: String,
    pub parent_id: String,
    pub provider_type: String,
    pub provider_id: String,
    pub sub_type: Option<String>,
    pub name: String,
    pub config: std::collections::BTreeMap<String, Vec<String>>,
}

/// An initial access token (Keycloak's `ClientInitialAccessPresentation`, without the
/// token itself: only its hash is stored).
#[derive(Debug, Clone)]
pub struct InitialAccessRecord {
    pub id: String,
    pub realm_id: String,
    pub token_hash: String,
    /// epoch seconds
    pub created_at: i64,
    /// seconds; 0 = never expires
    pub expiration: i64,
    pub count: i64,
    pub remaining: i64,
    pub web_origins: Vec<String>,
}

impl InitialAccessRecord {
    pub fn expired(&self, now_secs: i64) -> bool {
        self.expiration > 0 && self.created_at + self.expiration <= now_secs
    }
}

/// A list read on every request (roles, scopes, policies): shared, not copied, between
/// the cache and its readers.
pub type Shared<T> = std::sync::Arc<Vec<T>>;

/// A login or registration event (Keycloak's `EventRepresentation`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: String,
    pub realm_id: String,
    pub time: Millis,
    pub kind: String,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub ip_address: Option<String>,
    pub error: Option<String>,
    pub details: std::collections::BTreeMap<String, String>,
}

/// The time range, order and page of an event list (events and admin events alike).
#[derive(Debug, Clone, Default)]
pub struct EventWindow {
    pub date_from: Option<Millis>,
    pub date_to: Option<Millis>,
    pub first: i64,
    pub max: i64,
    /// oldest first instead of newest first
    pub ascending: bool,
}

/// Filters of `GET /admin/realms/{r}/events`.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub types: Vec<String>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub ip_address: Option<String>,
    pub window: EventWindow,
}

/// A change made through the admin API (Keycloak's `AdminEventRepresentation`).
#[derive(Debug, Clone, PartialEq)]
pub struct AdminEventRecord {
    pub id: String,
    /// The realm the changed resource belongs to.
    pub realm_id: String,
    pub time: Millis,
    /// `CREATE`, `UPDATE`, `DELETE` or `ACTION`.
    pub operation_type: String,
    /// `CLIENT`, `USER`, `REALM_ROLE`, `COMPONENT`…
    pub resource_type: String,
    /// The path below the realm, e.g. `clients/<uuid>`.
    pub resource_path: String,
    /// Who made the change: the realm of their token, the client UUID it was issued to,
    /// the user id and the caller's address.
    pub auth_realm_id: String,
    pub auth_client_id: String,
    pub auth_user_id: String,
    pub ip_address: String,
    /// The request body as a JSON string, when the realm records details.
    pub representation: Option<String>,
}

/// Filters of `GET /admin/realms/{r}/admin-events`.
#[derive(Debug, Clone, Default)]
pub struct AdminEventQuery {
    pub operation_types: Vec<String>,
    pub resource_types: Vec<String>,
    pub auth_realm_id: Option<String>,
    pub auth_client_id: Option<String>,
    pub auth_user_id: Option<String>,
    pub ip_address: Option<String>,
    /// `*` matches any run of characters.
    pub resource_path: Option<String>,
    pub window: EventWindow,
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

/// A client list's filter on the stored last-used day (`ClientRecord::last_used`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Never used since it was created.
    Never,
    /// Not used on this day (days since the Unix epoch) or later: last used before it, or
    /// never used and created before it.
    UnusedSince(i64),
}

/// Filters of a client list, all applied by the store's query (so paging and counts see
/// the same clients).
#[derive(Debug, Clone, Default)]
pub struct ClientQuery {
    pub client_id: Option<String>,
    /// substring match on `clientId` instead of exact
    pub search: bool,
    /// only clients registered this way
    pub registration: Option<RegistrationKind>,
    /// only clients never used, or not used since a day
    pub usage: Option<Usage>,
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
    /// Deletes the realm `old_id` with everything in it and creates `bundle`, in one
    /// transaction (an import that replaces a realm): on failure the old realm is whole.
    async fn replace_realm(&self, old_id: &str, bundle: RealmBundle) -> StoreResult<()>;
    /// Applies a partial import's changes to the realm, all or nothing.
    async fn apply_realm_changes(&self, realm_id: &str, changes: RealmChanges) -> StoreResult<()>;
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
    /// Creates the client (and its service account). With an initial access token in the
    /// guard, one of its uses is spent in the same transaction: the count is never
    /// overdrawn, and a failed insert spends nothing.
    async fn create_client(&self, bundle: ClientBundle, guard: &WriteGuard) -> StoreResult<()>;
    /// Replaces the client; creates the service-account user if the bundle carries one.
    /// The guard may require and rotate the registration access token hash atomically.
    async fn update_client(&self, bundle: ClientBundle, guard: &WriteGuard) -> StoreResult<()>;
    /// Stores `client` (its document, secret and previous secret) if its stored secret is
    /// still `expected_secret`, by compare-and-set: of concurrent rotations of one secret
    /// exactly one succeeds, the others fail with `Guarded::ClientSecret`.
    async fn rotate_client_secret(
        &self,
        client: &ClientRecord,
        expected_secret: &str,
    ) -> StoreResult<()>;
    /// Removes the client, its roles and their mappings, its service-account user and its
    /// refresh tokens.
    async fn delete_client(&self, realm_id: &str, id: &str) -> StoreResult<()>;
    /// How many clients `list_clients` finds with `q`'s filters, ignoring its page.
    async fn count_listed_clients(&self, realm_id: &str, q: &ClientQuery) -> StoreResult<i64>;
    /// Those of `ids` that are clients of the realm, in one query.
    async fn clients_by_ids(
        &self,
        realm_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<ClientRecord>>;
    /// Stores these clients' documents (`enabled`, attributes; not their ids, secrets or
    /// tokens) in one transaction; returns the ids of those that still existed.
    async fn update_client_docs(
        &self,
        realm_id: &str,
        clients: &[ClientRecord],
    ) -> StoreResult<Vec<String>>;
    /// `delete_client` for each of `ids` that exists, in one transaction; returns those
    /// deleted.
    async fn delete_clients(&self, realm_id: &str, ids: &[String]) -> StoreResult<Vec<String>>;
    /// `(realm name, registration kind, clients)` for every realm, from one grouped query.
    async fn clients_per_kind(&self) -> StoreResult<Vec<(String, String, i64)>>;
    /// Records that the client was used on `day` (days since the Unix epoch): at most one
    /// write per client and day on this node, queued and never waited for, so the token
    /// path pays a set lookup, not a database write.
    fn touch_client(&self, realm_id: &str, id: &str, day: i64);
    /// The realm's registered clients (not an administrator's) last used (or, never used,
    /// created) before `before_day`: a page of at most `max`, in id order, after the id
    /// `after` if given (the last of the previous page).
    async fn unused_clients(
        &self,
        realm_id: &str,
        before_day: i64,
        after: Option<&str>,
        max: usize,
    ) -> StoreResult<Vec<ClientRecord>>;
    /// Deletes the client, like `delete_client`, only if it is still unused since before
    /// `before_day`, and stores `event` in the same transaction. Of concurrent callers (on
    /// any node) at most one deletes it, and a use recorded first keeps it: `Ok(true)`
    /// when this call deleted it.
    async fn expire_client(
        &self,
        realm_id: &str,
        id: &str,
        before_day: i64,
        event: &EventRecord,
    ) -> StoreResult<bool>;

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
    async fn all_roles(&self, realm_id: &str) -> StoreResult<Shared<RoleRecord>>;
    async fn role_by_name(
        &self,
        realm_id: &str,
        client: Option<&str>,
        name: &str,
    ) -> StoreResult<Option<RoleRecord>>;
    async fn create_role(&self, role: &RoleRecord) -> StoreResult<()>;
    async fn update_role(&self, role: &RoleRecord) -> StoreResult<()>;
    async fn delete_role(&self, realm_id: &str, id: &str) -> StoreResult<()>;

    async fn user_role_ids(&self, user_id: &str) -> StoreResult<Shared<String>>;
    /// Idempotent: roles already mapped stay mapped once.
    async fn add_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()>;
    async fn remove_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()>;

    async fn list_scopes(&self, realm_id: &str) -> StoreResult<Shared<ScopeRecord>>;
    async fn create_scope(&self, scope: &ScopeRecord) -> StoreResult<()>;
    async fn update_scope(&self, scope: &ScopeRecord) -> StoreResult<()>;
    async fn delete_scope(&self, realm_id: &str, id: &str) -> StoreResult<()>;
    /// `(scope id, default?)` of the realm's default and optional scope sets.
    async fn realm_default_scopes(&self, realm_id: &str) -> StoreResult<Shared<(String, bool)>>;
    async fn set_realm_default_scope(
        &self,
        realm_id: &str,
        scope_id: &str,
        default: bool,
    ) -> StoreResult<()>;
    async fn remove_realm_default_scope(&self, realm_id: &str, scope_id: &str) -> StoreResult<()>;

    /// The realm's resource servers (RFC 8707), by URI; read at every token request that
    /// names a `resource`.
    async fn list_resource_servers(
        &self,
        realm_id: &str,
    ) -> StoreResult<Shared<ResourceServerRecord>>;
    /// A URI already used in the realm is `Conflict { what: "resource server uri" }`.
    async fn create_resource_server(&self, rs: &ResourceServerRecord) -> StoreResult<()>;
    /// Replaces it (`NotFound` when it is not in the realm; `Conflict` as on create).
    async fn update_resource_server(&self, rs: &ResourceServerRecord) -> StoreResult<()>;
    async fn delete_resource_server(&self, realm_id: &str, id: &str) -> StoreResult<()>;

    async fn create_initial_access(&self, token: &InitialAccessRecord) -> StoreResult<()>;
    async fn list_initial_access(&self, realm_id: &str) -> StoreResult<Vec<InitialAccessRecord>>;
    /// May be served from a cache whose `remaining` lags behind the uses spent: the count
    /// that decides is the one `create_client` decrements under its `WriteGuard`.
    async fn initial_access_by_hash(&self, hash: &str) -> StoreResult<Option<InitialAccessRecord>>;
    /// Deleting an unknown id is not an error (Keycloak answers 204).
    async fn delete_initial_access(&self, realm_id: &str, id: &str) -> StoreResult<()>;

    /// The realm's components, in creation order.
    async fn list_components(&self, realm_id: &str) -> StoreResult<Shared<ComponentRecord>>;
    async fn create_component(&self, c: &ComponentRecord) -> StoreResult<()>;
    /// Updates a component. Refused with `Guarded::LastSigningKey`, nothing written, when
    /// the realm's components at the time of the write would leave an algorithm without
    /// an active, enabled key (checked under the realm's lock, so concurrent changes are
    /// decided one after another).
    async fn update_component(&self, c: &ComponentRecord) -> StoreResult<()>;
    /// Deletes a component; a key provider's key (`kid` = component id) goes with it.
    /// Refused like `update_component` when it would take an algorithm's last signer.
    async fn delete_component(&self, realm_id: &str, id: &str) -> StoreResult<()>;
    /// A key provider and its key in one transaction.
    async fn create_key_provider(&self, c: &ComponentRecord, key: &KeyRecord) -> StoreResult<()>;
    async fn count_clients(&self, realm_id: &str) -> StoreResult<i64>;

    async fn insert_event(&self, event: &EventRecord) -> StoreResult<()>;
    async fn list_events(&self, realm_id: &str, q: &EventQuery) -> StoreResult<Vec<EventRecord>>;
    /// Deletes every event of the realm.
    async fn clear_events(&self, realm_id: &str) -> StoreResult<()>;
    async fn insert_admin_event(&self, event: &AdminEventRecord) -> StoreResult<()>;
    async fn list_admin_events(
        &self,
        realm_id: &str,
        q: &AdminEventQuery,
    ) -> StoreResult<Vec<AdminEventRecord>>;
    /// Deletes every admin event of the realm.
    async fn clear_admin_events(&self, realm_id: &str) -> StoreResult<()>;

    /// Marks an access token (by `jti`) revoked until it would have expired anyway.
    async fn revoke_jti(&self, realm_id: &str, jti: &str, expires_at: Millis) -> StoreResult<()>;
    /// Whether a token is revoked by its own `jti` or by its login session's revocation
    /// (`revoke_session`), in one query.
    async fn is_revoked(&self, token: &Revocable<'_>) -> StoreResult<bool>;
    /// Records a client assertion's `jti` (namespaced by the caller); `Ok(false)` when it
    /// was seen before: an assertion is accepted once (RFC 7523 §3).
    async fn use_assertion(&self, id: &str, expires_at: Millis) -> StoreResult<bool>;

    /// Short-lived server state shared by every node (pending authorization requests,
    /// browser sessions, authorization codes, consents), keyed by `(kind, id)`; `id` is a
    /// hash wherever it is a credential.
    async fn put_transient(
        &self,
        kind: &str,
        id: &str,
        realm_id: &str,
        data: &Value,
        expires_at: Millis,
    ) -> StoreResult<()>;
    async fn get_transient(&self, kind: &str, id: &str, now: Millis) -> StoreResult<Option<Value>>;
    /// Takes an entry out: of concurrent takers exactly one gets it (single-use codes).
    async fn take_transient(&self, kind: &str, id: &str, now: Millis)
    -> StoreResult<Option<Value>>;
    /// As `take_transient`, and in the same transaction, only if it took the entry,
    /// stores `tombstone` (in place of an entry of its kind and id): a concurrent taker
    /// that finds the entry gone finds the tombstone.
    async fn take_transient_leaving(
        &self,
        kind: &str,
        id: &str,
        now: Millis,
        tombstone: &TransientRecord,
    ) -> StoreResult<Option<Value>>;
    async fn delete_transient(&self, kind: &str, id: &str) -> StoreResult<()>;
    /// Deletes the entries of `kind` in `realm_id` whose data has the string member `field`
    /// equal to `value` (the browser sessions of a user, or of one login session); returns
    /// how many went.
    async fn delete_transient_matching(
        &self,
        kind: &str,
        realm_id: &str,
        field: &str,
        value: &str,
    ) -> StoreResult<u64>;
    /// Deletes what has expired by `now` (transient state, refresh tokens, revocation and
    /// assertion records); returns how many rows went.
    async fn sweep_expired(&self, now: Millis) -> StoreResult<u64>;
    /// Revokes a login session: all its tokens (a replayed code or refresh token), or all
    /// but offline ones (logout ends the session, not offline access). Its refresh tokens
    /// are deleted and the session is remembered as revoked until `until` (past the last
    /// expiry of any token it issued), so its access tokens (`is_revoked`) and any refresh
    /// token stored after the deletion (`refresh_token`) are refused too.
    async fn revoke_session(
        &self,
        realm_id: &str,
        session_id: &str,
        keep_offline: bool,
        until: Millis,
    ) -> StoreResult<()>;

    /// The login sessions of `realm_id` that hold a refresh token unexpired at `now`, of a
    /// user or of one id, oldest first (the admin API's user sessions): one query.
    async fn login_sessions(
        &self,
        realm_id: &str,
        of: SessionsOf<'_>,
        now: Millis,
    ) -> StoreResult<Vec<LoginSession>>;

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()>;
    /// Reads a refresh token without spending it; `None` also when its login session is
    /// revoked for it (`revoke_session`).
    async fn refresh_token(&self, hash: &str) -> StoreResult<Option<RefreshTokenRecord>>;
    /// Revokes a refresh token (RFC 7009) in line with its rotations: of a revocation and
    /// rotations of one token exactly one takes it. `Ok(false)` when it was not there.
    /// Taking it also ends its client's part of its login session, in the same transaction
    /// (RFC 7009 §2.1: the access tokens of the same grant; Keycloak ends the client's
    /// session): the client's tokens of that session are refused (`is_revoked`,
    /// `refresh_token`) until `until`; a revoked online token spares the client's offline
    /// ones, a revoked offline token takes them all. Other clients of the session are left
    /// alone.
    async fn revoke_refresh_token(
        &self,
        token: &RefreshTokenRecord,
        until: Millis,
    ) -> StoreResult<bool>;
    /// Rotates a refresh token (OAuth 2.1 §4.3.1) in one transaction: takes `spent` out of
    /// the store and, only if it was there and unexpired at `now`, stores `tombstone` (in
    /// place of an entry of its kind and id) and `next`. `Ok(false)`: `spent` was spent
    /// already, expired or never issued, and neither was stored. Of concurrent rotations of
    /// one token exactly one gets `true`, so a rotated token cannot be used twice.
    async fn rotate_refresh_token(
        &self,
        spent: &str,
        now: Millis,
        tombstone: &TransientRecord,
        next: &RefreshTokenRecord,
    ) -> StoreResult<bool>;
}
