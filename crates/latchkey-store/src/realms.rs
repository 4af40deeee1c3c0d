//! Realms: the realm rows and their signing keys; creating a realm writes its whole bundle
//! (keys, scopes, clients, roles, users, components) in one transaction.

use latchkey_core::ident;
use latchkey_core::store::*;
use sqlx::any::AnyRow;

use crate::cache::{Key, Section};
use crate::sql::{Tx, backend_err, exec, found, from_doc, get, to_doc, write_err};
use crate::sql_store::SqlStore;
use crate::write::rows::{DefaultScope, UserRole, insert_rows};

pub(crate) async fn list_realms(db: &SqlStore) -> StoreResult<Vec<RealmRecord>> {
    let rows = sqlx::query("SELECT id, name, doc FROM realms ORDER BY name")
        .fetch_all(&db.pool)
        .await
        .map_err(backend_err)?;
    rows.iter().map(realm_row).collect()
}

pub(crate) async fn realm_by_name(db: &SqlStore, name: &str) -> StoreResult<Option<RealmRecord>> {
    if !ident::findable(name) {
        return Ok(None);
    }
    let load = async move {
        let row = sqlx::query("SELECT id, name, doc FROM realms WHERE name = $1")
            .bind(name)
            .fetch_optional(&db.pool)
            .await
            .map_err(backend_err)?;
        row.as_ref().map(realm_row).transpose()
    };
    db.cached_one(Key::Realm(name), load).await
}

