//! The command line beyond serving: `bootstrap-admin user` (and the database every offline
//! command finds the way it does), and the words added to clap's
//! errors where a newcomer's first guess is not a flag (`--port`) or a bad value came from
//! the environment rather than the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use latchkey_core::crypto::random_token;
use latchkey_core::roles::MASTER_REALM;
use latchkey_server::bootstrap::temporary_admin;
use latchkey_store::SqlStore;

use crate::config::{DEV_DB_URL, Opts};

#[derive(Debug, Args)]
pub struct UserArgs {
    /// The new admin's username
    #[arg(long, default_value = "temp-admin")]
    username: String,
    /// The environment variable holding its password [default: a random one, printed once]
    #[arg(long = "password:env", value_name = "VARIABLE")]
    password_env: Option<String>,
    /// The realm it administers; the master realm's admin administers every realm
    #[arg(long, default_value = MASTER_REALM)]
    realm: String,
    /// The server's database, as `start` is given it [default: start-dev's
    /// sqlite://data/latchkey.db, when that file exists]
    #[arg(long, env = "LATCHKEY_DB_URL")]
    db_url: Option<String>,
    /// TOML configuration file whose db-url to use [default: ./latchkey.toml if present]
    #[arg(long, env = "LATCHKEY_CONFIG_FILE")]
    config_file: Option<PathBuf>,
}

/// `latchkey bootstrap-admin user`: exit code 0 with the user made, 1 when the store
/// refused (no such realm, the name is taken), 2 for a usage error.
pub fn user(args: UserArgs) -> ExitCode {
    let db_url = match database_url(args.db_url.clone(), args.config_file.clone()) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (password, generated) = match &args.password_env {
        Some(var) => match std::env::var(var) {
            Ok(p) if !p.is_empty() => (p, false),
            _ => {
                eprintln!("error: --password:env {var}: the environment variable {var} is not set");
                return ExitCode::from(2);
            }
        },
        None => (random_token::<18>(), true),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let made = runtime.block_on(async {
        let store = SqlStore::connect(&db_url)
            .await
            .map_err(|e| format!("cannot open the database: {e}"))?;
        temporary_admin(&store, &args.realm, &args.username, &password)
            .await
            .map_err(|e| e.to_string())
    });
    match made {
        Ok(_) => {
            out!(
                "Temporary admin {:?} created in realm {:?}.",
                args.username.to_lowercase(),
                args.realm
            );
            if generated {
                out!("  password: {password}\n  (shown only now)");
            }
            out!(
                "Sign in, give a permanent user the admin role, then delete this one (its attribute is_temporary_admin says what it is)."
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The database an offline command works on: `--db-url` (or `LATCHKEY_DB_URL`), else the
/// config file's `db-url`, else start-dev's file when it exists here.
pub fn database_url(
    db_url: Option<String>,
    config_file: Option<PathBuf>,
) -> Result<String, String> {
    let opts = Opts {
        db_url,
        config_file,
        ..Default::default()
    };
    match opts.with_file()? {
        Opts {
            db_url: Some(url), ..
        } => Ok(url),
        _ if latchkey_store::sqlite_file(DEV_DB_URL).is_some_and(|p| p.exists()) => {
            Ok(DEV_DB_URL.to_string())
        }
        _ => Err("no database: give --db-url (or LATCHKEY_DB_URL) as the server is started with, or run this where start-dev keeps ./data/latchkey.db".into()),
    }
}

/// Flags people try first, and the flag that does it (Keycloak's names).
const TRIED: &[(&str, &str)] = &[
    ("--port", "--http-port"),
    ("--host", "--http-host"),
    ("--bind", "--http-host"),
    ("--db", "--db-url"),
    ("--database-url", "--db-url"),
    ("--relative-path", "--http-relative-path"),
    ("--config", "--config-file"),
];

/// Adds what clap cannot know to its error: the flag meant by a guessed one, and the
/// environment variable a bad value came from.
pub fn explain(mut e: clap::Error) -> clap::Error {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(a)) => a.clone(),
        _ => return e,
    };
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let name = arg.split('=').next().unwrap_or(&arg);
            if let Some((_, flag)) = TRIED.iter().find(|(tried, _)| *tried == name) {
                e.insert(
                    ContextKind::SuggestedArg,
                    ContextValue::String((*flag).to_string()),
                );
            }
            e
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            // "--http-port <HTTP_PORT>": the flag, and its variable LATCHKEY_HTTP_PORT.
            let flag = arg.split_whitespace().next().unwrap_or(&arg);
            let Some(long) = flag.strip_prefix("--") else {
                return e;
            };
            let on_command_line =
                std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
            let var = format!("LATCHKEY_{}", long.replace('-', "_").to_uppercase());
            if on_command_line || std::env::var_os(&var).is_none() {
                return e;
            }
            let value = match e.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(v)) => v.clone(),
                _ => String::new(),
            };
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!(
                    "invalid value '{value}' in the environment variable {var} (the variable of {flag}); unset it or fix it\n"
                ),
            )
        }
        _ => e,
    }
}
