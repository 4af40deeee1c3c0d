//! Users: queries, cached reads by id and by service-account client, creation, updates and
//! deletion.

use latchkey_core::ident;
use latchkey_core::rep::RealmRep;
use latchkey_core::store::*;
use sqlx::any::AnyRow;

use crate::cache::{Key, Section};
use crate::roles::insert_user_roles;
use crate::sql::{
    LIKE_ESCAPE, Tx, backend_err, exec, found, from_doc, get, like_contains, to_doc, write_err,
};
use crate::sql_store::SqlStore;
use crate::write::rows::insert_rows;

pub(crate) async fn list_users(
    db: &SqlStore,
    realm_id: &str,
    q: &UserQuery,
) -> StoreResult<Vec<UserRecord>> {
    let (filter, args) = user_filter(q);
    let sql = format!(
        "SELECT {} FROM users{filter} ORDER BY username LIMIT {} OFFSET {}",
        USER_COLUMNS.join(", "),
        q.max.max(0),
        q.first.max(0)
    );
    let mut query = sqlx::query(&sql).bind(realm_id);
    for a in args {
        query = query.bind(a);
    }
    let rows = query.fetch_all(&db.pool).await.map_err(backend_err)?;
    rows.iter().map(user_row).collect()
}

pub(crate) async fn count_users(db: &SqlStore, realm_id: &str, q: &UserQuery) -> StoreResult<i64> {
    let (filter, args) = user_filter(q);
    let sql = format!("SELECT COUNT(*) AS n FROM users{filter}");
    let mut query = sqlx::query(&sql).bind(realm_id);
    for a in args {
        query = query.bind(a);
    }
    let row = query.fetch_one(&db.pool).await.map_err(backend_err)?;
    get(&row, "n")
}

pub(crate) async fn user(
    db: &SqlStore,
    realm_id: &str,
    id: &str,
) -> StoreResult<Option<UserRecord>> {
    let load = async move { user_where(db, "id", realm_id, id).await };
    db.cached_one(Key::User(realm_id, id), load).await
}

pub(crate) async fn user_by_username(
    db: &SqlStore,
    realm_id: &str,
    username: &str,
) -> StoreResult<Option<UserRecord>> {
    user_where(db, "username", realm_id, &username.to_lowercase()).await
}

pub(crate) async fn user_by_email(
    db: &SqlStore,
    realm_id: &str,
    email: &str,
) -> StoreResult<Option<UserRecord>> {
    user_where(db, "email", realm_id, &email.to_lowercase()).await
}

pub(crate) async fn service_account_user(
    db: &SqlStore,
    realm_id: &str,
    client_uuid: &str,
) -> StoreResult<Option<UserRecord>> {
    let load = async move { user_where(db, "service_account_client", realm_id, client_uuid).await };
    db.cached_one(Key::ServiceAccount(realm_id, client_uuid), load)
        .await
}

