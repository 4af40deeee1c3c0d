//! The online backup of a SQLite database: a consistent copy of the file taken while a
//! server reads and writes it (`latchkey backup`).
//!
//! `VACUUM INTO` rather than SQLite's backup API. It runs in one read transaction, so under
//! WAL the copy is the database as of the last commit before it began, and the server's
//! writer never waits for it (the writer appends to the WAL, the passive checkpoints leave
//! the pages the copy still reads). The backup API, stepped a few pages at a time, starts
//! over whenever another connection writes the source, so under a steady registration load
//! it may never finish; in one step it is the same read transaction as `VACUUM INTO`,
//! which also writes a compact file with no WAL beside it. sqlx offers neither; the
//! statement goes through rusqlite, the store's synchronous driver of the same bundled
//! SQLite (`write/sqlite_writer.rs`), so the command needs no async runtime.

use std::path::Path;
use std::time::Duration;

use latchkey_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};

/// Copies the Latchkey database in the SQLite file `db` into `into`, which must not exist
/// (SQLite refuses to overwrite a database). Returns the schema version copied. The file
/// must be an existing Latchkey database: a missing file is not created.
pub fn sqlite_vacuum_into(db: &Path, into: &Path) -> StoreResult<i64> {
    let backend = |e: rusqlite::Error| StoreError::Backend(e.to_string());
    if !db.is_file() {
        return Err(StoreError::Backend(format!(
            "no database at {}",
            db.display()
        )));
    }
    // Read-write without CREATE: a read-only connection cannot open a WAL database whose
    // `-shm` file is missing (a server stopped cleanly removes it); nothing is written.
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(backend)?;
    let version: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM latchkey_migrations", [], |r| {
            r.get(0)
        })
        .map_err(|_| StoreError::Backend(format!("{} is not a Latchkey database", db.display())))?;
    let into = into
        .to_str()
        .ok_or_else(|| StoreError::Backend(format!("{} is not a UTF-8 path", into.display())))?;
    conn.execute("VACUUM INTO ?1", [into]).map_err(backend)?;
    Ok(version.unwrap_or(0))
}
