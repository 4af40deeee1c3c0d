//! Refresh tokens (stored, and rotated, through the group commit, with the resources they
//! were granted for as a JSON array), revoked token ids and used client assertions.

use latchkey_core::store::*;
use latchkey_core::{Millis, ident};
use sqlx::any::AnyRow;

use crate::sql::{backend_err, get};
use crate::sql_store::SqlStore;

pub(crate) async fn revoke_jti(
    db: &SqlStore,
    realm_id: &str,
    jti: &str,
    expires_at: Millis,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO revoked_tokens (jti, realm_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(realm_id)
    .bind(expires_at)
    .execute(&db.writer)
    .await
    .map(|_| ())
    .map_err(backend_err)
}

pub(crate) async fn is_revoked(db: &SqlStore, jti: &str) -> StoreResult<bool> {
    let row = sqlx::query("SELECT jti FROM revoked_tokens WHERE jti = $1")
        .bind(jti)
        .fetch_optional(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(row.is_some())
}

pub(crate) async fn use_assertion(
    db: &SqlStore,
    id: &str,
    expires_at: Millis,
) -> StoreResult<bool> {
    let n = sqlx::query(
        "INSERT INTO used_assertions (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(expires_at)
    .execute(&db.writer)
    .await
    .map_err(backend_err)?;
    Ok(n.rows_affected() == 1)
}

pub(crate) async fn refresh_token(
    db: &SqlStore,
    hash: &str,
) -> StoreResult<Option<RefreshTokenRecord>> {
    let row = sqlx::query(
        "SELECT hash, realm_id, client_uuid, user_id, scope, session_id, auth_time, expires_at, resources FROM refresh_tokens WHERE hash = $1",
    )
    .bind(hash)
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(refresh_row).transpose()
}

pub(crate) async fn delete_refresh_token(db: &SqlStore, hash: &str) -> StoreResult<bool> {
    let n = sqlx::query("DELETE FROM refresh_tokens WHERE hash = $1")
        .bind(hash)
        .execute(&db.writer)
        .await
        .map_err(backend_err)?;
    Ok(n.rows_affected() > 0)
}

/// Through the group commit, in line with the session's rotations (`group_commit::Work::Revoke`).
pub(crate) async fn delete_session_refresh_tokens(
    db: &SqlStore,
    session_id: &str,
    keep_offline: bool,
) -> StoreResult<()> {
    db.writes.revoke(session_id, keep_offline).await
}

/// Through the group commit: a login's refresh token is batched with other writes.
pub(crate) async fn insert_refresh_token(db: &SqlStore, t: &RefreshTokenRecord) -> StoreResult<()> {
    db.writes.refresh(t.clone()).await
}

/// Through the group commit: the take, the tombstone and the next token commit together,
/// batched with other rotations, and of two rotations of one token only the first finds it.
pub(crate) async fn rotate_refresh_token(
    db: &SqlStore,
    spent: &str,
    now: Millis,
    tombstone: &TransientRecord,
    next: &RefreshTokenRecord,
) -> StoreResult<bool> {
    match db
        .writes
        .rotate(spent, now, tombstone.clone(), next.clone())
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::Precondition {
            failed: Guarded::RefreshToken,
        }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// One query for the live tokens; they are grouped into sessions here (a user holds a
/// handful). Offline tokens are told by their scope word, as the logout's revocation
/// tells them (`group_commit::revoke_statement`).
pub(crate) async fn login_sessions(
    db: &SqlStore,
    realm_id: &str,
    of: SessionsOf<'_>,
    now: Millis,
) -> StoreResult<Vec<LoginSession>> {
    let (sql, key) = match of {
        SessionsOf::User(user) => (
            "SELECT session_id, user_id, client_uuid, scope, auth_time, expires_at FROM refresh_tokens \
             WHERE realm_id = $1 AND user_id = $2 AND expires_at > $3 ORDER BY auth_time, session_id",
            user,
        ),
        SessionsOf::Id(id) => (
            "SELECT session_id, user_id, client_uuid, scope, auth_time, expires_at FROM refresh_tokens \
             WHERE realm_id = $1 AND session_id = $2 AND expires_at > $3 ORDER BY auth_time, session_id",
            id,
        ),
    };
    if !ident::findable(key) {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(sql)
        .bind(realm_id)
        .bind(key)
        .bind(now)
        .fetch_all(&db.pool)
        .await
        .map_err(backend_err)?;
    let mut sessions: Vec<LoginSession> = Vec::new();
    for row in &rows {
        let id: String = get(row, "session_id")?;
        let auth_time: Millis = get(row, "auth_time")?;
        let at = match sessions.iter().position(|s| s.id == id) {
            Some(at) => at,
            None => {
                sessions.push(LoginSession {
                    id,
                    user_id: get(row, "user_id")?,
                    started: auth_time,
                    clients: Vec::new(),
                    online_until: 0,
                    offline_clients: Vec::new(),
                });
                sessions.len() - 1
            }
        };
        let session = &mut sessions[at];
        session.started = session.started.min(auth_time);
        let client: String = get(row, "client_uuid")?;
        let scope: String = get(row, "scope")?;
        if scope.split(' ').any(|w| w == "offline_access") {
            session.offline_clients.push(client);
        } else {
            session.clients.push(client);
            session.online_until = session.online_until.max(get(row, "expires_at")?);
        }
    }
    for s in &mut sessions {
        for list in [&mut s.clients, &mut s.offline_clients] {
            list.sort();
            list.dedup();
        }
    }
    Ok(sessions)
}

fn refresh_row(row: &AnyRow) -> StoreResult<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        hash: get(row, "hash")?,
        realm_id: get(row, "realm_id")?,
        client_uuid: get(row, "client_uuid")?,
        user_id: get(row, "user_id")?,
        scope: get(row, "scope")?,
        session_id: get(row, "session_id")?,
        auth_time: get(row, "auth_time")?,
        expires_at: get(row, "expires_at")?,
        resources: match get::<Option<String>>(row, "resources")? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StoreError::Backend(format!("bad resources: {e}")))?,
            None => Vec::new(),
        },
    })
}
