//! What ships beside the binary, each run or checked as a user would: `--version`, the
//! shell completions, the container recipe (its command, environment, volume and health
//! check, against the binary) and the systemd unit (`systemd-analyze verify`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::node::spawn_until_listening;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");
/// Every subcommand, as `latchkey --help` lists them.
const SUBCOMMANDS: [&str; 7] = [
    "start-dev",
    "start",
    "bootstrap-admin",
    "reg",
    "backup",
    "health",
    "completions",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn latchkey(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run latchkey")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "latchkey-{what}-{}",
        latchkey_core::crypto::random_token::<9>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn version_names_the_crate_version_and_the_git_revision() {
    let out = latchkey(&["--version"]);
    assert!(out.status.success());
    // The revision the binary was built from: this checkout's, where git can say.
    let rev = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| text(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("latchkey {} ({rev})", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completion_scripts_name_every_subcommand_parse_and_complete() {
    for shell in ["bash", "zsh", "fish"] {
        let out = latchkey(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
        for flag in ["db-url", "hostname", "to", "force"] {
            // bash and zsh spell a flag `--to`, fish `-l to`.
            assert!(
                script.contains(&format!("--{flag}")) || script.contains(&format!("-l {flag} ")),
                "{shell} completion lacks --{flag}"
            );
        }
        // Each shell's own parser, where it is installed (bash always is here).
        let Ok(checked) = Command::new(shell)
            .arg("-n")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(script.as_bytes())?;
                child.wait_with_output()
            })
        else {
            assert_ne!(shell, "bash", "bash must be installed");
            eprintln!("SKIPPED: {shell} is not installed; its script was not parsed");
            continue;
        };
        assert!(
            checked.status.success(),
            "{shell} -n: {}",
            text(&checked.stderr)
        );
    }
    // bash's script completes: `latchkey ba<TAB>`, `latchkey backup --f<TAB>`.
    let script = text(&latchkey(&["completions", "bash"]).stdout);
    let dir = scratch("completions");
    std::fs::write(dir.join("latchkey.bash"), &script).unwrap();
    let completed = Command::new("bash")
        .arg("-c")
        .arg(
            "source \"$1\"
             COMP_WORDS=(latchkey ba); COMP_CWORD=1; _latchkey latchkey ba latchkey
             echo \"${COMPREPLY[*]}\"
             COMP_WORDS=(latchkey backup --f); COMP_CWORD=2; _latchkey latchkey --f backup
             echo \"${COMPREPLY[*]}\"",
        )
        .arg("bash")
        .arg(dir.join("latchkey.bash"))
        .output()
        .unwrap();
    assert_eq!(
        text(&completed.stdout),
        "backup\n--force\n",
        "{}",
        text(&completed.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    let wrong = latchkey(&["completions", "tcsh"]);
    assert_eq!(wrong.status.code(), Some(2));
}

#[test]
fn health_fails_where_nothing_answers() {
    let port = free_port();
    let out = latchkey(&["health", "--http-port", &port.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no answer"),
        "{}",
        text(&out.stderr)
    );
    let https = latchkey(&["health", "--url", "https://127.0.0.1:8443/health/ready"]);
    assert_eq!(https.status.code(), Some(2));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One instruction of a Containerfile: its keyword and the rest of its (joined) lines.
fn instructions(file: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in file.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let joined = std::mem::take(&mut current);
                if let Some((keyword, rest)) = joined.trim().split_once(char::is_whitespace) {
                    out.push((keyword.to_uppercase(), rest.trim().to_string()));
                }
            }
        }
    }
    out
}

/// An exec-form argument list (`["a", "b"]`).
fn exec_form(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not exec form ({e}): {s}"))
}

/// The recipe, read as the container engine would: the build stage's build and what the
/// runtime stage runs.
struct Recipe {
    build_runs: Vec<String>,
    build_copies: Vec<String>,
    copied_binary: (String, String),
    env: Vec<(String, String)>,
    user: String,
    volumes: Vec<String>,
    exposed: Vec<String>,
    workdir: String,
    healthcheck: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
}

fn read_recipe() -> Recipe {
    let file = std::fs::read_to_string(repo_root().join("Containerfile")).unwrap();
    let all = instructions(&file);
    let stages: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| k == "FROM")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    assert!(
        all[stages[0]].1.ends_with(" AS build"),
        "{}",
        all[stages[0]].1
    );
    let (build, runtime) = (&all[stages[0]..stages[1]], &all[stages[1]..]);
    let of = |part: &[(String, String)], key: &str| -> Vec<String> {
        part.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let one = |key: &str| -> String {
        let found = of(runtime, key);
        assert_eq!(found.len(), 1, "one {key} in the runtime stage");
        found[0].clone()
    };
    let copied_binary = of(runtime, "COPY")
        .into_iter()
        .find_map(|c| {
            let words: Vec<&str> = c.split_whitespace().collect();
            (words.first() == Some(&"--from=build") && words.len() == 3)
                .then(|| (words[1].to_string(), words[2].to_string()))
        })
        .expect("the binary copied from the build stage");
    let env = of(runtime, "ENV")
        .iter()
        .flat_map(|e| e.split_whitespace().map(String::from).collect::<Vec<_>>())
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("ENV KEY=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect();
    let healthcheck = one("HEALTHCHECK");
    let (options, command) = healthcheck.split_once("CMD ").expect("HEALTHCHECK … CMD");
    assert!(options.contains("--interval=") && options.contains("--timeout="));
    Recipe {
        build_runs: of(build, "RUN"),
        build_copies: of(build, "COPY"),
        copied_binary,
        env,
        user: one("USER"),
        volumes: exec_form(&one("VOLUME")),
        exposed: one("EXPOSE").split_whitespace().map(String::from).collect(),
        workdir: one("WORKDIR"),
        healthcheck: exec_form(command.trim()),
        entrypoint: exec_form(&one("ENTRYPOINT")),
        cmd: exec_form(&one("CMD")),
    }
}

/// The recipe builds this package's `latchkey` binary from the files it copies; it runs
/// it as a non-root user with the data in a volume; and that command, with the recipe's
/// environment (the volume a temporary folder) and what an operator adds, serves and
/// passes the recipe's health check, which fails before it serves.
///
/// No container engine runs here, so the binary is the one cargo built for this test: the
/// same package and binary target from the same sources (the recipe's `cargo build -p
/// latchkey --bin latchkey`, checked below), only the optimisation profile differs.
#[test]
fn the_container_recipe_serves_and_passes_its_health_check() {
    let r = read_recipe();
    let build = r
        .build_runs
        .iter()
        .find(|run| run.contains("cargo build"))
        .expect("a cargo build in the build stage");
    for part in ["--locked", "--release", "-p latchkey", "--bin latchkey"] {
        assert!(
            build.contains(part),
            "the build runs {build:?}, without {part}"
        );
    }
    assert!(
        r.copied_binary.0.ends_with("/target/release/latchkey"),
        "{:?}",
        r.copied_binary
    );
    assert_eq!(r.entrypoint[0], r.copied_binary.1);
    assert_eq!(r.healthcheck[0], r.copied_binary.1);
    // What the build copies exists, the build context keeps it, and it holds the
    // workspace's members.
    let ignore = std::fs::read_to_string(repo_root().join(".dockerignore")).unwrap();
    let mut sources = Vec::new();
    for copy in &r.build_copies {
        let words: Vec<&str> = copy.split_whitespace().collect();
        for src in &words[..words.len() - 1] {
            assert!(repo_root().join(src).exists(), "COPY {src}: no such file");
            assert!(
                ignore
                    .lines()
                    .any(|l| l.trim_end_matches('/') == format!("!{src}")),
                ".dockerignore leaves {src} out of the build context"
            );
            sources.push(src.to_string());
        }
    }
    for needed in ["Cargo.toml", "Cargo.lock", "crates"] {
        assert!(
            sources.iter().any(|s| s == needed),
            "the build needs {needed}"
        );
    }
    // The build context alone (what the build stage copies) is a whole workspace whose
    // lock file holds: cargo resolves it offline and finds the binary target.
    let context = scratch("context");
    for src in &sources {
        copy_tree(&repo_root().join(src), &context.join(src));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // This machine's platform: the others' crates need not be on disk.
    let about = text(&Command::new(&cargo).arg("-vV").output().unwrap().stdout);
    let host = about
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("cargo -vV names the host")
        .to_string();
    let metadata = Command::new(&cargo)
        .args(["metadata", "--locked", "--offline", "--format-version", "1"])
        .args(["--filter-platform", &host])
        .current_dir(&context)
        .output()
        .unwrap();
    assert!(metadata.status.success(), "{}", text(&metadata.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout).unwrap();
    let has_binary = metadata["packages"].as_array().unwrap().iter().any(|p| {
        p["name"] == "latchkey"
            && p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == "latchkey" && t["kind"][0] == "bin")
    });
    assert!(
        has_binary,
        "the build context has no latchkey binary target"
    );
    let _ = std::fs::remove_dir_all(&context);
    // Non-root, the data in a volume, both ports.
    let uid = r.user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "USER {}", r.user);
    assert_eq!(r.volumes, ["/data"]);
    assert_eq!(r.workdir, "/data");
    assert!(r.exposed.contains(&"8080".to_string()) && r.exposed.contains(&"8443".to_string()));
    let env: HashMap<&str, &str> = r
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env.get("LATCHKEY_HTTP_PORT"), Some(&"8080"));
    assert_eq!(env.get("LATCHKEY_HTTPS_PORT"), Some(&"8443"));
    assert!(
        env["LATCHKEY_DB_URL"].contains("/data/"),
        "the database is in the volume"
    );

    // Run it: /data is a temporary folder, the master key a mounted secret file.
    let root = scratch("container");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key_file = root.join("latchkey.key");
    std::fs::write(&key_file, crate::node::master_key()).unwrap();
    let volume = |v: &str| v.replace("/data", &data.display().to_string());
    // 8080 may be taken on a shared machine: the port moves, through the same variable
    // the health check reads, as `-e LATCHKEY_HTTP_PORT=…` would.
    let port = free_port().to_string();
    let mut environment: Vec<(String, String)> =
        r.env.iter().map(|(k, v)| (k.clone(), volume(v))).collect();
    environment.extend(
        [
            ("LATCHKEY_HTTP_PORT", port.as_str()),
            ("LATCHKEY_HOSTNAME", "https://id.example.com"),
            ("LATCHKEY_PROXY_HEADERS", "xforwarded"),
            ("LATCHKEY_KEY_FILE", &key_file.display().to_string()),
            ("LATCHKEY_BOOTSTRAP_ADMIN_USERNAME", "admin"),
            ("LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD", "container-admin-pass"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let health = || {
        let mut cmd = Command::new(BIN);
        cmd.args(&r.healthcheck[1..])
            .env_clear()
            .envs(environment.iter().cloned())
            .current_dir(&data)
            .output()
            .unwrap()
    };
    let before = health();
    assert_eq!(before.status.code(), Some(1), "healthy before it serves?");
    let mut cmd = Command::new(BIN);
    cmd.args(&r.entrypoint[1..])
        .args(&r.cmd)
        .env_clear()
        .envs(environment.iter().cloned())
        .current_dir(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let (mut child, base) = spawn_until_listening(&mut cmd, Duration::from_secs(60));
    assert!(base.ends_with(&format!(":{port}")), "{base}");
    let mut healthy = health();
    while !healthy.status.success() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
        healthy = health();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        healthy.status.success(),
        "health check: {}{}",
        text(&healthy.stdout),
        text(&healthy.stderr)
    );
    assert!(
        data.join("latchkey.db").exists(),
        "the database is not in the volume"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// `systemd-analyze verify` on the unit with ExecStart pointing at the test binary (the
/// unit's own path need not exist here); any complaint about the unit fails, as does a
/// missing hardening directive.
#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(repo_root().join("dist/latchkey.service")).unwrap();
    for directive in [
        "Type=exec",
        "DynamicUser=yes",
        "StateDirectory=latchkey",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=\n",
        "LoadCredential=latchkey.key:",
        "Environment=LATCHKEY_KEY_FILE=%d/latchkey.key",
        "ExecStart=/usr/local/bin/latchkey start\n",
    ] {
        assert!(unit.contains(directive), "the unit lacks {directive:?}");
    }
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("SKIPPED: systemd-analyze is not installed; the unit was not verified");
        return;
    };
    assert!(version.status.success());
    let dir = scratch("unit");
    let verify = |text: &str| {
        let path = dir.join("latchkey.service");
        std::fs::write(&path, text.replace("/usr/local/bin/latchkey", BIN)).unwrap();
        let out = Command::new("systemd-analyze")
            .args(["verify", path.to_str().unwrap()])
            .output()
            .unwrap();
        let complaints: Vec<String> = text_lines(&out.stderr)
            .into_iter()
            .chain(text_lines(&out.stdout))
            .filter(|l| l.contains("latchkey.service"))
            .collect();
        (out.status.success(), complaints)
    };
    let (ok, complaints) = verify(&unit);
    assert!(ok && complaints.is_empty(), "{complaints:#?}");
    // The check sees a bad value (systemd only warns, and exits 0, for one).
    let (_, complaints) = verify(&unit.replace("ProtectSystem=strict", "ProtectSystem=stricter"));
    assert!(!complaints.is_empty(), "a bad directive went unnoticed");
    // systemd's own exposure score (0 safest, 10 unprotected), offline.
    let (_, _) = verify(&unit);
    if let Ok(out) = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(dir.join("latchkey.service"))
        .output()
        && let Some(score) = text(&out.stdout)
            .lines()
            .find_map(|l| l.split("latchkey.service: ").nth(1))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse::<f64>().ok())
    {
        eprintln!("systemd-analyze security: exposure {score}");
        assert!(score <= 2.0, "exposure {score}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `from` (a file or a folder) copied to `to`, folders made as needed; `target` folders
/// are skipped, as the build context's ignore file skips them.
fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        if from.file_name().is_some_and(|n| n == "target") {
            return;
        }
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

fn text_lines(b: &[u8]) -> Vec<String> {
    text(b).lines().map(String::from).collect()
}

/// The unit's command with the environment systemd would give it: `%d` the credentials
/// folder holding the `LoadCredential` key, `%S` the state root, the configuration made
/// from `dist/latchkey.toml` as the unit's install steps say (hostname, db-url in the
/// state directory, proxy-headers). It serves, and its database is in the state directory.
#[test]
fn the_systemd_units_command_serves_with_the_example_configuration() {
    let unit = std::fs::read_to_string(repo_root().join("dist/latchkey.service")).unwrap();
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(String::from)
            .collect()
    };
    let root = scratch("unit-run");
    let (etc, state_root, credentials) = (
        root.join("etc"),
        root.join("var-lib"),
        root.join("credentials"),
    );
    let place = |v: &str| {
        v.replace("%d", &credentials.display().to_string())
            .replace("%S", &state_root.display().to_string())
            .replace("/etc/latchkey", &etc.display().to_string())
    };
    for dir in [&etc, &credentials] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let state = state_root.join(&values("StateDirectory")[0]);
    std::fs::create_dir_all(&state).unwrap();
    // The master key file the install steps make, handed over as a credential.
    std::fs::write(etc.join("latchkey.key"), crate::node::master_key()).unwrap();
    for credential in values("LoadCredential") {
        let (name, from) = credential.split_once(':').unwrap();
        std::fs::copy(place(from), credentials.join(name)).unwrap();
    }
    let port = free_port();
    let example = std::fs::read_to_string(repo_root().join("dist/latchkey.toml")).unwrap();
    std::fs::write(
        etc.join("latchkey.toml"),
        format!(
            "{example}\nhostname = \"https://id.example.com\"\ndb-url = \"sqlite://{}/latchkey.db\"\nproxy-headers = \"xforwarded\"\nhttp-port = {port}\n",
            state.display()
        ),
    )
    .unwrap();
    let exec = values("ExecStart")[0].clone();
    let mut words = exec.split_whitespace();
    let program = words.next().unwrap();
    assert_eq!(program, "/usr/local/bin/latchkey");
    let mut cmd = Command::new(BIN);
    cmd.args(words)
        .env_clear()
        .current_dir(place(&values("WorkingDirectory")[0]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for env in values("Environment") {
        let (k, v) = env.split_once('=').unwrap();
        cmd.env(k, place(v));
    }
    let (mut child, base) = spawn_until_listening(&mut cmd, Duration::from_secs(60));
    let health = latchkey(&["health", "--http-port", &port.to_string()]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(base.ends_with(&format!(":{port}")), "{base}");
    assert!(health.status.success(), "{}", text(&health.stderr));
    assert!(
        state.join("latchkey.db").exists(),
        "the database is not in the state directory"
    );
    let _ = std::fs::remove_dir_all(&root);
}
