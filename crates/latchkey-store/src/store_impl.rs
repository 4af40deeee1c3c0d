//! `impl Store for SqlStore`, as a list: every method but `ping` is handed to the file of
//! the aggregate that owns it (`realms`, `clients`, `users`, `roles`, `scopes`, `components`,
//! `resource_servers`, `initial_access`, `events`, `tokens`, `transient`).

use async_trait::async_trait;
use latchkey_core::Millis;
use latchkey_core::store::*;
use serde_json::Value;

use crate::sql::backend_err;
use crate::sql_store::SqlStore;
use crate::{
    clients, components, events, initial_access, realms, resource_servers, roles, scopes, tokens,
    transient, users,
};

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(backend_err)
    }

    async fn list_realms(&self) -> StoreResult<Vec<RealmRecord>> {
        realms::list_realms(self).await
    }

    async fn realm_by_name(&self, name: &str) -> StoreResult<Option<RealmRecord>> {
        realms::realm_by_name(self, name).await
    }

    async fn create_realm(&self, b: RealmBundle) -> StoreResult<()> {
        realms::create_realm(self, b).await
    }

    async fn replace_realm(&self, old_id: &str, b: RealmBundle) -> StoreResult<()> {
        realms::replace_realm(self, old_id, b).await
    }

    async fn apply_realm_changes(&self, realm_id: &str, c: RealmChanges) -> StoreResult<()> {
        realms::apply_realm_changes(self, realm_id, c).await
    }

    async fn update_realm(&self, realm: &RealmRecord) -> StoreResult<()> {
        realms::update_realm(self, realm).await
    }

    async fn delete_realm(&self, realm_id: &str) -> StoreResult<()> {
        realms::delete_realm(self, realm_id).await
    }

    async fn realm_keys(&self, realm_id: &str) -> StoreResult<Vec<KeyRecord>> {
        realms::realm_keys(self, realm_id).await
    }

    async fn list_clients(
        &self,
        realm_id: &str,
        q: &ClientQuery,
    ) -> StoreResult<Vec<ClientRecord>> {
        clients::list_clients(self, realm_id, q).await
    }

    async fn client(&self, realm_id: &str, id: &str) -> StoreResult<Option<ClientRecord>> {
        clients::client(self, realm_id, id).await
    }

    async fn client_by_client_id(
        &self,
        realm_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<ClientRecord>> {
        clients::client_by_client_id(self, realm_id, client_id).await
    }

    async fn create_client(&self, b: ClientBundle, guard: &WriteGuard) -> StoreResult<()> {
        clients::create_client(self, b, guard).await
    }

    async fn update_client(&self, b: ClientBundle, guard: &WriteGuard) -> StoreResult<()> {
        clients::update_client(self, b, guard).await
    }

    async fn rotate_client_secret(&self, c: &ClientRecord, expected: &str) -> StoreResult<()> {
        clients::rotate_client_secret(self, c, expected).await
    }

    async fn delete_client(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        clients::delete_client(self, realm_id, id).await
    }

    async fn count_listed_clients(&self, realm_id: &str, q: &ClientQuery) -> StoreResult<i64> {
        clients::count_listed_clients(self, realm_id, q).await
    }

    async fn clients_by_ids(
        &self,
        realm_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<ClientRecord>> {
        clients::clients_by_ids(self, realm_id, ids).await
    }

    async fn update_client_docs(
        &self,
        realm_id: &str,
        clients: &[ClientRecord],
    ) -> StoreResult<Vec<String>> {
        clients::update_client_docs(self, realm_id, clients).await
    }

    async fn delete_clients(&self, realm_id: &str, ids: &[String]) -> StoreResult<Vec<String>> {
        clients::delete_clients(self, realm_id, ids).await
    }

    async fn clients_per_kind(&self) -> StoreResult<Vec<(String, String, i64)>> {
        clients::clients_per_kind(self).await
    }

    fn touch_client(&self, realm_id: &str, id: &str, day: i64) {
        clients::touch_client(self, realm_id, id, day)
    }

    async fn unused_clients(
        &self,
        realm_id: &str,
        before_day: i64,
        after: Option<&str>,
        max: usize,
    ) -> StoreResult<Vec<ClientRecord>> {
        clients::unused_clients(self, realm_id, before_day, after, max).await
    }

    async fn expire_client(
        &self,
        realm_id: &str,
        id: &str,
        before_day: i64,
        event: &EventRecord,
    ) -> StoreResult<bool> {
        clients::expire_client(self, realm_id, id, before_day, event).await
    }

    async fn list_users(&self, realm_id: &str, q: &UserQuery) -> StoreResult<Vec<UserRecord>> {
        users::list_users(self, realm_id, q).await
    }

    async fn count_users(&self, realm_id: &str, q: &UserQuery) -> StoreResult<i64> {
        users::count_users(self, realm_id, q).await
    }

    async fn user(&self, realm_id: &str, id: &str) -> StoreResult<Option<UserRecord>> {
        users::user(self, realm_id, id).await
    }

    async fn user_by_username(
        &self,
        realm_id: &str,
        username: &str,
    ) -> StoreResult<Option<UserRecord>> {
        users::user_by_username(self, realm_id, username).await
    }

    async fn user_by_email(&self, realm_id: &str, email: &str) -> StoreResult<Option<UserRecord>> {
        users::user_by_email(self, realm_id, email).await
    }

    async fn service_account_user(
        &self,
        realm_id: &str,
        client_uuid: &str,
    ) -> StoreResult<Option<UserRecord>> {
        users::service_account_user(self, realm_id, client_uuid).await
    }

    async fn create_user(&self, user: &UserRecord, role_ids: &[String]) -> StoreResult<()> {
        users::create_user(self, user, role_ids).await
    }

    async fn update_user(&self, u: &UserRecord) -> StoreResult<()> {
        users::update_user(self, u).await
    }

    async fn delete_user(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        users::delete_user(self, realm_id, id).await
    }

    async fn list_roles(
        &self,
        realm_id: &str,
        client: Option<&str>,
    ) -> StoreResult<Vec<RoleRecord>> {
        roles::list_roles(self, realm_id, client).await
    }

    async fn all_roles(&self, realm_id: &str) -> StoreResult<Shared<RoleRecord>> {
        roles::all_roles(self, realm_id).await
    }

    async fn role_by_name(
        &self,
        realm_id: &str,
        client: Option<&str>,
        name: &str,
    ) -> StoreResult<Option<RoleRecord>> {
        roles::role_by_name(self, realm_id, client, name).await
    }

    async fn create_role(&self, role: &RoleRecord) -> StoreResult<()> {
        roles::create_role(self, role).await
    }

    async fn update_role(&self, r: &RoleRecord) -> StoreResult<()> {
        roles::update_role(self, r).await
    }

    async fn delete_role(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        roles::delete_role(self, realm_id, id).await
    }

    async fn user_role_ids(&self, user_id: &str) -> StoreResult<Shared<String>> {
        roles::user_role_ids(self, user_id).await
    }

    async fn add_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()> {
        roles::add_user_roles(self, user_id, role_ids).await
    }

    async fn remove_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()> {
        roles::remove_user_roles(self, user_id, role_ids).await
    }

    async fn list_scopes(&self, realm_id: &str) -> StoreResult<Shared<ScopeRecord>> {
        scopes::list_scopes(self, realm_id).await
    }

    async fn create_scope(&self, scope: &ScopeRecord) -> StoreResult<()> {
        scopes::create_scope(self, scope).await
    }

    async fn update_scope(&self, s: &ScopeRecord) -> StoreResult<()> {
        scopes::update_scope(self, s).await
    }

    async fn delete_scope(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        scopes::delete_scope(self, realm_id, id).await
    }

    async fn realm_default_scopes(&self, realm_id: &str) -> StoreResult<Shared<(String, bool)>> {
        scopes::realm_default_scopes(self, realm_id).await
    }

    async fn set_realm_default_scope(
        &self,
        realm_id: &str,
        scope_id: &str,
        default: bool,
    ) -> StoreResult<()> {
        scopes::set_realm_default_scope(self, realm_id, scope_id, default).await
    }

    async fn remove_realm_default_scope(&self, realm_id: &str, scope_id: &str) -> StoreResult<()> {
        scopes::remove_realm_default_scope(self, realm_id, scope_id).await
    }

    async fn list_resource_servers(
        &self,
        realm_id: &str,
    ) -> StoreResult<Shared<ResourceServerRecord>> {
        resource_servers::list_resource_servers(self, realm_id).await
    }

    async fn create_resource_server(&self, rs: &ResourceServerRecord) -> StoreResult<()> {
        resource_servers::create_resource_server(self, rs).await
    }

    async fn update_resource_server(&self, rs: &ResourceServerRecord) -> StoreResult<()> {
        resource_servers::update_resource_server(self, rs).await
    }

    async fn delete_resource_server(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        resource_servers::delete_resource_server(self, realm_id, id).await
    }

    async fn create_initial_access(&self, t: &InitialAccessRecord) -> StoreResult<()> {
        initial_access::create_initial_access(self, t).await
    }

    async fn list_initial_access(&self, realm_id: &str) -> StoreResult<Vec<InitialAccessRecord>> {
        initial_access::list_initial_access(self, realm_id).await
    }

    async fn initial_access_by_hash(&self, hash: &str) -> StoreResult<Option<InitialAccessRecord>> {
        initial_access::initial_access_by_hash(self, hash).await
    }

    async fn delete_initial_access(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        initial_access::delete_initial_access(self, realm_id, id).await
    }

    async fn list_components(&self, realm_id: &str) -> StoreResult<Shared<ComponentRecord>> {
        components::list_components(self, realm_id).await
    }

    async fn create_component(&self, c: &ComponentRecord) -> StoreResult<()> {
        components::create_component(self, c).await
    }

    async fn update_component(&self, c: &ComponentRecord) -> StoreResult<()> {
        components::update_component(self, c).await
    }

    async fn delete_component(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        components::delete_component(self, realm_id, id).await
    }

    async fn create_key_provider(&self, c: &ComponentRecord, key: &KeyRecord) -> StoreResult<()> {
        components::create_key_provider(self, c, key).await
    }

    async fn count_clients(&self, realm_id: &str) -> StoreResult<i64> {
        clients::count_clients(self, realm_id).await
    }

    async fn insert_event(&self, e: &EventRecord) -> StoreResult<()> {
        events::insert_event(self, e).await
    }

    async fn list_events(&self, realm_id: &str, q: &EventQuery) -> StoreResult<Vec<EventRecord>> {
        events::list_events(self, realm_id, q).await
    }

    async fn clear_events(&self, realm_id: &str) -> StoreResult<()> {
        events::clear_events(self, realm_id).await
    }

    async fn insert_admin_event(&self, e: &AdminEventRecord) -> StoreResult<()> {
        events::insert_admin_event(self, e).await
    }

    async fn list_admin_events(
        &self,
        realm_id: &str,
        q: &AdminEventQuery,
    ) -> StoreResult<Vec<AdminEventRecord>> {
        events::list_admin_events(self, realm_id, q).await
    }

    async fn clear_admin_events(&self, realm_id: &str) -> StoreResult<()> {
        events::clear_admin_events(self, realm_id).await
    }

    async fn revoke_jti(&self, realm_id: &str, jti: &str, expires_at: Millis) -> StoreResult<()> {
        tokens::revoke_jti(self, realm_id, jti, expires_at).await
    }

    async fn is_revoked(&self, token: &Revocable<'_>) -> StoreResult<bool> {
        tokens::is_revoked(self, token).await
    }

    async fn use_assertion(&self, id: &str, expires_at: Millis) -> StoreResult<bool> {
        tokens::use_assertion(self, id, expires_at).await
    }

    async fn refresh_token(&self, hash: &str) -> StoreResult<Option<RefreshTokenRecord>> {
        tokens::refresh_token(self, hash).await
    }

    async fn revoke_refresh_token(
        &self,
        token: &RefreshTokenRecord,
        until: Millis,
    ) -> StoreResult<bool> {
        tokens::revoke_refresh_token(self, token, until).await
    }

    async fn put_transient(
        &self,
        kind: &str,
        id: &str,
        realm_id: &str,
        data: &Value,
        expires_at: Millis,
    ) -> StoreResult<()> {
        transient::put_transient(self, kind, id, realm_id, data, expires_at).await
    }

    async fn get_transient(&self, kind: &str, id: &str, now: Millis) -> StoreResult<Option<Value>> {
        transient::get_transient(self, kind, id, now).await
    }

    async fn take_transient(
        &self,
        kind: &str,
        id: &str,
        now: Millis,
    ) -> StoreResult<Option<Value>> {
        transient::take_transient(self, kind, id, now).await
    }

    async fn take_transient_leaving(
        &self,
        kind: &str,
        id: &str,
        now: Millis,
        tombstone: &TransientRecord,
    ) -> StoreResult<Option<Value>> {
        transient::take_transient_leaving(self, kind, id, now, tombstone).await
    }

    async fn delete_transient(&self, kind: &str, id: &str) -> StoreResult<()> {
        transient::delete_transient(self, kind, id).await
    }

    async fn delete_transient_matching(
        &self,
        kind: &str,
        realm_id: &str,
        field: &str,
        value: &str,
    ) -> StoreResult<u64> {
        transient::delete_transient_matching(self, kind, realm_id, field, value).await
    }

    async fn sweep_expired(&self, now: Millis) -> StoreResult<u64> {
        transient::sweep_expired(self, now).await
    }

    async fn revoke_session(
        &self,
        realm_id: &str,
        session_id: &str,
        keep_offline: bool,
        until: Millis,
    ) -> StoreResult<()> {
        tokens::revoke_session(self, realm_id, session_id, keep_offline, until).await
    }

    async fn login_sessions(
        &self,
        realm_id: &str,
        of: SessionsOf<'_>,
        now: Millis,
    ) -> StoreResult<Vec<LoginSession>> {
        tokens::login_sessions(self, realm_id, of, now).await
    }

    async fn insert_refresh_token(&self, t: &RefreshTokenRecord) -> StoreResult<()> {
        tokens::insert_refresh_token(self, t).await
    }

    async fn rotate_refresh_token(
        &self,
        spent: &str,
        now: Millis,
        tombstone: &TransientRecord,
        next: &RefreshTokenRecord,
    ) -> StoreResult<bool> {
        tokens::rotate_refresh_token(self, spent, now, tombstone, next).await
    }
}
