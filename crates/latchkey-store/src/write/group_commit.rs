//! Group commit for the store's hot writes: client creation (registrations and the admin
//! API alike), registration events, clients' last-used days and refresh tokens (a login's
//! first, each rotation: the old token taken, its tombstone and the next one stored, a
//! token's revocation, and a login session's revocation with its record, after the
//! batch's own inserts).
//!
//! One task per store takes every write waiting for it and commits them together in one
//! transaction: the guards of each creation (max-clients, initial access token counts)
//! are decided in arrival order under locks on the realm and token rows, the rows go in
//! with one multi-row statement per table (`rows`), and each caller is answered after the
//! commit, so an acknowledged write is as durable as before. Under load a batch is
//! whatever queued while the previous one committed; alone, a write is a batch of one
//! and waits for nothing. On a SQLite file the batch is written on the task's own
//! connection (`sqlite_writer`), elsewhere through sqlx; `settle` (decide, write, commit) is the same for both.
//!
//! If anything in a batch fails (a `clientId` already taken, a database error), the
//! batch is rolled back and its writes run again one by one, each as a batch of one in its
//! own transaction, so one bad request never fails another.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use latchkey_core::Millis;
use latchkey_core::store::{
    ClientBundle, ClientRecord, EventRecord, Guarded, RefreshTokenRecord, StoreError, StoreResult,
    TransientRecord, UserRecord, WriteGuard,
};
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use tokio::sync::{mpsc, oneshot};

use super::rows::{Insert, Rendered, RevokedKey, UserRole, insert_rows};
use super::sqlite_writer::{Batch, Writer};
use super::stats::Stats;
use crate::cache::{Cache, Section};
use crate::notify::publish;
use crate::sql::{Backend, Tx, backend_err, exec, get};

/// The most writes one transaction commits, besides its last-used days.
const MAX_BATCH: usize = 64;

/// The most last-used days one transaction writes beside `MAX_BATCH` other writes.
const MAX_TOUCHES: usize = 64;

enum Work {
    /// A client (with its service account) under its guard.
    Create(Box<Creation>),
    Event(Box<Rendered<EventRecord>>),
    /// A client's last-used day (`SqlStore::touch_client`): nobody waits for it.
    Touch(Box<Touch>),
    Refresh(Box<Refresh>),
    /// A login session's refresh tokens revoked (`Store::revoke_session`).
    /// In the same queue as rotations, so that on a node a revocation and a rotation of the
    /// session are ordered: the revocation runs after its batch's inserts (a rotation
    /// batched with it loses its next token), and a rotation queued after it finds its
    /// token gone. Through sqlx, a revocation outside the queue could miss a next token
    /// inserted by a batch not yet committed.
    Revoke(Box<Revoke>),
    /// One refresh token taken out (RFC 7009 revocation, `Store::revoke_refresh_token`), in
    /// line with its rotations: of a revocation and rotations of one token, the first in
    /// arrival order gets it, and a rotation committed before finds it gone.
    Take(Box<Take>),
}

/// A refresh token to take out and, if it was there, the end of its client's part of its
/// login session: the client's other tokens of the session deleted (offline ones too
/// unless `keep_offline`) and the end remembered, written with the take.
struct Take {
    hash: String,
    session_id: String,
    client_uuid: String,
    keep_offline: bool,
    record: RevokedKey,
}

pub(crate) struct Revoke {
    session_id: String,
    keep_offline: bool,
    /// The session remembered as revoked, written with the deletion.
    record: RevokedKey,
}

/// A refresh token to store and, for a rotation, the token it spends first.
struct Refresh {
    next: RefreshTokenRecord,
    spends: Option<Spend>,
}

/// The token a rotation takes out, and the tombstone that remembers it.
struct Spend {
    hash: String,
    now: Millis,
    tombstone: Rendered<TransientRecord>,
}

pub(crate) struct Touch {
    pub(crate) realm_id: String,
    pub(crate) id: String,
    pub(crate) day: i64,
}

/// A `ClientBundle` and its guard, every document serialised in the caller's task, in
/// parallel with the others, so the one writer only binds and writes (`rows::Rendered`).
struct Creation {
    client: Rendered<ClientRecord>,
    service_account: Option<(Rendered<UserRecord>, Vec<String>)>,
    guard: WriteGuard,
    event: Option<Rendered<EventRecord>>,
}

struct Job {
    work: Work,
    /// The answer, with the work handed back: its rows were allocated by the caller's
    /// thread, and freeing them there instead of on the writer spares the allocator a
    /// cross-thread free per allocation, and the writer that time (BENCHMARKS.md,
    /// session 8).
    done: oneshot::Sender<(StoreResult<()>, Work)>,
}

/// The queues in front of the writing task: the writes someone waits for, and last-used
/// days on a queue of their own, so that a backlog of days (a token load over more clients
/// than the writer keeps up with) never stands in line before a registration: each batch
/// takes what is waiting on both, up to its bound on each.
pub(crate) struct GroupCommit {
    queue: mpsc::UnboundedSender<Job>,
    touches: mpsc::UnboundedSender<Job>,
    stats: Arc<Stats>,
    /// Touches queued and not yet written (`MAX_PENDING_TOUCHES`).
    pending_touches: Arc<AtomicUsize>,
}

