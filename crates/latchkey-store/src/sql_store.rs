//! `SqlStore`: connecting and migrating, and the cache's plumbing (cached reads, and
//! `SqlStore::write`, the one helper for writes to what the cache holds). The aggregates'
//! files read and write through it; the hot writes go through `write/`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use latchkey_core::store::{StoreError, StoreResult};
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

use crate::cache::{Cache, Cached, Key, Section};
use crate::notify::{listen, publish};
use crate::refresh_reads::RefreshReads;
use crate::schema;
use crate::sql::{Backend, backend_err, sqlite_file};
use crate::touched::Touched;
use crate::write::Stats;
use crate::write::group_commit::{Connection, GroupCommit};

pub struct SqlStore {
    /// Readers.
    pub(crate) pool: AnyPool,
    /// Writers: on SQLite one connection, on PostgreSQL the same pool as readers.
    pub(crate) writer: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) cache: Arc<Cache>,
    /// Client creation's, events' and last-used days' group commit (`group_commit`).
    pub(crate) writes: GroupCommit,
    /// Refresh tokens read by hash, concurrent reads in one statement (`refresh_reads`).
    pub(crate) refresh_reads: RefreshReads,
    /// The last-used day this node queued for each client (`clients::touch_client`).
    pub(crate) touched: std::sync::Mutex<Touched>,
}

pub(crate) fn pool_options(backend: Backend, size: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx pings a connection when it comes back to the pool and, by default, again
        // before each use: on SQLite that second ping is a round trip to the connection's
        // worker thread for nothing (nobody can drop a connection to a file in this
        // process); PostgreSQL may drop a connection any time (a restart, a failover,
        // `pg_terminate_backend`), and the ping finds it before a request does.
        .test_before_acquire(backend == Backend::Postgres)
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

impl SqlStore {
    /// Connects and applies pending migrations. SQLite files (and their folder) are
    /// created if missing and run in WAL mode.
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        Self::connect_with_cache(url, crate::cache::DEFAULT_CAPACITY).await
    }

    /// As `connect`, with a read cache of at most `cache_rows` rows (`cache`).
    pub async fn connect_with_cache(url: &str, cache_rows: usize) -> StoreResult<SqlStore> {
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
        let options_for_writes = options.clone();
        // SQLite has one writer at a time: with several connections writing, the losers
        // sleep in SQLite's busy handler (tens of milliseconds each). One writer
        // connection makes writers queue in the pool instead, in order, without sleeping;
        // readers keep their own connections (WAL lets them read beside the writer).
        let (pool, writer) = if sqlite_file.is_some() {
            let writer = pool_options(backend, 1)
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
        let cache = Arc::new(Cache::new(backend == Backend::Sqlite, cache_rows));
        if backend == Backend::Postgres {
            listen(url.clone(), Arc::downgrade(&cache));
        }
        // PostgreSQL: the group commit's own connection (one batch at a time; a second for
        // its notifications while the first goes back to the pool).
        let connection = match backend {
            Backend::Postgres => {
                Connection::Own(Box::new((pool_options(backend, 2), options_for_writes)))
            }
            Backend::Sqlite => Connection::Store(writer.clone()),
        };
        let writes =
            GroupCommit::start(connection, sqlite_file.as_deref(), cache.clone(), backend)?;
        let refresh_reads = RefreshReads::start(pool.clone(), backend);
        let store = SqlStore {
            refresh_reads,
            pool,
            writer,
            backend,
            cache,
            writes,
            touched: Default::default(),
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

    /// The rows the read cache holds now, and the most it ever holds.
    pub fn cache_rows(&self) -> (usize, usize) {
        self.cache.rows()
    }

    /// Last-used days queued to the group commit and not yet written (bounded).
    pub fn pending_touches(&self) -> usize {
        self.writes.pending_touches()
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
                // Ended now: a dropped transaction's rollback is only sent when the
                // connection is next used, and until then it holds its lock on
                // `latchkey_migrations` (a `DROP SCHEMA` or a later migration would wait).
                tx.rollback().await.map_err(backend_err)?;
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

impl SqlStore {
    /// A cached read of one row (absent rows are not cached: see `cache`).
    pub(crate) async fn cached_one<T: Cached>(
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
    pub(crate) async fn cached_all<T: Cached>(
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
    pub(crate) async fn write<T>(
        &self,
        sections: &[Section],
        write: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
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