pub(crate) async fn create_user(
    db: &SqlStore,
    user: &UserRecord,
    role_ids: &[String],
) -> StoreResult<()> {
    user.check_identifiers()?;
    let sections = [Section::Users(user.realm_id.clone())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        email_is_free(&mut tx, user).await?;
        insert_rows(&mut tx, &[user]).await?;
        insert_user_roles(&mut tx, &user.realm_id, &user.id, role_ids).await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

pub(crate) async fn update_user(db: &SqlStore, u: &UserRecord) -> StoreResult<()> {
    u.check_identifiers()?;
    let sections = [Section::Users(u.realm_id.clone())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        let stored = sqlx::query("SELECT email FROM users WHERE realm_id = $1 AND id = $2")
            .bind(&u.realm_id)
            .bind(&u.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_err)?;
        let Some(stored) = stored else {
            return Err(StoreError::NotFound);
        };
        // Only a new address is checked: a user already sharing one (from when the realm
        // allowed duplicates) can still be updated otherwise.
        if get::<Option<String>>(&stored, "email")? != u.email {
            email_is_free(&mut tx, u).await?;
        }
        let n = sqlx::query(
            "UPDATE users SET username = $3, email = $4, first_name = $5, last_name = $6, doc = $7, password_hash = $8 \
             WHERE realm_id = $1 AND id = $2",
        )
        .bind(&u.realm_id)
        .bind(&u.id)
        .bind(&u.username)
        .bind(u.email.clone())
        .bind(u.rep.first_name.clone())
        .bind(u.rep.last_name.clone())
        .bind(to_doc(&u.rep)?)
        .bind(u.password_hash.clone())
        .execute(&mut *tx)
        .await
        .map_err(write_err("username"))?;
        found(n.rows_affected())?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

/// `Conflict { what: "email" }` when another user of the realm has `u`'s email and the
/// realm does not allow duplicates (`duplicateEmailsAllowed`, Keycloak's default false).
/// Email is no unique column (the realm's setting decides), so the check runs under the
/// realm's lock: the no-op write to its row takes SQLite's write lock and PostgreSQL's
/// row lock, and of concurrent writers of one address the later sees the earlier.
async fn email_is_free(tx: &mut Tx<'_>, u: &UserRecord) -> StoreResult<()> {
    let Some(email) = u.email.as_deref() else {
        return Ok(());
    };
    exec(
        tx,
        "UPDATE realms SET name = name WHERE id = $1",
        &[&u.realm_id],
    )
    .await?;
    let realm = sqlx::query("SELECT doc FROM realms WHERE id = $1")
        .bind(&u.realm_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend_err)?;
    let Some(realm) = realm else {
        return Err(StoreError::NotFound);
    };
    let rep: RealmRep = from_doc(&realm, "doc")?;
    if rep.duplicate_emails_allowed == Some(true) {
        return Ok(());
    }
    let taken = sqlx::query(
        "SELECT 1 AS one FROM users WHERE realm_id = $1 AND email = $2 AND id <> $3 LIMIT 1",
    )
    .bind(&u.realm_id)
    .bind(email)
    .bind(&u.id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend_err)?;
    match taken {
        Some(_) => Err(StoreError::Conflict { what: "email" }),
        None => Ok(()),
    }
}

pub(crate) async fn delete_user(db: &SqlStore, realm_id: &str, id: &str) -> StoreResult<()> {
    let sections = [Section::Users(realm_id.into())];
    db.write(&sections, async move {
        let mut tx = db.writer.begin().await.map_err(backend_err)?;
        let n = exec(
            &mut tx,
            "DELETE FROM users WHERE realm_id = $1 AND id = $2",
            &[realm_id, id],
        )
        .await?;
        found(n)?;
        exec(&mut tx, "DELETE FROM user_roles WHERE user_id = $1", &[id]).await?;
        exec(
            &mut tx,
            "DELETE FROM refresh_tokens WHERE user_id = $1",
            &[id],
        )
        .await?;
        tx.commit().await.map_err(backend_err)
    })
    .await
}

/// A user row's columns, in `UserRecord`'s order.
const USER_COLUMNS: [&str; 8] = [
    "id",
    "realm_id",
    "username",
    "email",
    "doc",
    "password_hash",
    "service_account_client",
    "created_at",
];

/// The same columns under other names, for a statement that reads a user beside another
/// table's row (`SERVICE_ACCOUNT_AS` below).
pub(crate) type UserColumns = [&'static str; 8];

/// A service account read beside its client (`clients::client_by_client_id`).
pub(crate) const SERVICE_ACCOUNT_AS: UserColumns = [
    "sa_id",
    "sa_realm_id",
    "sa_username",
    "sa_email",
    "sa_doc",
    "sa_password_hash",
    "sa_service_account_client",
    "sa_created_at",
];

/// `SELECT` items reading table `alias`'s user columns as `names`.
pub(crate) fn user_columns_as(alias: &str, names: &UserColumns) -> String {
    USER_COLUMNS
        .iter()
        .zip(names)
        .map(|(column, name)| format!("{alias}.{column} AS {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn user_row(row: &AnyRow) -> StoreResult<UserRecord> {
    user_row_as(row, &USER_COLUMNS)
}

/// The user in `row`'s columns `names`.
pub(crate) fn user_row_as(row: &AnyRow, names: &UserColumns) -> StoreResult<UserRecord> {
    let [
        id,
        realm_id,
        username,
        email,
        doc,
        password_hash,
        service_account_client,
        created_at,
    ] = *names;
    Ok(UserRecord {
        id: get(row, id)?,
        realm_id: get(row, realm_id)?,
        username: get(row, username)?,
        email: get(row, email)?,
        rep: from_doc(row, doc)?,
        password_hash: get(row, password_hash)?,
        service_account_client: get(row, service_account_client)?,
        created_at: get(row, created_at)?,
    })
}

/// Where-clause and arguments for a user query (`$2…`; `$1` is the realm).
fn user_filter(q: &UserQuery) -> (String, Vec<String>) {
    let mut sql = String::from(" WHERE realm_id = $1 AND service_account_client IS NULL");
    let mut args = Vec::new();
    let mut add = |col: &str, value: &Option<String>| {
        if let Some(v) = value {
            let n = args.len() + 2;
            if q.exact {
                args.push(v.to_lowercase());
                sql.push_str(&format!(" AND LOWER({col}) = ${n}"));
            } else {
                args.push(like_contains(&v.to_lowercase()));
                sql.push_str(&format!(" AND LOWER({col}) LIKE ${n}{LIKE_ESCAPE}"));
            }
        }
    };
    add("username", &q.username);
    add("email", &q.email);
    add("first_name", &q.first_name);
    add("last_name", &q.last_name);
    if let Some(s) = &q.search {
        let s = s.trim().trim_matches('*').to_lowercase();
        args.push(like_contains(&s));
        let n = args.len() + 1;
        let e = LIKE_ESCAPE;
        sql.push_str(&format!(
            " AND (LOWER(username) LIKE ${n}{e} OR LOWER(COALESCE(email, '')) LIKE ${n}{e} \
              OR LOWER(COALESCE(first_name, '')) LIKE ${n}{e} OR LOWER(COALESCE(last_name, '')) LIKE ${n}{e})"
        ));
    }
    (sql, args)
}

async fn user_where(
    db: &SqlStore,
    col: &'static str,
    realm_id: &str,
    value: &str,
) -> StoreResult<Option<UserRecord>> {
    let key = value
        .strip_prefix(latchkey_core::ident::SERVICE_ACCOUNT_PREFIX)
        .unwrap_or(value);
    if !ident::findable(key) {
        return Ok(None);
    }
    let row = sqlx::query(&format!(
        "SELECT {} FROM users WHERE realm_id = $1 AND {col} = $2",
        USER_COLUMNS.join(", ")
    ))
    .bind(realm_id)
    .bind(value)
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(user_row).transpose()
}
