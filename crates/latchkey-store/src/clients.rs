//! Clients: lists, cached reads by id and `clientId`, creation (through the group commit),
//! updates with the registration token's compare-and-set, deletion with what hangs off it,
//! last-used days (queued to the group commit) and expiry (a deletion on a condition).

use latchkey_core::ident;
use latchkey_core::store::*;
use sqlx::any::AnyRow;

use crate::cache::{Key, Section};
use crate::roles::insert_user_roles;
use crate::sql::{Tx, backend_err, exec, found, from_doc, get, to_doc, write_err};
use crate::sql_store::SqlStore;
use crate::write::group_commit::Touch;
use crate::write::rows::insert_rows;

const CLIENT_COLUMNS: &str =
    "id, realm_id, client_id, doc, secret_sealed, rat_hash, created_at, last_used";

/// Clients whose last-used day this node remembers queuing; past it, the memory starts
/// over (at worst one more write per client that day).
const TOUCHED_KEPT: usize = 100_000;

/// The day a client was last used, or created if never used.
const LAST_ACTIVE: &str = "COALESCE(last_used, created_at / 86400000)";

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
        let n = match (&guard.expected_rat, &guard.new_rat) {
            (None, None) => sqlx::query(
                "UPDATE clients SET client_id = $3, doc = $4, secret_sealed = $5 WHERE realm_id = $1 AND id = $2",
            )
            .bind(&c.realm_id)
            .bind(&c.id)
            .bind(&c.client_id)
            .bind(to_doc(&c.rep)?)
            .bind(c.secret_sealed.clone())
            .execute(&mut *tx)
            .await
            .map_err(write_err("clientId"))?,
            (expected, new) => {
                // Rotation is a compare-and-set on the stored hash: of two updates made
                // with one token, exactly one matches.
                let mut sql = String::from(
                    "UPDATE clients SET client_id = $3, doc = $4, secret_sealed = $5, rat_hash = $6 WHERE realm_id = $1 AND id = $2",
                );
                if expected.is_some() {
                    sql.push_str(" AND rat_hash = $7");
                }
                let mut q = sqlx::query(&sql)
                    .bind(&c.realm_id)
                    .bind(&c.id)
                    .bind(&c.client_id)
                    .bind(to_doc(&c.rep)?)
                    .bind(c.secret_sealed.clone())
                    .bind(new.clone().or_else(|| c.rat_hash.clone()));
                if let Some(e) = expected {
                    q = q.bind(e);
                }
                let n = q.execute(&mut *tx).await.map_err(write_err("clientId"))?;
                if n.rows_affected() == 0 && expected.is_some() {
                    return Err(StoreError::Precondition {
                        failed: Guarded::RegistrationToken,
                    });
                }
                n
            }
        };
        found(n.rows_affected())?;
        if let Some((user, roles)) = &b.service_account {
            insert_rows(&mut tx, &[user]).await?;
            insert_user_roles(&mut tx, &user.realm_id, &user.id, roles).await?;
        }
        tx.commit().await.map_err(backend_err)
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
        delete_dependents(&mut tx, id).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

/// Queues the client's last-used day unless this node queued that day (or a later one)
/// already; never waits.
pub(crate) fn touch_client(db: &SqlStore, realm_id: &str, id: &str, day: i64) {
    {
        let mut touched = db.touched.lock().unwrap_or_else(|p| p.into_inner());
        if touched.get(id).is_some_and(|d| *d >= day) {
            return;
        }
        if touched.len() >= TOUCHED_KEPT {
            touched.clear();
        }
        touched.insert(id.to_string(), day);
    }
    db.writes.touch(Touch {
        realm_id: realm_id.into(),
        id: id.into(),
        day,
    });
}

pub(crate) async fn unused_clients(
    db: &SqlStore,
    realm_id: &str,
    before_day: i64,
) -> StoreResult<Vec<ClientRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1 AND {LAST_ACTIVE} < $2 ORDER BY client_id"
    ))
    .bind(realm_id)
    .bind(before_day)
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows.iter().map(client_row).collect()
}

/// Deletes the client only if still unused, its event in the same transaction. The
/// condition is evaluated by the `DELETE` itself: a use committed before it (on any node)
/// keeps the client, and of two nodes expiring it, the second finds no row (PostgreSQL
/// rechecks the condition on the row the first left) and records nothing.
pub(crate) async fn expire_client(
    db: &SqlStore,
    realm_id: &str,
    id: &str,
    before_day: i64,
    event: &EventRecord,
) -> StoreResult<bool> {
    let sections = [
        Section::Clients(realm_id.into()),
        Section::Users(realm_id.into()),
        Section::Roles(realm_id.into()),
    ];
    let mut deleted = false;
    let deleted_ref = &mut deleted;
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        let n = sqlx::query(&format!(
            "DELETE FROM clients WHERE realm_id = $1 AND id = $2 AND {LAST_ACTIVE} < $3"
        ))
        .bind(realm_id)
        .bind(id)
        .bind(before_day)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?
        .rows_affected();
        if n == 0 {
            return tx.rollback().await.map_err(backend_err);
        }
        delete_dependents(&mut tx, id).await?;
        insert_rows(&mut tx, &[event]).await?;
        tx.commit().await.map_err(backend_err)?;
        *deleted_ref = true;
        Ok(())
    })
    .await?;
    Ok(deleted)
}

/// What hangs off a client being deleted: its roles and their grants, its refresh tokens,
/// its service account. Its access tokens stop working with it (`bearer` finds no client).
async fn delete_dependents(tx: &mut Tx<'_>, id: &str) -> StoreResult<()> {
    exec(
        tx,
        "DELETE FROM user_roles WHERE role_id IN (SELECT id FROM roles WHERE client = $1)",
        &[id],
    )
    .await?;
    exec(tx, "DELETE FROM roles WHERE client = $1", &[id]).await?;
    exec(
        tx,
        "DELETE FROM user_roles WHERE user_id IN (SELECT id FROM users WHERE service_account_client = $1)",
        &[id],
    )
    .await?;
    exec(
        tx,
        "DELETE FROM refresh_tokens WHERE client_uuid = $1",
        &[id],
    )
    .await?;
    exec(
        tx,
        "DELETE FROM users WHERE service_account_client = $1",
        &[id],
    )
    .await?;
    Ok(())
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
        last_used: get(row, "last_used")?,
    })
}
