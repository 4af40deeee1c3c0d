//! Client scopes and the realm's default scopes.

use latchkey_core::store::*;
use sqlx::any::AnyRow;

use crate::cache::{Key, Section};
use crate::sql::{backend_err, exec, found, from_doc, get, shared, to_doc, write_err};
use crate::sql_store::SqlStore;
use crate::write::rows::insert_rows;

pub(crate) async fn list_scopes(db: &SqlStore, realm_id: &str) -> StoreResult<Shared<ScopeRecord>> {
    let load = async move {
        let rows = sqlx::query(
            "SELECT id, realm_id, name, doc FROM client_scopes WHERE realm_id = $1 ORDER BY name",
        )
        .bind(realm_id)
        .fetch_all(&db.pool)
        .await
        .map_err(backend_err)?;
        shared(&rows, scope_row)
    };
    db.cached_all(Key::Scopes(realm_id), load).await
}

pub(crate) async fn create_scope(db: &SqlStore, scope: &ScopeRecord) -> StoreResult<()> {
    scope.check_identifiers()?;
    let sections = [Section::Scopes(scope.realm_id.clone())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        insert_rows(&mut tx, &[scope]).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

pub(crate) async fn update_scope(db: &SqlStore, s: &ScopeRecord) -> StoreResult<()> {
    s.check_identifiers()?;
    let sections = [Section::Scopes(s.realm_id.clone())];
    db.write(&sections, async move {
        let n = sqlx::query(
            "UPDATE client_scopes SET name = $3, doc = $4 WHERE realm_id = $1 AND id = $2",
        )
        .bind(&s.realm_id)
        .bind(&s.id)
        .bind(&s.name)
        .bind(to_doc(&s.rep)?)
        .execute(&db.writer)
        .await
        .map_err(write_err("client scope"))?;
        found(n.rows_affected())
    })
    .await
}

pub(crate) async fn delete_scope(db: &SqlStore, realm_id: &str, id: &str) -> StoreResult<()> {
    let sections = [Section::Scopes(realm_id.into())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        let n = exec(
            &mut tx,
            "DELETE FROM client_scopes WHERE realm_id = $1 AND id = $2",
            &[realm_id, id],
        )
        .await?;
        found(n)?;
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

pub(crate) async fn realm_default_scopes(
    db: &SqlStore,
    realm_id: &str,
) -> StoreResult<Shared<(String, bool)>> {
    let load = async move {
        let rows = sqlx::query(
            "SELECT scope_id, is_default FROM realm_default_scopes WHERE realm_id = $1",
        )
        .bind(realm_id)
        .fetch_all(&db.pool)
        .await
        .map_err(backend_err)?;
        shared(&rows, |r| {
            Ok((get(r, "scope_id")?, get::<i64>(r, "is_default")? != 0))
        })
    };
    db.cached_all(Key::DefaultScopes(realm_id), load).await
}

pub(crate) async fn set_realm_default_scope(
    db: &SqlStore,
    realm_id: &str,
    scope_id: &str,
    default: bool,
) -> StoreResult<()> {
    let sections = [Section::Scopes(realm_id.into())];
    db.write(&sections, async move {
        sqlx::query(
            "INSERT INTO realm_default_scopes (realm_id, scope_id, is_default) VALUES ($1, $2, $3) \
             ON CONFLICT (realm_id, scope_id) DO UPDATE SET is_default = excluded.is_default",
        )
        .bind(realm_id)
        .bind(scope_id)
        .bind(i64::from(default))
        .execute(&db.writer)
        .await
        .map(|_| ())
        .map_err(backend_err)
    })
    .await
}

pub(crate) async fn remove_realm_default_scope(
    db: &SqlStore,
    realm_id: &str,
    scope_id: &str,
) -> StoreResult<()> {
    let sections = [Section::Scopes(realm_id.into())];
    db.write(&sections, async move {
        sqlx::query("DELETE FROM realm_default_scopes WHERE realm_id = $1 AND scope_id = $2")
            .bind(realm_id)
            .bind(scope_id)
            .execute(&db.writer)
            .await
            .map(|_| ())
            .map_err(backend_err)
    })
    .await
}

fn scope_row(row: &AnyRow) -> StoreResult<ScopeRecord> {
    Ok(ScopeRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        name: get(row, "name")?,
        rep: from_doc(row, "doc")?,
    })
}
