//! Reads of refresh tokens by hash, coalesced: the reads that arrive while earlier ones are
//! in flight go together in the next statement (`WHERE hash IN (…)`, up to 64). Every
//! refresh reads its token and no cache can hold it (each is read once), so under load
//! this read was the database's busiest statement: one pool connection, one statement and
//! sqlx's pings around it, per token. A read never waits for a batch to fill: alone, it
//! goes at once, as a batch of one.
//!
//! A read joins only a statement not yet sent, so it sees everything committed before it
//! was asked for, as a read of its own would.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use latchkey_core::store::{RefreshTokenRecord, StoreError, StoreResult};
use sqlx::AnyPool;
use sqlx::any::AnyRow;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::sql::{Backend, backend_err, connection_lost, get};

/// Tokens per statement at most.
const MOST: usize = 64;

/// Statements in flight at once: while they are out, reads queue for the next ones.
const IN_FLIGHT: usize = 2;

/// A read waiting for its statement.
struct Waiting {
    hash: String,
    answer: oneshot::Sender<StoreResult<Option<RefreshTokenRecord>>>,
}

/// The queue of reads; its task sends them to the database in batches.
pub(crate) struct RefreshReads {
    queue: mpsc::UnboundedSender<Waiting>,
}

impl RefreshReads {
    /// Spawns the task that reads through `pool`, on the runtime this is called on.
    pub(crate) fn start(pool: AnyPool, backend: Backend) -> RefreshReads {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(serve(pool, backend == Backend::Postgres, waiting));
        RefreshReads { queue }
    }

    /// The token stored under `hash`, unless it, its login session or its client's part of
    /// the session was revoked (`tokens::refresh_token`).
    pub(crate) async fn read(&self, hash: &str) -> StoreResult<Option<RefreshTokenRecord>> {
        let (answer, answered) = oneshot::channel();
        let gone = || StoreError::Backend("the refresh token reader stopped".into());
        self.queue
            .send(Waiting {
                hash: hash.to_string(),
                answer,
            })
            .map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

async fn serve(pool: AnyPool, numbered: bool, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = waiting.recv().await {
        // Waiting for a free slot is what lets the next batch gather.
        let Ok(slot) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MOST {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            answer(&pool, numbered, batch).await;
            drop(slot);
        });
    }
}

async fn answer(pool: &AnyPool, numbered: bool, batch: Vec<Waiting>) {
    // A statement whose connection broke is sent once more, on another: one lost
    // connection would otherwise fail every read of the batch.
    let rows = match fetch(pool, numbered, &batch).await {
        Err(e) if connection_lost(&e) => fetch(pool, numbered, &batch).await,
        rows => rows,
    };
    let found: StoreResult<HashMap<String, RefreshTokenRecord>> =
        rows.map_err(backend_err).and_then(|rows| {
            rows.iter()
                .map(|row| refresh_row(row).map(|t| (t.hash.clone(), t)))
                .collect()
        });
    for w in batch {
        // Every reader of a failed statement gets the error; its text for logs only.
        let result = match &found {
            Ok(found) => Ok(found.get(&w.hash).cloned()),
            Err(StoreError::Backend(m)) => Err(StoreError::Backend(m.clone())),
            Err(e) => Err(StoreError::Backend(e.to_string())),
        };
        // A caller that stopped waiting has nothing to be told.
        let _ = w.answer.send(result);
    }
}

async fn fetch(
    pool: &AnyPool,
    numbered: bool,
    batch: &[Waiting],
) -> Result<Vec<AnyRow>, sqlx::Error> {
    // Padded to the next power of two with the last hash again: few statement shapes, each
    // prepared once per connection.
    let shape = batch.len().next_power_of_two();
    let mut query = sqlx::query(statement(shape, numbered));
    for i in 0..shape {
        query = query.bind(batch[i.min(batch.len() - 1)].hash.as_str());
    }
    query.fetch_all(pool).await
}

/// The read of `n` tokens (a power of two up to `MOST`), built once per shape. A token of
/// a revoked session, or of its client's revoked part of the session, is not there
/// (`tokens::session_key`, `tokens::client_session_key`), in the same statement.
/// Placeholders: `$n` on PostgreSQL, anonymous `?` on SQLite (`rows::statement` says why).
fn statement(n: usize, numbered: bool) -> &'static str {
    static TEXTS: OnceLock<[Vec<String>; 2]> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        [false, true].map(|numbered| {
            (0..=MOST.trailing_zeros())
                .map(|log| {
                    let hashes: Vec<String> = (1..=1usize << log)
                        .map(|i| if numbered { format!("${i}") } else { "?".into() })
                        .collect();
                    format!(
                        "SELECT hash, realm_id, client_uuid, user_id, scope, session_id, auth_time, \
                         expires_at, resources FROM refresh_tokens t WHERE hash IN ({}) \
                         AND NOT EXISTS (SELECT 1 FROM revoked_tokens r \
                         WHERE r.jti IN ('session:' || t.session_id, \
                         'client-session:' || t.session_id || ':' || t.client_uuid) \
                         OR (r.jti IN ('online-session:' || t.session_id, \
                         'online-client-session:' || t.session_id || ':' || t.client_uuid) \
                         AND ' ' || t.scope || ' ' NOT LIKE '% offline\\_access %' ESCAPE '\\'))",
                        hashes.join(", ")
                    )
                })
                .collect()
        })
    });
    &texts[usize::from(numbered)][n.min(MOST).trailing_zeros() as usize]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shape_has_its_placeholders() {
        for numbered in [false, true] {
            for n in [1, 2, 4, 8, 16, 32, 64] {
                let sql = statement(n, numbered);
                let marks = if numbered {
                    sql.matches('$').count()
                } else {
                    sql.matches('?').count()
                };
                assert_eq!(marks, n, "{sql}");
            }
        }
        assert!(statement(64, true).contains("$64)"));
    }
}