/// Last-used days queued at most: a token load over more clients than the writer keeps up
/// with would otherwise grow the queue (memory, and every creation's wait behind it)
/// without bound. Past it a touch is not queued and its client's next use tries again.
const MAX_PENDING_TOUCHES: usize = 4_096;

/// What the writing task writes with.
pub(crate) enum Connection {
    /// The store's writer pool: on a SQLite file taken only as the lock beside the task's
    /// own SQLite connection (`sqlite_writer`); in memory, the one connection there is.
    Store(AnyPool),
    /// PostgreSQL: a pool of its own, opened on the task's thread, whose sockets that
    /// thread's runtime drives.
    Own(Box<(AnyPoolOptions, AnyConnectOptions)>),
}

impl GroupCommit {
    /// Starts the writing task on a thread of its own (a current-thread runtime); it ends
    /// when the store is dropped. `sqlite_file` is the store's SQLite file, written on the
    /// task's own connection (`sqlite_writer`); without it (PostgreSQL, SQLite in memory)
    /// batches go through sqlx.
    ///
    /// Why a thread: on the shared runtime every return trip from the database (sqlx's
    /// worker thread on SQLite, a socket on PostgreSQL) waited in line behind the HTTP
    /// requests' tasks, several times per batch, while every write of the node waited for
    /// that batch. Under a load of token requests beside registrations on PostgreSQL,
    /// each batch took tens of milliseconds that way.
    pub(crate) fn start(
        connection: Connection,
        sqlite_file: Option<&std::path::Path>,
        cache: Arc<Cache>,
        backend: Backend,
    ) -> StoreResult<GroupCommit> {
        let (queue, jobs) = mpsc::unbounded_channel();
        let (touches, touch_jobs) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let direct = sqlite_file
            .map(|path| Writer::open(path, stats.clone()))
            .transpose()?;
        let pending_touches = Arc::new(AtomicUsize::new(0));
        let queues = Queues {
            jobs,
            touches: touch_jobs,
        };
        let (task_stats, task_pending) = (stats.clone(), pending_touches.clone());
        let task = async move {
            let writer = match connection {
                Connection::Store(pool) => pool,
                // Lazily: connecting needs the thread's runtime, and a database that is
                // down fails the batches (as any store call), not the start.
                Connection::Own(own) => {
                    let (pool, options) = *own;
                    pool.connect_lazy_with(options)
                }
            };
            run(
                queues,
                writer,
                direct,
                cache,
                backend,
                task_stats,
                task_pending,
            )
            .await
        };
        let failed = |e: std::io::Error| StoreError::Backend(format!("writer thread: {e}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(failed)?;
        std::thread::Builder::new()
            .name("latchkey-writer".into())
            .spawn(move || runtime.block_on(task))
            .map_err(failed)?;
        Ok(GroupCommit {
            queue,
            touches,
            stats,
            pending_touches,
        })
    }

    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Last-used days queued and not yet written (at most `MAX_PENDING_TOUCHES`).
    pub(crate) fn pending_touches(&self) -> usize {
        self.pending_touches.load(Ordering::Acquire)
    }

    /// Creates the bundle's client under `guard`; answers after the commit.
    pub(crate) async fn create(
        &self,
        bundle: ClientBundle,
        mut guard: WriteGuard,
    ) -> StoreResult<()> {
        let service_account = match bundle.service_account {
            Some((user, roles)) => Some((Rendered::new(user)?, roles)),
            None => None,
        };
        let creation = Creation {
            client: Rendered::new(bundle.client)?,
            service_account,
            event: guard.event.take().map(Rendered::new).transpose()?,
            guard,
        };
        self.submit(Work::Create(Box::new(creation))).await
    }

    /// Queues a client's last-used day and returns at once: the answer goes nowhere. It
    /// commits with the next batch; a later day never goes back to an earlier one. `false`
    /// when `MAX_PENDING_TOUCHES` are queued already: nothing was queued.
    pub(crate) fn touch(&self, touch: Touch) -> bool {
        if self.pending_touches.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING_TOUCHES {
            self.pending_touches.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        let (done, _) = oneshot::channel();
        let _ = self.touches.send(Job {
            work: Work::Touch(Box::new(touch)),
            done,
        });
        true
    }

    /// Stores a refresh token; answers after the commit.
    pub(crate) async fn refresh(&self, next: RefreshTokenRecord) -> StoreResult<()> {
        self.submit(Work::Refresh(Box::new(Refresh { next, spends: None })))
            .await
    }

    /// Takes `spent` out and, if it was there and unexpired at `now`, stores `tombstone`
    /// and `next`, all in one transaction (`Store::rotate_refresh_token`); answers after the
    /// commit. `Precondition { RefreshToken }`: `spent` was not there, nothing was stored.
    pub(crate) async fn rotate(
        &self,
        spent: &str,
        now: Millis,
        tombstone: TransientRecord,
        next: RefreshTokenRecord,
    ) -> StoreResult<()> {
        let spends = Spend {
            hash: spent.to_string(),
            now,
            tombstone: Rendered::new(tombstone)?,
        };
        self.submit(Work::Refresh(Box::new(Refresh {
            next,
            spends: Some(spends),
        })))
        .await
    }

    /// Revokes a login session's refresh tokens (all, or all but offline ones) and stores
    /// `record`, which remembers the revocation; answers after the commit.
    pub(crate) async fn revoke(
        &self,
        session_id: &str,
        keep_offline: bool,
        record: RevokedKey,
    ) -> StoreResult<()> {
        self.submit(Work::Revoke(Box::new(Revoke {
            session_id: session_id.to_string(),
            keep_offline,
            record,
        })))
        .await
    }

    /// Takes one refresh token out and, if it was there, deletes its client's other tokens of
    /// its session (offline ones too unless `keep_offline`) and stores `record`; answers
    /// after the commit. `Precondition { RefreshToken }`: it was not there, nothing was
    /// stored.
    pub(crate) async fn take(
        &self,
        token: &RefreshTokenRecord,
        keep_offline: bool,
        record: RevokedKey,
    ) -> StoreResult<()> {
        self.submit(Work::Take(Box::new(Take {
            hash: token.hash.clone(),
            session_id: token.session_id.clone(),
            client_uuid: token.client_uuid.clone(),
            keep_offline,
            record,
        })))
        .await
    }

    /// Stores an event; answers after the commit.
    pub(crate) async fn event(&self, event: EventRecord) -> StoreResult<()> {
        self.submit(Work::Event(Box::new(Rendered::new(event)?)))
            .await
    }

    async fn submit(&self, work: Work) -> StoreResult<()> {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Backend("the store's writer has stopped".into());
        self.queue.send(Job { work, done }).map_err(|_| stopped())?;
        // `_rows` is dropped here, on the caller's thread.
        answer
            .await
            .map(|(result, _rows)| result)
            .unwrap_or_else(|_| Err(stopped()))
    }
}

/// The writing task's ends of the two queues.
struct Queues {
    jobs: mpsc::UnboundedReceiver<Job>,
    touches: mpsc::UnboundedReceiver<Job>,
}

impl Queues {
    /// Waits for a job on either queue, then takes what else is waiting on both, up to
    /// `MAX_BATCH` jobs and `MAX_TOUCHES` last-used days. `false` once the store is gone.
    async fn gather(&mut self, batch: &mut Vec<Job>) -> bool {
        let first = tokio::select! {
            biased;
            job = self.jobs.recv() => job,
            job = self.touches.recv() => job,
        };
        let Some(first) = first else {
            return false;
        };
        let first_is_touch = matches!(first.work, Work::Touch(_));
        batch.push(first);
        let (jobs, touches) = if first_is_touch { (0, 1) } else { (1, 0) };
        fill(&mut self.jobs, batch, MAX_BATCH - jobs);
        fill(&mut self.touches, batch, MAX_TOUCHES - touches);
        true
    }
}

/// Moves up to `room` waiting jobs from `queue` into `batch`, without waiting.
fn fill(queue: &mut mpsc::UnboundedReceiver<Job>, batch: &mut Vec<Job>, room: usize) {
    for _ in 0..room {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

async fn run(
    mut queues: Queues,
    writer: AnyPool,
    mut direct: Option<Writer>,
    cache: Arc<Cache>,
    backend: Backend,
    stats: Arc<Stats>,
    pending_touches: Arc<AtomicUsize>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH + MAX_TOUCHES);
    while queues.gather(&mut batch).await {
        let jobs = std::mem::take(&mut batch);
        let touches = jobs
            .iter()
            .filter(|j| matches!(j.work, Work::Touch(_)))
            .count();
        pending_touches.fetch_sub(touches, Ordering::AcqRel);
        let results = commit(&writer, &mut direct, &jobs, &stats).await;
        stats.writes.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let touched = jobs
            .iter()
            .zip(&results)
            .filter(|(j, r)| matches!(j.work, Work::Touch(_)) && r.is_ok())
            .count();
        stats.touches.fetch_add(touched as u64, Ordering::Relaxed);
        // A creation changes no row anyone could have cached (absent rows are not cached):
        // it invalidates nothing, so a flood of registrations leaves the realm's cached
        // clients alone.
        let mut sections: Vec<Section> = Vec::new();
        for (job, result) in jobs.iter().zip(&results) {
            let s = match (&job.work, result) {
                // The cached client shows its last-used day.
                (Work::Touch(t), Ok(())) => Section::Client(t.realm_id.clone(), t.id.clone()),
                (
                    Work::Create(creation),
                    Err(StoreError::Precondition {
                        failed: Guarded::InitialAccessToken,
                    }),
                ) => {
                    // The cached token's count was stale: reread it on the next attempt.
                    Section::InitialAccess(creation.client.row.realm_id.clone())
                }
                _ => continue,
            };
            if !sections.contains(&s) {
                sections.push(s);
            }
        }
        // Before anyone is answered: a caller that reads back what it created sees it.
        let committed = results.iter().any(Result::is_ok);
        publish(&cache, backend, &writer, &sections, committed).await;
        for (job, result) in jobs.into_iter().zip(results) {
            // A caller that went away no longer needs the answer; its write stays.
            let _ = job.done.send((result, job.work));
        }
    }
}

/// One result per job, in order.
async fn commit(
    writer: &AnyPool,
    direct: &mut Option<Writer>,
    jobs: &[Job],
    stats: &Stats,
) -> Vec<StoreResult<()>> {
    stats.transactions.fetch_add(1, Ordering::Relaxed);
    match write_together(writer, direct, jobs).await {
        Ok(results) => return results,
        Err(e) if jobs.len() == 1 => return vec![Err(e)],
        Err(e) => {
            tracing::debug!(error = %e, jobs = jobs.len(), "batch failed; writing one by one")
        }
    }
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs.chunks(1) {
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        results.push(match write_together(writer, direct, job).await {
            // `write_together` answers every job it is given.
            Ok(mut alone) => alone
                .pop()
                .unwrap_or_else(|| Err(StoreError::Backend("a write got no answer".into()))),
            Err(e) => Err(e),
        });
    }
    results
}

/// An initial access token as locked in the transaction.
struct Token {
    remaining: i64,
    created_at: i64,
    expiration: i64,
}

impl Token {
    /// Whether the token admits one more use at one job's clock, `used` uses of it already
    /// given to earlier jobs of the batch.
    fn admits(&self, used: i64, now_secs: i64) -> bool {
        self.remaining - used > 0
            && (self.expiration == 0 || self.created_at + self.expiration > now_secs)
    }
}

/// Clients per last-used `UPDATE`, and refresh tokens per `DELETE`, through sqlx.
const TOUCH_CHUNK: usize = 64;

/// `DELETE` of `n` refresh tokens by hash (`$1`…), returning each one taken with its
/// expiry: like `touch_many`, one text per `n`, built once.
fn take_many(n: usize) -> &'static str {
    static TEXTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        (1..=TOUCH_CHUNK)
            .map(|n| {
                let hashes: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
                format!(
                    "DELETE FROM refresh_tokens WHERE hash IN ({}) RETURNING hash, expires_at",
                    hashes.join(", ")
                )
            })
            .collect()
    });
    &texts[n.clamp(1, TOUCH_CHUNK) - 1]
}

/// `TOUCH` for `n` clients of one realm (`$1` day, `$2` realm, `$3`… the clients): one
/// statement text per `n`, built once, so each stays a prepared statement.
fn touch_many(n: usize) -> &'static str {
    static TEXTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        (1..=TOUCH_CHUNK)
            .map(|n| {
                let ids: Vec<String> = (0..n).map(|i| format!("${}", i + 3)).collect();
                format!(
                    "UPDATE clients SET last_used = $1 WHERE realm_id = $2 AND id IN ({}) \
                     AND (last_used IS NULL OR last_used < $1)",
                    ids.join(", ")
                )
            })
            .collect()
    });
    &texts[n.clamp(1, TOUCH_CHUNK) - 1]
}

