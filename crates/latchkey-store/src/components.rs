//! Components (registration policies, key providers), in creation order. A key
//! provider's key lives in `realm_keys` under the component's id as its `kid`; the
//! components section's invalidation is what tells every node the realm's keys changed.

use latchkey_core::key_providers;
use latchkey_core::store::*;
use sqlx::any::AnyRow;

use crate::cache::{Key, Section};
use crate::sql::{Tx, backend_err, exec, found, from_doc, get, shared, to_doc};
use crate::sql_store::SqlStore;
use crate::write::rows::insert_rows;

pub(crate) async fn list_components(
    db: &SqlStore,
    realm_id: &str,
) -> StoreResult<Shared<ComponentRecord>> {
    let load = async move {
        let rows = sqlx::query(
            "SELECT id, realm_id, parent_id, provider_type, provider_id, sub_type, name, config \
             FROM components WHERE realm_id = $1 ORDER BY created_at, id",
        )
        .bind(realm_id)
        .fetch_all(&db.pool)
        .await
        .map_err(backend_err)?;
        shared(&rows, component_row)
    };
    db.cached_all(Key::Components(realm_id), load).await
}

pub(crate) async fn create_component(db: &SqlStore, c: &ComponentRecord) -> StoreResult<()> {
    let sections = [Section::Components(c.realm_id.clone())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        insert_rows(&mut tx, &[c]).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

pub(crate) async fn create_key_provider(
    db: &SqlStore,
    c: &ComponentRecord,
    key: &KeyRecord,
) -> StoreResult<()> {
    let sections = [Section::Components(c.realm_id.clone())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        insert_rows(&mut tx, &[key]).await?;
        insert_rows(&mut tx, &[c]).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

pub(crate) async fn update_component(db: &SqlStore, c: &ComponentRecord) -> StoreResult<()> {
    let sections = [Section::Components(c.realm_id.clone())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        keeps_a_signer(&mut tx, &c.realm_id, &c.id, Some(c)).await?;
        let n = sqlx::query(
            "UPDATE components SET parent_id = $3, provider_id = $4, sub_type = $5, name = $6, config = $7 \
             WHERE realm_id = $1 AND id = $2",
        )
        .bind(&c.realm_id)
        .bind(&c.id)
        .bind(&c.parent_id)
        .bind(&c.provider_id)
        .bind(c.sub_type.clone())
        .bind(&c.name)
        .bind(to_doc(&c.config)?)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        found(n.rows_affected())?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

pub(crate) async fn delete_component(db: &SqlStore, realm_id: &str, id: &str) -> StoreResult<()> {
    let sections = [Section::Components(realm_id.into())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        keeps_a_signer(&mut tx, realm_id, id, None).await?;
        let n = sqlx::query("DELETE FROM components WHERE realm_id = $1 AND id = $2")
            .bind(realm_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        found(n.rows_affected())?;
        sqlx::query("DELETE FROM realm_keys WHERE realm_id = $1 AND kid = $2")
            .bind(realm_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

/// Takes the realm's lock, then refuses the change (`changed` replaces the component `id`,
/// `None` deletes it) if the realm's components as committed now would be left without
/// a signer for an algorithm. A check before the transaction is not enough: two admins
/// each deleting one of two RSA keys would both pass it and leave the realm unable to
/// sign. The no-op write to the realm row takes SQLite's write lock and PostgreSQL's row
/// lock, so such changes queue on every node and each sees the one before it.
async fn keeps_a_signer(
    tx: &mut Tx<'_>,
    realm_id: &str,
    id: &str,
    changed: Option<&ComponentRecord>,
) -> StoreResult<()> {
    exec(
        tx,
        "UPDATE realms SET name = name WHERE id = $1",
        &[realm_id],
    )
    .await?;
    let rows = sqlx::query(
        "SELECT id, realm_id, parent_id, provider_type, provider_id, sub_type, name, config \
         FROM components WHERE realm_id = $1",
    )
    .bind(realm_id)
    .fetch_all(&mut **tx)
    .await
    .map_err(backend_err)?;
    let all = rows
        .iter()
        .map(component_row)
        .collect::<StoreResult<Vec<_>>>()?;
    match key_providers::orphaned_alg(&all, id, changed) {
        Some(_) => Err(StoreError::Precondition {
            failed: Guarded::LastSigningKey,
        }),
        None => Ok(()),
    }
}

fn component_row(row: &AnyRow) -> StoreResult<ComponentRecord> {
    Ok(ComponentRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        parent_id: get(row, "parent_id")?,
        provider_type: get(row, "provider_type")?,
        provider_id: get(row, "provider_id")?,
        sub_type: get(row, "sub_type")?,
        name: get(row, "name")?,
        config: from_doc(row, "config")?,
    })
}
