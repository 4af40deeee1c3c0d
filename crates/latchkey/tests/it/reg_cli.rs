//! `latchkey reg`, the kcreg-style registration client, against the real binary: log in,
//! create, get (both providers and the adapter configuration), update, delete, an initial
//! access token, the config file readable by its owner only, and exit codes a script can
//! rely on (0 done, 1 refused by the server, 2 a usage error); output into a closed pipe
//! is no panic.

use serde_json::{Value, json};

use crate::first_run::{Run, http, password_token, stderr};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn reg_creates_reads_updates_and_deletes_clients() {
    let run = Run::new();
    let served = run.serve(
        &["start-dev", "--http-port", "0"],
        &[("LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD", "reg-pass")],
        "server.log",
        "admin console:",
    );
    let base = served.base();
    let config = run.dir.join("home/reg.config");
    let config = config.to_str().unwrap();
    let reg = |args: &[&str]| {
        let mut all = vec!["reg", "--config", config];
        all.extend_from_slice(args);
        run.output(&all, &[])
    };

    let out = reg(&["create", "-s", "clientId=x"]);
    assert_eq!(out.status.code(), Some(2), "no login yet: {}", stderr(&out));
    let out = reg(&[
        "config",
        "credentials",
        "--server",
        &base,
        "--realm",
        "master",
        "--user",
        "admin",
        "--password",
        "reg-pass",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(config).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the config holds tokens");
    }
    let bad = reg(&[
        "config",
        "credentials",
        "--server",
        &base,
        "--realm",
        "master",
        "--user",
        "admin",
        "--password",
        "wrong",
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));

    let out = reg(&[
        "create",
        "-s",
        "clientId=cli-app",
        "-s",
        r#"redirectUris=["https://app.example/cb"]"#,
        "-s",
        r#"attributes."pkce.code.challenge.method"=S256"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "cli-app");
    let got: Value = serde_json::from_str(&stdout(&reg(&["get", "cli-app"]))).unwrap();
    assert_eq!(got["clientId"], "cli-app");
    assert_eq!(got["redirectUris"], json!(["https://app.example/cb"]));
    assert_eq!(got["attributes"]["pkce.code.challenge.method"], "S256");

    let out = reg(&["update", "cli-app", "-s", "enabled=false"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Value = serde_json::from_str(&stdout(&reg(&["get", "cli-app"]))).unwrap();
    assert_eq!(got["enabled"], false, "updated with the rotated token kept");
    let install: Value =
        serde_json::from_str(&stdout(&reg(&["get", "cli-app", "-e", "install"]))).unwrap();
    assert_eq!(install["resource"], "cli-app");

    let out = reg(&["create", "-s", r#"redirectUris=["javascript:alert(1)"]"#]);
    assert_eq!(out.status.code(), Some(1), "refused by the server");
    assert!(
        stderr(&out).contains("invalid_redirect_uri"),
        "{}",
        stderr(&out)
    );
    assert_eq!(reg(&["create", "-s", "novalue"]).status.code(), Some(2));

    // An initial access token of another realm, and the OIDC provider.
    let admin = password_token(&base, "admin", "reg-pass").await.unwrap();
    let h = http();
    let r = h
        .post(format!("{base}/admin/realms"))
        .bearer_auth(&admin)
        .json(&json!({"realm": "team", "enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let iat: Value = h
        .post(format!("{base}/admin/realms/team/clients-initial-access"))
        .bearer_auth(&admin)
        .json(&json!({"count": 1, "expiration": 600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let out = reg(&[
        "config",
        "initial-token",
        "--server",
        &base,
        "--realm",
        "team",
        iat["token"].as_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = reg(&[
        "create",
        "-r",
        "team",
        "-e",
        "oidc",
        "-s",
        "client_name=Team tool",
        "-s",
        r#"redirect_uris=["https://tool.example/cb"]"#,
        "-o",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let created: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let id = created["client_id"].as_str().unwrap();
    let got: Value =
        serde_json::from_str(&stdout(&reg(&["get", id, "-r", "team", "-e", "oidc"]))).unwrap();
    assert_eq!(got["client_name"], "Team tool");

    let out = reg(&["delete", "cli-app"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(reg(&["get", "cli-app"]).status.code(), Some(1), "gone");
    for command in [
        &["create"][..],
        &["get"],
        &["update"],
        &["delete"],
        &["attrs"],
        &["config", "credentials"],
        &["config", "initial-token"],
        &["config", "registration-token"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let help = stdout(&reg(&args));
        assert!(
            help.contains("latchkey reg "),
            "{command:?} has examples: {help}"
        );
    }
    let attrs = stdout(&reg(&["attrs"]));
    assert!(attrs.lines().any(|l| l == "redirectUris"), "{attrs}");
}

/// A reader that stops early (`latchkey reg attrs | head -1`) ends the output, not the
/// process with a panic: the command exits 0 and prints nothing on stderr.
#[test]
fn output_into_a_closed_pipe_is_no_panic() {
    let run = Run::new();
    for args in [&["reg", "attrs"][..], &["reg", "attrs", "-e", "oidc"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let child = run
            .command(args, &[])
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}
