//! The `Store` on SQLite and PostgreSQL. One implementation over sqlx's `Any` driver: the
//! schema and every query are portable SQL (`schema.rs`), so both backends run exactly
//! the same statements and there is no per-backend branch inside a query (multi-row
//! inserts spell SQLite's placeholders `?`: `rows`). The backend is chosen once, from the
//! URL, at start-up.
//!
//! Here: connecting and migrating, the helpers every statement uses, and the cache's
//! plumbing (cached reads, `SqlStore::write`, cross-node invalidation). Each aggregate has
//! a file of its own (`realms`, `clients`, `users`, `roles`, `scopes`, `components`,
//! `initial_access`, `events`, `tokens`, `transient`), `store_impl` hands the `Store`
//! trait's methods to them, and the hot writes' path is `write/`.

pub mod cache;
mod schema;
mod write;

mod clients;
mod components;
mod events;
mod initial_access;
mod realms;
mod roles;
mod scopes;
mod store_impl;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod transient;
mod users;

pub use write::Stats;

use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use latchkey_core::store::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::{Cache, Cached, Key, Section};
use crate::write::group_commit::GroupCommit;
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

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// After a statement that names one row by its key: `NotFound` if it touched none.
fn found(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
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

    /// A write to what the cache holds: runs `write` (one transaction), then drops
    /// `sections` from the cache and, on PostgreSQL if it committed, tells the other nodes
    /// (`publish`). The group commit does the same after each batch (`write::group_commit`);
    /// writes to tables nothing caches (events, tokens, transient state) need neither.
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
}
