//! Configuration in two stages (ripgrep's low/high args): `Opts` is what the user said,
//! from flags, then `LATCHKEY_*` environment variables (clap), then a TOML file; `Config`
//! is the validated result the rest of the program uses.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use latchkey_server::ProxyHeaders;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    Forwarded,
    Xforwarded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Options common to `start` and `start-dev`. Every one may also come from the TOML file
/// (same names, e.g. `http-port = 8080`).
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Opts {
    /// Address to listen on [start-dev: 127.0.0.1; start: 0.0.0.0]
    #[arg(long, env = "LATCHKEY_HTTP_HOST")]
    pub http_host: Option<String>,
    /// Port to listen on [default: 8080]
    #[arg(long, env = "LATCHKEY_HTTP_PORT")]
    pub http_port: Option<u16>,
    /// Serve plain HTTP on --http-port too (`true`/`false`) [start-dev: true; start: true
    /// only when no HTTPS certificate is given]
    #[arg(long, env = "LATCHKEY_HTTP_ENABLED", value_name = "BOOL")]
    pub http_enabled: Option<bool>,
    /// PEM certificate chain to serve HTTPS with (with --https-certificate-key-file);
    /// reloaded when the file changes
    #[arg(long, env = "LATCHKEY_HTTPS_CERTIFICATE_FILE")]
    pub https_certificate_file: Option<PathBuf>,
    /// PEM private key of --https-certificate-file; reloaded when the file changes
    #[arg(long, env = "LATCHKEY_HTTPS_CERTIFICATE_KEY_FILE")]
    pub https_certificate_key_file: Option<PathBuf>,
    /// HTTPS port [default: 8443]
    #[arg(long, env = "LATCHKEY_HTTPS_PORT")]
    pub https_port: Option<u16>,
    /// Path under which everything is served; `/auth` gives pre-Keycloak-17 URLs [default: /]
    #[arg(long, env = "LATCHKEY_HTTP_RELATIVE_PATH")]
    pub http_relative_path: Option<String>,
    /// Public base URL, e.g. https://id.example.com (required by `start`)
    #[arg(long, env = "LATCHKEY_HOSTNAME")]
    pub hostname: Option<String>,
    /// sqlite://PATH or postgres://… [start-dev: sqlite://data/latchkey.db]
    #[arg(long, env = "LATCHKEY_DB_URL")]
    pub db_url: Option<String>,
    /// Trust the reverse proxy's `Forwarded` or `X-Forwarded-*` headers
    #[arg(long, env = "LATCHKEY_PROXY_HEADERS", value_enum)]
    pub proxy_headers: Option<ProxyMode>,
    /// With --proxy-headers: the proxies (addresses or CIDR ranges, comma-separated) whose
    /// forwarded headers are believed; a request from any other address is taken as coming
    /// from that address [default: the one proxy in front, whatever its address]
    #[arg(long, env = "LATCHKEY_PROXY_TRUSTED_ADDRESSES")]
    pub proxy_trusted_addresses: Option<String>,
    /// Log format
    #[arg(long, env = "LATCHKEY_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// File holding the master key (base64 of 32 bytes) that encrypts client secrets and
    /// signing keys [start-dev: data/latchkey.key, created if missing]
    #[arg(long, env = "LATCHKEY_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes; larger ones get 413 [default: 65536]
    #[arg(long, env = "LATCHKEY_MAX_REQUEST_SIZE")]
    pub max_request_size: Option<usize>,
    /// Anonymous registrations per address per window and realm; more get 429 (0: no limit;
    /// a realm's attribute clientRegistrationAnonymousLimit overrides it) [default: start 20,
    /// start-dev 0]
    #[arg(long, env = "LATCHKEY_ANONYMOUS_REGISTRATION_LIMIT")]
    pub anonymous_registration_limit: Option<u32>,
    /// Failed registration or initial access token attempts per address per window; more
    /// failing ones get 429, a valid token is always served (0: no limit) [default: start 10,
    /// start-dev 0]
    #[arg(long, env = "LATCHKEY_FAILED_TOKEN_LIMIT")]
    pub failed_token_limit: Option<u32>,
    /// Failed passwords (login form and password grant together) per address per window;
    /// more get 429 (0: no limit; always off in start-dev) [default: 100]
    #[arg(long, env = "LATCHKEY_FAILED_PASSWORD_LIMIT")]
    pub failed_password_limit: Option<u32>,
    /// Authorization requests per address per window; more get 429 (0: no limit)
    /// [default: start 600, start-dev 0]
    #[arg(long, env = "LATCHKEY_AUTHORIZATION_REQUEST_LIMIT")]
    pub authorization_request_limit: Option<u32>,
    /// Length of the rate-limit window, in seconds [default: 60]
    #[arg(long, env = "LATCHKEY_RATE_LIMIT_WINDOW")]
    pub rate_limit_window: Option<u64>,
    /// Largest request head (request line and headers), in bytes; larger ones get 431
    /// (0: no limit beyond the HTTP server's own) [default: 16384]
    #[arg(long, env = "LATCHKEY_MAX_HEADER_SIZE")]
    pub max_header_size: Option<usize>,
    /// Seconds a client has to send a request head, and then its body (a late body gets
    /// 408); a connection without a request for that long is closed [default: 30]
    #[arg(long, env = "LATCHKEY_HTTP_READ_TIMEOUT")]
    pub http_read_timeout: Option<u64>,
    /// Rows each node's read cache keeps at most (clients, users, role mappings, realms,
    /// initial access tokens; a token request reads four per client); past it the least
    /// read go, and a miss costs one indexed query [default: 20000]
    #[arg(long, env = "LATCHKEY_CACHE_ENTRIES")]
    pub cache_entries: Option<usize>,
    /// TOML configuration file [default: ./latchkey.toml if present]
    #[arg(long, env = "LATCHKEY_CONFIG_FILE")]
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
}

