//! `latchkey backup`: the real binary copies a SQLite database while another `latchkey`
//! process registers clients into it; the copy, served by a third process with the same
//! master key, holds every registration acknowledged before the backup began, passes
//! SQLite's integrity check, and its sealed secrets still authenticate. On PostgreSQL the
//! command names `pg_dump` and exits non-zero.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection, Row};

use crate::node::{ADMIN_PASSWORD, Node, admin_token_at, http, master_key, spawn_until_listening};
use crate::support::{Backend, TestDb};

const REALM: &str = "backup";
const WORKERS: usize = 4;

/// One acknowledged registration: client id, secret, and when its 201 arrived.
type Acked = (String, String, Instant);

async fn register_until(
    http: reqwest::Client,
    base: String,
    iat: String,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<Acked>>>,
) {
    while !stop.load(Ordering::SeqCst) {
        let r = http
            .post(format!(
                "{base}/realms/{REALM}/clients-registrations/openid-connect"
            ))
            .bearer_auth(&iat)
            .json(
                &json!({"client_name": "loaded", "grant_types": ["client_credentials"],
                          "token_endpoint_auth_method": "client_secret_basic"}),
            )
            .send()
            .await
            .expect("registration request");
        // Acknowledged: the 201's head is here (the server committed before sending it).
        let at = Instant::now();
        assert_eq!(r.status(), 201, "registration under load");
        let v: Value = r.json().await.expect("registration json");
        acked.lock().unwrap().push((
            v["client_id"].as_str().unwrap().to_string(),
            v["client_secret"].as_str().unwrap().to_string(),
            at,
        ));
    }
}

