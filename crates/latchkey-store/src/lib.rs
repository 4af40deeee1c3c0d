//! The `Store` on SQLite and PostgreSQL. One implementation over sqlx's `Any` driver: the
//! schema and every query are portable SQL (`schema.rs`), so both backends run exactly
//! the same statements and there is no per-backend branch inside a query (multi-row
//! inserts spell SQLite's placeholders `?`: `rows`). The backend is chosen once, from the
//! URL, at start-up.

pub mod cache;
mod schema;
mod write;

pub use write::Stats;

use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use latchkey_core::Millis;
use latchkey_core::ident;
use latchkey_core::store::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cache::{Cache, Cached, Key, Section};
use crate::write::group_commit::GroupCommit;
use crate::write::rows::{DefaultScope, UserRole, insert_rows};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// Which database the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// The file a SQLite URL names (`sqlite://PATH`, `sqlite:PATH`, with or without
/// `?options`); `None` for SQLite in memory and for other databases.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !url.contains(":memory:")).then(|| std::path::PathBuf::from(path))
}

pub struct SqlStore {
    /// Readers.
    pool: AnyPool,
    /// Writers: on SQLite one connection, on PostgreSQL the same pool as readers.
    writer: AnyPool,
    backend: Backend,
    cache: Arc<Cache>,
    /// Client creation's and events' group commit (`group_commit`).
    writes: GroupCommit,
}

/// The PostgreSQL channel on which nodes tell each other what they changed.
const CACHE_CHANNEL: &str = "latchkey_cache";

fn pool_options(backend: Backend, size: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL: readers never block the writer; NORMAL sync keeps every
                    // acknowledged commit across a process crash.
                    for pragma in [
                        "PRAGMA journal_mode=WAL",
                        "PRAGMA synchronous=NORMAL",
                        "PRAGMA busy_timeout=10000",
                    ] {
                        sqlx::Executor::execute(&mut *conn, pragma).await?;
                    }
                }
                Ok(())
            })
        })
}

fn backend_err(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a unique-constraint violation to `Conflict { what }`, anything else to `Backend`.
fn write_err(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict { what },
        _ => backend_err(e),
    }
}

fn to_doc<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

fn from_doc<T: DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let text: String = row.try_get(col).map_err(backend_err)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Backend(format!("bad {col}: {e}")))
}

fn get<T>(row: &AnyRow, col: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(backend_err)
}

impl SqlStore {
    /// Connects and applies pending migrations. SQLite files (and their folder) are
    /// created if missing and run in WAL mode.
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or_else(|| {
            StoreError::Backend(format!(
                "unsupported database url {url:?}: use sqlite://PATH or postgres://…"
            ))
        })?;
        let mut url = url.to_string();
        // A SQLite file gets a writer pool beside the readers, and the group commit opens it
        // itself too (`sqlite_writer`); PostgreSQL and SQLite in memory have none.
        let sqlite_file = sqlite_file(&url);
        if backend == Backend::Sqlite {
            if let Some(dir) = sqlite_file.as_deref().and_then(std::path::Path::parent)
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Backend(format!("cannot create {dir:?}: {e}")))?;
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
        }
        let options = AnyConnectOptions::from_str(&url).map_err(backend_err)?;
        // SQLite has one writer at a time: with several connections writing, the losers
        // sleep in SQLite's busy handler (tens of milliseconds each). One writer
        // connection makes writers queue in the pool instead, in order, without sleeping;
        // readers keep their own connections (WAL lets them read beside the writer).
        let (pool, writer) = if sqlite_file.is_some() {
            // The group commit takes this pool's connection for each batch only as a lock
            // (`sqlite_writer`): a ping before each use would be a round trip for nothing.
            let writer = pool_options(backend, 1)
                .test_before_acquire(false)
                .connect_with(options.clone())
                .await
                .map_err(backend_err)?;
            let pool = pool_options(backend, 8)
                .connect_with(options)
                .await
                .map_err(backend_err)?;
            (pool, writer)
        } else {
            let size = if backend == Backend::Sqlite { 1 } else { 16 };
            let pool = pool_options(backend, size)
                .connect_with(options)
                .await
                .map_err(backend_err)?;
            (pool.clone(), pool)
        };
        // SQLite: one process owns the file, so local invalidation is complete. PostgreSQL:
        // the cache is on only while this node hears the others (`listen`).
        let cache = Arc::new(Cache::new(backend == Backend::Sqlite));
        if backend == Backend::Postgres {
            listen(url.clone(), Arc::downgrade(&cache));
        }
        let writes = GroupCommit::start(
            writer.clone(),
            sqlite_file.as_deref(),
            cache.clone(),
            backend,
        )?;
        let store = SqlStore {
            pool,
            writer,
            backend,
            cache,
            writes,
        };
        // Nodes starting together on one PostgreSQL can collide creating the migrations
        // table itself (a catalog unique violation); the loser retries and finds it.
        let mut attempt = 0;
        loop {
            match store.migrate().await {
                Ok(()) => return Ok(store),
                Err(e) if attempt < 3 => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "migration failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How client creations and events were grouped into transactions (`group_commit`).
    pub fn group_commit_stats(&self) -> &Stats {
        self.writes.stats()
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS latchkey_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        for (version, sql) in schema::MIGRATIONS {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            // Claiming the version first makes concurrent starters (several nodes on one
            // PostgreSQL) serialise here: the loser's insert conflicts and it skips.
            let claimed = sqlx::query(
                "INSERT INTO latchkey_migrations (version, applied_at) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING",
            )
            .bind(*version)
            .bind(0i64)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
            if claimed.rows_affected() == 0 {
                continue;
            }
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
            tx.commit().await.map_err(backend_err)?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

fn realm_row(row: &AnyRow) -> StoreResult<RealmRecord> {
    Ok(RealmRecord {
        id: get(row, "id")?,
        name: get(row, "name")?,
        rep: from_doc(row, "doc")?,
    })
}

fn key_row(row: &AnyRow) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        kid: get(row, "kid")?,
        realm_id: get(row, "realm_id")?,
        alg: get(row, "alg")?,
        private_sealed: get(row, "private_sealed")?,
        public_jwk: from_doc(row, "public_jwk")?,
        created_at: get(row, "created_at")?,
    })
}

fn client_row(row: &AnyRow) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        client_id: get(row, "client_id")?,
        rep: from_doc(row, "doc")?,
        secret_sealed: get(row, "secret_sealed")?,
        rat_hash: get(row, "rat_hash")?,
        created_at: get(row, "created_at")?,
    })
}

