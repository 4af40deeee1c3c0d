//! Roles, and users' role mappings.

use latchkey_core::ident;
use latchkey_core::store::*;
use sqlx::any::AnyRow;

use crate::cache::{Key, Section};
use crate::sql::{backend_err, exec, found, from_doc, get, shared, to_doc, write_err};
use crate::sql_store::SqlStore;
use crate::write::rows::{UserRole, insert_rows};

const ROLE_SELECT: &str = "SELECT r.id, r.realm_id, r.client, r.name, r.doc, c.client_id AS client_client_id \
     FROM roles r LEFT JOIN clients c ON c.id = r.client";

pub(crate) async fn list_roles(
    db: &SqlStore,
    realm_id: &str,
    client: Option<&str>,
) -> StoreResult<Vec<RoleRecord>> {
    let rows = sqlx::query(&format!(
        "{ROLE_SELECT} WHERE r.realm_id = $1 AND r.client = $2 ORDER BY r.name"
    ))
    .bind(realm_id)
    .bind(client.unwrap_or_default())
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows.iter().map(role_row).collect()
}

pub(crate) async fn all_roles(db: &SqlStore, realm_id: &str) -> StoreResult<Shared<RoleRecord>> {
    let load = async move {
        let rows = sqlx::query(&format!("{ROLE_SELECT} WHERE r.realm_id = $1"))
            .bind(realm_id)
            .fetch_all(&db.pool)
            .await
            .map_err(backend_err)?;
        shared(&rows, role_row)
    };
    db.cached_all(Key::Roles(realm_id), load).await
}

pub(crate) async fn role_by_name(
    db: &SqlStore,
    realm_id: &str,
    client: Option<&str>,
    name: &str,
) -> StoreResult<Option<RoleRecord>> {
    if !ident::findable(name) {
        return Ok(None);
    }
    let row = sqlx::query(&format!(
        "{ROLE_SELECT} WHERE r.realm_id = $1 AND r.client = $2 AND r.name = $3"
    ))
    .bind(realm_id)
    .bind(client.unwrap_or_default())
    .bind(name)
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(role_row).transpose()
}

pub(crate) async fn create_role(db: &SqlStore, role: &RoleRecord) -> StoreResult<()> {
    role.check_identifiers()?;
    let sections = [Section::Roles(role.realm_id.clone())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        insert_rows(&mut tx, &[role]).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

pub(crate) async fn update_role(db: &SqlStore, r: &RoleRecord) -> StoreResult<()> {
    r.check_identifiers()?;
    let sections = [Section::Roles(r.realm_id.clone())];
    db.write(&sections, async move {
        let n = sqlx::query("UPDATE roles SET name = $3, doc = $4 WHERE realm_id = $1 AND id = $2")
            .bind(&r.realm_id)
            .bind(&r.id)
            .bind(&r.name)
            .bind(to_doc(&r.rep)?)
            .execute(&db.writer)
            .await
            .map_err(write_err("role"))?;
        found(n.rows_affected())
    })
    .await
}

pub(crate) async fn delete_role(db: &SqlStore, realm_id: &str, id: &str) -> StoreResult<()> {
    let sections = [Section::Roles(realm_id.into())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        let n = exec(
            &mut tx,
            "DELETE FROM roles WHERE realm_id = $1 AND id = $2",
            &[realm_id, id],
        )
        .await?;
        found(n)?;
        exec(&mut tx, "DELETE FROM user_roles WHERE role_id = $1", &[id]).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

pub(crate) async fn user_role_ids(db: &SqlStore, user_id: &str) -> StoreResult<Shared<String>> {
    let load = async move {
        let rows = sqlx::query("SELECT role_id FROM user_roles WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&db.pool)
            .await
            .map_err(backend_err)?;
        shared(&rows, |r| get(r, "role_id"))
    };
    db.cached_all(Key::UserRoles(user_id), load).await
}

pub(crate) async fn add_user_roles(
    db: &SqlStore,
    user_id: &str,
    role_ids: &[String],
) -> StoreResult<()> {
    let sections = [Section::Users(String::new())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        let row = sqlx::query("SELECT realm_id FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_err)?
            .ok_or(StoreError::NotFound)?;
        let realm_id: String = get(&row, "realm_id")?;
        insert_user_roles(&mut tx, &realm_id, user_id, role_ids).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

pub(crate) async fn remove_user_roles(
    db: &SqlStore,
    user_id: &str,
    role_ids: &[String],
) -> StoreResult<()> {
    let sections = [Section::Users(String::new())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        for role_id in role_ids {
            exec(
                &mut tx,
                "DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2",
                &[user_id, role_id],
            )
            .await?;
        }
        tx.commit().await.map_err(backend_err)
    })
    .await
}

fn role_row(row: &AnyRow) -> StoreResult<RoleRecord> {
    let client: String = get(row, "client")?;
    Ok(RoleRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        client: (!client.is_empty()).then_some(client),
        name: get(row, "name")?,
        rep: from_doc(row, "doc")?,
        client_client_id: get(row, "client_client_id")?,
    })
}

/// Maps a user to roles (an existing mapping is kept).
pub(crate) async fn insert_user_roles(
    conn: &mut sqlx::AnyConnection,
    realm_id: &str,
    user_id: &str,
    role_ids: &[String],
) -> StoreResult<()> {
    let rows: Vec<UserRole> = role_ids
        .iter()
        .map(|role_id| UserRole {
            realm_id,
            user_id,
            role_id,
        })
        .collect();
    insert_rows(conn, &rows.iter().collect::<Vec<_>>()).await
}
