//! A store on a database of its own, one per test (`latchkey_store::testing::TestDb`).

use std::sync::Arc;

pub use latchkey_store::Backend;
use latchkey_store::SqlStore;
use latchkey_store::testing::TestDb;

/// A store on a database of its own.
pub struct TestStore {
    pub store: Arc<SqlStore>,
    pub db: TestDb,
}

impl TestStore {
    /// `None` when PostgreSQL is wanted but unreachable outside CI (the test then skips).
    pub async fn new(backend: Backend) -> Option<TestStore> {
        let db = TestDb::new(backend).await?;
        let store = SqlStore::connect(&db.url).await.expect("connect store");
        Some(TestStore {
            store: Arc::new(store),
            db,
        })
    }
}

/// Declares a scenario test for each backend: `<name>_sqlite` and `<name>_postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        pub mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::support::TestStore::new($crate::support::Backend::Sqlite).await {
                        super::$name(&app).await;
                    }
                }
            )*
        }
        pub mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::support::TestStore::new($crate::support::Backend::Postgres).await {
                        super::$name(&app).await;
                    }
                }
            )*
        }
    };
}
