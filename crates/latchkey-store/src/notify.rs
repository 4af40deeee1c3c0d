//! Cross-node cache coherence on PostgreSQL: after a write a node drops what it touched
//! from its own cache and tells the others on one channel (`publish`); each node listens
//! on it and drops what the others changed (`listen`). On SQLite one process owns the
//! file, so only the local half runs.

use std::sync::Weak;
use std::time::Duration;

use sqlx::AnyPool;

use crate::cache::{Cache, Section};
use crate::sql::Backend;

/// The PostgreSQL channel on which nodes tell each other what they changed.
const CACHE_CHANNEL: &str = "latchkey_cache";

/// Keeps this node's cache coherent with the other nodes': listens for their changes and
/// turns the cache off whenever the listener is not connected.
pub(crate) fn listen(url: String, cache: Weak<Cache>) {
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut listener) => match listener.listen(CACHE_CHANNEL).await {
                    Ok(()) => {
                        let Some(c) = cache.upgrade() else { return };
                        c.set_enabled(true);
                        drop(c);
                        // `None`: the connection dropped (and notifications with it).
                        while let Ok(Some(n)) = listener.try_recv().await {
                            let Some(c) = cache.upgrade() else { return };
                            for line in n.payload().lines() {
                                c.invalidate(&Section::decode(line));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cache listener: LISTEN failed"),
                },
                Err(e) => tracing::warn!(error = %e, "cache listener: cannot connect"),
            }
            let Some(c) = cache.upgrade() else { return };
            c.set_enabled(false);
            drop(c);
            tracing::warn!(
                "cache listener disconnected; serving from the database until it is back"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// After a write: drop what it touched here, and (PostgreSQL, if it committed) tell the
/// other nodes. Invalidating after a failed write too costs a few re-reads and rules out
/// trusting a write's outcome.
pub(crate) async fn publish(
    cache: &Cache,
    backend: Backend,
    writer: &AnyPool,
    sections: &[Section],
    committed: bool,
) {
    for s in sections {
        cache.invalidate(s);
    }
    if backend != Backend::Postgres || !committed || sections.is_empty() {
        return;
    }
    let payload = sections
        .iter()
        .map(Section::encode)
        .collect::<Vec<_>>()
        .join("\n");
    // pg_notify inside a sub-select: the Any driver cannot decode its void result.
    let sent = sqlx::query("SELECT COUNT(*) AS n FROM (SELECT pg_notify($1, $2)) AS t")
        .bind(CACHE_CHANNEL)
        .bind(payload)
        .fetch_one(writer)
        .await;
    if let Err(e) = sent {
        // The other nodes' entries expire within cache::TTL.
        tracing::warn!(error = %e, "cache: could not notify other nodes");
    }
}