impl Opts {
    /// Fills every option not given by flag or environment from the TOML file.
    pub fn with_file(mut self) -> Result<Opts, String> {
        let path = match &self.config_file {
            Some(p) => p.clone(),
            None if Path::new("latchkey.toml").exists() => PathBuf::from("latchkey.toml"),
            None => return Ok(self),
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        let file: Opts =
            toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))?;
        macro_rules! fill {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = file.$f; } )* };
        }
        fill!(
            http_host,
            http_port,
            http_enabled,
            https_certificate_file,
            https_certificate_key_file,
            https_port,
            http_relative_path,
            hostname,
            db_url,
            proxy_headers,
            proxy_trusted_addresses,
            log_format,
            key_file,
            max_request_size,
            anonymous_registration_limit,
            failed_token_limit,
            failed_password_limit,
            authorization_request_limit,
            rate_limit_window,
            max_header_size,
            http_read_timeout,
            cache_entries
        );
        Ok(self)
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `LATCHKEY_MASTER_KEY`: the key itself, base64.
    Env(String),
    /// A key file; `create` makes one when missing (start-dev only).
    File { path: PathBuf, create: bool },
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub dev_mode: bool,
    pub http_host: IpAddr,
    pub http_port: u16,
    /// Plain HTTP on `http_port`.
    pub http_enabled: bool,
    /// HTTPS on its port, with these certificate files.
    pub https: Option<(crate::tls::CertFiles, u16)>,
    pub relative_path: String,
    pub hostname: Option<String>,
    pub db_url: String,
    pub proxy_headers: Option<ProxyHeaders>,
    pub log_format: LogFormat,
    pub key: KeySource,
    pub max_request_size: usize,
    pub limits: latchkey_server::Limits,
    pub proxy_trusted: latchkey_server::settings::TrustedProxies,
    /// The read cache's bound, in rows.
    pub cache_entries: usize,
}

pub const DEV_DATA_DIR: &str = "data";
/// Where `start-dev` keeps its database.
pub const DEV_DB_URL: &str = "sqlite://data/latchkey.db";