/// A batch's transaction: through sqlx, or on the group commit's own SQLite connection.
enum BatchTx<'c> {
    Sqlx(Tx<'c>),
    Direct(Batch<'c>),
}

impl BatchTx<'_> {
    /// Takes the realm's creation lock, then counts its clients up to `limit`.
    async fn count_clients(&mut self, realm_id: &str, limit: i64) -> StoreResult<i64> {
        match self {
            BatchTx::Sqlx(tx) => {
                // A no-op write to the realm row first: it takes SQLite's write lock and
                // PostgreSQL's row lock, so creators in this realm queue here, on every
                // node, and the count cannot go stale before the inserts commit.
                exec(
                    tx,
                    "UPDATE realms SET name = name WHERE id = $1",
                    &[realm_id],
                )
                .await?;
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM clients WHERE realm_id = $1 LIMIT $2) AS c",
                )
                .bind(realm_id)
                .bind(limit)
                .fetch_one(&mut **tx)
                .await
                .map_err(backend_err)?;
                get::<i64>(&row, "n")
            }
            // `BEGIN IMMEDIATE` holds SQLite's one write lock already.
            BatchTx::Direct(b) => b.count_clients(realm_id, limit),
        }
    }

    /// Locks an initial access token's row and reads it.
    async fn token(&mut self, hash: &str) -> StoreResult<Option<Token>> {
        let found = match self {
            BatchTx::Sqlx(tx) => {
                // A no-op write takes the row's lock and reads what is left under it.
                let row = sqlx::query(
                    "UPDATE initial_access_tokens SET remaining = remaining WHERE token_hash = $1 \
                     RETURNING remaining, created_at, expiration",
                )
                .bind(hash)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend_err)?;
                match row {
                    Some(row) => Some((
                        get(&row, "remaining")?,
                        get(&row, "created_at")?,
                        get(&row, "expiration")?,
                    )),
                    None => None,
                }
            }
            BatchTx::Direct(b) => b.token(hash)?,
        };
        Ok(found.map(|(remaining, created_at, expiration)| Token {
            remaining,
            created_at,
            expiration,
        }))
    }

    /// Spends `uses` of an initial access token if it has that many left, else nothing;
    /// either way locks its row and returns its state before, and whether it spent.
    async fn take(&mut self, hash: &str, uses: i64) -> StoreResult<Option<(Token, bool)>> {
        match self {
            BatchTx::Sqlx(tx) => {
                // One round trip where there were two (lock and read, then spend): what was
                // there before is what is left plus what was spent, read under the lock the
                // spend took.
                let row = sqlx::query(
                    "UPDATE initial_access_tokens SET remaining = remaining - $1 \
                     WHERE token_hash = $2 AND remaining >= $1 \
                     RETURNING remaining, created_at, expiration",
                )
                .bind(uses)
                .bind(hash)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend_err)?;
                if let Some(row) = row {
                    let token = Token {
                        remaining: get::<i64>(&row, "remaining")? + uses,
                        created_at: get(&row, "created_at")?,
                        expiration: get(&row, "expiration")?,
                    };
                    return Ok(Some((token, true)));
                }
            }
            // In process, a read and a write cost no round trip: `BEGIN IMMEDIATE` holds the
            // lock already.
            BatchTx::Direct(_) => {
                let token = self.token(hash).await?;
                let enough = token.as_ref().is_some_and(|t| t.remaining >= uses);
                if enough {
                    self.spend(hash, uses).await?;
                }
                return Ok(token.map(|t| (t, enough)));
            }
        }
        // Fewer uses left than asked for, or no such token: locked and read, nothing spent.
        Ok(self.token(hash).await?.map(|t| (t, false)))
    }

    async fn spend(&mut self, hash: &str, uses: i64) -> StoreResult<()> {
        match self {
            BatchTx::Sqlx(tx) => sqlx::query(
                "UPDATE initial_access_tokens SET remaining = remaining - $1 WHERE token_hash = $2",
            )
            .bind(uses)
            .bind(hash)
            .execute(&mut **tx)
            .await
            .map(|_| ())
            .map_err(backend_err),
            BatchTx::Direct(b) => b.spend(hash, uses),
        }
    }

    /// Takes refresh tokens out by hash; returns each one that was there with its expiry.
    /// Through sqlx one statement per 64 tokens; SQLite's own connection one cached
    /// statement per token, in process.
    async fn take_refresh_tokens(&mut self, hashes: &[&str]) -> StoreResult<BTreeMap<String, i64>> {
        let mut taken = BTreeMap::new();
        match self {
            BatchTx::Sqlx(tx) => {
                for chunk in hashes.chunks(TOUCH_CHUNK) {
                    let mut q = sqlx::query(take_many(chunk.len()));
                    for hash in chunk {
                        q = q.bind(*hash);
                    }
                    for row in q.fetch_all(&mut **tx).await.map_err(backend_err)? {
                        taken.insert(get(&row, "hash")?, get(&row, "expires_at")?);
                    }
                }
            }
            BatchTx::Direct(b) => {
                for hash in hashes {
                    if let Some(expires_at) = b.take_refresh_token(hash)? {
                        taken.insert(hash.to_string(), expires_at);
                    }
                }
            }
        }
        Ok(taken)
    }

    /// Deletes a login session's refresh tokens, or only `client`'s (`revoke_statement`).
    async fn revoke(
        &mut self,
        session_id: &str,
        client: Option<&str>,
        keep_offline: bool,
    ) -> StoreResult<()> {
        let sql = revoke_statement(keep_offline, client.is_some());
        let params: Vec<&str> = std::iter::once(session_id).chain(client).collect();
        match self {
            BatchTx::Sqlx(tx) => exec(tx, sql, &params).await.map(|_| ()),
            BatchTx::Direct(b) => b.execute(sql, &params),
        }
    }

    async fn insert<R: Insert>(&mut self, rows: &[&R]) -> StoreResult<()> {
        match self {
            BatchTx::Sqlx(tx) => insert_rows(tx, rows).await,
            BatchTx::Direct(b) => b.insert(rows),
        }
    }

    /// Sets each client's last-used day, unless it already shows that day or a later one.
    /// Through sqlx (PostgreSQL) one statement per day, realm and 64 clients: each
    /// statement is a round trip, and a token load over many clients queues a touch per
    /// client. SQLite's own connection runs one cached statement per client, in process.
    async fn touch_all(&mut self, touches: &[&Touch]) -> StoreResult<()> {
        match self {
            BatchTx::Sqlx(tx) => {
                let mut groups: BTreeMap<(i64, &str), Vec<&str>> = BTreeMap::new();
                for t in touches {
                    groups.entry((t.day, &t.realm_id)).or_default().push(&t.id);
                }
                for ((day, realm_id), ids) in groups {
                    for chunk in ids.chunks(TOUCH_CHUNK) {
                        let mut q = sqlx::query(touch_many(chunk.len()))
                            .bind(day)
                            .bind(realm_id);
                        for id in chunk {
                            q = q.bind(*id);
                        }
                        q.execute(&mut **tx).await.map_err(backend_err)?;
                    }
                }
                Ok(())
            }
            BatchTx::Direct(b) => {
                for t in touches {
                    b.touch(t.day, &t.realm_id, &t.id)?;
                }
                Ok(())
            }
        }
    }

    async fn commit(self) -> StoreResult<()> {
        match self {
            BatchTx::Sqlx(tx) => tx.commit().await.map_err(backend_err),
            BatchTx::Direct(b) => b.commit(),
        }
    }
}