fn iat_row(row: &AnyRow) -> StoreResult<InitialAccessRecord> {
    Ok(InitialAccessRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        token_hash: get(row, "token_hash")?,
        created_at: get(row, "created_at")?,
        expiration: get(row, "expiration")?,
        count: get(row, "count")?,
        remaining: get(row, "remaining")?,
        web_origins: from_doc(row, "web_origins")?,
    })
}

fn event_row(row: &AnyRow) -> StoreResult<EventRecord> {
    Ok(EventRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        time: get(row, "time")?,
        kind: get(row, "type")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        ip_address: get(row, "ip_address")?,
        error: get(row, "error")?,
        details: from_doc(row, "details")?,
    })
}

fn admin_event_row(row: &AnyRow) -> StoreResult<AdminEventRecord> {
    Ok(AdminEventRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        time: get(row, "time")?,
        operation_type: get(row, "operation_type")?,
        resource_type: get(row, "resource_type")?,
        resource_path: get(row, "resource_path")?,
        auth_realm_id: get(row, "auth_realm_id")?,
        auth_client_id: get(row, "auth_client_id")?,
        auth_user_id: get(row, "auth_user_id")?,
        ip_address: get(row, "ip_address")?,
        representation: get(row, "representation")?,
    })
}

const ADMIN_EVENT_COLUMNS: &str = "id, realm_id, time, operation_type, resource_type, resource_path, \
     auth_realm_id, auth_client_id, auth_user_id, ip_address, representation";

/// An event list's query: `WHERE realm_id = $1`, then one condition per filter given, the
/// time window, order and page.
struct EventFilter {
    sql: String,
    args: Vec<String>,
}

impl EventFilter {
    fn new(select: &str) -> EventFilter {
        EventFilter {
            sql: format!("{select} WHERE realm_id = $1"),
            args: Vec::new(),
        }
    }

    /// Appends `condition` followed by the next parameter, bound to `value`.
    fn arg(&mut self, condition: &str, value: String) {
        self.args.push(value);
        self.sql
            .push_str(&format!("{condition}${}", self.args.len() + 1));
    }

    fn equals(&mut self, column: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.arg(&format!(" AND {column} = "), v.clone());
        }
    }

    fn any_of(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let mut list = Vec::new();
        for v in values {
            self.args.push(v.clone());
            list.push(format!("${}", self.args.len() + 1));
        }
        self.sql
            .push_str(&format!(" AND {column} IN ({})", list.join(", ")));
    }

    async fn fetch(
        mut self,
        pool: &AnyPool,
        realm_id: &str,
        w: &EventWindow,
    ) -> StoreResult<Vec<AnyRow>> {
        if let Some(from) = w.date_from {
            self.sql.push_str(&format!(" AND time >= {from}"));
        }
        if let Some(to) = w.date_to {
            self.sql.push_str(&format!(" AND time <= {to}"));
        }
        self.sql.push_str(if w.ascending {
            " ORDER BY time ASC, id"
        } else {
            " ORDER BY time DESC, id"
        });
        self.sql.push_str(&format!(
            " LIMIT {} OFFSET {}",
            w.max.max(0),
            w.first.max(0)
        ));
        let mut query = sqlx::query(&self.sql).bind(realm_id);
        for a in self.args {
            query = query.bind(a);
        }
        query.fetch_all(pool).await.map_err(backend_err)
    }
}

/// A `LIKE` pattern from a path where `*` matches anything (`\` escapes the rest).
fn like_pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '*' => out.push('%'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

const IAT_COLUMNS: &str =
    "id, realm_id, token_hash, created_at, expiration, count, remaining, web_origins";
const CLIENT_COLUMNS: &str = "id, realm_id, client_id, doc, secret_sealed, rat_hash, created_at";

fn user_row(row: &AnyRow) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        username: get(row, "username")?,
        email: get(row, "email")?,
        rep: from_doc(row, "doc")?,
        password_hash: get(row, "password_hash")?,
        service_account_client: get(row, "service_account_client")?,
        created_at: get(row, "created_at")?,
    })
}

fn role_row(row: &AnyRow) -> StoreResult<RoleRecord> {
    let client: String = get(row, "client")?;
    Ok(RoleRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        client: (!client.is_empty()).then_some(client),
        name: get(row, "name")?,
        rep: from_doc(row, "doc")?,
        client_client_id: get(row, "client_client_id")?,
    })
}

fn scope_row(row: &AnyRow) -> StoreResult<ScopeRecord> {
    Ok(ScopeRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        name: get(row, "name")?,
        rep: from_doc(row, "doc")?,
    })
}

fn refresh_row(row: &AnyRow) -> StoreResult<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        hash: get(row, "hash")?,
        realm_id: get(row, "realm_id")?,
        client_uuid: get(row, "client_uuid")?,
        user_id: get(row, "user_id")?,
        scope: get(row, "scope")?,
        session_id: get(row, "session_id")?,
        auth_time: get(row, "auth_time")?,
        expires_at: get(row, "expires_at")?,
    })
}

const ROLE_SELECT: &str = "SELECT r.id, r.realm_id, r.client, r.name, r.doc, c.client_id AS client_client_id \
     FROM roles r LEFT JOIN clients c ON c.id = r.client";

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Maps a user to roles (an existing mapping is kept).
async fn insert_user_roles(
    conn: &mut sqlx::AnyConnection,
    realm_id: &str,
    user_id: &str,
    role_ids: &[String],
) -> StoreResult<()> {
    let rows: Vec<UserRole> = role_ids
        .iter()
        .map(|role_id| UserRole {
            realm_id,
            user_id,
            role_id,
        })
        .collect();
    insert_rows(conn, &rows.iter().collect::<Vec<_>>()).await
}

