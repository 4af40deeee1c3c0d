//! Clients: lists (filtered and counted in SQL), cached reads by id and `clientId`,
//! creation (through the group commit), updates with the registration token's
//! compare-and-set, secret rotation with the secret's, deletion with what hangs off it,
//! the bulk forms of both, last-used days (queued to the group commit) and expiry (a
//! deletion on a condition).

use std::sync::LazyLock;

use latchkey_core::ident;
use latchkey_core::registration::kind::RegistrationKind;
use latchkey_core::store::*;
use sqlx::any::AnyRow;

use crate::cache::{Cached, Key, Section};
use crate::roles::insert_user_roles;
use crate::sql::{
    LIKE_ESCAPE, Tx, backend_err, exec, found, from_doc, get, like_contains, to_doc, write_err,
};
use crate::sql_store::SqlStore;
use crate::users::{SERVICE_ACCOUNT_AS, user_columns_as, user_row_as};
use crate::write::group_commit::Touch;
use crate::write::rows::insert_rows;

const CLIENT_COLUMNS: &str = "id, realm_id, client_id, doc, secret_sealed, rat_hash, created_at, \
     previous_secret_sealed, previous_secret_expires_at, last_used";

/// The `WHERE` clause of a client list and its parameters after `$1` (the realm).
fn list_filter(q: &ClientQuery) -> (String, Vec<String>) {
    let mut sql = String::from(" WHERE realm_id = $1");
    let mut binds = Vec::new();
    if let Some(c) = &q.client_id {
        if q.search {
            binds.push(like_contains(&c.to_lowercase()));
            sql.push_str(&format!(
                " AND LOWER(client_id) LIKE ${}{LIKE_ESCAPE}",
                binds.len() + 1
            ));
        } else {
            binds.push(c.clone());
            sql.push_str(&format!(" AND client_id = ${}", binds.len() + 1));
        }
    }
    if let Some(kind) = q.registration {
        binds.push(kind.as_str().to_string());
        sql.push_str(&format!(" AND registration_kind = ${}", binds.len() + 1));
    }
    match q.usage {
        Some(Usage::Never) => sql.push_str(" AND last_used IS NULL"),
        // A number the server computed, not text from the request: written into the SQL
        // so both backends compare it as an integer.
        Some(Usage::UnusedSince(day)) => sql.push_str(&format!(" AND {LAST_ACTIVE} < {day}")),
        None => {}
    }
    (sql, binds)
}

/// The day a client was last used, or created if never used.
const LAST_ACTIVE: &str = "COALESCE(last_used, created_at / 86400000)";

pub(crate) async fn list_clients(
    db: &SqlStore,
    realm_id: &str,
    q: &ClientQuery,
) -> StoreResult<Vec<ClientRecord>> {
    let (filter, binds) = list_filter(q);
    let sql = format!(
        "SELECT {CLIENT_COLUMNS} FROM clients{filter} ORDER BY client_id LIMIT {} OFFSET {}",
        q.max.unwrap_or(i64::MAX).max(0),
        q.first.max(0)
    );
    let mut query = sqlx::query(&sql).bind(realm_id);
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.fetch_all(&db.pool).await.map_err(backend_err)?;
    rows.iter().map(client_row).collect()
}

/// How many clients `list_clients` finds with this query's filters, whatever its page.
pub(crate) async fn count_listed_clients(
    db: &SqlStore,
    realm_id: &str,
    q: &ClientQuery,
) -> StoreResult<i64> {
    let (filter, binds) = list_filter(q);
    let sql = format!("SELECT COUNT(*) AS n FROM clients{filter}");
    let mut query = sqlx::query(&sql).bind(realm_id);
    for b in binds {
        query = query.bind(b);
    }
    let row = query.fetch_one(&db.pool).await.map_err(backend_err)?;
    get(&row, "n")
}

/// The realm's clients with these ids (those that exist), in one query.
pub(crate) async fn clients_by_ids(
    db: &SqlStore,
    realm_id: &str,
    ids: &[String],
) -> StoreResult<Vec<ClientRecord>> {
    let ids: Vec<&String> = ids.iter().filter(|i| ident::findable(i)).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let params: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1 AND id IN ({}) ORDER BY client_id",
        params.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(realm_id);
    for id in ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(&db.pool).await.map_err(backend_err)?;
    rows.iter().map(client_row).collect()
}

/// Clients per realm name and registration kind, one grouped query.
pub(crate) async fn clients_per_kind(db: &SqlStore) -> StoreResult<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT r.name AS realm, c.registration_kind AS kind, COUNT(*) AS n FROM clients c JOIN realms r ON r.id = c.realm_id GROUP BY r.name, c.registration_kind ORDER BY r.name, c.registration_kind",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows.iter()
        .map(|row| Ok((get(row, "realm")?, get(row, "kind")?, get(row, "n")?)))
        .collect()
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

