//! End to end: the real binary on a free port, over real HTTP.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::node::{admin_token_at, created_id};
use crate::support::{Backend, TestDb};

struct Server {
    child: Child,
    base: String,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Server {
    /// Starts `latchkey <args>` in a fresh folder and waits for its "listening on" line.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = std::env::temp_dir().join(format!(
            "latchkey-e2e-{}",
            latchkey_core::crypto::random_token::<9>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.args(args)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.env_remove("LATCHKEY_HOSTNAME")
            .env_remove("LATCHKEY_DB_URL")
            .env("LATCHKEY_LOG_FORMAT", "text");
        let (child, base) = crate::node::spawn_until_listening(&mut cmd, Duration::from_secs(30));
        Server {
            child,
            base,
            _dir: TempDir(dir),
        }
    }

    /// SIGTERM, then the process must exit cleanly and promptly.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "graceful shutdown exits 0, got {status}");
                return;
            }
            assert!(Instant::now() < deadline, "no exit within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// The README's walkthrough: admin token, realm, service-account client, token, JWKS.
async fn walkthrough(base: &str, issuer_base: &str) {
    latchkey_server::fetch::install_default_tls_provider();
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let admin = admin_token_at(&http, base, "e2e-pass").await;
    let r = http
        .post(format!("{base}/admin/realms"))
        .bearer_auth(&admin)
        .json(&json!({"realm": "demo", "enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{base}/admin/realms/demo/clients"))
        .bearer_auth(&admin)
        .json(&json!({"clientId": "worker", "publicClient": false, "serviceAccountsEnabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = created_id(&r);
    let secret: Value = http
        .get(format!(
            "{base}/admin/realms/demo/clients/{id}/client-secret"
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = secret["value"].as_str().unwrap();
    let r = http
        .post(format!("{base}/realms/demo/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "worker"),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    let jwks: Value = http
        .get(format!("{base}/realms/demo/protocol/openid-connect/certs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = latchkey_core::jwt::parse(t["access_token"].as_str().unwrap())
        .unwrap()
        .verify(jwks["keys"].as_array().unwrap())
        .expect("verifies against the JWKS served over HTTP");
    assert_eq!(claims["iss"], format!("{issuer_base}/realms/demo"));
    assert_eq!(claims["azp"], "worker");
    assert!(
        claims["clientAddress"]
            .as_str()
            .is_some_and(|a| a == "127.0.0.1")
    );
}

#[tokio::test]
async fn start_dev_on_sqlite_serves_the_walkthrough() {
    let server = Server::start(
        &["start-dev", "--http-port", "0"],
        &[
            ("LATCHKEY_BOOTSTRAP_ADMIN_USERNAME", "admin"),
            ("LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD", "e2e-pass"),
        ],
    );
    assert!(
        server._dir.0.join("data/latchkey.db").exists(),
        "start-dev keeps SQLite in ./data"
    );
    assert!(
        server._dir.0.join("data/latchkey.key").exists(),
        "start-dev creates its master key"
    );
    let base = server.base.clone();
    walkthrough(&base, &base).await;
    server.stop();
}

#[tokio::test]
async fn start_on_postgres_with_hostname_and_relative_path() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let server = Server::start(
        &[
            "start",
            "--http-host",
            "127.0.0.1",
            "--http-port",
            "0",
            "--hostname",
            "https://id.example.test/auth",
            "--http-relative-path",
            "/auth",
            "--db-url",
            &db.url,
        ],
        &[
            (
                "LATCHKEY_MASTER_KEY",
                &latchkey_core::crypto::SecretBox::generate_encoded(),
            ),
            ("KC_BOOTSTRAP_ADMIN_USERNAME", "admin"),
            ("KC_BOOTSTRAP_ADMIN_PASSWORD", "e2e-pass"),
        ],
    );
    let base = format!("{}/auth", server.base.trim_end_matches("/auth"));
    walkthrough(&base, "https://id.example.test/auth").await;
    server.stop();
}

#[test]
fn start_refuses_to_run_without_hostname() {
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["start", "--db-url", "sqlite://x.db"])
        .env_remove("LATCHKEY_HOSTNAME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--hostname"));
}

#[test]
fn flags_beat_environment_beat_the_config_file() {
    let dir = std::env::temp_dir().join(format!(
        "latchkey-cfg-{}",
        latchkey_core::crypto::random_token::<9>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("latchkey.toml"), "http-port = 70000\n").unwrap();
    // The file's invalid port is reported, proving the file is read...
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("start-dev")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("latchkey.toml"));
    // ...and a bad value in the environment wins over the file (and is reported), as does a flag over both.
    std::fs::write(
        dir.join("latchkey.toml"),
        "http-relative-path = \"/from-file\"\nhostname = \"ftp://bad\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("start-dev")
        .current_dir(&dir)
        .env("LATCHKEY_HOSTNAME", "gopher://env")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("gopher://env"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["start-dev", "--hostname", "mailto://flag"])
        .current_dir(&dir)
        .env("LATCHKEY_HOSTNAME", "gopher://env")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mailto://flag"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// Two nodes on one PostgreSQL (max-clients and the other racing invariants): racing.rs.

/// The abuse limits through the real binary: a flag (`--anonymous-registration-limit`) and
/// an environment variable (`LATCHKEY_MAX_HEADER_SIZE`) reach the server; 429 with
/// `Retry-After`, 431 and 413 come back as JSON over a real connection.
#[tokio::test]
async fn abuse_limits_over_a_real_connection() {
    let server = Server::start(
        &[
            "start-dev",
            "--http-port",
            "0",
            "--anonymous-registration-limit",
            "2",
        ],
        &[
            ("LATCHKEY_BOOTSTRAP_ADMIN_USERNAME", "admin"),
            ("LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD", "e2e-pass"),
            ("LATCHKEY_MAX_HEADER_SIZE", "4096"),
        ],
    );
    let base = server.base.clone();
    latchkey_server::fetch::install_default_tls_provider();
    let http = reqwest::Client::new();
    let admin = admin_token_at(&http, &base, "e2e-pass").await;
    let r = http
        .put(format!("{base}/admin/realms/master"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"attributes": {"clientRegistrationAnonymousEnabled": "true", "clientRegistrationPoliciesEnabled": "false"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let register = || {
        http.post(format!(
            "{base}/realms/master/clients-registrations/openid-connect"
        ))
        .json(&serde_json::json!({"redirect_uris": ["https://app.example/cb"]}))
        .send()
    };
    for _ in 0..2 {
        assert_eq!(register().await.unwrap().status(), 201);
    }
    let r = register().await.unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");

    let r = http
        .get(format!(
            "{base}/realms/master/.well-known/openid-configuration"
        ))
        .header("x-padding", "a".repeat(5000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");

    let r = http
        .post(format!("{base}/admin/realms"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(format!("{{\"realm\": \"{}\"}}", "x".repeat(70_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    server.stop();
}