fn component_row(row: &AnyRow) -> StoreResult<ComponentRecord> {
    Ok(ComponentRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        parent_id: get(row, "parent_id")?,
        provider_type: get(row, "provider_type")?,
        provider_id: get(row, "provider_id")?,
        sub_type: get(row, "sub_type")?,
        name: get(row, "name")?,
        config: from_doc(row, "config")?,
    })
}

async fn exec(tx: &mut Tx<'_>, sql: &str, args: &[&str]) -> StoreResult<u64> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = q.bind(*a);
    }
    q.execute(&mut **tx)
        .await
        .map(|r| r.rows_affected())
        .map_err(backend_err)
}

/// Where-clause and arguments for a user query (`$2…`; `$1` is the realm).
fn user_filter(q: &UserQuery) -> (String, Vec<String>) {
    let mut sql = String::from(" WHERE realm_id = $1 AND service_account_client IS NULL");
    let mut args = Vec::new();
    let mut add = |col: &str, value: &Option<String>| {
        if let Some(v) = value {
            args.push(if q.exact {
                v.to_lowercase()
            } else {
                format!("%{}%", v.to_lowercase())
            });
            let op = if q.exact { "=" } else { "LIKE" };
            sql.push_str(&format!(" AND LOWER({col}) {op} ${}", args.len() + 1));
        }
    };
    add("username", &q.username);
    add("email", &q.email);
    add("first_name", &q.first_name);
    add("last_name", &q.last_name);
    if let Some(s) = &q.search {
        let s = s.trim().trim_matches('*').to_lowercase();
        args.push(format!("%{s}%"));
        let n = args.len() + 1;
        sql.push_str(&format!(
            " AND (LOWER(username) LIKE ${n} OR LOWER(COALESCE(email, '')) LIKE ${n} \
              OR LOWER(COALESCE(first_name, '')) LIKE ${n} OR LOWER(COALESCE(last_name, '')) LIKE ${n})"
        ));
    }
    (sql, args)
}

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
        let rows = sqlx::query("SELECT id, name, doc FROM realms ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
        rows.iter().map(realm_row).collect()
    }

    async fn realm_by_name(&self, name: &str) -> StoreResult<Option<RealmRecord>> {
        if !ident::findable(name) {
            return Ok(None);
        }
        let load = async move {
            let row = sqlx::query("SELECT id, name, doc FROM realms WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_err)?;
            row.as_ref().map(realm_row).transpose()
        };
        self.cached_one(Key::Realm(name), load).await
    }

    async fn create_realm(&self, b: RealmBundle) -> StoreResult<()> {
        b.check_identifiers()?;
        self.write(&[Section::All], async move {
            let realm = b.realm.ok_or(StoreError::NotFound)?;
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            sqlx::query("INSERT INTO realms (id, name, doc, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&realm.id)
                .bind(&realm.name)
                .bind(to_doc(&realm.rep)?)
                .bind(0i64)
                .execute(&mut *tx)
                .await
                .map_err(write_err("realm"))?;
            insert_rows(&mut tx, &b.keys.iter().collect::<Vec<_>>()).await?;
            insert_rows(&mut tx, &b.scopes.iter().collect::<Vec<_>>()).await?;
            let default_scopes: Vec<DefaultScope> = b
                .default_scopes
                .iter()
                .map(|(scope_id, default)| DefaultScope {
                    realm_id: &realm.id,
                    scope_id,
                    default: *default,
                })
                .collect();
            insert_rows(&mut tx, &default_scopes.iter().collect::<Vec<_>>()).await?;
            insert_rows(&mut tx, &b.clients.iter().collect::<Vec<_>>()).await?;
            insert_rows(&mut tx, &b.roles.iter().collect::<Vec<_>>()).await?;
            insert_rows(&mut tx, &b.users.iter().collect::<Vec<_>>()).await?;
            insert_rows(&mut tx, &b.components.iter().collect::<Vec<_>>()).await?;
            let user_roles: Vec<UserRole> = b
                .user_roles
                .iter()
                .map(|(user_id, role_id)| UserRole {
                    realm_id: &realm.id,
                    user_id,
                    role_id,
                })
                .collect();
            insert_rows(&mut tx, &user_roles.iter().collect::<Vec<_>>()).await?;
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn update_realm(&self, realm: &RealmRecord) -> StoreResult<()> {
        realm.check_identifiers()?;
        self.write(&[Section::All], async move {
            let n = sqlx::query("UPDATE realms SET name = $2, doc = $3 WHERE id = $1")
                .bind(&realm.id)
                .bind(&realm.name)
                .bind(to_doc(&realm.rep)?)
                .execute(&self.writer)
                .await
                .map_err(write_err("realm"))?;
            if n.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn delete_realm(&self, realm_id: &str) -> StoreResult<()> {
        self.write(&[Section::All], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            for table in [
                "transient",
                "revoked_tokens",
                "components",
                "events",
                "admin_events",
                "initial_access_tokens",
                "refresh_tokens",
                "user_roles",
                "realm_default_scopes",
                "client_scopes",
                "roles",
                "users",
                "clients",
                "realm_keys",
            ] {
                exec(
                    &mut tx,
                    &format!("DELETE FROM {table} WHERE realm_id = $1"),
                    &[realm_id],
                )
                .await?;
            }
            let n = exec(&mut tx, "DELETE FROM realms WHERE id = $1", &[realm_id]).await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn realm_keys(&self, realm_id: &str) -> StoreResult<Vec<KeyRecord>> {
        let rows = sqlx::query(
            "SELECT kid, realm_id, alg, private_sealed, public_jwk, created_at FROM realm_keys WHERE realm_id = $1 ORDER BY created_at, kid",
        )
        .bind(realm_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(key_row).collect()
    }

    async fn list_clients(
        &self,
        realm_id: &str,
        q: &ClientQuery,
    ) -> StoreResult<Vec<ClientRecord>> {
        let mut sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1");
        let filter = q.client_id.as_ref().map(|c| {
            if q.search {
                sql.push_str(" AND LOWER(client_id) LIKE $2");
                format!("%{}%", c.to_lowercase())
            } else {
                sql.push_str(" AND client_id = $2");
                c.clone()
            }
        });
        sql.push_str(" ORDER BY client_id");
        sql.push_str(&format!(
            " LIMIT {} OFFSET {}",
            q.max.unwrap_or(i64::MAX).max(0),
            q.first.max(0)
        ));
        let mut query = sqlx::query(&sql).bind(realm_id);
        if let Some(f) = filter {
            query = query.bind(f);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(backend_err)?;
        rows.iter().map(client_row).collect()
    }

    async fn client(&self, realm_id: &str, id: &str) -> StoreResult<Option<ClientRecord>> {
        let load = async move {
            let row = sqlx::query(&format!(
                "SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1 AND id = $2"
            ))
            .bind(realm_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
            row.as_ref().map(client_row).transpose()
        };
        self.cached_one(Key::Client(realm_id, id), load).await
    }

    async fn client_by_client_id(
        &self,
        realm_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<ClientRecord>> {
        if !ident::findable(client_id) {
            return Ok(None);
        }
        let load = async move {
            let row = sqlx::query(&format!(
                "SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1 AND client_id = $2"
            ))
            .bind(realm_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
            row.as_ref().map(client_row).transpose()
        };
        self.cached_one(Key::ClientByClientId(realm_id, client_id), load)
            .await
    }

    async fn create_client(&self, b: ClientBundle, guard: &WriteGuard) -> StoreResult<()> {
        b.check_identifiers()?;
        // Invalidation and notification happen in the creating task, before the answer.
        self.writes.create(b, guard.clone()).await
    }

    async fn update_client(&self, b: ClientBundle, guard: &WriteGuard) -> StoreResult<()> {
        b.check_identifiers()?;
        self.write(&[
            Section::Clients(b.client.realm_id.clone()),
            Section::Users(b.client.realm_id.clone()),
        ], async move {
            let c = &b.client;
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            let n = match (&guard.expected_rat, &guard.new_rat) {
                (None, None) => sqlx::query(
                    "UPDATE clients SET client_id = $3, doc = $4, secret_sealed = $5 WHERE realm_id = $1 AND id = $2",
                )
                .bind(&c.realm_id)
                .bind(&c.id)
                .bind(&c.client_id)
                .bind(to_doc(&c.rep)?)
                .bind(c.secret_sealed.clone())
                .execute(&mut *tx)
                .await
                .map_err(write_err("clientId"))?,
                (expected, new) => {
                    // Rotation is a compare-and-set on the stored hash: of two updates made
                    // with one token, exactly one matches.
                    let mut sql = String::from(
                        "UPDATE clients SET client_id = $3, doc = $4, secret_sealed = $5, rat_hash = $6 WHERE realm_id = $1 AND id = $2",
                    );
                    if expected.is_some() {
                        sql.push_str(" AND rat_hash = $7");
                    }
                    let mut q = sqlx::query(&sql)
                        .bind(&c.realm_id)
                        .bind(&c.id)
                        .bind(&c.client_id)
                        .bind(to_doc(&c.rep)?)
                        .bind(c.secret_sealed.clone())
                        .bind(new.clone().or_else(|| c.rat_hash.clone()));
                    if let Some(e) = expected {
                        q = q.bind(e);
                    }
                    let n = q.execute(&mut *tx).await.map_err(write_err("clientId"))?;
                    if n.rows_affected() == 0 && expected.is_some() {
                        return Err(StoreError::Precondition {
                            failed: Guarded::RegistrationToken,
                        });
                    }
                    n
                }
            };
            if n.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            if let Some((user, roles)) = &b.service_account {
                insert_rows(&mut tx, &[user]).await?;
                insert_user_roles(&mut tx, &user.realm_id, &user.id, roles).await?;
            }
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn delete_client(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        self.write(&[
            Section::Clients(realm_id.into()),
            Section::Users(realm_id.into()),
            Section::Roles(realm_id.into()),
        ], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            let n = exec(
                &mut tx,
                "DELETE FROM clients WHERE realm_id = $1 AND id = $2",
                &[realm_id, id],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            exec(
                &mut tx,
                "DELETE FROM user_roles WHERE role_id IN (SELECT id FROM roles WHERE client = $1)",
                &[id],
            )
            .await?;
            exec(&mut tx, "DELETE FROM roles WHERE client = $1", &[id]).await?;
            exec(
                &mut tx,
                "DELETE FROM user_roles WHERE user_id IN (SELECT id FROM users WHERE service_account_client = $1)",
                &[id],
            )
            .await?;
            exec(
                &mut tx,
                "DELETE FROM refresh_tokens WHERE client_uuid = $1",
                &[id],
            )
            .await?;
            exec(
                &mut tx,
                "DELETE FROM users WHERE service_account_client = $1",
                &[id],
            )
            .await?;
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn list_users(&self, realm_id: &str, q: &UserQuery) -> StoreResult<Vec<UserRecord>> {
        let (filter, args) = user_filter(q);
        let sql = format!(
            "SELECT id, realm_id, username, email, doc, password_hash, service_account_client, created_at FROM users{filter} ORDER BY username LIMIT {} OFFSET {}",
            q.max.max(0),
            q.first.max(0)
        );
        let mut query = sqlx::query(&sql).bind(realm_id);
        for a in args {
            query = query.bind(a);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(backend_err)?;
        rows.iter().map(user_row).collect()
    }

    async fn count_users(&self, realm_id: &str, q: &UserQuery) -> StoreResult<i64> {
        let (filter, args) = user_filter(q);
        let sql = format!("SELECT COUNT(*) AS n FROM users{filter}");
        let mut query = sqlx::query(&sql).bind(realm_id);
        for a in args {
            query = query.bind(a);
        }
        let row = query.fetch_one(&self.pool).await.map_err(backend_err)?;
        get(&row, "n")
    }

    async fn user(&self, realm_id: &str, id: &str) -> StoreResult<Option<UserRecord>> {
        let load = async move { self.user_where("id", realm_id, id).await };
        self.cached_one(Key::User(realm_id, id), load).await
    }

    async fn user_by_username(
        &self,
        realm_id: &str,
        username: &str,
    ) -> StoreResult<Option<UserRecord>> {
        self.user_where("username", realm_id, &username.to_lowercase())
            .await
    }

    async fn user_by_email(&self, realm_id: &str, email: &str) -> StoreResult<Option<UserRecord>> {
        self.user_where("email", realm_id, &email.to_lowercase())
            .await
    }

    async fn service_account_user(
        &self,
        realm_id: &str,
        client_uuid: &str,
    ) -> StoreResult<Option<UserRecord>> {
        let load = async move {
            self.user_where("service_account_client", realm_id, client_uuid)
                .await
        };
        self.cached_one(Key::ServiceAccount(realm_id, client_uuid), load)
            .await
    }

    async fn create_user(&self, user: &UserRecord, role_ids: &[String]) -> StoreResult<()> {
        user.check_identifiers()?;
        self.write(&[Section::Users(user.realm_id.clone())], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            insert_rows(&mut tx, &[user]).await?;
            insert_user_roles(&mut tx, &user.realm_id, &user.id, role_ids).await?;
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn update_user(&self, u: &UserRecord) -> StoreResult<()> {
        u.check_identifiers()?;
        self.write(&[Section::Users(u.realm_id.clone())], async move {
            let n = sqlx::query(
                "UPDATE users SET username = $3, email = $4, first_name = $5, last_name = $6, doc = $7, password_hash = $8 \
                 WHERE realm_id = $1 AND id = $2",
            )
            .bind(&u.realm_id)
            .bind(&u.id)
            .bind(&u.username)
            .bind(u.email.clone())
            .bind(u.rep.first_name.clone())
            .bind(u.rep.last_name.clone())
            .bind(to_doc(&u.rep)?)
            .bind(u.password_hash.clone())
            .execute(&self.writer)
            .await
            .map_err(write_err("username"))?;
            if n.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn delete_user(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        self.write(&[Section::Users(realm_id.into())], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            let n = exec(
                &mut tx,
                "DELETE FROM users WHERE realm_id = $1 AND id = $2",
                &[realm_id, id],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            exec(&mut tx, "DELETE FROM user_roles WHERE user_id = $1", &[id]).await?;
            exec(
                &mut tx,
                "DELETE FROM refresh_tokens WHERE user_id = $1",
                &[id],
            )
            .await?;
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn list_roles(
        &self,
        realm_id: &str,
        client: Option<&str>,
    ) -> StoreResult<Vec<RoleRecord>> {
        let rows = sqlx::query(&format!(
            "{ROLE_SELECT} WHERE r.realm_id = $1 AND r.client = $2 ORDER BY r.name"
        ))
        .bind(realm_id)
        .bind(client.unwrap_or_default())
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(role_row).collect()
    }

    async fn all_roles(&self, realm_id: &str) -> StoreResult<Shared<RoleRecord>> {
        let load = async move {
            let rows = sqlx::query(&format!("{ROLE_SELECT} WHERE r.realm_id = $1"))
                .bind(realm_id)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_err)?;
            rows.iter()
                .map(role_row)
                .collect::<StoreResult<Vec<_>>>()
                .map(Arc::new)
        };
        self.cached_all(Key::Roles(realm_id), load).await
    }

    async fn role_by_name(
        &self,
        realm_id: &str,
        client: Option<&str>,
        name: &str,
    ) -> StoreResult<Option<RoleRecord>> {
        if !ident::findable(name) {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "{ROLE_SELECT} WHERE r.realm_id = $1 AND r.client = $2 AND r.name = $3"
        ))
        .bind(realm_id)
        .bind(client.unwrap_or_default())
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        row.as_ref().map(role_row).transpose()
    }

    async fn create_role(&self, role: &RoleRecord) -> StoreResult<()> {
        role.check_identifiers()?;
        self.write(&[Section::Roles(role.realm_id.clone())], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            insert_rows(&mut tx, &[role]).await?;
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn update_role(&self, r: &RoleRecord) -> StoreResult<()> {
        r.check_identifiers()?;
        self.write(&[Section::Roles(r.realm_id.clone())], async move {
            let n =
                sqlx::query("UPDATE roles SET name = $3, doc = $4 WHERE realm_id = $1 AND id = $2")
                    .bind(&r.realm_id)
                    .bind(&r.id)
                    .bind(&r.name)
                    .bind(to_doc(&r.rep)?)
                    .execute(&self.writer)
                    .await
                    .map_err(write_err("role"))?;
            if n.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn delete_role(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        self.write(&[Section::Roles(realm_id.into())], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            let n = exec(
                &mut tx,
                "DELETE FROM roles WHERE realm_id = $1 AND id = $2",
                &[realm_id, id],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            exec(&mut tx, "DELETE FROM user_roles WHERE role_id = $1", &[id]).await?;
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn user_role_ids(&self, user_id: &str) -> StoreResult<Shared<String>> {
        let load = async move {
            let rows = sqlx::query("SELECT role_id FROM user_roles WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_err)?;
            rows.iter()
                .map(|r| get(r, "role_id"))
                .collect::<StoreResult<Vec<_>>>()
                .map(Arc::new)
        };
        self.cached_all(Key::UserRoles(user_id), load).await
    }

    async fn add_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()> {
        self.write(&[Section::Users(String::new())], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            let row = sqlx::query("SELECT realm_id FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_err)?
                .ok_or(StoreError::NotFound)?;
            let realm_id: String = get(&row, "realm_id")?;
            insert_user_roles(&mut tx, &realm_id, user_id, role_ids).await?;
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn remove_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()> {
        self.write(&[Section::Users(String::new())], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            for role_id in role_ids {
                exec(
                    &mut tx,
                    "DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2",
                    &[user_id, role_id],
                )
                .await?;
            }
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn list_scopes(&self, realm_id: &str) -> StoreResult<Shared<ScopeRecord>> {
        let load = async move {
            let rows = sqlx::query(
                "SELECT id, realm_id, name, doc FROM client_scopes WHERE realm_id = $1 ORDER BY name",
            )
            .bind(realm_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
            rows.iter()
                .map(scope_row)
                .collect::<StoreResult<Vec<_>>>()
                .map(Arc::new)
        };
        self.cached_all(Key::Scopes(realm_id), load).await
    }

    async fn create_scope(&self, scope: &ScopeRecord) -> StoreResult<()> {
        scope.check_identifiers()?;
        self.write(&[Section::Scopes(scope.realm_id.clone())], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            insert_rows(&mut tx, &[scope]).await?;
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn update_scope(&self, s: &ScopeRecord) -> StoreResult<()> {
        s.check_identifiers()?;
        self.write(&[Section::Scopes(s.realm_id.clone())], async move {
            let n = sqlx::query(
                "UPDATE client_scopes SET name = $3, doc = $4 WHERE realm_id = $1 AND id = $2",
            )
            .bind(&s.realm_id)
            .bind(&s.id)
            .bind(&s.name)
            .bind(to_doc(&s.rep)?)
            .execute(&self.writer)
            .await
            .map_err(write_err("client scope"))?;
            if n.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn delete_scope(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        self.write(&[Section::Scopes(realm_id.into())], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            let n = exec(
                &mut tx,
                "DELETE FROM client_scopes WHERE realm_id = $1 AND id = $2",
                &[realm_id, id],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            exec(
                &mut tx,
                "DELETE FROM realm_default_scopes WHERE realm_id = $1 AND scope_id = $2",
                &[realm_id, id],
            )
            .await?;
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn realm_default_scopes(&self, realm_id: &str) -> StoreResult<Shared<(String, bool)>> {
        let load = async move {
            let rows = sqlx::query(
                "SELECT scope_id, is_default FROM realm_default_scopes WHERE realm_id = $1",
            )
            .bind(realm_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
            rows.iter()
                .map(|r| Ok((get(r, "scope_id")?, get::<i64>(r, "is_default")? != 0)))
                .collect::<StoreResult<Vec<_>>>()
                .map(Arc::new)
        };
        self.cached_all(Key::DefaultScopes(realm_id), load).await
    }

    async fn set_realm_default_scope(
        &self,
        realm_id: &str,
        scope_id: &str,
        default: bool,
    ) -> StoreResult<()> {
        self.write(&[Section::Scopes(realm_id.into())], async move {
            sqlx::query(
                "INSERT INTO realm_default_scopes (realm_id, scope_id, is_default) VALUES ($1, $2, $3) \
                 ON CONFLICT (realm_id, scope_id) DO UPDATE SET is_default = excluded.is_default",
            )
            .bind(realm_id)
            .bind(scope_id)
            .bind(i64::from(default))
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(backend_err)
        })
        .await
    }

    async fn remove_realm_default_scope(&self, realm_id: &str, scope_id: &str) -> StoreResult<()> {
        self.write(&[Section::Scopes(realm_id.into())], async move {
            sqlx::query("DELETE FROM realm_default_scopes WHERE realm_id = $1 AND scope_id = $2")
                .bind(realm_id)
                .bind(scope_id)
                .execute(&self.writer)
                .await
                .map(|_| ())
                .map_err(backend_err)
        })
        .await
    }

    async fn create_initial_access(&self, t: &InitialAccessRecord) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO initial_access_tokens ({IAT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&t.id)
        .bind(&t.realm_id)
        .bind(&t.token_hash)
        .bind(t.created_at)
        .bind(t.expiration)
        .bind(t.count)
        .bind(t.remaining)
        .bind(to_doc(&t.web_origins)?)
        .execute(&self.writer)
        .await
        .map(|_| ())
        .map_err(write_err("initial access token"))
    }

    async fn list_initial_access(&self, realm_id: &str) -> StoreResult<Vec<InitialAccessRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {IAT_COLUMNS} FROM initial_access_tokens WHERE realm_id = $1 ORDER BY created_at, id"
        ))
        .bind(realm_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(iat_row).collect()
    }

    async fn initial_access_by_hash(&self, hash: &str) -> StoreResult<Option<InitialAccessRecord>> {
        let load = async move {
            let row = sqlx::query(&format!(
                "SELECT {IAT_COLUMNS} FROM initial_access_tokens WHERE token_hash = $1"
            ))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
            row.as_ref().map(iat_row).transpose()
        };
        self.cached_one(Key::InitialAccess(hash), load).await
    }

    async fn delete_initial_access(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        self.write(&[Section::InitialAccess(realm_id.into())], async move {
            sqlx::query("DELETE FROM initial_access_tokens WHERE realm_id = $1 AND id = $2")
                .bind(realm_id)
                .bind(id)
                .execute(&self.writer)
                .await
                .map(|_| ())
                .map_err(backend_err)
        })
        .await
    }

    async fn list_components(&self, realm_id: &str) -> StoreResult<Shared<ComponentRecord>> {
        let load = async move {
            let rows = sqlx::query(
                "SELECT id, realm_id, parent_id, provider_type, provider_id, sub_type, name, config \
                 FROM components WHERE realm_id = $1 ORDER BY created_at, id",
            )
            .bind(realm_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
            rows.iter()
                .map(component_row)
                .collect::<StoreResult<Vec<_>>>()
                .map(Arc::new)
        };
        self.cached_all(Key::Components(realm_id), load).await
    }

    async fn create_component(&self, c: &ComponentRecord) -> StoreResult<()> {
        self.write(&[Section::Components(c.realm_id.clone())], async move {
            let mut tx = self.writer.begin().await.map_err(backend_err)?;
            insert_rows(&mut tx, &[c]).await?;
            tx.commit().await.map_err(backend_err)
        })
        .await
    }

    async fn update_component(&self, c: &ComponentRecord) -> StoreResult<()> {
        self.write(&[Section::Components(c.realm_id.clone())], async move {
            let n = sqlx::query(
                "UPDATE components SET parent_id = $3, provider_id = $4, sub_type = $5, name = $6, config = $7 \
                 WHERE realm_id = $1 AND id = $2",
            )
            .bind(&c.realm_id)
            .bind(&c.id)
            .bind(&c.parent_id)
            .bind(&c.provider_id)
            .bind(c.sub_type.clone())
            .bind(&c.name)
            .bind(to_doc(&c.config)?)
            .execute(&self.writer)
            .await
            .map_err(backend_err)?;
            if n.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn delete_component(&self, realm_id: &str, id: &str) -> StoreResult<()> {
        self.write(&[Section::Components(realm_id.into())], async move {
            let n = sqlx::query("DELETE FROM components WHERE realm_id = $1 AND id = $2")
                .bind(realm_id)
                .bind(id)
                .execute(&self.writer)
                .await
                .map_err(backend_err)?;
            if n.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn count_clients(&self, realm_id: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM clients WHERE realm_id = $1")
            .bind(realm_id)
            .fetch_one(&self.pool)
            .await
            .map_err(backend_err)?;
        get(&row, "n")
    }

    async fn insert_event(&self, e: &EventRecord) -> StoreResult<()> {
        self.writes.event(e.clone()).await
    }

    async fn list_events(&self, realm_id: &str, q: &EventQuery) -> StoreResult<Vec<EventRecord>> {
        let mut f = EventFilter::new(
            "SELECT id, realm_id, time, type, client_id, user_id, ip_address, error, details FROM events",
        );
        f.any_of("type", &q.types);
        f.equals("client_id", &q.client_id);
        f.equals("user_id", &q.user_id);
        f.equals("ip_address", &q.ip_address);
        let rows = f.fetch(&self.pool, realm_id, &q.window).await?;
        rows.iter().map(event_row).collect()
    }

    async fn clear_events(&self, realm_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM events WHERE realm_id = $1")
            .bind(realm_id)
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(backend_err)
    }

    async fn insert_admin_event(&self, e: &AdminEventRecord) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO admin_events ({ADMIN_EVENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&e.id)
        .bind(&e.realm_id)
        .bind(e.time)
        .bind(&e.operation_type)
        .bind(&e.resource_type)
        .bind(&e.resource_path)
        .bind(&e.auth_realm_id)
        .bind(&e.auth_client_id)
        .bind(&e.auth_user_id)
        .bind(&e.ip_address)
        .bind(e.representation.clone())
        .execute(&self.writer)
        .await
        .map(|_| ())
        .map_err(backend_err)
    }

    async fn list_admin_events(
        &self,
        realm_id: &str,
        q: &AdminEventQuery,
    ) -> StoreResult<Vec<AdminEventRecord>> {
        let mut f = EventFilter::new(&format!("SELECT {ADMIN_EVENT_COLUMNS} FROM admin_events"));
        f.any_of("operation_type", &q.operation_types);
        f.any_of("resource_type", &q.resource_types);
        f.equals("auth_realm_id", &q.auth_realm_id);
        f.equals("auth_client_id", &q.auth_client_id);
        f.equals("auth_user_id", &q.auth_user_id);
        f.equals("ip_address", &q.ip_address);
        if let Some(path) = &q.resource_path {
            f.arg(" AND resource_path LIKE ", like_pattern(path));
            f.sql.push_str(" ESCAPE '\\'");
        }
        let rows = f.fetch(&self.pool, realm_id, &q.window).await?;
        rows.iter().map(admin_event_row).collect()
    }

    async fn clear_admin_events(&self, realm_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM admin_events WHERE realm_id = $1")
            .bind(realm_id)
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(backend_err)
    }

    async fn revoke_jti(&self, realm_id: &str, jti: &str, expires_at: Millis) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, realm_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(realm_id)
        .bind(expires_at)
        .execute(&self.writer)
        .await
        .map(|_| ())
        .map_err(backend_err)
    }

    async fn is_revoked(&self, jti: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT jti FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(row.is_some())
    }

    async fn use_assertion(&self, id: &str, expires_at: Millis) -> StoreResult<bool> {
        let n = sqlx::query(
            "INSERT INTO used_assertions (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(expires_at)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(n.rows_affected() == 1)
    }

    async fn refresh_token(&self, hash: &str) -> StoreResult<Option<RefreshTokenRecord>> {
        let row = sqlx::query(
            "SELECT hash, realm_id, client_uuid, user_id, scope, session_id, auth_time, expires_at FROM refresh_tokens WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        row.as_ref().map(refresh_row).transpose()
    }

    async fn delete_refresh_token(&self, hash: &str) -> StoreResult<bool> {
        let n = sqlx::query("DELETE FROM refresh_tokens WHERE hash = $1")
            .bind(hash)
            .execute(&self.writer)
            .await
            .map_err(backend_err)?;
        Ok(n.rows_affected() > 0)
    }

    async fn put_transient(
        &self,
        kind: &str,
        id: &str,
        realm_id: &str,
        data: &Value,
        expires_at: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO transient (kind, id, realm_id, data, expires_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(kind)
        .bind(id)
        .bind(realm_id)
        .bind(to_doc(data)?)
        .bind(expires_at)
        .execute(&self.writer)
        .await
        .map(|_| ())
        .map_err(backend_err)
    }

    async fn get_transient(&self, kind: &str, id: &str, now: Millis) -> StoreResult<Option<Value>> {
        let row = sqlx::query(
            "SELECT data FROM transient WHERE kind = $1 AND id = $2 AND expires_at > $3",
        )
        .bind(kind)
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        row.as_ref().map(|r| from_doc(r, "data")).transpose()
    }

    async fn take_transient(
        &self,
        kind: &str,
        id: &str,
        now: Millis,
    ) -> StoreResult<Option<Value>> {
        let row = sqlx::query(
            "DELETE FROM transient WHERE kind = $1 AND id = $2 RETURNING data, expires_at",
        )
        .bind(kind)
        .bind(id)
        .fetch_optional(&self.writer)
        .await
        .map_err(backend_err)?;
        match row {
            Some(r) if get::<i64>(&r, "expires_at")? > now => Ok(Some(from_doc(&r, "data")?)),
            _ => Ok(None),
        }
    }

    async fn delete_transient(&self, kind: &str, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM transient WHERE kind = $1 AND id = $2")
            .bind(kind)
            .bind(id)
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(backend_err)
    }

    async fn sweep_expired(&self, now: Millis) -> StoreResult<u64> {
        let mut n = 0;
        for table in [
            "transient",
            "refresh_tokens",
            "revoked_tokens",
            "used_assertions",
        ] {
            n += sqlx::query(&format!("DELETE FROM {table} WHERE expires_at < $1"))
                .bind(now)
                .execute(&self.writer)
                .await
                .map_err(backend_err)?
                .rows_affected();
        }
        Ok(n)
    }

    async fn delete_session_refresh_tokens(
        &self,
        session_id: &str,
        keep_offline: bool,
    ) -> StoreResult<()> {
        let sql = if keep_offline {
            "DELETE FROM refresh_tokens WHERE session_id = $1 AND scope NOT LIKE '%offline_access%'"
        } else {
            "DELETE FROM refresh_tokens WHERE session_id = $1"
        };
        sqlx::query(sql)
            .bind(session_id)
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(backend_err)
    }

    async fn insert_refresh_token(&self, t: &RefreshTokenRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, realm_id, client_uuid, user_id, scope, session_id, auth_time, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&t.hash)
        .bind(&t.realm_id)
        .bind(&t.client_uuid)
        .bind(&t.user_id)
        .bind(&t.scope)
        .bind(&t.session_id)
        .bind(t.auth_time)
        .bind(t.expires_at)
        .execute(&self.writer)
        .await
        .map(|_| ())
        .map_err(write_err("refresh token"))
    }

    async fn take_refresh_token(
        &self,
        hash: &str,
        now: Millis,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        // One statement: whichever caller deletes the row is the one that gets it.
        let row = sqlx::query(
            "DELETE FROM refresh_tokens WHERE hash = $1 \
             RETURNING hash, realm_id, client_uuid, user_id, scope, session_id, auth_time, expires_at",
        )
        .bind(hash)
        .fetch_optional(&self.writer)
        .await
        .map_err(backend_err)?;
        match row.as_ref().map(refresh_row).transpose()? {
            Some(t) if t.expires_at > now => Ok(Some(t)),
            _ => Ok(None),
        }
    }
}

/// Keeps this node's cache coherent with the other nodes': listens for their changes and
/// turns the cache off whenever the listener is not connected.
fn listen(url: String, cache: Weak<Cache>) {
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut listener) => match listener.listen(CACHE_CHANNEL).await {
                    Ok(()) => {
                        let Some(c) = cache.upgrade() else { return };
                        c.set_enabled(true);
                        drop(c);
                        // `None`: the connection dropped (and notifications with it).
                        while let Ok(Some(n)) = listener.try_recv().await {
                            let Some(c) = cache.upgrade() else { return };
                            for line in n.payload().lines() {
                                c.invalidate(&Section::decode(line));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cache listener: LISTEN failed"),
                },
                Err(e) => tracing::warn!(error = %e, "cache listener: cannot connect"),
            }
            let Some(c) = cache.upgrade() else { return };
            c.set_enabled(false);
            drop(c);
            tracing::warn!(
                "cache listener disconnected; serving from the database until it is back"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// After a write: drop what it touched here, and (PostgreSQL, if it committed) tell the
/// other nodes. Invalidating after a failed write too costs a few re-reads and rules out
/// trusting a write's outcome.
async fn publish(
    cache: &Cache,
    backend: Backend,
    writer: &AnyPool,
    sections: &[Section],
    committed: bool,
) {
    for s in sections {
        cache.invalidate(s);
    }
    if backend != Backend::Postgres || !committed {
        return;
    }
    let payload = sections
        .iter()
        .map(Section::encode)
        .collect::<Vec<_>>()
        .join("\n");
    // pg_notify inside a sub-select: the Any driver cannot decode its void result.
    let sent = sqlx::query("SELECT COUNT(*) AS n FROM (SELECT pg_notify($1, $2)) AS t")
        .bind(CACHE_CHANNEL)
        .bind(payload)
        .fetch_one(writer)
        .await;
    if let Err(e) = sent {
        // The other nodes' entries expire within cache::TTL.
        tracing::warn!(error = %e, "cache: could not notify other nodes");
    }
}

impl SqlStore {
    /// A cached read of one row (absent rows are not cached: see `cache`).
    async fn cached_one<T: Cached>(
        &self,
        key: Key<'_>,
        load: impl Future<Output = StoreResult<Option<T>>>,
    ) -> StoreResult<Option<T>> {
        if let Some(v) = self.cache.get(&key).and_then(T::unwrap) {
            return Ok(Some(v));
        }
        let generation = self.cache.generation();
        let found = load.await?;
        if let Some(v) = &found {
            self.cache.fill(generation, &key, v.clone().wrap());
        }
        Ok(found)
    }

    /// A cached read of a list.
    async fn cached_all<T: Cached>(
        &self,
        key: Key<'_>,
        load: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        if let Some(v) = self.cache.get(&key).and_then(T::unwrap) {
            return Ok(v);
        }
        let generation = self.cache.generation();
        let found = load.await?;
        self.cache.fill(generation, &key, found.clone().wrap());
        Ok(found)
    }

    /// Every write but the group commit's: runs `write` (one transaction), then drops
    /// `sections` from the cache and, on PostgreSQL if it committed, tells the other nodes
    /// (`publish`).
    async fn write(
        &self,
        sections: &[Section],
        write: impl Future<Output = StoreResult<()>>,
    ) -> StoreResult<()> {
        let result = write.await;
        publish(
            &self.cache,
            self.backend,
            &self.writer,
            sections,
            result.is_ok(),
        )
        .await;
        result
    }

    async fn user_where(
        &self,
        col: &'static str,
        realm_id: &str,
        value: &str,
    ) -> StoreResult<Option<UserRecord>> {
        let key = value
            .strip_prefix(latchkey_core::clients::SERVICE_ACCOUNT_PREFIX)
            .unwrap_or(value);
        if !ident::findable(key) {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT id, realm_id, username, email, doc, password_hash, service_account_client, created_at \
             FROM users WHERE realm_id = $1 AND {col} = $2"
        ))
        .bind(realm_id)
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        row.as_ref().map(user_row).transpose()
    }
}
