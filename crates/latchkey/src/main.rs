//! The `latchkey` binary: `start-dev` and `start` (the other commands in their modules). Loads and validates the configuration,
//! opens the store (running migrations), bootstraps the master realm, serves HTTP until
//! SIGTERM or SIGINT.

#[macro_use]
mod stdout;
mod admin_cli;
mod backup;
mod completions;
mod config;
mod health;
mod import_cli;
mod reg;
mod serve;
mod tls;

/// mimalloc: fewer instructions per allocation than glibc's malloc, and no per-thread
/// arenas growing the resident set (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Gives freed memory back to the operating system now. mimalloc keeps a freed block to
/// reuse it; after a password check that block is Argon2's 7 MiB, which would otherwise
/// stay in the resident set for good (`crypto::after_password_work`).
#[allow(unsafe_code)]
fn return_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and only walks mimalloc's own structures; it
    // may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand};
use config::{Config, LogFormat, Opts, load_master_key};
use latchkey_core::crypto::{SecretBox, random_token};
use latchkey_core::realm_setup::BootstrapAdmin;
use latchkey_core::roles::MASTER_REALM;
use latchkey_core::store::{RealmBundle, Store};
use latchkey_server::bootstrap::{install_master, prepare_master};
use latchkey_server::{AppState, ServerSettings};
use latchkey_store::SqlStore;
use tokio::task::JoinHandle;

/// `latchkey --version`: the crate's version and the git revision it was built from
/// (`build.rs`; `unknown` outside a git checkout).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LATCHKEY_GIT_REV"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "latchkey",
    version = VERSION,
    about = "An OAuth 2.0 / OIDC server for dynamic client registration, speaking Keycloak's protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Development mode: HTTP on 127.0.0.1:8080, SQLite in ./data, relaxed TLS rules
    StartDev(Opts),
    /// Production mode: needs --hostname, --db-url and a master key
    Start(Opts),
    /// Recover access: a temporary admin, with the server stopped or running
    #[command(subcommand)]
    BootstrapAdmin(BootstrapAdminCommand),
    /// Register and manage clients over HTTP, as Keycloak's kcreg does
    Reg(reg::RegArgs),
    /// A consistent copy of the SQLite database, also while the server runs (PostgreSQL:
    /// prints the pg_dump command)
    Backup(backup::BackupArgs),
    /// Exit 0 when the server on this machine is ready (GET /health/ready): the container's
    /// health check
    Health(health::HealthArgs),
    /// Print a shell completion script (bash, zsh or fish)
    Completions(completions::CompletionsArgs),
    /// Import Keycloak realm files (kc.sh export's), each realm all or nothing
    #[command(after_help = "Examples:\n  latchkey import --file realm.json\n  \
        latchkey import --dir export/ --override false --db-url postgres://latchkey@db/latchkey --key-file latchkey.key")]
    Import(import_cli::ImportArgs),
    /// Export realms as Keycloak realm files (secrets in clear, as kc.sh export)
    #[command(
        after_help = "Examples:\n  latchkey export --realm acme --file acme.json\n  \
        latchkey export --dir export/ --users different_files"
    )]
    Export(import_cli::ExportArgs),
}

#[derive(Subcommand)]
enum BootstrapAdminCommand {
    /// A temporary admin user, as Keycloak's `kc.sh bootstrap-admin user` makes one: every
    /// admin right of the realm, marked `is_temporary_admin`; replace it with a permanent
    /// admin and delete it
    #[command(after_help = "Examples:\n  latchkey bootstrap-admin user\n  \
        NEW_PW=... latchkey bootstrap-admin user --username rescue --password:env NEW_PW\n  \
        latchkey bootstrap-admin user --db-url postgres://latchkey@db/latchkey --realm demo")]
    User(admin_cli::UserArgs),
}

