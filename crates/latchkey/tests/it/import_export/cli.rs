//! `latchkey import` and `latchkey export`, the real binary on a SQLite file and on a
//! PostgreSQL schema: a directory export with users files, `--override false` skipping an
//! existing realm, a refused file leaving nothing (exit 1, the object and field named),
//! `--users different_files` and `skip`, and a directory import replacing a realm.

use latchkey_core::crypto::SecretBox;
use latchkey_core::store::Store;
use latchkey_store::SqlStore;
use serde_json::Value;

use super::fixtures;
use crate::first_run::{Run, stderr};
use crate::support::{Backend, TestDb};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn commands_import_and_export(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let run = Run::new();
    let key = run.dir.join("master.key");
    std::fs::write(&key, SecretBox::generate_encoded()).unwrap();
    let key = key.to_str().unwrap().to_string();
    let fx = fixtures();
    let cmd = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--db-url", &db.url, "--key-file", &key]);
        run.output(&all, &[])
    };

    let out = cmd(&["import", "--dir", fx.join("dir").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("imported realm dirrealm: 4 clients, 3 users"),
        "{}",
        stdout(&out)
    );
    let acme = fx.join("acme-realm.json");
    let out = cmd(&[
        "import",
        "--file",
        acme.to_str().unwrap(),
        "--override",
        "false",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("imported realm acme: 8 clients, 2 users"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("scopeMappings: 1 (offline_access)"),
        "{}",
        stdout(&out)
    );
    let out = cmd(&[
        "import",
        "--file",
        acme.to_str().unwrap(),
        "--override",
        "false",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("skipped realm acme"),
        "{}",
        stdout(&out)
    );

    let bad = fx.join("duplicate-client-realm.json");
    let out = cmd(&["import", "--file", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(
            "clients[5] \"orders-api\": clientId: a client with this clientId comes twice"
        ),
        "{}",
        stderr(&out)
    );
    let store = SqlStore::connect(&db.url).await.unwrap();
    assert!(
        store.realm_by_name("broken").await.unwrap().is_none(),
        "nothing written"
    );
    store.close().await;

    let dir = run.dir.join("out");
    let out = cmd(&[
        "export",
        "--realm",
        "acme",
        "--dir",
        dir.to_str().unwrap(),
        "--users",
        "different_files",
        "--users-per-file",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let realm = read(&dir.join("acme-realm.json"));
    assert!(realm.get("users").is_none(), "users are in their own files");
    let users: Vec<String> = (0..3)
        .map(|i| {
            read(&dir.join(format!("acme-users-{i}.json")))["users"][0]["username"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(users, ["alice", "bob", "service-account-batch-job"]);
    assert!(!dir.join("acme-users-3.json").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("acme-realm.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "an export holds secrets");
    }

    let same = run.dir.join("same");
    let out = cmd(&[
        "export",
        "--realm",
        "acme",
        "--dir",
        same.to_str().unwrap(),
        "--users",
        "same_file",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read(&same.join("acme-users-0.json"))["users"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(!same.join("acme-users-1.json").exists());
    let out = cmd(&[
        "export",
        "--realm",
        "acme",
        "--file",
        "x.json",
        "--users",
        "same_file",
    ]);
    assert_eq!(out.status.code(), Some(2), "same_file needs --dir");

    let skip = run.dir.join("skip.json");
    let out = cmd(&[
        "export",
        "--realm",
        "acme",
        "--file",
        skip.to_str().unwrap(),
        "--users",
        "skip",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let skipped = read(&skip);
    let names: Vec<&str> = skipped["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["service-account-batch-job"],
        "only the service account, which belongs to its client"
    );

    // The directory export back in, replacing acme (override defaults to true).
    let out = cmd(&["import", "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("the existing realm was replaced"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("imported realm acme: 8 clients, 2 users"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn import_and_export_commands_sqlite() {
    commands_import_and_export(Backend::Sqlite).await;
}

#[tokio::test]
async fn import_and_export_commands_postgres() {
    commands_import_and_export(Backend::Postgres).await;
}
