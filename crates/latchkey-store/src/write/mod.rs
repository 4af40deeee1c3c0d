//! The write path of the hot writes: the group commit (`group_commit`), its own SQLite
//! connection and checkpoint thread (`sqlite_writer`), multi-row inserts (`rows`) and what
//! they count (`stats`). Dependencies go one way: `group_commit` → `sqlite_writer` →
//! `rows`, and both of the first two → `stats`.

pub(crate) mod group_commit;
pub(crate) mod rows;
mod sqlite_writer;
mod stats;

pub use stats::Stats;