/// `latchkey backup ARGS` (no config file, no `LATCHKEY_DB_URL` from the environment).
fn backup(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("backup")
        .args(args)
        .current_dir(dir)
        .env_remove("LATCHKEY_DB_URL")
        .env_remove("LATCHKEY_CONFIG_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("run latchkey backup")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_sqlite_database_is_copied_consistently_under_registration_load() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let key = master_key();
    let node = Node::start(&db, &key);
    let http = http();
    let admin = node.admin_token(&http).await;
    let (status, _) = node
        .call(
            &http,
            &admin,
            Method::POST,
            "/admin/realms",
            Some(json!({"realm": REALM, "enabled": true})),
        )
        .await;
    assert_eq!(status, 201);
    let (_, iat) = node
        .call(
            &http,
            &admin,
            Method::POST,
            &format!("/admin/realms/{REALM}/clients-initial-access"),
            Some(json!({"count": 1_000_000, "expiration": 0})),
        )
        .await;
    let iat = iat["token"].as_str().unwrap().to_string();

    let out_dir = std::env::temp_dir().join(format!(
        "latchkey-backup-{}",
        latchkey_core::crypto::random_token::<9>()
    ));
    std::fs::create_dir_all(&out_dir).unwrap();
    let copy = out_dir.join("copy.db");
    let copy_arg = copy.display().to_string();

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            tokio::spawn(register_until(
                http.clone(),
                node.base.clone(),
                iat.clone(),
                stop.clone(),
                acked.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // A reader holding a snapshot, as a long export (or another backup) would: the server's
    // checkpoints cannot copy what was committed after it into the database file, so the
    // registrations of the next second are in the WAL alone. A copy of the file would miss
    // them; the backup must not.
    let live = db.sqlite_path.as_ref().unwrap().display().to_string();
    let mut reader = sqlx::SqliteConnection::connect(&format!("sqlite://{live}"))
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
    sqlx::query("SELECT COUNT(*) FROM clients")
        .fetch_one(&mut reader)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let began = Instant::now();
    let (url, dir) = (db.url.clone(), out_dir.clone());
    let args = ["--db-url", url.as_str(), "--to", copy_arg.as_str()].map(String::from);
    let out = tokio::task::spawn_blocking(move || {
        backup(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    let ended = Instant::now();
    sqlx::query("COMMIT").execute(&mut reader).await.unwrap();
    reader.close().await.unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "backup failed: {}{}",
        stdout,
        text(&out.stderr)
    );
    // The load goes on after the backup: it was running throughout.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert!(stdout.contains("To restore"), "{stdout}");
    assert!(
        stdout.contains("latchkey.key") && stdout.contains("master key"),
        "{stdout}"
    );
    let acked = acked.lock().unwrap().clone();
    let before: Vec<&Acked> = acked.iter().filter(|a| a.2 < began).collect();
    let during: Vec<&Acked> = acked
        .iter()
        .filter(|a| a.2 >= began && a.2 <= ended)
        .collect();
    let after = acked.iter().filter(|a| a.2 > ended).count();
    assert!(after > 0, "the load kept running after the backup");
    let size = std::fs::metadata(&copy).unwrap().len();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the copy is readable by its owner alone"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "copy.db")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // SQLite's own check of every page and index of the copy.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", copy.display()))
        .await
        .unwrap();
    let check: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(check, "ok");
    conn.close().await.unwrap();

    // A server on the copy, with the same master key.
    let served = tempdir("served");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    cmd.args(["start-dev", "--http-port", "0", "--db-url"])
        .arg(format!("sqlite://{}", copy.display()))
        .current_dir(&served)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("LATCHKEY_CONFIG_FILE")
        .env("LATCHKEY_MASTER_KEY", &key)
        .env("LATCHKEY_LOG", "warn,latchkey=info");
    let (restored, base) = spawn_until_listening(&mut cmd, Duration::from_secs(60));
    let restored = Killed(restored);
    let admin = admin_token_at(&http, &base, ADMIN_PASSWORD).await;
    let clients: Value = http
        .get(format!(
            "{base}/admin/realms/{REALM}/clients?first=0&max=1000000"
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: std::collections::HashSet<&str> = clients
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["clientId"].as_str())
        .collect();
    let missing: Vec<&str> = before
        .iter()
        .map(|a| a.0.as_str())
        .filter(|id| !stored.contains(id))
        .collect();
    let during_in_copy = during
        .iter()
        .filter(|a| stored.contains(a.0.as_str()))
        .count();
    eprintln!(
        "backup under load: {} registrations acknowledged before the backup began, {} during it ({} of them in the copy), {} after; backup took {} ms, copy {} bytes",
        before.len(),
        during.len(),
        during_in_copy,
        after,
        (ended - began).as_millis(),
        size
    );
    assert!(before.len() > 20, "too little load to mean anything");
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, missing from it: {missing:?}"
    );
    // Sealed secrets open with the same master key: the oldest and the newest client
    // acknowledged before the backup get a token from the restored server.
    for (id, secret, _) in [before[0], before[before.len() - 1]] {
        let status = http
            .post(format!(
                "{base}/realms/{REALM}/protocol/openid-connect/token"
            ))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{id}'s secret on the restored copy");
    }
    drop(restored);

    // An existing target is refused without --force, and left as it was.
    let again = backup(&out_dir, &["--db-url", &db.url, "--to", "copy.db"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("--force"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), size);
    assert!(
        out_dir.join("copy.db-wal").exists(),
        "the restored server (killed) leaves its WAL"
    );
    let forced = backup(
        &out_dir,
        &["--db-url", &db.url, "--to", "copy.db", "--force"],
    );
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert!(std::fs::metadata(&copy).unwrap().len() >= size);
    // The restored server's WAL beside the replaced copy is gone with it.
    assert!(
        !out_dir.join("copy.db-wal").exists(),
        "a stale WAL beside the new copy"
    );
    // A backup that fails while writing (a file size limit, as a full disk would) exits 1
    // and leaves neither the target nor its temporary file. SIGXFSZ is ignored so that the
    // write fails instead of killing the process.
    let limited = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 256; exec {} backup --db-url \"$1\" --to limited.db",
            env!("CARGO_BIN_EXE_latchkey")
        ))
        .arg("sh")
        .arg(&db.url)
        .current_dir(&out_dir)
        .env_remove("LATCHKEY_CONFIG_FILE")
        .output()
        .unwrap();
    assert_eq!(limited.status.code(), Some(1), "{}", text(&limited.stderr));
    assert!(
        text(&limited.stderr).contains("backup failed"),
        "{}",
        text(&limited.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("limited"))
        .collect();
    assert!(left.is_empty(), "a failed backup left {left:?}");
    // Never the database itself, even with --force.
    let itself = backup(&out_dir, &["--db-url", &db.url, "--to", &live, "--force"]);
    assert_eq!(itself.status.code(), Some(2));
    assert!(
        text(&itself.stderr).contains("the database itself"),
        "{}",
        text(&itself.stderr)
    );
    drop(node);
    let _ = std::fs::remove_dir_all(&out_dir);
    let _ = std::fs::remove_dir_all(&served);
}

/// A child process killed (SIGKILL) and reaped when dropped, also when an assertion fails.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tempdir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "latchkey-{what}-{}",
        latchkey_core::crypto::random_token::<9>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_failed_backup_leaves_no_file() {
    let dir = tempdir("backup-fail");
    // A SQLite file that is not a Latchkey database.
    let other = dir.join("other.db");
    std::fs::write(&other, b"").unwrap();
    let out = backup(
        &dir,
        &[
            "--db-url",
            &format!("sqlite://{}", other.display()),
            "--to",
            "copy.db",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not a Latchkey database"),
        "{}",
        text(&out.stderr)
    );
    let missing = backup(
        &dir,
        &[
            "--db-url",
            "sqlite://nowhere/latchkey.db",
            "--to",
            "copy.db",
        ],
    );
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing.stderr));
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["other.db"], "nothing but the source remains");
    assert!(
        !dir.join("nowhere").exists(),
        "a missing database is not created"
    );
    let no_folder = backup(
        &dir,
        &["--db-url", "sqlite://other.db", "--to", "no/such/copy.db"],
    );
    assert_eq!(no_folder.status.code(), Some(2));
    assert!(text(&no_folder.stderr).contains("does not exist"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn on_postgresql_it_prints_the_pg_dump_command() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let dir = tempdir("backup-pg");
    let out = backup(&dir, &["--db-url", &db.url, "--to", "latchkey.dump"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "pg_dump --format=custom --file=latchkey.dump '{}'",
            db.url
        )),
        "{stderr}"
    );
    assert!(stderr.contains("pg_restore"), "{stderr}");
    assert!(stderr.contains("master key"), "{stderr}");
    assert!(!dir.join("latchkey.dump").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