/// All jobs in one transaction, also a batch of one. `Err` means nothing was written.
async fn write_together(
    writer: &AnyPool,
    direct: &mut Option<Writer>,
    jobs: &[Job],
) -> StoreResult<Vec<StoreResult<()>>> {
    match direct {
        None => {
            let tx = writer.begin().await.map_err(backend_err)?;
            settle(BatchTx::Sqlx(tx), jobs).await
        }
        Some(direct) => {
            // The writer pool's one connection, held while this batch writes: the store's
            // other writes wait for it in the pool (`sqlite_writer`).
            let _gate = writer.acquire().await.map_err(backend_err)?;
            let results = settle(BatchTx::Direct(direct.begin()?), jobs).await?;
            direct.committed();
            Ok(results)
        }
    }
}

/// Settles a batch in its transaction: decides every job's guards under the batch's locks
/// (`decide`), writes what they admit (`write_admitted`) and commits.
async fn settle(mut tx: BatchTx<'_>, jobs: &[Job]) -> StoreResult<Vec<StoreResult<()>>> {
    let decided = decide(&mut tx, jobs).await?;
    write_admitted(&mut tx, jobs, &decided).await?;
    tx.commit().await?;
    Ok(decided.results)
}

/// The guards' verdict on a batch: one result per job, in order, and the uses each
/// initial access token gives to the admitted ones.
struct Decided<'j> {
    results: Vec<StoreResult<()>>,
    spent: Spent<'j>,
    /// The uses `decide` spent already while locking the tokens.
    taken: Spent<'j>,
}

