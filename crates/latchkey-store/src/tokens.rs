//! Refresh tokens (stored, and rotated, through the group commit, with the resources they
//! were granted for as a JSON array), revoked token ids and login sessions, and used
//! client assertions.

use latchkey_core::store::*;
use latchkey_core::{Millis, ident};

use crate::sql::{backend_err, get};
use crate::sql_store::SqlStore;
use crate::write::rows::RevokedKey;

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

/// The `revoked_tokens` key (its `jti` column) that records a login session's revocation
/// (`revoke_session`): beside access tokens' `jti`s (UUIDs), so the one lookup by key
/// that checks a token's `jti` checks its session too, and the sweep and a realm's
/// deletion that remove `jti`s remove these. `session:` revokes every token of the
/// session (a replay), `online-session:` those without `offline_access` (a logout).
fn session_key(session_id: &str, keep_offline: bool) -> String {
    if keep_offline {
        format!("online-session:{session_id}")
    } else {
        format!("session:{session_id}")
    }
}

/// The key that records the end of one client's part of a login session
/// (`revoke_refresh_token`), as `session_key` does for the whole session: the client by id,
/// which the refresh tokens table holds and the bearer check has from the client record
/// it reads anyway. `client-session:` revokes every token of that client in the session
/// (a revoked offline token), `online-client-session:` those without `offline_access`.
fn client_session_key(session_id: &str, client_uuid: &str, keep_offline: bool) -> String {
    let prefix = if keep_offline { "online-" } else { "" };
    format!("{prefix}client-session:{session_id}:{client_uuid}")
}

/// One query whatever the token: its `jti`, its session's keys and its client's keys in
/// the session, each an index lookup on the primary key (a key a token has not got binds
/// its first one again).
pub(crate) async fn is_revoked(db: &SqlStore, token: &Revocable<'_>) -> StoreResult<bool> {
    let mut keys: Vec<String> = token.jti.iter().map(|j| j.to_string()).collect();
    if let Some(session) = token.session {
        let spared = [false, true]
            .into_iter()
            .filter(|keep| !keep || !token.offline);
        for keep_offline in spared {
            keys.push(session_key(session, keep_offline));
            if let Some(client) = token.client {
                keys.push(client_session_key(session, client, keep_offline));
            }
        }
    }
    let Some(first) = keys.first().cloned() else {
        return Ok(false);
    };
    keys.resize(5, first);
    let mut q = sqlx::query("SELECT jti FROM revoked_tokens WHERE jti IN ($1, $2, $3, $4, $5)");
    for key in &keys {
        q = q.bind(key.as_str());
    }
    let row = q.fetch_optional(&db.pool).await.map_err(backend_err)?;
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

/// A token of a revoked session, or of its client's revoked part of the session, is not
/// there (`session_key`, `client_session_key`), in the same read: a next token that a
/// rotation racing the revocation stored after it (on another node, or read before it) is
/// dead anyway. Concurrent reads share one statement (`refresh_reads`).
pub(crate) async fn refresh_token(
    db: &SqlStore,
    hash: &str,
) -> StoreResult<Option<RefreshTokenRecord>> {
    db.refresh_reads.read(hash).await
}

/// Through the group commit, in line with the token's rotations (`group_commit::Work::Take`):
/// the take and the record of the client's part of the session in one job.
pub(crate) async fn revoke_refresh_token(
    db: &SqlStore,
    token: &RefreshTokenRecord,
    until: Millis,
) -> StoreResult<bool> {
    let offline = token.scope.split(' ').any(|w| w == "offline_access");
    let record = RevokedKey {
        key: client_session_key(&token.session_id, &token.client_uuid, !offline),
        realm_id: token.realm_id.clone(),
        expires_at: until,
    };
    match db.writes.take(token, !offline, record).await {
        Ok(()) => Ok(true),
        Err(StoreError::Precondition {
            failed: Guarded::RefreshToken,
        }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Through the group commit, in line with the session's rotations (`group_commit::Work::Revoke`):
/// the deletion and the session's record in one job.
pub(crate) async fn revoke_session(
    db: &SqlStore,
    realm_id: &str,
    session_id: &str,
    keep_offline: bool,
    until: Millis,
) -> StoreResult<()> {
    let record = RevokedKey {
        key: session_key(session_id, keep_offline),
        realm_id: realm_id.to_string(),
        expires_at: until,
    };
    db.writes.revoke(session_id, keep_offline, record).await
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
