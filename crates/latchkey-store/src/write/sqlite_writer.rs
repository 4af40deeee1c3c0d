//! The group commit's own connection to a SQLite file, driven on the group commit's thread.
//!
//! Through sqlx, every statement is a round trip to sqlx's worker thread: a hand-off over a
//! channel and back, two context switches, and on a loaded machine a wait for a core each
//! way. A batch of registrations is about ten statements, and the writer spent most of its
//! time in those switches (bench/history/session-5.md). Here the writer's own thread calls
//! SQLite, so a batch costs no hand-off at all. rusqlite drives the same bundled library
//! sqlx links (one `libsqlite3-sys`), and that matters: SQLite keeps the POSIX locks of all
//! of a process's connections to one file together, which two copies of SQLite would not.
//!
//! SQLite has one writer at a time. While a batch is written here, the group commit holds
//! the sqlx writer pool's one connection (`group_commit::write_together`), so the store's
//! other writes wait in the pool as they always did, and two transactions never race for
//! SQLite's write lock: no busy-handler sleeps, no `SQLITE_BUSY_SNAPSHOT`.
//!
//! Checkpoints (copying the WAL's pages back into the database file) are not this
//! connection's work. SQLite's automatic checkpoint would run inside the commit that takes
//! the WAL past 1,000 pages: that batch, and every caller queued behind it, waited for
//! 1,000 pages to be copied and two `fsync`s, a few milliseconds every twenty batches or
//! so, which made most of registration's p99. Here a thread of its own (`checkpoints`)
//! copies the pages while batches go on; the writer only finishes the tail, the few pages
//! written since, so that its next transaction can start the WAL over from its beginning
//! (SQLite restarts the log only once every page in it is back in the database). Every
//! queued write waits while the writer copies, so the thread makes the tail short: a pass
//! that finds the WAL past `CHECKPOINT_TAIL` is followed at once by a second over what
//! the writer appended meanwhile, and only then does the writer take its turn.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use latchkey_core::store::{StoreError, StoreResult};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use super::rows::{Insert, Param, TOUCH, chunk_sizes, statement};
use super::stats::Stats;

/// The statement shapes a batch uses: six tables in up to seven chunk sizes, and the guards.
const STATEMENT_CACHE: usize = 64;

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The least time between two background checkpoints: under load a pass every 10 ms copies
/// the pages of a few batches; idle, none runs.
const CHECKPOINT_PACE: Duration = Duration::from_millis(10);

/// WAL pages at which the writer finishes a checkpoint itself, after a batch, so that the
/// log starts over: about ten batches of registrations, 2 MiB (SQLite's own threshold is
/// 1,000 pages).
const CHECKPOINT_TAIL: i64 = 500;

/// The group commit's connection and its background checkpoints.
pub(crate) struct Writer {
    conn: Connection,
    /// Wakes the checkpoint thread; it ends when this is dropped with the writer. `None`
    /// if the thread is gone: SQLite's automatic checkpoint is back on.
    nudge: Option<SyncSender<()>>,
    /// Pages in the WAL when the last background pass ended.
    wal_pages: Arc<AtomicI64>,
    stats: Arc<Stats>,
}

impl Writer {
    /// Opens the store's SQLite file (already created and in WAL mode) and starts its
    /// checkpoint thread; both count their checkpoints in `stats`.
    pub(crate) fn open(path: &Path, stats: Arc<Stats>) -> StoreResult<Writer> {
        let conn = open(path)?;
        // The checkpoint thread's work (see the module's notes).
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(backend)?;
        let checkpointer = open(path)?;
        let (nudge, nudged) = sync_channel(1);
        let wal_pages = Arc::new(AtomicI64::new(0));
        let (pages, counted) = (wal_pages.clone(), stats.clone());
        std::thread::Builder::new()
            .name("latchkey-checkpoint".into())
            .spawn(move || checkpoints(checkpointer, nudged, pages, &counted))
            .map_err(|e| StoreError::Backend(format!("checkpoint thread: {e}")))?;
        Ok(Writer {
            conn,
            nudge: Some(nudge),
            wal_pages,
            stats,
        })
    }

