//! Initial access tokens: created, listed, read by hash through the cache (`Key::InitialAccess`),
//! deleted.

use latchkey_core::store::*;
use sqlx::any::AnyRow;

use crate::cache::{Key, Section};
use crate::sql::{backend_err, from_doc, get, to_doc, write_err};
use crate::sql_store::SqlStore;

const IAT_COLUMNS: &str =
    "id, realm_id, token_hash, created_at, expiration, count, remaining, web_origins";

pub(crate) async fn create_initial_access(
    db: &SqlStore,
    t: &InitialAccessRecord,
) -> StoreResult<()> {
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
    .execute(&db.writer)
    .await
    .map(|_| ())
    .map_err(write_err("initial access token"))
}

pub(crate) async fn list_initial_access(
    db: &SqlStore,
    realm_id: &str,
) -> StoreResult<Vec<InitialAccessRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {IAT_COLUMNS} FROM initial_access_tokens WHERE realm_id = $1 ORDER BY created_at, id"
    ))
    .bind(realm_id)
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows.iter().map(iat_row).collect()
}

pub(crate) async fn initial_access_by_hash(
    db: &SqlStore,
    hash: &str,
) -> StoreResult<Option<InitialAccessRecord>> {
    let load = async move {
        let row = sqlx::query(&format!(
            "SELECT {IAT_COLUMNS} FROM initial_access_tokens WHERE token_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&db.pool)
        .await
        .map_err(backend_err)?;
        row.as_ref().map(iat_row).transpose()
    };
    db.cached_one(Key::InitialAccess(hash), load).await
}

pub(crate) async fn delete_initial_access(
    db: &SqlStore,
    realm_id: &str,
    id: &str,
) -> StoreResult<()> {
    let sections = [Section::InitialAccess(realm_id.into())];
    db.write(&sections, async move {
        sqlx::query("DELETE FROM initial_access_tokens WHERE realm_id = $1 AND id = $2")
            .bind(realm_id)
            .bind(id)
            .execute(&db.writer)
            .await
            .map(|_| ())
            .map_err(backend_err)
    })
    .await
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