impl Config {
    pub fn validate(
        o: Opts,
        dev_mode: bool,
        master_key_env: Option<String>,
    ) -> Result<Config, String> {
        let host = o
            .http_host
            .unwrap_or_else(|| if dev_mode { "127.0.0.1" } else { "0.0.0.0" }.into());
        let http_host: IpAddr = host.parse().map_err(|_| {
            format!("--http-host {host:?} is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)")
        })?;
        let relative_path =
            normalise_relative_path(o.http_relative_path.as_deref().unwrap_or("/"))?;
        let hostname = o
            .hostname
            .map(|h| normalise_hostname(&h, &relative_path))
            .transpose()?;
        if !dev_mode && hostname.is_none() {
            return Err("start needs --hostname (the public base URL, e.g. https://id.example.com); use start-dev for local development".into());
        }
        let db_url = match o.db_url {
            Some(u) => u,
            None if dev_mode => DEV_DB_URL.to_string(),
            None => {
                return Err(
                    "start needs --db-url (sqlite://PATH or postgres://USER@HOST/DB)".into(),
                );
            }
        };
        if latchkey_store::Backend::of_url(&db_url).is_none() {
            return Err(format!(
                "--db-url {db_url:?}: use sqlite://PATH or postgres://…"
            ));
        }
        let o_limits = (
            o.anonymous_registration_limit,
            o.failed_token_limit,
            o.rate_limit_window,
            o.max_header_size,
        );
        let key = match (master_key_env, o.key_file) {
            (Some(k), None) => KeySource::Env(k),
            (_, Some(path)) => KeySource::File {
                path,
                create: dev_mode,
            },
            (None, None) if dev_mode => KeySource::File {
                path: Path::new(DEV_DATA_DIR).join("latchkey.key"),
                create: true,
            },
            (None, None) => {
                return Err("start needs a master key: --key-file FILE or LATCHKEY_MASTER_KEY (base64 of 32 random bytes, e.g. `head -c32 /dev/urandom | base64`)".into());
            }
        };
        let https = match (o.https_certificate_file, o.https_certificate_key_file) {
            (Some(cert), Some(key)) => Some((
                crate::tls::CertFiles { cert, key },
                o.https_port.unwrap_or(8443),
            )),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(
                    "HTTPS needs both --https-certificate-file and --https-certificate-key-file"
                        .into(),
                );
            }
        };
        let http_enabled = o.http_enabled.unwrap_or(dev_mode || https.is_none());
        if !http_enabled && https.is_none() {
            return Err("--http-enabled false leaves nothing to serve: give --https-certificate-file and --https-certificate-key-file".into());
        }
        // Both listeners on one port: the second bind would fail after the first had
        // started, with a message blaming "another server".
        let http_port = o.http_port.unwrap_or(8080);
        if let Some((_, https_port)) = &https
            && http_enabled
            && *https_port == http_port
            && http_port != 0
        {
            return Err(format!(
                "--http-port and --https-port are both {http_port}: plain HTTP and HTTPS need two ports (or --http-enabled false)"
            ));
        }
        // Plain HTTP beyond this machine carries passwords and tokens in clear, unless a
        // TLS-terminating proxy is in front (Keycloak's `start` refuses it the same way).
        if !dev_mode
            && http_enabled
            && o.http_enabled != Some(true)
            && o.proxy_headers.is_none()
            && !http_host.is_loopback()
        {
            return Err(format!(
                "start refuses plain HTTP on {http_host}: serve HTTPS with --https-certificate-file and --https-certificate-key-file, or set --proxy-headers behind a TLS-terminating proxy, or --http-enabled true to serve plain HTTP anyway"
            ));
        }
        Ok(Config {
            dev_mode,
            http_host,
            http_port,
            http_enabled,
            https,
            relative_path,
            hostname,
            db_url,
            proxy_headers: o.proxy_headers.map(|p| match p {
                ProxyMode::Forwarded => ProxyHeaders::Forwarded,
                ProxyMode::Xforwarded => ProxyHeaders::XForwarded,
            }),
            log_format: o.log_format.unwrap_or_default(),
            key,
            max_request_size: match o.max_request_size {
                Some(0) => return Err("--max-request-size must be at least 1 byte".into()),
                Some(n) => n,
                None => latchkey_server::DEFAULT_BODY_LIMIT,
            },
            limits: latchkey_server::Limits {
                failed_passwords: o
                    .failed_password_limit
                    .unwrap_or(latchkey_server::Limits::DEFAULT_FAILED_PASSWORDS),
                authorization_requests: o.authorization_request_limit.unwrap_or(if dev_mode {
                    0
                } else {
                    latchkey_server::Limits::DEFAULT_AUTHORIZATION_REQUESTS
                }),
                read_timeout: match o.http_read_timeout {
                    Some(0) => return Err("--http-read-timeout must be at least 1 second".into()),
                    Some(s) => std::time::Duration::from_secs(s),
                    None => latchkey_server::Limits::DEFAULT_READ_TIMEOUT,
                },
                ..limits(&o_limits, dev_mode)?
            },
            cache_entries: match o.cache_entries {
                Some(n) if n < 2 => return Err("--cache-entries must be at least 2".into()),
                Some(n) => n,
                None => latchkey_store::cache::DEFAULT_CAPACITY,
            },
            proxy_trusted: match o.proxy_trusted_addresses.as_deref() {
                Some(list) => latchkey_server::settings::TrustedProxies::parse(list)?,
                None => Default::default(),
            },
        })
    }
}