fn main() -> ExitCode {
    let started = Instant::now();
    latchkey_core::crypto::after_password_work(return_freed_memory);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => admin_cli::explain(e).exit(),
    };
    let (opts, dev) = match cli.command {
        Command::StartDev(o) => (o, true),
        Command::Start(o) => (o, false),
        Command::BootstrapAdmin(BootstrapAdminCommand::User(args)) => return admin_cli::user(args),
        Command::Reg(args) => return reg::run(args),
        Command::Backup(args) => return backup::run(args),
        Command::Health(args) => return health::run(args),
        Command::Completions(args) => return completions::run::<Cli>(args),
        Command::Import(args) => return import_cli::import(args),
        Command::Export(args) => return import_cli::export(args),
    };
    let config = match opts
        .with_file()
        .and_then(|o| Config::validate(o, dev, std::env::var("LATCHKEY_MASTER_KEY").ok()))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log_format = config.log_format;
    match runtime.block_on(run(config, started)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Said once: text logs go to the terminal already; JSON logs go to a collector,
            // and the terminal gets the sentence too.
            tracing::error!("{e}");
            if log_format == LogFormat::Json {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// The bootstrap admin from `LATCHKEY_BOOTSTRAP_ADMIN_*` (or Keycloak's `KC_BOOTSTRAP_ADMIN_*`);
/// in dev mode with neither set, `admin` with a random password printed once.
fn bootstrap_admin(dev: bool) -> Option<(BootstrapAdmin, bool)> {
    let var = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
    };
    let username = var([
        "LATCHKEY_BOOTSTRAP_ADMIN_USERNAME",
        "KC_BOOTSTRAP_ADMIN_USERNAME",
    ]);
    let password = var([
        "LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD",
        "KC_BOOTSTRAP_ADMIN_PASSWORD",
    ]);
    match (username, password) {
        (u, Some(password)) => Some((
            BootstrapAdmin {
                username: u.unwrap_or_else(|| "admin".into()),
                password,
            },
            false,
        )),
        (None, None) if dev => Some((
            BootstrapAdmin {
                username: "admin".into(),
                password: random_token::<18>(),
            },
            true,
        )),
        _ => None,
    }
}

/// The master realm being built (keys, the admin's hash) and the admin to announce.
struct PreparedMaster {
    bundle: JoinHandle<Result<RealmBundle, String>>,
    shown: Option<(String, String, bool)>,
}

impl PreparedMaster {
    fn start(sealer: Arc<SecretBox>, dev: bool) -> PreparedMaster {
        let admin = bootstrap_admin(dev);
        let shown = admin
            .as_ref()
            .map(|(a, generated)| (a.username.clone(), a.password.clone(), *generated));
        PreparedMaster {
            bundle: prepare_master(sealer, admin.map(|(a, _)| a)),
            shown,
        }
    }
}

/// A SQLite URL whose file does not exist yet: certainly a first start.
fn new_sqlite_file(db_url: &str) -> bool {
    latchkey_store::sqlite_file(db_url).is_some_and(|path| !path.exists())
}

/// The bootstrap variables, Latchkey's and Keycloak's names.
const BOOTSTRAP_VARS: [&str; 4] = [
    "LATCHKEY_BOOTSTRAP_ADMIN_USERNAME",
    "LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD",
    "KC_BOOTSTRAP_ADMIN_USERNAME",
    "KC_BOOTSTRAP_ADMIN_PASSWORD",
];

/// Creates the master realm on first start and tells the operator about the admin.
async fn bootstrap(
    store: &dyn Store,
    sealer: Arc<SecretBox>,
    dev: bool,
    early: Option<PreparedMaster>,
) -> Result<(), String> {
    if store
        .realm_by_name(MASTER_REALM)
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        // As in Keycloak, the variables only act on the first start; an operator who sets
        // them to get back in must hear that they did nothing, and what does.
        if let Some(var) = BOOTSTRAP_VARS
            .iter()
            .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
        {
            tracing::warn!(
                "{var} is set but ignored: the master realm exists, and the bootstrap admin is made only on the first start; to regain access run `latchkey bootstrap-admin user` (with --db-url as this server's)"
            );
        }
        return Ok(());
    }
    let prepared = early.unwrap_or_else(|| PreparedMaster::start(sealer, dev));
    if !install_master(store, prepared.bundle).await? {
        return Ok(());
    }
    match prepared.shown {
        Some((username, password, true)) => {
            // Printed once, on the terminal, never logged.
            eprintln!(
                "\n  Bootstrap admin created in realm master:\n    username: {username}\n    password: {password}\n  (shown only now; set LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD to choose it)\n"
            );
        }
        Some((username, _, false)) => {
            tracing::info!(%username, "bootstrap admin created in realm master")
        }
        None => tracing::warn!(
            "created the master realm without an admin user: set LATCHKEY_BOOTSTRAP_ADMIN_USERNAME and LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD on first start"
        ),
    }
    Ok(())
}

/// The master realm's admin to name in start-dev's banner: the bootstrap admin's name
/// (the variable's, else `admin`), when that user exists.
async fn master_admin_name(store: &dyn Store) -> Option<String> {
    let name = [
        "LATCHKEY_BOOTSTRAP_ADMIN_USERNAME",
        "KC_BOOTSTRAP_ADMIN_USERNAME",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok().filter(|x| !x.is_empty()))
    .unwrap_or_else(|| "admin".into())
    .to_lowercase();
    let master = store.realm_by_name(MASTER_REALM).await.ok()??;
    store
        .user_by_username(&master.id, &name)
        .await
        .ok()?
        .map(|u| u.username)
}

