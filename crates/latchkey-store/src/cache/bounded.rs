//! A map that never holds more than its capacity, evicting in amortised O(1): two
//! generations of at most half the capacity each. Inserts go to the young one; when it is
//! full it becomes the old one and the previous old one is dropped whole. A hit in the old
//! generation moves the entry back to the young one, so what is read keeps its place while
//! what is not read goes within two turns (an approximation of least-recently-used with no
//! per-entry bookkeeping). Dropping a generation is O(n), once per n inserts.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The cache's keys are already hashes (`u64` from the cache's own `RandomState`): the
/// maps use them as they are instead of hashing them again.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is expected; anything else is folded in, still correct.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<Prehashed>>;

pub(crate) struct Bounded<K, V> {
    young: Map<K, V>,
    old: Map<K, V>,
    /// Entries per generation.
    half: usize,
}

impl<K: Hash + Eq, V> Bounded<K, V> {
    /// Holds at most `capacity` entries (at least 2).
    pub(crate) fn new(capacity: usize) -> Self {
        Bounded {
            young: Map::default(),
            old: Map::default(),
            half: (capacity / 2).max(1),
        }
    }

    /// The most entries it ever holds.
    pub(crate) fn capacity(&self) -> usize {
        self.half * 2
    }

    pub(crate) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// The entry, moved to the young generation if it was in the old one.
    pub(crate) fn get(&mut self, key: &K) -> Option<&V>
    where
        K: Clone,
    {
        if !self.young.contains_key(key) {
            let value = self.old.remove(key)?;
            self.insert(key.clone(), value);
        }
        self.young.get(key)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) {
        self.old.remove(&key);
        if self.young.len() >= self.half && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
    }

    pub(crate) fn remove(&mut self, key: &K) {
        self.young.remove(key);
        self.old.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_holds_more_than_its_capacity() {
        let mut m = Bounded::new(10);
        for i in 0..1000 {
            m.insert(i, i);
            assert!(m.len() <= 10, "{} entries after {i}", m.len());
        }
        // The newest are there, the oldest gone.
        assert_eq!(m.get(&999), Some(&999));
        assert_eq!(m.get(&0), None);
    }

    #[test]
    fn what_is_read_stays() {
        let mut m = Bounded::new(10);
        m.insert(-1, -1);
        for i in 0..1000 {
            m.insert(i, i);
            assert_eq!(m.get(&-1), Some(&-1), "evicted after {i}");
        }
        assert!(m.len() <= 10);
    }

    #[test]
    fn a_removed_or_replaced_entry_is_gone_from_both_generations() {
        let mut m = Bounded::new(4);
        m.insert(1, "a");
        m.insert(2, "b");
        m.insert(3, "c"); // 1 and 2 now old
        m.insert(1, "a2");
        assert_eq!(m.get(&1), Some(&"a2"));
        m.remove(&2);
        assert_eq!(m.get(&2), None);
        assert!(m.len() <= 4);
    }
}