pub(crate) async fn create_realm(db: &SqlStore, b: RealmBundle) -> StoreResult<()> {
    b.check_identifiers()?;
    let sections = [Section::All];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        insert_bundle(&mut tx, b).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

/// Deletes realm `old_id` with everything in it and writes `b` in its place, in one
/// transaction: an import that replaces a realm leaves the old one whole when it fails.
pub(crate) async fn replace_realm(db: &SqlStore, old_id: &str, b: RealmBundle) -> StoreResult<()> {
    b.check_identifiers()?;
    let sections = [Section::All];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        delete_rows(&mut tx, old_id).await?;
        insert_bundle(&mut tx, b).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

/// A partial import: deletions, then rows, in one transaction.
pub(crate) async fn apply_realm_changes(
    db: &SqlStore,
    realm_id: &str,
    c: RealmChanges,
) -> StoreResult<()> {
    c.check_identifiers()?;
    let sections = [
        Section::Clients(realm_id.into()),
        Section::Users(realm_id.into()),
        Section::Roles(realm_id.into()),
    ];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        for id in &c.delete_clients {
            crate::clients::delete_in(&mut tx, realm_id, id).await?;
        }
        for id in &c.delete_roles {
            exec(
                &mut tx,
                "DELETE FROM roles WHERE realm_id = $1 AND id = $2",
                &[realm_id, id],
            )
            .await?;
            exec(&mut tx, "DELETE FROM user_roles WHERE role_id = $1", &[id]).await?;
        }
        for id in &c.delete_users {
            exec(
                &mut tx,
                "DELETE FROM users WHERE realm_id = $1 AND id = $2",
                &[realm_id, id],
            )
            .await?;
            exec(&mut tx, "DELETE FROM user_roles WHERE user_id = $1", &[id]).await?;
            exec(
                &mut tx,
                "DELETE FROM refresh_tokens WHERE user_id = $1",
                &[id],
            )
            .await?;
        }
        insert_rows(&mut tx, &c.clients.iter().collect::<Vec<_>>()).await?;
        insert_rows(&mut tx, &c.roles.iter().collect::<Vec<_>>()).await?;
        insert_rows(&mut tx, &c.users.iter().collect::<Vec<_>>()).await?;
        let user_roles: Vec<UserRole> = c
            .user_roles
            .iter()
            .map(|(user_id, role_id)| UserRole {
                realm_id,
                user_id,
                role_id,
            })
            .collect();
        insert_rows(&mut tx, &user_roles.iter().collect::<Vec<_>>()).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

async fn insert_bundle(tx: &mut Tx<'_>, b: RealmBundle) -> StoreResult<()> {
    let realm = b.realm.ok_or(StoreError::NotFound)?;
    sqlx::query("INSERT INTO realms (id, name, doc, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&realm.id)
        .bind(&realm.name)
        .bind(to_doc(&realm.rep)?)
        .bind(0i64)
        .execute(&mut **tx)
        .await
        .map_err(write_err("realm"))?;
    insert_rows(tx, &b.keys.iter().collect::<Vec<_>>()).await?;
    insert_rows(tx, &b.scopes.iter().collect::<Vec<_>>()).await?;
    let default_scopes: Vec<DefaultScope> = b
        .default_scopes
        .iter()
        .map(|(scope_id, default)| DefaultScope {
            realm_id: &realm.id,
            scope_id,
            default: *default,
        })
        .collect();
    insert_rows(tx, &default_scopes.iter().collect::<Vec<_>>()).await?;
    insert_rows(tx, &b.clients.iter().collect::<Vec<_>>()).await?;
    insert_rows(tx, &b.roles.iter().collect::<Vec<_>>()).await?;
    insert_rows(tx, &b.users.iter().collect::<Vec<_>>()).await?;
    insert_rows(tx, &b.components.iter().collect::<Vec<_>>()).await?;
    let user_roles: Vec<UserRole> = b
        .user_roles
        .iter()
        .map(|(user_id, role_id)| UserRole {
            realm_id: &realm.id,
            user_id,
            role_id,
        })
        .collect();
    insert_rows(tx, &user_roles.iter().collect::<Vec<_>>()).await
}

pub(crate) async fn update_realm(db: &SqlStore, realm: &RealmRecord) -> StoreResult<()> {
    realm.check_identifiers()?;
    let sections = [Section::All];
    db.write(&sections, async move {
        let n = sqlx::query("UPDATE realms SET name = $2, doc = $3 WHERE id = $1")
            .bind(&realm.id)
            .bind(&realm.name)
            .bind(to_doc(&realm.rep)?)
            .execute(&db.writer)
            .await
            .map_err(write_err("realm"))?;
        found(n.rows_affected())
    })
    .await
}

pub(crate) async fn delete_realm(db: &SqlStore, realm_id: &str) -> StoreResult<()> {
    let sections = [Section::All];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        delete_rows(&mut tx, realm_id).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

async fn delete_rows(tx: &mut Tx<'_>, realm_id: &str) -> StoreResult<()> {
    for table in [
        "transient",
        "revoked_tokens",
        "components",
        "resource_servers",
        "events",
        "admin_events",
        "initial_access_tokens",
        "refresh_tokens",
        "user_roles",
        "realm_default_scopes",
        "client_scopes",
        "roles",
        "users",
        "clients",
        "realm_keys",
    ] {
        exec(
            tx,
            &format!("DELETE FROM {table} WHERE realm_id = $1"),
            &[realm_id],
        )
        .await?;
    }
    let n = exec(tx, "DELETE FROM realms WHERE id = $1", &[realm_id]).await?;
    found(n)
}

pub(crate) async fn realm_keys(db: &SqlStore, realm_id: &str) -> StoreResult<Vec<KeyRecord>> {
    let rows = sqlx::query(
        "SELECT kid, realm_id, alg, private_sealed, public_jwk, created_at FROM realm_keys WHERE realm_id = $1 ORDER BY created_at, kid",
    )
    .bind(realm_id)
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows.iter().map(key_row).collect()
}

fn realm_row(row: &AnyRow) -> StoreResult<RealmRecord> {
    Ok(RealmRecord {
        id: get(row, "id")?,
        name: get(row, "name")?,
        rep: from_doc(row, "doc")?,
    })
}

fn key_row(row: &AnyRow) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        kid: get(row, "kid")?,
        realm_id: get(row, "realm_id")?,
        alg: get(row, "alg")?,
        private_sealed: get(row, "private_sealed")?,
        public_jwk: from_doc(row, "public_jwk")?,
        created_at: get(row, "created_at")?,
    })
}
