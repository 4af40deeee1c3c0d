//! The group commit's own connection to a SQLite file, driven on the group commit's thread.
//!
//! Through sqlx, every statement is a round trip to sqlx's worker thread: a hand-off over a
//! channel and back, two context switches, and on a loaded machine a wait for a core each
//! way. A batch of registrations is about ten statements, and the writer spent most of its
//! time in those switches (BENCHMARKS.md, session 5). Here the writer's own thread calls
//! SQLite, so a batch costs no hand-off at all. rusqlite drives the same bundled library
//! sqlx links (one `libsqlite3-sys`), and that matters: SQLite keeps the POSIX locks of all
//! of a process's connections to one file together, which two copies of SQLite would not.
//!
//! SQLite has one writer at a time. While a batch is written here, the group commit holds
//! the sqlx writer pool's one connection (`group_commit::write_together`), so the store's
//! other writes wait in the pool as they always did, and two transactions never race for
//! SQLite's write lock: no busy-handler sleeps, no `SQLITE_BUSY_SNAPSHOT`.

use std::path::Path;
use std::time::Duration;

use latchkey_core::store::{StoreError, StoreResult};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use crate::rows::{Insert, Param, chunk_sizes, statement};

/// The statement shapes a batch uses: four tables in up to seven chunk sizes, and the guards.
const STATEMENT_CACHE: usize = 64;

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Opens the store's SQLite file (already created and in WAL mode) with the settings the
/// sqlx connections get (`pool_options`).
pub(crate) fn open(path: &Path) -> StoreResult<Connection> {
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
    // writer then writes 6–27% fewer bytes per registration (BENCHMARKS.md, session 5).
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