/// A client by `clientId` with its service account and the account's role mappings: one
/// row per mapping (one with none, the account's columns `NULL` without an account), each
/// join through an index (the `clientId` key, `users_service_account`, `user_roles`' key).
static CLIENT_WITH_ACCOUNT: LazyLock<String> = LazyLock::new(|| {
    let client = CLIENT_COLUMNS
        .split(", ")
        .map(|c| format!("c.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let account = user_columns_as("u", &SERVICE_ACCOUNT_AS);
    format!(
        "SELECT {client}, {account}, m.role_id AS sa_role_id FROM clients c \
         LEFT JOIN users u ON u.service_account_client = c.id AND u.realm_id = c.realm_id \
         LEFT JOIN user_roles m ON m.user_id = u.id \
         WHERE c.realm_id = $1 AND c.client_id = $2"
    )
});

/// A client by `clientId`. Not cached, it is read with its service account and their role
/// mappings in one statement (`CLIENT_WITH_ACCOUNT`), and those fill the cache too: a
/// `client_credentials` request for a client not in the cache then costs one query, not one
/// per read (`service_account_user`, `user_role_ids`), which on PostgreSQL is a round trip
/// each.
pub(crate) async fn client_by_client_id(
    db: &SqlStore,
    realm_id: &str,
    client_id: &str,
) -> StoreResult<Option<ClientRecord>> {
    if !ident::findable(client_id) {
        return Ok(None);
    }
    let key = Key::ClientByClientId(realm_id, client_id);
    if let Some(c) = db.cache.get(&key).and_then(ClientRecord::unwrap) {
        return Ok(Some(c));
    }
    // Taken before the read, as `cached_one` does: a write that lands meanwhile keeps
    // every value of this read out of the cache.
    let generation = db.cache.generation();
    let rows = sqlx::query(&CLIENT_WITH_ACCOUNT)
        .bind(realm_id)
        .bind(client_id)
        .fetch_all(&db.pool)
        .await
        .map_err(backend_err)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let client = client_row(first)?;
    db.cache.fill(generation, &key, client.clone().wrap());
    if get::<Option<String>>(first, SERVICE_ACCOUNT_AS[0])?.is_some() {
        let account = user_row_as(first, &SERVICE_ACCOUNT_AS)?;
        // (Only one account per client is ever stored; should there be more, the mappings
        // are those of the account read, as `service_account_user` reads one.)
        let mut roles = Vec::new();
        for row in &rows {
            if get::<Option<String>>(row, SERVICE_ACCOUNT_AS[0])?.as_deref() == Some(&account.id)
                && let Some(role) = get::<Option<String>>(row, "sa_role_id")?
            {
                roles.push(role);
            }
        }
        db.cache.fill(
            generation,
            &Key::UserRoles(&account.id),
            Shared::new(roles).wrap(),
        );
        db.cache.fill(
            generation,
            &Key::ServiceAccount(realm_id, &client.id),
            account.wrap(),
        );
    }
    Ok(Some(client))
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
             previous_secret_sealed = $7, previous_secret_expires_at = $8, registration_kind = $9 \
             WHERE realm_id = $1 AND id = $2",
        );
        // Rotation is a compare-and-set on the stored hash: of two updates made with one
        // token, exactly one matches. The secret likewise, against a rotation by a
        // registration read.
        let mut next = 10;
        if guard.expected_rat.is_some() {
            sql.push_str(&format!(" AND rat_hash = ${next}"));
            next += 1;
        }
        if guard.expected_secret.is_some() {
            sql.push_str(&format!(" AND secret_sealed IS NOT DISTINCT FROM ${next}"));
        }
        let mut q = sqlx::query(&sql)
            .bind(&c.realm_id)
            .bind(&c.id)
            .bind(&c.client_id)
            .bind(to_doc(&c.rep)?)
            .bind(c.secret_sealed.clone())
            .bind(guard.new_rat.clone().or_else(|| c.rat_hash.clone()))
            .bind(previous.map(|p| p.sealed.clone()))
            .bind(previous.map(|p| p.expires_at))
            .bind(RegistrationKind::of(&c.rep).as_str());
        if let Some(e) = &guard.expected_rat {
            q = q.bind(e.clone());
        }
        if let Some(e) = &guard.expected_secret {
            q = q.bind(e.clone());
        }
        let n = q.execute(&mut *tx).await.map_err(write_err("clientId"))?;
        if n.rows_affected() == 0
            && let Some(failed) = failed_guard(&mut tx, c, guard).await?
        {
            return Err(StoreError::Precondition { failed });
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

/// Which of an update's guards no longer holds, read after the guarded `UPDATE` matched no
/// row; `None` when the client is gone (or no guard was set).
async fn failed_guard(
    tx: &mut Tx<'_>,
    c: &ClientRecord,
    guard: &WriteGuard,
) -> StoreResult<Option<Guarded>> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT rat_hash, secret_sealed FROM clients WHERE realm_id = $1 AND id = $2",
    )
    .bind(&c.realm_id)
    .bind(&c.id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend_err)?;
    let Some((rat, secret)) = row else {
        return Ok(None);
    };
    if guard
        .expected_rat
        .as_ref()
        .is_some_and(|e| rat.as_ref() != Some(e))
    {
        return Ok(Some(Guarded::RegistrationToken));
    }
    if guard.expected_secret.as_ref().is_some_and(|e| *e != secret) {
        return Ok(Some(Guarded::ClientSecret));
    }
    Ok(None)
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
    let sections = client_sections(realm_id);
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        found(delete_in(&mut tx, realm_id, id).await?)?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

/// Deletes those of `ids` that exist, in one transaction; returns the ones it deleted.
pub(crate) async fn delete_clients(
    db: &SqlStore,
    realm_id: &str,
    ids: &[String],
) -> StoreResult<Vec<String>> {
    let sections = client_sections(realm_id);
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        let mut deleted = Vec::new();
        for id in ids {
            if delete_in(&mut tx, realm_id, id).await? > 0 {
                deleted.push(id.clone());
            }
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(deleted)
    })
    .await
}

/// Replaces the documents of these clients (their `enabled` and attributes), in one
/// transaction; returns the ids of those that still existed.
pub(crate) async fn update_client_docs(
    db: &SqlStore,
    realm_id: &str,
    clients: &[ClientRecord],
) -> StoreResult<Vec<String>> {
    let sections = [
        Section::Clients(realm_id.into()),
        Section::Users(realm_id.into()),
    ];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        let mut updated = Vec::new();
        for c in clients {
            let n = sqlx::query(
                "UPDATE clients SET doc = $3, registration_kind = $4 WHERE realm_id = $1 AND id = $2",
            )
            .bind(realm_id)
            .bind(&c.id)
            .bind(to_doc(&c.rep)?)
            .bind(RegistrationKind::of(&c.rep).as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
            if n.rows_affected() > 0 {
                updated.push(c.id.clone());
            }
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(updated)
    })
    .await
}

fn client_sections(realm_id: &str) -> [Section; 3] {
    [
        Section::Clients(realm_id.into()),
        Section::Users(realm_id.into()),
        Section::Roles(realm_id.into()),
    ]
}

/// Deletes one client and what hangs off it inside `tx`; the number of clients deleted.
pub(crate) async fn delete_in(tx: &mut Tx<'_>, realm_id: &str, id: &str) -> StoreResult<u64> {
    let n = exec(
        tx,
        "DELETE FROM clients WHERE realm_id = $1 AND id = $2",
        &[realm_id, id],
    )
    .await?;
    if n == 0 {
        return Ok(0);
    }
    delete_dependents(tx, id).await?;
    Ok(n)
}

/// Queues the client's last-used day unless this node queued that day (or a later one)
/// already; never waits.
pub(crate) fn touch_client(db: &SqlStore, realm_id: &str, id: &str, day: i64) {
    {
        let mut touched = db.touched.lock().unwrap_or_else(|p| p.into_inner());
        if touched.queued(id, day) {
            return;
        }
        touched.remember(id, day);
    }
    let queued = db.writes.touch(Touch {
        realm_id: realm_id.into(),
        id: id.into(),
        day,
    });
    if !queued {
        // The writer is behind: forget it here, so the client's next use queues it again.
        db.touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget(id);
    }
}

pub(crate) async fn unused_clients(
    db: &SqlStore,
    realm_id: &str,
    before_day: i64,
    after: Option<&str>,
    max: usize,
) -> StoreResult<Vec<ClientRecord>> {
    // Only registered clients can expire: an administrator's (`admin`) are not read. Pages
    // in id order (the primary key), so a realm of a million clients is never one read.
    let rows = sqlx::query(&format!(
        "SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1 AND id > $3 AND {LAST_ACTIVE} < $2 \
         AND registration_kind <> 'admin' ORDER BY id LIMIT {}",
        max.min(i64::MAX as usize)
    ))
    .bind(realm_id)
    .bind(before_day)
    .bind(after.unwrap_or(""))
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
    let sections = client_sections(realm_id);
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
        previous_secret: match (
            get::<Option<String>>(row, "previous_secret_sealed")?,
            get::<Option<i64>>(row, "previous_secret_expires_at")?,
        ) {
            (Some(sealed), Some(expires_at)) => Some(PreviousSecret { sealed, expires_at }),
            _ => None,
        },
        last_used: get(row, "last_used")?,
    })
}
