//! Clients: lists, cached reads by id and `clientId`, creation (through the group commit),
//! updates with the registration token's compare-and-set, secret rotation with the
//! secret's, deletion with what hangs off it.

use latchkey_core::ident;
use latchkey_core::store::*;
use sqlx::any::AnyRow;

use crate::cache::{Key, Section};
use crate::roles::insert_user_roles;
use crate::sql::{backend_err, exec, found, from_doc, get, to_doc, write_err};
use crate::sql_store::SqlStore;
use crate::write::rows::insert_rows;

const CLIENT_COLUMNS: &str = "id, realm_id, client_id, doc, secret_sealed, rat_hash, created_at, \
     previous_secret_sealed, previous_secret_expires_at";

pub(crate) async fn list_clients(
    db: &SqlStore,
    realm_id: &str,
    q: &ClientQuery,
) -> StoreResult<Vec<ClientRecord>> {
    let mut sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1");
    let filter = q.client_id.as_ref().map(|c| {
        if q.search {
            sql.push_str(" AND LOWER(client_id) LIKE $2");
            format!("%{}%", c.to_lowercase())
        } else {
            sql.push_str(" AND client_id = $2");
            c.clone()
        }
    });
    sql.push_str(" ORDER BY client_id");
    sql.push_str(&format!(
        " LIMIT {} OFFSET {}",
        q.max.unwrap_or(i64::MAX).max(0),
        q.first.max(0)
    ));
    let mut query = sqlx::query(&sql).bind(realm_id);
    if let Some(f) = filter {
        query = query.bind(f);
    }
    let rows = query.fetch_all(&db.pool).await.map_err(backend_err)?;
    rows.iter().map(client_row).collect()
}

pub(crate) async fn client(
    db: &SqlStore,
    realm_id: &str,
    id: &str,
) -> StoreResult<Option<ClientRecord>> {
    let load = async move {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1 AND id = $2"
        ))
        .bind(realm_id)
        .bind(id)
        .fetch_optional(&db.pool)
        .await
        .map_err(backend_err)?;
        row.as_ref().map(client_row).transpose()
    };
    db.cached_one(Key::Client(realm_id, id), load).await
}

pub(crate) async fn client_by_client_id(
    db: &SqlStore,
    realm_id: &str,
    client_id: &str,
) -> StoreResult<Option<ClientRecord>> {
    if !ident::findable(client_id) {
        return Ok(None);
    }
    let load = async move {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1 AND client_id = $2"
        ))
        .bind(realm_id)
        .bind(client_id)
        .fetch_optional(&db.pool)
        .await
        .map_err(backend_err)?;
        row.as_ref().map(client_row).transpose()
    };
    db.cached_one(Key::ClientByClientId(realm_id, client_id), load)
        .await
}

pub(crate) async fn create_client(
    db: &SqlStore,
    b: ClientBundle,
    guard: &WriteGuard,
) -> StoreResult<()> {
    b.check_identifiers()?;
    // Invalidation and notification happen in the creating task, before the answer.
    db.writes.create(b, guard.clone()).await
}

pub(crate) async fn update_client(
    db: &SqlStore,
    b: ClientBundle,
    guard: &WriteGuard,
) -> StoreResult<()> {
    b.check_identifiers()?;
    let sections = [
        Section::Clients(b.client.realm_id.clone()),
        Section::Users(b.client.realm_id.clone()),
    ];
    db.write(&sections, async move {
        let c = &b.client;
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        let previous = c.previous_secret.as_ref();
        // The secret columns are written as the caller read them, the previous secret too,
        // so the client's secrets always change as one.
        let mut sql = String::from(
            "UPDATE clients SET client_id = $3, doc = $4, secret_sealed = $5, rat_hash = $6, \
             previous_secret_sealed = $7, previous_secret_expires_at = $8 \
             WHERE realm_id = $1 AND id = $2",
        );
        // Rotation is a compare-and-set on the stored hash: of two updates made with one
        // token, exactly one matches.
        if guard.expected_rat.is_some() {
            sql.push_str(" AND rat_hash = $9");
        }
        let mut q = sqlx::query(&sql)
            .bind(&c.realm_id)
            .bind(&c.id)
            .bind(&c.client_id)
            .bind(to_doc(&c.rep)?)
            .bind(c.secret_sealed.clone())
            .bind(guard.new_rat.clone().or_else(|| c.rat_hash.clone()))
            .bind(previous.map(|p| p.sealed.clone()))
            .bind(previous.map(|p| p.expires_at));
        if let Some(e) = &guard.expected_rat {
            q = q.bind(e.clone());
        }
        let n = q.execute(&mut *tx).await.map_err(write_err("clientId"))?;
        if n.rows_affected() == 0 && guard.expected_rat.is_some() {
            return Err(StoreError::Precondition {
                failed: Guarded::RegistrationToken,
            });
        }
        found(n.rows_affected())?;
        if let Some((user, roles)) = &b.service_account {
            insert_rows(&mut tx, &[user]).await?;
            insert_user_roles(&mut tx, &user.realm_id, &user.id, roles).await?;
        }
        tx.commit().await.map_err(backend_err)
    })
    .await
}