/// Takes the batch's locks and decides every job's guards under them, in arrival order;
/// writes nothing.
async fn decide<'j>(tx: &mut BatchTx<'_>, jobs: &'j [Job]) -> StoreResult<Decided<'j>> {
    let creations: Vec<(&ClientRecord, &WriteGuard)> = jobs
        .iter()
        .filter_map(|j| match &j.work {
            Work::Create(c) => Some((&c.client.row, &c.guard)),
            Work::Event(_)
            | Work::Touch(_)
            | Work::Refresh(_)
            | Work::Revoke(_)
            | Work::Take(_) => None,
        })
        .collect();
    // Locks in one global order (realms, then initial access tokens, each sorted, then the
    // refresh tokens rotations spend) on every path and node.
    // Per realm under a max-clients guard: the largest limit in the batch, then the count.
    let mut limits: BTreeMap<&str, i64> = BTreeMap::new();
    for (client, guard) in &creations {
        if let Some(max) = guard.max_clients {
            let limit = limits.entry(&client.realm_id).or_insert(max);
            *limit = (*limit).max(max);
        }
    }
    let mut clients: BTreeMap<&str, i64> = BTreeMap::new();
    for (realm_id, limit) in &limits {
        // Counted up to the limit only: min(clients, limit) decides every guard of the batch
        // exactly (each limit is at most `limit`), and a realm far over its limit costs a
        // refusal `limit` index entries, not a scan of all its clients (8 ms at 100,000).
        let n = tx.count_clients(realm_id, (*limit).max(0)).await?;
        clients.insert(realm_id, n);
    }
    let (mut results, spent, taken) = decide_tokens(tx, jobs, &creations, clients).await?;
    decide_rotations(tx, jobs, &mut results).await?;
    Ok(Decided {
        results,
        spent,
        taken,
    })
}

