//! A database of its own for one test, on a fresh SQLite file or a fresh PostgreSQL schema,
//! shared by this crate's contract suite and the server's integration tests (feature
//! `testing`, enabled only as a dev-dependency). PostgreSQL comes from
//! `LATCHKEY_TEST_PG_URL`; when it is unreachable a test skips, except in CI (`CI` set),
//! where it fails.

use latchkey_core::crypto::random_token;

use crate::sql::Backend;

/// The PostgreSQL the tests use: `LATCHKEY_TEST_PG_URL`, or the machine's local one.
pub fn pg_url() -> String {
    std::env::var("LATCHKEY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of its own for one test; dropped (file removed, schema dropped) at the end.
pub struct TestDb {
    pub url: String,
    pub sqlite_path: Option<std::path::PathBuf>,
    schema: Option<String>,
}

impl TestDb {
    /// `None` when PostgreSQL is wanted but unreachable outside CI (the test then skips).
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir =
                    std::env::temp_dir().join(format!("latchkey-test-{}", random_token::<9>()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let path = dir.join("latchkey.db");
                Some(TestDb {
                    url: format!("sqlite://{}", path.display()),
                    sqlite_path: Some(path),
                    schema: None,
                })
            }
            Backend::Postgres => {
                let base = pg_url();
                sqlx::any::install_default_drivers();
                let pool = match sqlx::AnyPool::connect(&base).await {
                    Ok(p) => p,
                    Err(e) if std::env::var_os("CI").is_some() => {
                        panic!("PostgreSQL at {base} is unreachable and CI requires it: {e}")
                    }
                    Err(e) => {
                        eprintln!(
                            "SKIPPED: PostgreSQL at {base} is unreachable ({e}); set LATCHKEY_TEST_PG_URL to run the PostgreSQL tests"
                        );
                        return None;
                    }
                };
                let schema = format!(
                    "lk_test_{}",
                    random_token::<9>().to_lowercase().replace('-', "_")
                );
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&pool)
                    .await
                    .expect("create schema");
                pool.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                Some(TestDb {
                    url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                    sqlite_path: None,
                    schema: Some(schema),
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(p) = &self.sqlite_path
            && let Some(dir) = p.parent()
        {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(schema) = self.schema.take() {
            // Dropping needs a runtime of its own: Drop may run outside any.
            let url = pg_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let pool = sqlx::AnyPool::connect(&url).await.ok()?;
                    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                    Some(())
                })
            })
            .join();
        }
    }
}