pub(crate) async fn rotate_client_secret(
    db: &SqlStore,
    c: &ClientRecord,
    expected_secret: &str,
) -> StoreResult<()> {
    c.check_identifiers()?;
    let sections = [Section::Clients(c.realm_id.clone())];
    db.write(&sections, async move {
        let previous = c.previous_secret.as_ref();
        // Compare-and-set on the sealed secret (a fresh nonce each time, so two rotations
        // never seal alike): of concurrent rotations of one secret, exactly one matches.
        let n = sqlx::query(
            "UPDATE clients SET doc = $3, secret_sealed = $4, previous_secret_sealed = $5, \
             previous_secret_expires_at = $6 WHERE realm_id = $1 AND id = $2 AND secret_sealed = $7",
        )
        .bind(&c.realm_id)
        .bind(&c.id)
        .bind(to_doc(&c.rep)?)
        .bind(c.secret_sealed.clone())
        .bind(previous.map(|p| p.sealed.clone()))
        .bind(previous.map(|p| p.expires_at))
        .bind(expected_secret)
        .execute(&db.writer)
        .await
        .map_err(backend_err)?;
        if n.rows_affected() == 0 {
            return Err(StoreError::Precondition {
                failed: Guarded::ClientSecret,
            });
        }
        Ok(())
    })
    .await
}

pub(crate) async fn delete_client(db: &SqlStore, realm_id: &str, id: &str) -> StoreResult<()> {
    let sections = [
        Section::Clients(realm_id.into()),
        Section::Users(realm_id.into()),
        Section::Roles(realm_id.into()),
    ];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        let n = exec(
            &mut tx,
            "DELETE FROM clients WHERE realm_id = $1 AND id = $2",
            &[realm_id, id],
        )
        .await?;
        found(n)?;
        exec(
            &mut tx,
            "DELETE FROM user_roles WHERE role_id IN (SELECT id FROM roles WHERE client = $1)",
            &[id],
        )
        .await?;
        exec(&mut tx, "DELETE FROM roles WHERE client = $1", &[id]).await?;
        exec(
            &mut tx,
            "DELETE FROM user_roles WHERE user_id IN (SELECT id FROM users WHERE service_account_client = $1)",
            &[id],
        )
        .await?;
        exec(
            &mut tx,
            "DELETE FROM refresh_tokens WHERE client_uuid = $1",
            &[id],
        )
        .await?;
        exec(
            &mut tx,
            "DELETE FROM users WHERE service_account_client = $1",
            &[id],
        )
        .await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

pub(crate) async fn count_clients(db: &SqlStore, realm_id: &str) -> StoreResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM clients WHERE realm_id = $1")
        .bind(realm_id)
        .fetch_one(&db.pool)
        .await
        .map_err(backend_err)?;
    get(&row, "n")
}

fn client_row(row: &AnyRow) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        id: get(row, "id")?,
        realm_id: get(row, "realm_id")?,
        client_id: get(row, "client_id")?,
        rep: from_doc(row, "doc")?,
        secret_sealed: get(row, "secret_sealed")?,
        rat_hash: get(row, "rat_hash")?,
        created_at: get(row, "created_at")?,
        previous_secret: match (
            get::<Option<String>>(row, "previous_secret_sealed")?,
            get::<Option<i64>>(row, "previous_secret_expires_at")?,
        ) {
            (Some(sealed), Some(expires_at)) => Some(PreviousSecret { sealed, expires_at }),
            _ => None,
        },
    })
}