    pub(crate) fn begin(&mut self) -> StoreResult<Batch<'_>> {
        Batch::begin(&mut self.conn)
    }

    /// After a batch committed: wakes the checkpoint thread, and once the WAL has grown
    /// past `CHECKPOINT_TAIL` pages copies what the thread has not yet, so that the next
    /// batch starts the log over. Called while the batch's write gate is still held; a
    /// checkpoint that fails is left to the next one.
    pub(crate) fn committed(&mut self) {
        let Some(nudge) = &self.nudge else { return };
        if let Err(TrySendError::Disconnected(())) = nudge.try_send(()) {
            tracing::warn!("the SQLite checkpoint thread has stopped; checkpointing inline");
            self.nudge = None;
            if let Err(e) = self.conn.pragma_update(None, "wal_autocheckpoint", 1000) {
                tracing::warn!(error = %e, "SQLite: could not turn automatic checkpoints on");
            }
            return;
        }
        if self.wal_pages.load(Ordering::Relaxed) >= CHECKPOINT_TAIL {
            match checkpoint(&self.conn) {
                Ok(_) => {
                    self.stats.checkpoint_tails.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed"),
            }
            self.wal_pages.store(0, Ordering::Relaxed);
        }
    }
}

/// One passive checkpoint: copies the WAL's pages that no reader still needs into the
/// database file, without waiting for anyone. Returns the pages in the WAL.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

/// The checkpoint thread: a pass after batches were committed, at most every
/// `CHECKPOINT_PACE`, until the writer is dropped.
fn checkpoints(conn: Connection, nudged: Receiver<()>, wal_pages: Arc<AtomicI64>, stats: &Stats) {
    while nudged.recv().is_ok() {
        if let Some(mut pages) = pass(&conn, stats) {
            // Past the tail's size the writer finishes the log after its next batch,
            // copying what was appended during this pass. One more pass at once copies most
            // of that here, so the writer's share is what the second pass missed.
            if pages >= CHECKPOINT_TAIL
                && let Some(again) = pass(&conn, stats)
            {
                pages = again;
            }
            wal_pages.store(pages, Ordering::Relaxed);
        }
        std::thread::sleep(CHECKPOINT_PACE);
    }
}

/// One background pass, counted in `stats`; a failure is logged and left to the next.
fn pass(conn: &Connection, stats: &Stats) -> Option<i64> {
    match checkpoint(conn) {
        Ok(pages) => {
            stats.checkpoint_passes.fetch_add(1, Ordering::Relaxed);
            Some(pages)
        }
        Err(e) => {
            tracing::warn!(error = %e, "SQLite checkpoint failed");
            None
        }
    }
}

/// Opens the store's SQLite file (already created and in WAL mode) with the settings the
/// sqlx connections get (`pool_options`).
fn open(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    // journal_mode is the file's; NORMAL sync keeps every acknowledged commit across a
    // process crash, as on the other connections.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(backend)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(backend)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(backend)?;
    // A multi-row insert that may fail halfway keeps a statement journal, and SQLite
    // spills it to a temporary file past 64 KiB, opened, unlinked, written and closed again
    // and again under load. In memory it is bounded by one batch's rows; the
    // writer then writes 6–27% fewer bytes per registration (bench/history/session-5.md).
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// One transaction on the connection. It takes SQLite's write lock when it begins
/// (`IMMEDIATE`), so what it reads cannot change before it commits; dropped without
/// `commit`, it rolls back.
///
/// A `&mut Connection` rather than rusqlite's `Transaction`, which borrows the connection
/// shared and so is not `Send`: on PostgreSQL the same code (`group_commit::BatchTx`) runs
/// as a `Send` task.
pub(crate) struct Batch<'c> {
    conn: &'c mut Connection,
    open: bool,
}