/// Decides every job in arrival order under the batch's initial access tokens, locking
/// each token's row (in hash order) as it spends the uses the batch hopes for: first the
/// verdicts as if every token admitted every use, and each token's hoped-for uses spent in
/// one statement when it has that many left (`BatchTx::take`); then the verdicts the
/// tokens really give, from their state before. Where the two differ (a token that ran out
/// or expired), `write_admitted` spends the difference.
async fn decide_tokens<'j>(
    tx: &mut BatchTx<'_>,
    jobs: &'j [Job],
    creations: &[(&'j ClientRecord, &'j WriteGuard)],
    clients: BTreeMap<&'j str, i64>,
) -> StoreResult<(Vec<StoreResult<()>>, Spent<'j>, Spent<'j>)> {
    let (_, hoped) = verdicts(jobs, clients.clone(), None);
    let mut tokens: BTreeMap<&str, Option<Token>> = BTreeMap::new();
    for (_, guard) in creations {
        if let Some(hash) = &guard.initial_access_token {
            tokens.insert(hash, None);
        }
    }
    let mut taken = Spent::new();
    for (hash, token) in tokens.iter_mut() {
        let uses = hoped.get(hash).copied().unwrap_or(0);
        if let Some((found, took)) = tx.take(hash, uses).await? {
            *token = Some(found);
            if took {
                taken.insert(hash, uses);
            }
        }
    }
    let (results, spent) = verdicts(jobs, clients, Some(&tokens));
    Ok((results, spent, taken))
}

