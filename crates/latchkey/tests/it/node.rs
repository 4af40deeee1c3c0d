//! The real binary as a test subject: `latchkey start-dev` on a SQLite file or `latchkey
//! start` on a PostgreSQL schema, on a free port, killed with SIGKILL and restarted on the
//! same data. Shared by the crash, racing and (real-binary) isolation tests.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::TestDb;

pub const ADMIN_PASSWORD: &str = "node-admin-pass";

/// One `latchkey` process and what it takes to start it again on the same data.
pub struct Node {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT` of the running process (the port changes on restart).
    pub base: String,
    dir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    pub kills: usize,
}

impl Node {
    /// A node on `db`: `start-dev` (its SQLite file) or `start` (its PostgreSQL schema).
    /// Nodes given the same `db` and `master_key` share one database.
    pub fn start(db: &TestDb, master_key: &str) -> Node {
        Node::start_with(db, master_key, &[])
    }

    /// [`Node::start`] with more environment variables (`LATCHKEY_…` options).
    pub fn start_with(db: &TestDb, master_key: &str, extra_env: &[(&str, &str)]) -> Node {
        let dir = std::env::temp_dir().join(format!(
            "latchkey-node-{}",
            latchkey_core::crypto::random_token::<9>()
        ));
        std::fs::create_dir_all(&dir).expect("node dir");
        let mut args: Vec<String> = match db.sqlite_path {
            Some(_) => vec!["start-dev".into()],
            None => vec![
                "start".into(),
                "--http-host".into(),
                "127.0.0.1".into(),
                "--hostname".into(),
                "http://127.0.0.1".into(),
            ],
        };
        args.extend([
            "--http-port".into(),
            "0".into(),
            "--db-url".into(),
            db.url.clone(),
        ]);
        let env: Vec<(String, String)> = vec![
            ("LATCHKEY_MASTER_KEY".to_string(), master_key.to_string()),
            ("LATCHKEY_BOOTSTRAP_ADMIN_USERNAME".into(), "admin".into()),
            (
                "LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD".into(),
                ADMIN_PASSWORD.into(),
            ),
            // Per-address limits would throttle a load test from one address: off.
            ("LATCHKEY_ANONYMOUS_REGISTRATION_LIMIT".into(), "0".into()),
            ("LATCHKEY_FAILED_TOKEN_LIMIT".into(), "0".into()),
            ("LATCHKEY_LOG".into(), "info".into()),
            ("LATCHKEY_LOG_FORMAT".into(), "text".into()),
        ]
        .into_iter()
        .chain(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .collect();
        let mut node = Node {
            child: None,
            base: String::new(),
            dir,
            args,
            env,
            kills: 0,
        };
        node.spawn();
        node
    }

    /// Starts the process and waits for its "listening on" line.
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env_remove("LATCHKEY_HOSTNAME")
            .env_remove("LATCHKEY_DB_URL")
            .env_remove("LATCHKEY_CONFIG_FILE");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let (child, base) = spawn_until_listening(&mut cmd, Duration::from_secs(60));
        self.base = base;
        self.child = Some(child);
    }

    /// SIGKILL (what `Child::kill` sends on Unix), reaped: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reap");
            self.kills += 1;
        }
    }

    /// SIGTERM, the graceful stop: how long the process took to exit (`None`: still
    /// running after `limit`, then killed).
    pub fn terminate(&mut self, limit: Duration) -> Option<Duration> {
        let mut c = self.child.take()?;
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(sent.success());
        while started.elapsed() < limit {
            if c.try_wait().expect("wait").is_some() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// Starts again on the same data (after `kill`).
    pub fn restart(&mut self) {
        self.spawn();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `method path` on this node with a bearer token and an optional JSON body: the status
    /// and the JSON answer (`Null` when there is none).
    pub async fn call(
        &self,
        http: &reqwest::Client,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A master admin token from this node.
    pub async fn admin_token(&self, http: &reqwest::Client) -> String {
        admin_token_at(http, &self.base, ADMIN_PASSWORD).await
    }
}

/// A token of the master admin `admin` (password grant on `admin-cli`) from the server at
/// `base`.
pub async fn admin_token_at(http: &reqwest::Client, base: &str, password: &str) -> String {
    let r: Value = http
        .post(format!(
            "{base}/realms/master/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "admin"),
            ("password", password),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    r["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("admin token: {r}"))
        .to_string()
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh master key for a group of nodes.
/// Spawns `cmd` (a `latchkey` command with stderr piped) and waits up to `limit` for its
/// "listening on" line; returns the child and its base URL. Panics with the output seen if
/// the line never comes. stderr keeps being drained so the child never blocks on it.
pub fn spawn_until_listening(cmd: &mut Command, limit: Duration) -> (Child, String) {
    let mut child = cmd.spawn().expect("spawn latchkey");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "latchkey did not report listening; output:\n{}",
                seen.join("\n")
            );
        };
        if let Some(rest) = line.split("listening on ").nth(1) {
            let base = rest
                .split_whitespace()
                .next()
                .expect("address")
                .trim_end_matches('/')
                .to_string();
            return (child, base);
        }
        seen.push(line);
    }
}

/// The id at the end of a 201's `Location`.
pub fn created_id(r: &reqwest::Response) -> String {
    r.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("Location")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

pub fn master_key() -> String {
    latchkey_core::crypto::SecretBox::generate_encoded()
}

/// An HTTP client for tests against nodes (no proxy, short timeouts).
pub fn http() -> reqwest::Client {
    latchkey_server::fetch::install_default_tls_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A small, seedable generator (xorshift64*) for random kill moments; the seed is printed
/// so a failing run can be replayed with `LATCHKEY_TEST_SEED`.
pub struct Rng(u64);

impl Rng {
    pub fn from_env() -> Rng {
        let seed = std::env::var("LATCHKEY_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
                    | 1
            });
        eprintln!("LATCHKEY_TEST_SEED={seed}");
        Rng(seed)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}