async fn run(config: Config, started: Instant) -> Result<(), String> {
    let sealer = Arc::new(load_master_key(&config.key)?);
    // A first start on a new SQLite file builds the master realm (RSA keys, Argon2id)
    // while the database is created and migrated.
    let early = new_sqlite_file(&config.db_url)
        .then(|| PreparedMaster::start(sealer.clone(), config.dev_mode));
    let store = SqlStore::connect_with_cache(&config.db_url, config.cache_entries)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let store: Arc<dyn Store> = Arc::new(store);
    bootstrap(store.as_ref(), sealer.clone(), config.dev_mode, early).await?;
    let admin_name = if config.dev_mode {
        master_admin_name(store.as_ref()).await
    } else {
        None
    };
    if !config.dev_mode && config.http_enabled && config.proxy_headers.is_none() {
        tracing::warn!(
            "!!! serving plain HTTP without --proxy-headers: put a TLS-terminating proxy in front and set --proxy-headers, or every token crosses the network in clear !!!"
        );
    }
    if config.dev_mode
        && config.limits.anonymous_registrations == 0
        && config.limits.failed_tokens == 0
        && config.limits.authorization_requests == 0
    {
        tracing::info!(
            "start-dev: per-address rate limits are off (everything comes from one loopback address); --anonymous-registration-limit, --failed-token-limit and --authorization-request-limit turn them on"
        );
    }
    let settings = ServerSettings {
        hostname: config.hostname.clone(),
        relative_path: config.relative_path.clone(),
        proxy_headers: config.proxy_headers,
        proxy_trusted: config.proxy_trusted.clone(),
        dev_mode: config.dev_mode,
        max_body_size: config.max_request_size,
        limits: config.limits,
    };
    let state = Arc::new(AppState::new(store, sealer, settings));
    spawn_sweeper(state.clone());
    let app = latchkey_server::router(state);
    let mode = if config.dev_mode {
        "development"
    } else {
        "production"
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let serving = |over_tls| serve::Serving {
        app: app.clone(),
        over_tls,
        read_timeout: config.limits.read_timeout,
    };
    let mut servers = tokio::task::JoinSet::new();
    let mut shown = None;
    if let Some((files, port)) = config.https.clone() {
        let acceptor = tls::acceptor(files)?;
        let tcp = bind(config.http_host, port, "--https-port").await?;
        let listener = tls::TlsListener::new(tcp, acceptor).map_err(|e| e.to_string())?;
        let addr = axum::serve::Listener::local_addr(&listener).map_err(|e| e.to_string())?;
        tracing::info!(
            "Latchkey {} listening on https://{addr}{}/ ({mode} mode, ready in {} ms)",
            env!("CARGO_PKG_VERSION"),
            config.relative_path,
            started.elapsed().as_millis()
        );
        shown = Some(format!("https://{addr}"));
        servers.spawn(serve::serve(listener, serving(true), stop_rx.clone()));
    }
    if config.http_enabled {
        let listener = bind(config.http_host, config.http_port, "--http-port").await?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(
            "Latchkey {} listening on http://{addr}{}/ ({mode} mode, ready in {} ms)",
            env!("CARGO_PKG_VERSION"),
            config.relative_path,
            started.elapsed().as_millis()
        );
        shown.get_or_insert(format!("http://{addr}"));
        servers.spawn(serve::serve(listener, serving(false), stop_rx.clone()));
    }
    let console = match (&config.hostname, shown) {
        (Some(h), _) => format!("{h}/admin/"),
        (None, Some(origin)) => format!("{origin}{}/admin/", config.relative_path),
        (None, None) => String::new(),
    };
    match admin_name {
        Some(name) => tracing::info!("admin console: {console} (realm master, user {name})"),
        None => tracing::info!("admin console: {console}"),
    }
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    while let Some(done) = servers.join_next().await {
        done.map_err(|e| e.to_string())?;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn bind(
    host: std::net::IpAddr,
    port: u16,
    flag: &str,
) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind((host, port))
        .await
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "cannot listen on {host}:{port}: the address is already in use (another server?); choose another port with {flag}"
                )
            } else {
                format!("cannot listen on {host}:{port}: {e}")
            }
        })
}

/// Every ten minutes, deletes expired short-lived state (codes, sessions, spent-token
/// tombstones, revocations) and the registered clients the realms' `unused-client-expiration`
/// policies expire. Any node may do it: the deletes are idempotent, and each client is
/// expired once (`service::expiry`).
fn spawn_sweeper(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            let now = latchkey_server::state::now_millis();
            match state.store.sweep_expired(now).await {
                Ok(n) if n > 0 => tracing::debug!(rows = n, "swept expired state"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweeping expired state failed"),
            }
            if let Err(e) =
                latchkey_server::service::expiry::expire_unused_clients(&state, now).await
            {
                tracing::warn!(error = %e, "expiring unused clients failed");
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::new_sqlite_file;

    #[test]
    fn only_a_missing_sqlite_file_is_a_certain_first_start() {
        let dir = std::env::temp_dir();
        let missing = dir.join(format!("latchkey-missing-{}.db", std::process::id()));
        assert!(new_sqlite_file(&format!("sqlite://{}", missing.display())));
        assert!(new_sqlite_file(&format!(
            "sqlite:{}?mode=rwc",
            missing.display()
        )));
        let existing = dir.join(format!("latchkey-existing-{}.db", std::process::id()));
        std::fs::write(&existing, b"").unwrap();
        assert!(!new_sqlite_file(&format!(
            "sqlite://{}",
            existing.display()
        )));
        let _ = std::fs::remove_file(existing);
        assert!(!new_sqlite_file("sqlite::memory:"));
        assert!(!new_sqlite_file("postgres://u@h/db"));
    }
}
