//! A newcomer's first minutes with the real binary: `/` and the banner lead to the console,
//! the command line says which flag or variable was wrong (once), and an operator who lost
//! the admin password gets back in with `bootstrap-admin user`, the server running or not.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Backend, TestDb};

/// `latchkey` in its own folder, its stderr in a file the test reads.
pub(crate) struct Run {
    pub(crate) dir: PathBuf,
}

impl Run {
    pub(crate) fn new() -> Run {
        let dir = std::env::temp_dir().join(format!(
            "latchkey-first-{}",
            latchkey_core::crypto::random_token::<9>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Run { dir }
    }

    pub(crate) fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.args(args).current_dir(&self.dir);
        for var in [
            "LATCHKEY_HOSTNAME",
            "LATCHKEY_DB_URL",
            "LATCHKEY_HTTP_PORT",
            "LATCHKEY_BOOTSTRAP_ADMIN_USERNAME",
            "LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD",
            "KC_BOOTSTRAP_ADMIN_USERNAME",
            "KC_BOOTSTRAP_ADMIN_PASSWORD",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("LATCHKEY_LOG_FORMAT", "text").env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    pub(crate) fn output(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().unwrap()
    }

    /// Starts the server, its stderr in `name`, and waits for `until` in it.
    pub(crate) fn serve(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        name: &str,
        until: &str,
    ) -> Served {
        let log = self.dir.join(name);
        let child = self
            .command(args, env)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let served = Served { child, log };
        served.wait_for(until);
        served
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) struct Served {
    child: Child,
    log: PathBuf,
}

impl Served {
    pub(crate) fn text(&self) -> String {
        let raw = std::fs::read_to_string(&self.log).unwrap_or_default();
        // Colours, whatever the terminal settings.
        let mut out = String::new();
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    pub(crate) fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "no {needle:?} in:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The base URL from the "listening on" line.
    pub(crate) fn base(&self) -> String {
        let text = self.wait_for("listening on ");
        let rest = text.split("listening on ").nth(1).unwrap();
        rest.split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('/')
            .into()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn http() -> reqwest::Client {
    latchkey_server::fetch::install_default_tls_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn password_token(base: &str, user: &str, password: &str) -> Option<String> {
    let r: Value = http()
        .post(format!(
            "{base}/realms/master/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"].as_str().map(String::from)
}

#[tokio::test]
async fn the_root_and_the_banner_lead_to_the_console() {
    let run = Run::new();
    let served = run.serve(
        &["start-dev", "--http-port", "0"],
        &[],
        "server.log",
        "admin console:",
    );
    let base = served.base();
    let banner = served.text();
    assert!(
        banner.contains(&format!(
            "admin console: {base}/admin/ (realm master, user admin)"
        )),
        "{banner}"
    );
    let http = http();
    for path in ["", "/"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path:?}");
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("{base}/admin/console/")
        );
    }
}

#[test]
fn the_command_line_names_the_flag_or_variable_that_was_wrong() {
    let run = Run::new();
    let out = run.output(&["start-dev", "--port", "9000"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'--http-port'"), "{}", stderr(&out));

    let out = run.output(&["start-dev"], &[("LATCHKEY_HTTP_PORT", "eighty")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("LATCHKEY_HTTP_PORT") && stderr(&out).contains("eighty"),
        "{}",
        stderr(&out)
    );
    let out = run.output(&["start-dev", "--http-port", "eighty"], &[]);
    assert!(
        stderr(&out).contains("--http-port") && !stderr(&out).contains("LATCHKEY_HTTP_PORT"),
        "a flag's bad value names the flag: {}",
        stderr(&out)
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run.output(&["start-dev", "--http-port", &port], &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert_eq!(
        text.matches("already in use").count(),
        1,
        "said once: {text}"
    );
    assert!(text.contains("--http-port"), "{text}");
}

/// Lost the admin password: the bootstrap variables do nothing after the first start (and
/// the log says so), `bootstrap-admin user` makes a temporary admin, with the server
/// running on SQLite and with it stopped on PostgreSQL.
#[tokio::test]
async fn bootstrap_admin_user_recovers_access() {
    let run = Run::new();
    let first = run.serve(
        &["start-dev", "--http-port", "0"],
        &[("LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD", "first-pass")],
        "first.log",
        "admin console:",
    );
    drop(first);
    let served = run.serve(
        &["start-dev", "--http-port", "0"],
        &[("LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD", "forgotten")],
        "second.log",
        "admin console:",
    );
    let log = served.text();
    assert!(
        log.contains("LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD is set but ignored")
            && log.contains("bootstrap-admin user"),
        "{log}"
    );
    let base = served.base();
    assert!(password_token(&base, "admin", "forgotten").await.is_none());

    let out = run.output(
        &[
            "bootstrap-admin",
            "user",
            "--username",
            "Rescue",
            "--password:env",
            "NEW_PW",
        ],
        &[("NEW_PW", "rescue-pass")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = password_token(&base, "rescue", "rescue-pass")
        .await
        .expect("the temporary admin signs in on the running server");
    let http = http();
    let realms = http
        .get(format!("{base}/admin/realms"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(realms.status(), 200, "it is an admin");
    let users: Value = http
        .get(format!(
            "{base}/admin/realms/master/users?username=rescue&exact=true"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        users[0]["attributes"]["is_temporary_admin"][0], "true",
        "{users}"
    );
    let again = run.output(&["bootstrap-admin", "user", "--username", "rescue"], &[]);
    assert_eq!(again.status.code(), Some(1), "a taken name is refused");
    assert!(
        stderr(&again).contains("exists already"),
        "{}",
        stderr(&again)
    );
    let printed = run.output(&["bootstrap-admin", "user"], &[]);
    let stdout = String::from_utf8_lossy(&printed.stdout);
    let password = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("a generated password is printed once");
    assert!(
        password_token(&base, "temp-admin", password)
            .await
            .is_some()
    );
    drop(served);

    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let key = latchkey_core::crypto::SecretBox::generate_encoded();
    let pg = Run::new();
    let env = [
        ("LATCHKEY_MASTER_KEY", key.as_str()),
        ("LATCHKEY_DB_URL", db.url.as_str()),
    ];
    drop(pg.serve(
        &["start-dev", "--http-port", "0"],
        &env,
        "pg1.log",
        "admin console:",
    ));
    let out = pg.output(
        &[
            "bootstrap-admin",
            "user",
            "--username",
            "pg-rescue",
            "--password:env",
            "NEW_PW",
            "--db-url",
            &db.url,
        ],
        &[("NEW_PW", "pg-pass")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let served = pg.serve(
        &["start-dev", "--http-port", "0"],
        &env,
        "pg2.log",
        "admin console:",
    );
    assert!(
        password_token(&served.base(), "pg-rescue", "pg-pass")
            .await
            .is_some()
    );
}