impl<'c> Batch<'c> {
    pub(crate) fn begin(conn: &'c mut Connection) -> StoreResult<Batch<'c>> {
        conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
        Ok(Batch { conn, open: true })
    }

    pub(crate) fn commit(mut self) -> StoreResult<()> {
        self.conn.execute_batch("COMMIT").map_err(backend)?;
        self.open = false;
        Ok(())
    }

    /// Clients of the realm, counted up to `limit`.
    pub(crate) fn count_clients(&self, realm_id: &str, limit: i64) -> StoreResult<i64> {
        self.conn
            .prepare_cached(
                "SELECT COUNT(*) FROM (SELECT 1 FROM clients WHERE realm_id = ? LIMIT ?)",
            )
            .and_then(|mut s| s.query_row((realm_id, limit), |r| r.get(0)))
            .map_err(backend)
    }

    /// An initial access token's (remaining, created_at, expiration).
    pub(crate) fn token(&self, hash: &str) -> StoreResult<Option<(i64, i64, i64)>> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT remaining, created_at, expiration FROM initial_access_tokens \
                 WHERE token_hash = ?",
            )
            .map_err(backend)?;
        let mut rows = s.query([hash]).map_err(backend)?;
        match rows.next().map_err(backend)? {
            Some(r) => Ok(Some((
                r.get(0).map_err(backend)?,
                r.get(1).map_err(backend)?,
                r.get(2).map_err(backend)?,
            ))),
            None => Ok(None),
        }
    }

    pub(crate) fn spend(&self, hash: &str, uses: i64) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE initial_access_tokens SET remaining = remaining - ? WHERE token_hash = ?",
            )
            .and_then(|mut s| s.execute((uses, hash)))
            .map(|_| ())
            .map_err(backend)
    }

    /// Deletes a refresh token; its expiry if it was there.
    pub(crate) fn take_refresh_token(&self, hash: &str) -> StoreResult<Option<i64>> {
        let mut s = self
            .conn
            .prepare_cached("DELETE FROM refresh_tokens WHERE hash = ? RETURNING expires_at")
            .map_err(backend)?;
        let mut rows = s.query([hash]).map_err(backend)?;
        match rows.next().map_err(backend)? {
            Some(r) => Ok(Some(r.get(0).map_err(backend)?)),
            None => Ok(None),
        }
    }

    /// A statement of one text parameter (`$1`), cached.
    pub(crate) fn execute(&self, sql: &str, params: &[&str]) -> StoreResult<()> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(rusqlite::params_from_iter(params)))
            .map(|_| ())
            .map_err(backend)
    }

    /// `rows::TOUCH` on this connection.
    pub(crate) fn touch(&self, day: i64, realm_id: &str, id: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached(TOUCH)
            .and_then(|mut s| s.execute((day, realm_id, id)))
            .map(|_| ())
            .map_err(backend)
    }

    /// `rows::insert_rows` on this connection: the same statements, bound in order.
    pub(crate) fn insert<R: Insert>(&self, rows: &[&R]) -> StoreResult<()> {
        let mut rest = rows;
        for size in chunk_sizes(rows.len()) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut values = Vec::with_capacity(size * R::COLUMNS);
            for row in chunk {
                row.values(&mut values)?;
            }
            let sql = statement(R::HEAD, R::COLUMNS, size, R::TAIL, false);
            self.conn
                .prepare_cached(&sql)
                .and_then(|mut s| s.execute(rusqlite::params_from_iter(&values)))
                .map_err(insert_err::<R>)?;
        }
        Ok(())
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if self.open {
            // A failed rollback leaves nothing to undo: SQLite rolled back already.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// A failed insert of `R`'s rows: a unique or primary-key violation names the broken rule,
/// as sqlx's `is_unique_violation` does on the other path.
fn insert_err<R: Insert>(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    match (&e, R::UNIQUE) {
        (rusqlite::Error::SqliteFailure(f, _), Some(what))
            if matches!(
                f.extended_code,
                SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY
            ) =>
        {
            StoreError::Conflict { what }
        }
        _ => backend(e),
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Text(None) => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Owned(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pass that finds the WAL past the tail's size is followed at once by a second, so
    /// that the tail the writer finishes is short; a smaller WAL gets one pass.
    #[test]
    fn a_long_wal_gets_a_second_pass_before_the_tail() {
        let dir = std::env::temp_dir().join(format!("lk-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (pages, passes) in [(50, 1), (CHECKPOINT_TAIL * 2, 2)] {
            let path = dir.join(format!("wal-{pages}.db"));
            // The store creates the file before the writer opens it.
            Connection::open(&path).unwrap();
            let stats = Arc::new(Stats::default());
            let mut writer = Writer::open(&path, stats.clone()).unwrap();
            writer
                .conn
                .execute_batch("CREATE TABLE t (x BLOB NOT NULL)")
                .unwrap();
            let batch = writer.begin().unwrap();
            for _ in 0..pages {
                batch
                    .conn
                    .execute("INSERT INTO t (x) VALUES (zeroblob(4000))", [])
                    .unwrap();
            }
            batch.commit().unwrap();
            // One nudge: the thread's one turn (one pass, or two back to back), then its pause.
            writer.committed();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while stats.checkpoints().0 < passes && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(CHECKPOINT_PACE * 2);
            let (ran, tails) = stats.checkpoints();
            assert_eq!(ran, passes, "passes over a WAL of about {pages} pages");
            assert_eq!(tails, 0, "the writer finished no tail yet");
            assert!(writer.wal_pages.load(Ordering::Relaxed) >= pages.min(CHECKPOINT_TAIL));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