/// The abuse limits from (anonymous, failed tokens, window seconds, header bytes). In
/// `start-dev` the per-address limits are off unless given: everything there comes from one
/// loopback address, so a test suite's failures would lock out its own valid requests.
fn limits(
    &(anonymous, failed, window, header): &(Option<u32>, Option<u32>, Option<u64>, Option<usize>),
    dev_mode: bool,
) -> Result<latchkey_server::Limits, String> {
    use latchkey_server::Limits;
    let window = match window {
        Some(0) => return Err("--rate-limit-window must be at least 1 second".into()),
        Some(s) => std::time::Duration::from_secs(s),
        None => Limits::DEFAULT_WINDOW,
    };
    Ok(Limits {
        anonymous_registrations: anonymous.unwrap_or(if dev_mode {
            0
        } else {
            Limits::DEFAULT_ANONYMOUS_REGISTRATIONS
        }),
        failed_tokens: failed.unwrap_or(if dev_mode {
            0
        } else {
            Limits::DEFAULT_FAILED_TOKENS
        }),
        // `--failed-password-limit` and `--authorization-request-limit`: set by the caller.
        failed_passwords: Limits::DEFAULT_FAILED_PASSWORDS,
        authorization_requests: Limits::DEFAULT_AUTHORIZATION_REQUESTS,
        window,
        max_header_bytes: header.unwrap_or(Limits::DEFAULT_MAX_HEADER_BYTES),
        // `--http-read-timeout`: set by the caller.
        read_timeout: Limits::DEFAULT_READ_TIMEOUT,
    })
}

/// `/` → `""`; `auth/` → `/auth`.
fn normalise_relative_path(p: &str) -> Result<String, String> {
    let trimmed = p.trim().trim_matches('/');
    if trimmed
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '?' | '#' | '{' | '}'))
    {
        return Err(format!(
            "--http-relative-path {p:?} must be a plain path such as /auth"
        ));
    }
    Ok(if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    })
}

/// A full URL is kept (without a trailing slash); a bare host gets `https://` and the
/// relative path, as Keycloak's hostname option does.
fn normalise_hostname(h: &str, relative_path: &str) -> Result<String, String> {
    let h = h.trim().trim_end_matches('/');
    let (scheme, rest) = match h.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r.to_string()),
        None => ("https".to_string(), format!("{h}{relative_path}")),
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("--hostname {h:?} must be an http(s) URL"));
    }
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '?' | '#' | '@'))
    {
        return Err(format!("--hostname {h:?} has no valid host"));
    }
    Ok(format!("{scheme}://{rest}"))
}

/// The master key from its source (start-dev creates its key file when missing).
pub fn load_master_key(source: &KeySource) -> Result<latchkey_core::crypto::SecretBox, String> {
    let encoded = match source {
        KeySource::Env(k) => k.clone(),
        KeySource::File { path, create } => match std::fs::read_to_string(path) {
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && *create => {
                let key = latchkey_core::crypto::SecretBox::generate_encoded();
                write_private_file(path, &key).map_err(|e| {
                    format!("cannot create master key file {}: {e}", path.display())
                })?;
                tracing::info!(path = %path.display(), "created a new master key file; keep it: without it stored secrets cannot be read");
                key
            }
            Err(e) => {
                return Err(format!(
                    "cannot read master key file {}: {e}",
                    path.display()
                ));
            }
        },
    };
    latchkey_core::crypto::SecretBox::from_encoded(&encoded).map_err(|e| e.to_string())
}

