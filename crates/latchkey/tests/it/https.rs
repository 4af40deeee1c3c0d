//! HTTPS served by the real binary: a certificate made here with the `openssl` command,
//! discovery over HTTP/2 with an `https` issuer, the certificate replaced on disk and
//! served without a restart, a bad replacement ignored, TLS 1.1 refused, and `start`
//! refusing plain HTTP beyond loopback.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Backend, TestDb};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and, for each name, a P-256 key and a certificate for 127.0.0.1 it signs
/// (`NAME.pem`, `NAME.key`, `NAME.der`).
fn make_pki(dir: &Path, names: &[&str]) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Latchkey test CA",
        ],
    );
    for name in names {
        let (key, csr, pem, der) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.der"),
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        std::fs::write(
            dir.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "san.ext",
                "-out",
                &pem,
            ],
        );
        openssl(dir, &["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
    }
}

/// Replaces `to` with `from`'s bytes in one step, as a deployment tool would.
fn install(dir: &Path, from: &str, to: &str) {
    let tmp = dir.join(format!("{to}.new"));
    std::fs::copy(dir.join(from), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join(to)).unwrap();
}

struct Server {
    child: Child,
    log: PathBuf,
    dir: PathBuf,
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.log();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "no {needle:?} in:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The `host:port` of the line `listening on {scheme}://…`.
    fn address(&self, scheme: &str) -> String {
        let needle = format!("listening on {scheme}://");
        let text = self.wait_for(&needle);
        let rest = text.split(&needle).nth(1).unwrap();
        rest.split('/').next().unwrap().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client(dir: &Path) -> reqwest::Client {
    latchkey_server::fetch::install_default_tls_provider();
    let ca = std::fs::read(dir.join("ca.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .tls_info(true)
        .build()
        .unwrap()
}

/// The certificate the server presents to a new client (a new connection, no resumed
/// session), DER.
async fn served_certificate(dir: &Path, url: &str) -> Option<Vec<u8>> {
    let response = client(dir).get(url).send().await.ok()?;
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate().map(<[u8]>::to_vec))
}

async fn https_discovery_reload_and_protocols(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "latchkey-https-{}",
        latchkey_core::crypto::random_token::<9>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    make_pki(&dir, &["first", "second"]);
    install(&dir, "first.pem", "cert.pem");
    install(&dir, "first.key", "key.pem");
    let log = dir.join("server.log");
    let child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args([
            "start-dev",
            "--http-port",
            "0",
            "--https-port",
            "0",
            "--https-certificate-file",
            "cert.pem",
            "--https-certificate-key-file",
            "key.pem",
            "--db-url",
            &db.url,
        ])
        .current_dir(&dir)
        .env_remove("LATCHKEY_HOSTNAME")
        .env("LATCHKEY_LOG_FORMAT", "text")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        log,
        dir: dir.clone(),
    };
    let https = server.address("https");
    let http = server.address("http");
    assert_ne!(https, http, "start-dev keeps plain HTTP on its own port");

    let client = client(&dir);
    let discovery = format!("https://{https}/realms/master/.well-known/openid-configuration");
    let response = client.get(&discovery).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.version(),
        reqwest::Version::HTTP_2,
        "ALPN chose h2"
    );
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], format!("https://{https}/realms/master"));
    assert_eq!(
        doc["token_endpoint"],
        format!("https://{https}/realms/master/protocol/openid-connect/token")
    );
    let plain: Value = reqwest::get(format!(
        "http://{http}/realms/master/.well-known/openid-configuration"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(plain["issuer"], format!("http://{http}/realms/master"));

    let first = std::fs::read(dir.join("first.der")).unwrap();
    let second = std::fs::read(dir.join("second.der")).unwrap();
    assert_eq!(
        served_certificate(&dir, &discovery).await.as_deref(),
        Some(&first[..])
    );

    // A new certificate on disk is served within the reload interval, by the same process.
    install(&dir, "second.key", "key.pem");
    install(&dir, "second.pem", "cert.pem");
    let deadline = Instant::now() + Duration::from_secs(15);
    while served_certificate(&dir, &discovery).await.as_deref() != Some(&second[..]) {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.wait_for("reloaded the HTTPS certificate");

    // A broken replacement: the error is logged and the previous certificate stays.
    std::fs::write(dir.join("cert.pem"), "not a certificate\n").unwrap();
    server.wait_for("still serving the previous certificate");
    assert_eq!(
        served_certificate(&dir, &discovery).await.as_deref(),
        Some(&second[..])
    );

    // TLS 1.2 is served, TLS 1.1 is not (the client allows it: security level 0).
    let handshake = |version: &str| {
        let out = Command::new("openssl")
            .args([
                "s_client",
                version,
                "-cipher",
                "DEFAULT@SECLEVEL=0",
                "-connect",
                &https,
                "-CAfile",
                "ca.pem",
            ])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, text) = handshake("-tls1_2");
    assert!(ok, "TLS 1.2: {text}");
    let (ok, text) = handshake("-tls1_1");
    assert!(!ok, "TLS 1.1 was accepted: {text}");
    // The server's alert (rustls answers an offer without TLS 1.2 or 1.3 with
    // handshake_failure), not a client that gave up before asking.
    assert!(text.contains("alert handshake failure"), "{text}");
    assert!(
        server.log().matches("listening on https://").count() == 1,
        "no restart"
    );
}

#[tokio::test]
async fn https_on_sqlite() {
    https_discovery_reload_and_protocols(Backend::Sqlite).await;
}

#[tokio::test]
async fn https_on_postgres() {
    https_discovery_reload_and_protocols(Backend::Postgres).await;
}

#[test]
fn start_refuses_plain_http_beyond_loopback() {
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.args([
            "start",
            "--hostname",
            "https://id.example.test",
            "--db-url",
            "sqlite://unused.db",
            "--http-host",
            "0.0.0.0",
        ])
        .args(extra)
        .current_dir(std::env::temp_dir())
        .env("LATCHKEY_MASTER_KEY", "unused");
        for var in [
            "LATCHKEY_PROXY_HEADERS",
            "LATCHKEY_CONFIG_FILE",
            "LATCHKEY_HTTP_ENABLED",
            "LATCHKEY_HTTPS_CERTIFICATE_FILE",
            "LATCHKEY_HTTPS_CERTIFICATE_KEY_FILE",
        ] {
            cmd.env_remove(var);
        }
        cmd.output().unwrap()
    };
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refuses plain HTTP on 0.0.0.0")
            && err.contains("--http-enabled true")
            && err.contains("--proxy-headers")
            && err.contains("--https-certificate-file"),
        "{err}"
    );
    // Either flag gets past the check (to the bad master key, exit 1, not 2).
    for flags in [
        &["--http-enabled", "true"][..],
        &["--proxy-headers", "xforwarded"],
    ] {
        let out = run(flags);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("refuses plain HTTP"), "{flags:?}: {err}");
    }
}