/// Takes out the refresh tokens the batch's rotations spend (after every other lock) and
/// gives each rotation its verdict in `results`: two rotations of one token in a batch,
/// the first in arrival order gets it.
async fn decide_rotations(
    tx: &mut BatchTx<'_>,
    jobs: &[Job],
    results: &mut [StoreResult<()>],
) -> StoreResult<()> {
    let mut spends: Vec<&str> = jobs
        .iter()
        .filter_map(|j| match &j.work {
            Work::Refresh(r) => r.spends.as_ref().map(|s| s.hash.as_str()),
            Work::Take(take) => Some(take.hash.as_str()),
            Work::Create(_) | Work::Event(_) | Work::Touch(_) | Work::Revoke(_) => None,
        })
        .collect();
    spends.sort_unstable();
    spends.dedup();
    let mut taken = tx.take_refresh_tokens(&spends).await?;
    let gone = || {
        Err(StoreError::Precondition {
            failed: Guarded::RefreshToken,
        })
    };
    for (job, result) in jobs.iter().zip(results.iter_mut()) {
        match &job.work {
            Work::Refresh(refresh) => {
                if let Some(spend) = &refresh.spends {
                    *result = match taken.remove(&spend.hash) {
                        Some(expires_at) if expires_at > spend.now => Ok(()),
                        _ => gone(),
                    };
                }
            }
            Work::Take(take) => {
                *result = match taken.remove(take.hash.as_str()) {
                    Some(_) => Ok(()),
                    None => gone(),
                };
            }
            Work::Create(_) | Work::Event(_) | Work::Touch(_) | Work::Revoke(_) => {}
        }
    }
    Ok(())
}

/// Uses of each initial access token, by hash.
type Spent<'j> = BTreeMap<&'j str, i64>;

/// Every job's verdict in arrival order, as if they had come one after another, from each
/// guarded realm's client count and each token's state (`None`: as if every token admitted
/// every use); with the uses of each token the admitted jobs take.
fn verdicts<'j>(
    jobs: &'j [Job],
    mut clients: BTreeMap<&'j str, i64>,
    tokens: Option<&BTreeMap<&str, Option<Token>>>,
) -> (Vec<StoreResult<()>>, Spent<'j>) {
    let mut results = Vec::with_capacity(jobs.len());
    let mut spent = Spent::new();
    for job in jobs {
        let creation = match &job.work {
            Work::Create(creation) => creation,
            // A rotation's verdict is `decide_rotations`'.
            Work::Event(_)
            | Work::Touch(_)
            | Work::Refresh(_)
            | Work::Revoke(_)
            | Work::Take(_) => {
                results.push(Ok(()));
                continue;
            }
        };
        let guard = &creation.guard;
        let realm_id = creation.client.row.realm_id.as_str();
        if let Some(max) = guard.max_clients
            && clients.get(realm_id).is_some_and(|n| *n >= max)
        {
            results.push(Err(StoreError::Precondition {
                failed: Guarded::MaxClients,
            }));
            continue;
        }
        if let Some(hash) = &guard.initial_access_token {
            let used = spent.get(hash.as_str()).copied().unwrap_or(0);
            let admits = tokens.is_none_or(|tokens| {
                tokens
                    .get(hash.as_str())
                    .and_then(Option::as_ref)
                    .is_some_and(|t| t.admits(used, guard.now_secs))
            });
            if !admits {
                results.push(Err(StoreError::Precondition {
                    failed: Guarded::InitialAccessToken,
                }));
                continue;
            }
            *spent.entry(hash).or_default() += 1;
        }
        if let Some(n) = clients.get_mut(realm_id) {
            *n += 1;
        }
        results.push(Ok(()));
    }
    (results, spent)
}

