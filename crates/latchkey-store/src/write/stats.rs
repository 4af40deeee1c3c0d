//! What the write path counts: writes and transactions of the group commit, last-used
//! days written, and on a SQLite
//! file the checkpoints (`SqlStore::group_commit_stats`). A leaf: `group_commit` and
//! `sqlite_writer` both count here, and neither needs the other for it.

use std::sync::atomic::{AtomicU64, Ordering};

/// How writes were committed, since the store opened.
#[derive(Debug, Default)]
pub struct Stats {
    pub(super) writes: AtomicU64,
    pub(super) transactions: AtomicU64,
    /// Clients' last-used days committed (`touch_client` calls that reached the database).
    pub(super) touches: AtomicU64,
    /// On a SQLite file (`sqlite_writer`): passes of the checkpoint thread, and tails the
    /// writer finished itself.
    pub(super) checkpoint_passes: AtomicU64,
    pub(super) checkpoint_tails: AtomicU64,
}

impl Stats {
    /// (writes answered, transactions that committed or tried to)
    pub fn read(&self) -> (u64, u64) {
        (
            self.writes.load(Ordering::Relaxed),
            self.transactions.load(Ordering::Relaxed),
        )
    }

    /// Last-used days written to the database.
    pub fn touches(&self) -> u64 {
        self.touches.load(Ordering::Relaxed)
    }

    /// (checkpoint thread's passes, tails finished by the writer): both 0 but on a SQLite
    /// file.
    pub fn checkpoints(&self) -> (u64, u64) {
        (
            self.checkpoint_passes.load(Ordering::Relaxed),
            self.checkpoint_tails.load(Ordering::Relaxed),
        )
    }
}
