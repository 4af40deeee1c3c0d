//! Browser-flow state in the `transient` table, and the sweep of everything that expires.

use latchkey_core::Millis;
use latchkey_core::store::*;
use serde_json::Value;

use crate::sql::{LIKE_ESCAPE, backend_err, from_doc, get, like_contains, to_doc};
use crate::sql_store::SqlStore;

pub(crate) async fn put_transient(
    db: &SqlStore,
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
    .execute(&db.writer)
    .await
    .map(|_| ())
    .map_err(backend_err)
}

pub(crate) async fn get_transient(
    db: &SqlStore,
    kind: &str,
    id: &str,
    now: Millis,
) -> StoreResult<Option<Value>> {
    let row =
        sqlx::query("SELECT data FROM transient WHERE kind = $1 AND id = $2 AND expires_at > $3")
            .bind(kind)
            .bind(id)
            .bind(now)
            .fetch_optional(&db.pool)
            .await
            .map_err(backend_err)?;
    row.as_ref().map(|r| from_doc(r, "data")).transpose()
}

pub(crate) async fn take_transient(
    db: &SqlStore,
    kind: &str,
    id: &str,
    now: Millis,
) -> StoreResult<Option<Value>> {
    let row =
        sqlx::query("DELETE FROM transient WHERE kind = $1 AND id = $2 RETURNING data, expires_at")
            .bind(kind)
            .bind(id)
            .fetch_optional(&db.writer)
            .await
            .map_err(backend_err)?;
    match row {
        Some(r) if get::<i64>(&r, "expires_at")? > now => Ok(Some(from_doc(&r, "data")?)),
        _ => Ok(None),
    }
}

/// The take and the tombstone in one transaction: on PostgreSQL a concurrent taker's
/// `DELETE` waits for this one's row lock and then finds nothing, the tombstone already
/// committed; on SQLite the writer serialises them.
pub(crate) async fn take_transient_leaving(
    db: &SqlStore,
    kind: &str,
    id: &str,
    now: Millis,
    tombstone: &TransientRecord,
) -> StoreResult<Option<Value>> {
    let mut tx = db.writer.begin().await.map_err(backend_err)?;
    let row =
        sqlx::query("DELETE FROM transient WHERE kind = $1 AND id = $2 RETURNING data, expires_at")
            .bind(kind)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_err)?;
    let taken = match row {
        Some(r) if get::<i64>(&r, "expires_at")? > now => Some(from_doc(&r, "data")?),
        _ => None,
    };
    if taken.is_some() {
        sqlx::query(
            "INSERT INTO transient (kind, id, realm_id, data, expires_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(&tombstone.kind)
        .bind(&tombstone.id)
        .bind(&tombstone.realm_id)
        .bind(to_doc(&tombstone.data)?)
        .bind(tombstone.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
    }
    tx.commit().await.map_err(backend_err)?;
    Ok(taken)
}

pub(crate) async fn delete_transient(db: &SqlStore, kind: &str, id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM transient WHERE kind = $1 AND id = $2")
        .bind(kind)
        .bind(id)
        .execute(&db.writer)
        .await
        .map(|_| ())
        .map_err(backend_err)
}

/// The data is compact JSON (`to_doc`), where an unescaped `"` only delimits a string, so
/// the text `"field":"value"` (both JSON-encoded) occurs only as that member: a `LIKE` on
/// it finds the entries without a JSON operator, the same on both backends.
pub(crate) async fn delete_transient_matching(
    db: &SqlStore,
    kind: &str,
    realm_id: &str,
    field: &str,
    value: &str,
) -> StoreResult<u64> {
    let member = format!("{}:{}", to_doc(&field)?, to_doc(&value)?);
    let sql = format!(
        "DELETE FROM transient WHERE kind = $1 AND realm_id = $2 AND data LIKE $3{LIKE_ESCAPE}"
    );
    let n = sqlx::query(&sql)
        .bind(kind)
        .bind(realm_id)
        .bind(like_contains(&member))
        .execute(&db.writer)
        .await
        .map_err(backend_err)?;
    Ok(n.rows_affected())
}

pub(crate) async fn sweep_expired(db: &SqlStore, now: Millis) -> StoreResult<u64> {
    let mut n = 0;
    for table in [
        "transient",
        "refresh_tokens",
        "revoked_tokens",
        "used_assertions",
    ] {
        n += sqlx::query(&format!("DELETE FROM {table} WHERE expires_at < $1"))
            .bind(now)
            .execute(&db.writer)
            .await
            .map_err(backend_err)?
            .rows_affected();
    }
    Ok(n)
}