/// Spends what the tokens' uses still lack and inserts the admitted jobs' rows.
async fn write_admitted(
    tx: &mut BatchTx<'_>,
    jobs: &[Job],
    decided: &Decided<'_>,
) -> StoreResult<()> {
    spend_rest(tx, decided).await?;
    let admitted: Vec<&Work> = jobs
        .iter()
        .zip(&decided.results)
        .filter(|(_, r)| r.is_ok())
        .map(|(j, _)| &j.work)
        .collect();
    let created: Vec<&Creation> = admitted
        .iter()
        .filter_map(|w| match w {
            Work::Create(c) => Some(&**c),
            Work::Event(_)
            | Work::Touch(_)
            | Work::Refresh(_)
            | Work::Revoke(_)
            | Work::Take(_) => None,
        })
        .collect();
    let client_rows: Vec<_> = created.iter().map(|c| &c.client).collect();
    let service_accounts: Vec<_> = created
        .iter()
        .filter_map(|c| c.service_account.as_ref())
        .collect();
    let user_rows: Vec<_> = service_accounts.iter().map(|(u, _)| u).collect();
    let role_rows: Vec<UserRole> = service_accounts
        .iter()
        .flat_map(|(u, roles)| {
            roles.iter().map(|r| UserRole {
                realm_id: &u.row.realm_id,
                user_id: &u.row.id,
                role_id: r,
            })
        })
        .collect();
    // In arrival order: a creation's own event, or an event on its own.
    let event_rows: Vec<&Rendered<EventRecord>> = admitted
        .iter()
        .filter_map(|w| match w {
            Work::Create(c) => c.event.as_ref(),
            Work::Event(e) => Some(&**e),
            Work::Touch(_) | Work::Refresh(_) | Work::Revoke(_) | Work::Take(_) => None,
        })
        .collect();
    let refreshes: Vec<&Refresh> = admitted
        .iter()
        .filter_map(|w| match w {
            Work::Refresh(r) => Some(&**r),
            Work::Create(_) | Work::Event(_) | Work::Touch(_) | Work::Revoke(_) | Work::Take(_) => {
                None
            }
        })
        .collect();
    let tombstones: Vec<_> = refreshes
        .iter()
        .filter_map(|r| r.spends.as_ref().map(|s| &s.tombstone))
        .collect();
    let next_tokens: Vec<_> = refreshes.iter().map(|r| &r.next).collect();
    tx.insert(&client_rows).await?;
    tx.insert(&user_rows).await?;
    tx.insert(&role_rows.iter().collect::<Vec<_>>()).await?;
    tx.insert(&event_rows).await?;
    tx.insert(&tombstones).await?;
    tx.insert(&next_tokens).await?;
    let touches: Vec<&Touch> = admitted
        .iter()
        .filter_map(|w| match w {
            Work::Touch(t) => Some(&**t),
            Work::Create(_)
            | Work::Event(_)
            | Work::Refresh(_)
            | Work::Revoke(_)
            | Work::Take(_) => None,
        })
        .collect();
    tx.touch_all(&touches).await?;
    // Last: a session's tokens inserted by this batch go too. The record, one statement
    // per revocation: two revocations of one session (or two takes of one client's tokens
    // of a session) in a batch are one key, which one multi-row upsert may not touch twice
    // (PostgreSQL). A take is admitted only when it found its token.
    for w in &admitted {
        match w {
            Work::Revoke(r) => {
                tx.revoke(&r.session_id, None, r.keep_offline).await?;
                tx.insert(&[&r.record]).await?;
            }
            Work::Take(t) => {
                tx.revoke(&t.session_id, Some(&t.client_uuid), t.keep_offline)
                    .await?;
                tx.insert(&[&t.record]).await?;
            }
            Work::Create(_) | Work::Event(_) | Work::Touch(_) | Work::Refresh(_) => {}
        }
    }
    Ok(())
}

/// `DELETE` of a login session's refresh tokens (`$1` the session), or of one client's
/// (`$2` its id): all, or all but those whose scope holds the word `offline_access` (a
/// scope is space-separated names).
fn revoke_statement(keep_offline: bool, one_client: bool) -> &'static str {
    match (keep_offline, one_client) {
        (true, false) => {
            "DELETE FROM refresh_tokens WHERE session_id = $1 \
             AND ' ' || scope || ' ' NOT LIKE '% offline\\_access %' ESCAPE '\\'"
        }
        (false, false) => "DELETE FROM refresh_tokens WHERE session_id = $1",
        (true, true) => {
            "DELETE FROM refresh_tokens WHERE session_id = $1 AND client_uuid = $2 \
             AND ' ' || scope || ' ' NOT LIKE '% offline\\_access %' ESCAPE '\\'"
        }
        (false, true) => "DELETE FROM refresh_tokens WHERE session_id = $1 AND client_uuid = $2",
    }
}

/// Brings each token to its uses before the batch less those the admitted jobs take:
/// nothing to do where `decide` spent exactly that (a statement where it did not, giving
/// uses back when it spent more).
async fn spend_rest(tx: &mut BatchTx<'_>, decided: &Decided<'_>) -> StoreResult<()> {
    let hashes: std::collections::BTreeSet<&str> = decided
        .spent
        .keys()
        .chain(decided.taken.keys())
        .copied()
        .collect();
    for hash in hashes {
        let uses = decided.spent.get(hash).copied().unwrap_or(0)
            - decided.taken.get(hash).copied().unwrap_or(0);
        if uses != 0 {
            tx.spend(hash, uses).await?;
        }
    }
    Ok(())
}