fn write_private_file(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    std::io::Write::write_all(&mut f, content.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_hostnames_normalise() {
        assert_eq!(normalise_relative_path("/").unwrap(), "");
        assert_eq!(normalise_relative_path("auth/").unwrap(), "/auth");
        assert!(normalise_relative_path("/a?b").is_err());
        assert_eq!(
            normalise_hostname("id.example.com", "/auth").unwrap(),
            "https://id.example.com/auth"
        );
        assert_eq!(
            normalise_hostname("http://x:8080/", "").unwrap(),
            "http://x:8080"
        );
        assert!(normalise_hostname("ftp://x", "").is_err());
    }

    #[test]
    fn start_requires_hostname_db_and_key() {
        let e = Config::validate(Opts::default(), false, None).unwrap_err();
        assert!(e.contains("--hostname"), "{e}");
        let o = Opts {
            hostname: Some("https://id.example.com".into()),
            proxy_headers: Some(ProxyMode::Xforwarded),
            ..Default::default()
        };
        assert!(
            Config::validate(o.clone(), false, None)
                .unwrap_err()
                .contains("--db-url")
        );
        let o = Opts {
            db_url: Some("postgres://x/y".into()),
            ..o
        };
        assert!(
            Config::validate(o.clone(), false, None)
                .unwrap_err()
                .contains("master key")
        );
        assert!(Config::validate(o, false, Some("k".into())).is_ok());
        let dev = Config::validate(Opts::default(), true, None).unwrap();
        assert_eq!(dev.db_url, "sqlite://data/latchkey.db");
        assert_eq!(dev.http_host.to_string(), "127.0.0.1");
        assert_eq!(dev.limits.anonymous_registrations, 0, "off in start-dev");
        assert_eq!(dev.limits.failed_tokens, 0, "off in start-dev");
        let prod = Config::validate(
            Opts {
                hostname: Some("https://id.example.com".into()),
                db_url: Some("postgres://x/y".into()),
                http_host: Some("127.0.0.1".into()),
                ..Default::default()
            },
            false,
            Some("k".into()),
        )
        .unwrap();
        assert_eq!(prod.limits, latchkey_server::Limits::default());
    }

    #[test]
    fn http_and_https_on_one_port_is_a_usage_error() {
        let tls = |http: Option<u16>, https: Option<u16>, enabled: Option<bool>| Opts {
            https_certificate_file: Some("c.pem".into()),
            https_certificate_key_file: Some("k.pem".into()),
            http_port: http,
            https_port: https,
            http_enabled: enabled,
            ..Default::default()
        };
        let check = |o: Opts| Config::validate(o, true, None);
        let e = check(tls(Some(9000), Some(9000), None)).unwrap_err();
        assert!(e.contains("both 9000"), "{e}");
        assert!(
            check(tls(Some(8443), None, None)).is_err(),
            "8443 is HTTPS's default"
        );
        assert!(check(tls(Some(9000), Some(9000), Some(false))).is_ok());
        assert!(
            check(tls(Some(0), Some(0), None)).is_ok(),
            "0: any free port, twice"
        );
        assert!(check(tls(Some(9000), Some(9001), None)).is_ok());
    }

    #[test]
    fn start_serves_plain_http_beyond_loopback_only_when_told() {
        let base = Opts {
            hostname: Some("https://id.example.com".into()),
            db_url: Some("postgres://x/y".into()),
            ..Default::default()
        };
        let check = |o: Opts| Config::validate(o, false, Some("k".into()));
        let e = check(base.clone()).unwrap_err();
        assert!(
            e.contains("--http-enabled true") && e.contains("--proxy-headers"),
            "{e}"
        );
        let enabled = check(Opts {
            http_enabled: Some(true),
            ..base.clone()
        })
        .unwrap();
        assert!(enabled.http_enabled && enabled.https.is_none());
        let https = check(Opts {
            https_certificate_file: Some("c.pem".into()),
            https_certificate_key_file: Some("k.pem".into()),
            ..base.clone()
        })
        .unwrap();
        assert!(!https.http_enabled, "HTTPS alone turns plain HTTP off");
        assert_eq!(https.https.map(|(_, port)| port), Some(8443));
        let half = check(Opts {
            https_certificate_file: Some("c.pem".into()),
            ..base.clone()
        })
        .unwrap_err();
        assert!(half.contains("--https-certificate-key-file"), "{half}");
        let nothing = check(Opts {
            http_enabled: Some(false),
            http_host: Some("127.0.0.1".into()),
            ..base
        })
        .unwrap_err();
        assert!(nothing.contains("nothing to serve"), "{nothing}");
        let dev = Config::validate(Opts::default(), true, None).unwrap();
        assert!(dev.http_enabled && dev.https.is_none());
        let file: Opts = toml::from_str(
            "https-certificate-file = \"c.pem\"\nhttps-port = 9443\nhttp-enabled = true",
        )
        .unwrap();
        assert_eq!(file.https_port, Some(9443));
        assert_eq!(file.http_enabled, Some(true));
    }

    #[test]
    fn the_cache_bound_has_a_default_and_a_floor() {
        let dev = |o: Opts| Config::validate(o, true, None);
        assert_eq!(
            dev(Opts::default()).unwrap().cache_entries,
            latchkey_store::cache::DEFAULT_CAPACITY
        );
        let file: Opts = toml::from_str("cache-entries = 500").unwrap();
        assert_eq!(dev(file).unwrap().cache_entries, 500);
        let e = dev(Opts {
            cache_entries: Some(1),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("--cache-entries"), "{e}");
    }

    #[test]
    fn limits_are_configurable_and_zero_disables() {
        let o = Opts {
            anonymous_registration_limit: Some(0),
            failed_token_limit: Some(3),
            rate_limit_window: Some(5),
            max_header_size: Some(0),
            ..Default::default()
        };
        let c = Config::validate(o, true, None).unwrap();
        assert_eq!(c.limits.anonymous_registrations, 0);
        assert_eq!(c.limits.failed_tokens, 3);
        assert_eq!(c.limits.failed_passwords, 100);
        let o = Opts {
            failed_password_limit: Some(0),
            ..Default::default()
        };
        assert_eq!(
            Config::validate(o, true, None)
                .unwrap()
                .limits
                .failed_passwords,
            0
        );
        assert_eq!(c.limits.window.as_secs(), 5);
        assert_eq!(c.limits.max_header_bytes, 0);
        let o = Opts {
            rate_limit_window: Some(0),
            ..Default::default()
        };
        assert!(
            Config::validate(o, true, None)
                .unwrap_err()
                .contains("--rate-limit-window")
        );
        let file: Opts = toml::from_str("anonymous-registration-limit = 7").unwrap();
        assert_eq!(file.anonymous_registration_limit, Some(7));
    }

    #[test]
    fn the_read_timeout_has_a_default_and_a_floor() {
        let dev = |o: Opts| Config::validate(o, true, None);
        assert_eq!(
            dev(Opts::default()).unwrap().limits.read_timeout,
            latchkey_server::Limits::DEFAULT_READ_TIMEOUT
        );
        let file: Opts = toml::from_str("http-read-timeout = 5").unwrap();
        assert_eq!(dev(file).unwrap().limits.read_timeout.as_secs(), 5);
        let e = dev(Opts {
            http_read_timeout: Some(0),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("--http-read-timeout"), "{e}");
    }

    /// The example configuration shipped in `dist/`.
    const EXAMPLE: &str = include_str!("../../../dist/latchkey.toml");

    #[test]
    fn the_example_file_documents_every_option_and_parses() {
        use clap::Args as _;
        // Every option of the file (all of `Opts` but --config-file itself), by its name.
        let command = Opts::augment_args(clap::Command::new("opts"));
        let options: std::collections::BTreeSet<String> = command
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|long| *long != "config-file")
            .map(String::from)
            .collect();
        assert!(options.len() >= 20, "{options:?}");
        // Each option is a commented line `# name = value`; uncommented, they make a file.
        let uncommented: String = EXAMPLE
            .lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| {
                line.split_once(" = ")
                    .is_some_and(|(name, _)| options.contains(name))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let table: toml::Table = toml::from_str(&uncommented).unwrap();
        let named: std::collections::BTreeSet<String> = table.keys().cloned().collect();
        assert_eq!(named, options, "options missing from dist/latchkey.toml");
        for name in &options {
            assert!(
                EXAMPLE.contains(&format!("\n# {name} = ")),
                "{name} is not commented out: the example's values are not defaults"
            );
        }
        // The values are valid ones, together a working `start` configuration.
        let opts: Opts = toml::from_str(&uncommented).unwrap();
        let config = Config::validate(opts, false, None).unwrap();
        assert!(config.https.is_some() && config.hostname.is_some());
        // As shipped (everything commented out) the file changes nothing.
        let shipped: Opts = toml::from_str(EXAMPLE).unwrap();
        assert!(shipped.http_port.is_none() && shipped.db_url.is_none());
    }
}
