//! A realm's resource servers (RFC 8707), read through the cache (`Key::ResourceServers`):
//! a token request naming a `resource` costs no query.

use latchkey_core::store::*;
use sqlx::any::AnyRow;

use crate::cache::{Key, Section};
use crate::sql::{backend_err, found, from_doc, get, shared, to_doc, write_err};
use crate::sql_store::SqlStore;

/// The uniqueness rule a duplicate URI breaks, as `StoreError::Conflict` names it.
const UNIQUE_URI: &str = "resource server uri";

pub(crate) async fn list_resource_servers(
    db: &SqlStore,
    realm_id: &str,
) -> StoreResult<Shared<ResourceServerRecord>> {
    let load = async move {
        let rows = sqlx::query(
            "SELECT id, realm_id, uri, name, scopes FROM resource_servers WHERE realm_id = $1 ORDER BY uri",
        )
        .bind(realm_id)
        .fetch_all(&db.pool)
        .await
        .map_err(backend_err)?;
        shared(&rows, resource_server_row)
    };
    db.cached_all(Key::ResourceServers(realm_id), load).await
}

pub(crate) async fn create_resource_server(
    db: &SqlStore,
    rs: &ResourceServerRecord,
) -> StoreResult<()> {
    rs.check_identifiers()?;
    let sections = [Section::ResourceServers(rs.realm_id.clone())];
    db.write(&sections, async move {
        sqlx::query(
            "INSERT INTO resource_servers (id, realm_id, uri, name, scopes) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&rs.id)
        .bind(&rs.realm_id)
        .bind(&rs.uri)
        .bind(&rs.name)
        .bind(to_doc(&rs.scopes)?)
        .execute(&db.writer)
        .await
        .map(|_| ())
        .map_err(write_err(UNIQUE_URI))
    })
    .await
}

pub(crate) async fn update_resource_server(
    db: &SqlStore,
    rs: &ResourceServerRecord,
) -> StoreResult<()> {
    rs.check_identifiers()?;
    let sections = [Section::ResourceServers(rs.realm_id.clone())];
    db.write(&sections, async move {
        let n = sqlx::query(
            "UPDATE resource_servers SET uri = $3, name = $4, scopes = $5 WHERE realm_id = $1 AND id = $2",
        )
        .bind(&rs.realm_id)
        .bind(&rs.id)
        .bind(&rs.uri)
        .bind(&rs.name)
        .bind(to_doc(&rs.scopes)?)
        .execute(&db.writer)
        .await
        .map_err(write_err(UNIQUE_URI))?;
        found(n.rows_affected())
    })
    .await
}

pub(crate) async fn delete_resource_server(
    db: &SqlStore,
    realm_id: &str,
    id: &str,
) -> StoreResult<()> {
    let sections = [Section::ResourceServers(realm_id.into())];
    db.write(&sections, async move {
        let n = sqlx::query("DELETE FROM resource_servers WHERE realm_id = $1 AND id = $2")
            .bind(realm_id)
            .bind(id)
            .execute(&db.writer)
            .await
            .map_err(backend_err)?;
        found(n.rows_affected())
    })
    .await
}

fn resource_server_row(row: &AnyRow) -> StoreResult<ResourceServerRecord> {
    Ok(ResourceServerRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        uri: get(row, "uri")?,
        name: get(row, "name")?,
        scopes: from_doc(row, "scopes")?,
    })
}
