//! A per-node cache of fetched documents (client ID metadata documents): bounded in size,
//! each entry kept until the time it was given, and one piece of work per key at a time:
//! concurrent callers for a key that is not cached share the first caller's result.
//!
//! Only what the work reports as cacheable is stored (the work itself inserts it); a
//! failure is handed to the callers that waited for it and then forgotten, so the next
//! request tries again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use latchkey_core::Millis;
use tokio::sync::OnceCell;

/// Entries kept at most; an attacker presenting many URLs evicts entries (the ones that
/// expire first), never grows memory past this.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Documents by key, with the work in flight per key. `T` is what is cached, `R` the
/// result the work hands to every caller that waited for it.
pub struct DocumentCache<T, R> {
    capacity: usize,
    inner: Mutex<Inner<T, R>>,
}

struct Inner<T, R> {
    entries: HashMap<String, (Millis, T)>,
    in_flight: HashMap<String, Arc<OnceCell<R>>>,
}

impl<T: Clone, R: Clone> DocumentCache<T, R> {
    pub fn new(capacity: usize) -> Self {
        DocumentCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                in_flight: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T, R>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `key` if it has not expired at `now`.
    pub fn fresh(&self, key: &str, now: Millis) -> Option<T> {
        let inner = self.lock();
        inner
            .entries
            .get(key)
            .filter(|(expires_at, _)| *expires_at > now)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value` for `key` until `expires_at`. When full, expired entries go first,
    /// then those that would expire soonest, down to seven eighths of the capacity: the
    /// O(n) pass runs once per capacity / 8 new keys, not on every insert.
    pub fn insert(&self, key: &str, value: T, expires_at: Millis, now: Millis) {
        let mut inner = self.lock();
        if !inner.entries.contains_key(key) && inner.entries.len() >= self.capacity {
            let keep = self.capacity - (self.capacity / 8).max(1);
            inner.entries.retain(|_, (at, _)| *at > now);
            if inner.entries.len() > keep {
                let mut expiries: Vec<Millis> = inner.entries.values().map(|(at, _)| *at).collect();
                let over = expiries.len() - keep;
                let (_, cutoff, _) = expiries.select_nth_unstable(over - 1);
                let cutoff = *cutoff;
                inner.entries.retain(|_, (at, _)| *at > cutoff);
            }
        }
        inner.entries.insert(key.to_string(), (expires_at, value));
    }

    pub fn remove(&self, key: &str) {
        self.lock().entries.remove(key);
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `work` for `key` unless a run for it is in flight, in which case its result is
    /// awaited and shared. If the caller running the work is cancelled (its client went
    /// away), a waiting caller runs it instead; with nobody waiting, the key is forgotten,
    /// so abandoned requests leave nothing behind.
    pub async fn coalesce<F, Fut>(&self, key: &str, work: F) -> R
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = R>,
    {
        let cell = {
            let mut inner = self.lock();
            inner
                .in_flight
                .entry(key.to_string())
                .or_insert_with(|| Arc::new(OnceCell::new()))
                .clone()
        };
        let turn = Turn {
            cache: self,
            key,
            cell,
        };
        turn.cell.get_or_init(work).await.clone()
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.lock().in_flight.len()
    }
}

/// One caller's part in a coalesced run; when it ends (finished or cancelled), the run's
/// entry goes once it is done or nobody else waits on it.
struct Turn<'a, T, R> {
    cache: &'a DocumentCache<T, R>,
    key: &'a str,
    cell: Arc<OnceCell<R>>,
}

impl<T, R> Drop for Turn<'_, T, R> {
    fn drop(&mut self) {
        let mut inner = self.cache.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Under the lock nobody can take a new reference from the map: two references
        // (the map's and this one) mean nobody else waits.
        let ours = inner
            .in_flight
            .get(self.key)
            .is_some_and(|c| Arc::ptr_eq(c, &self.cell));
        if ours && (self.cell.initialized() || Arc::strong_count(&self.cell) <= 2) {
            inner.in_flight.remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn entries_expire_at_their_time() {
        let cache: DocumentCache<u32, ()> = DocumentCache::new(10);
        cache.insert("a", 1, 1_000, 0);
        assert_eq!(cache.fresh("a", 999), Some(1));
        assert_eq!(cache.fresh("a", 1_000), None);
        assert_eq!(cache.fresh("b", 0), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache: DocumentCache<u32, ()> = DocumentCache::new(3);
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            cache.insert(key, i as u32, 100 + i as Millis, 0);
        }
        cache.insert("d", 9, 500, 0);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.fresh("a", 0), None, "the soonest to expire went");
        assert_eq!(cache.fresh("d", 0), Some(9));
        // Expired entries go before live ones.
        cache.insert("e", 5, 1_000, 101);
        assert_eq!(cache.fresh("b", 100), None);
        assert_eq!(cache.fresh("c", 100), Some(2));
        for i in 0..1_000 {
            cache.insert(&format!("k{i}"), i, 10_000 + i as Millis, 0);
        }
        assert_eq!(cache.len(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_run() {
        let cache: Arc<DocumentCache<(), Result<u32, String>>> = Arc::new(DocumentCache::new(10));
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, runs) = (cache.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .coalesce("k", || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        Err::<u32, String>("failed".into())
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Err("failed".to_string()));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // A failure is not kept: the next caller runs again.
        let again = cache.coalesce("k", || async { Ok(7) }).await;
        assert_eq!(again, Ok(7));
        assert_eq!(cache.in_flight(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_run_leaves_nothing_behind() {
        let cache: DocumentCache<(), u32> = DocumentCache::new(10);
        let slow = cache.coalesce("k", || async {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            1
        });
        let cancelled = tokio::time::timeout(std::time::Duration::from_millis(50), slow).await;
        assert!(cancelled.is_err());
        assert_eq!(cache.in_flight(), 0);
        assert_eq!(cache.coalesce("k", || async { 2 }).await, 2);
    }
}
