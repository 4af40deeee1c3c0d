//! The low-level helpers every statement uses: which database a URL names, the transaction
//! type, reading a row's columns and JSON documents, and mapping sqlx's errors to
//! `StoreError`. A leaf: it imports nothing from the rest of the crate.

use std::sync::Arc;

use latchkey_core::store::{Shared, StoreError, StoreResult};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

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

pub(crate) type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

pub(crate) fn backend_err(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The connection broke under the statement (PostgreSQL ended it: a restart, a failover,
/// `pg_terminate_backend`): a read may be sent again, on another connection.
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        // Class 57, operator intervention: admin or crash shutdown, cannot connect now.
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("57P")),
        _ => false,
    }
}

/// Maps a unique-constraint violation to `Conflict { what }`, anything else to `Backend`.
pub(crate) fn write_err(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict { what },
        _ => backend_err(e),
    }
}

/// A `LIKE` pattern matching values that contain `text` as it is: `%`, `_` and `\` in it
/// are escaped, so a search for `_` finds underscores, not every row. Use it with
/// [`LIKE_ESCAPE`] after the parameter (PostgreSQL escapes with `\` by default, SQLite not
/// at all, so both are told).
pub(crate) fn like_contains(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The escape clause every `LIKE` of a [`like_contains`] pattern carries.
pub(crate) const LIKE_ESCAPE: &str = " ESCAPE '\\'";

pub(crate) fn to_doc<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) fn from_doc<T: DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let text: String = row.try_get(col).map_err(backend_err)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Backend(format!("bad {col}: {e}")))
}

pub(crate) fn get<T>(row: &AnyRow, col: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(backend_err)
}

/// Every row decoded by `decode`, as the shared list a cached read holds.
pub(crate) fn shared<T>(
    rows: &[AnyRow],
    decode: impl FnMut(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Shared<T>> {
    rows.iter()
        .map(decode)
        .collect::<StoreResult<Vec<_>>>()
        .map(Arc::new)
}

/// After a statement that names one row by its key: `NotFound` if it touched none.
pub(crate) fn found(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn exec(tx: &mut Tx<'_>, sql: &str, args: &[&str]) -> StoreResult<u64> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = q.bind(*a);
    }
    q.execute(&mut **tx)
        .await
        .map(|r| r.rows_affected())
        .map_err(backend_err)
}
