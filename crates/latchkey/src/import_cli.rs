//! `latchkey import` and `latchkey export`: Keycloak's realm files (`kc.sh import` and
//! `kc.sh export`, one file or a directory of `<realm>-realm.json` and
//! `<realm>-users-N.json`) into and out of the database, offline like `bootstrap-admin`.
//! A realm is imported whole or not at all (one store transaction, replacing an existing
//! realm included).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use latchkey_core::crypto::SecretBox;
use latchkey_core::import::export::{Secrets, read_realm, to_keycloak};
use latchkey_core::import::{add_users, realm_from_keycloak};
use latchkey_core::store::{Store, StoreError};
use latchkey_store::SqlStore;
use serde_json::{Value, json};

use crate::config::{DEV_DATA_DIR, DEV_DB_URL, KeySource, Opts, load_master_key};

/// Where the database and the master key are (as `start` is given them).
#[derive(Debug, Args)]
pub struct Database {
    /// The server's database [default: start-dev's sqlite://data/latchkey.db]
    #[arg(long, env = "LATCHKEY_DB_URL")]
    db_url: Option<String>,
    /// TOML configuration file whose db-url to use [default: ./latchkey.toml if present]
    #[arg(long, env = "LATCHKEY_CONFIG_FILE")]
    config_file: Option<PathBuf>,
    /// The master key file that seals client secrets and signing keys (or
    /// LATCHKEY_MASTER_KEY) [default: start-dev's data/latchkey.key]
    #[arg(long, env = "LATCHKEY_KEY_FILE")]
    key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "source")]
pub struct ImportArgs {
    /// A realm file (Keycloak's `kc.sh export --file`)
    #[arg(long, group = "source")]
    file: Option<PathBuf>,
    /// A directory of Keycloak's `kc.sh export --dir`: `<realm>-realm.json` and
    /// `<realm>-users-N.json`
    #[arg(long, group = "source")]
    dir: Option<PathBuf>,
    /// Replace a realm that exists (true, as Keycloak's import), or leave it and skip
    /// the file's (false)
    #[arg(long = "override", default_value = "true", action = clap::ArgAction::Set)]
    override_existing: bool,
    #[command(flatten)]
    db: Database,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsersMode {
    /// In the realm file
    #[value(name = "realm_file")]
    RealmFile,
    /// All in one `<realm>-users-0.json` beside it (--dir only)
    #[value(name = "same_file")]
    SameFile,
    /// Not exported (service accounts, which belong to their clients, still are)
    Skip,
    /// In `<realm>-users-N.json` files of --users-per-file users beside it (--dir only)
    #[value(name = "different_files")]
    DifferentFiles,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The realm to export [default: every realm]
    #[arg(long)]
    realm: Option<String>,
    /// One file (one realm, or a list of them as Keycloak writes several)
    #[arg(long, conflicts_with = "dir", required_unless_present = "dir")]
    file: Option<PathBuf>,
    /// A directory: `<realm>-realm.json` per realm
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Where users go [default: realm_file with --file, different_files with --dir]
    #[arg(long, value_enum)]
    users: Option<UsersMode>,
    /// Users per `<realm>-users-N.json` with --users different_files
    #[arg(long, default_value_t = 50)]
    users_per_file: usize,
    #[command(flatten)]
    db: Database,
}

/// Progress lines for a person watching (stderr, only on a terminal).
fn progress(message: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("{message}");
    }
}

async fn open(db: &Database) -> Result<(SqlStore, SecretBox), String> {
    let opts = Opts {
        db_url: db.db_url.clone(),
        config_file: db.config_file.clone(),
        ..Default::default()
    };
    let opts = opts.with_file()?;
    let dev = opts.db_url.is_none();
    let url = opts.db_url.unwrap_or_else(|| DEV_DB_URL.to_string());
    if let Some(path) = latchkey_store::sqlite_file(&url)
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let source = match (std::env::var("LATCHKEY_MASTER_KEY").ok(), &db.key_file) {
        (_, Some(path)) => KeySource::File {
            path: path.clone(),
            create: false,
        },
        (Some(k), None) => KeySource::Env(k),
        (None, None) if dev => KeySource::File {
            path: Path::new(DEV_DATA_DIR).join("latchkey.key"),
            create: true,
        },
        (None, None) => {
            return Err(
                "give the master key the server uses: --key-file FILE or LATCHKEY_MASTER_KEY"
                    .into(),
            );
        }
    };
    let sealer = load_master_key(&source)?;
    let store = SqlStore::connect(&url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    Ok((store, sealer))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

/// The realm documents of `--file` (one realm, or a list of realms) or `--dir`.
fn realm_docs(args: &ImportArgs) -> Result<Vec<(String, Value)>, String> {
    if let Some(file) = &args.file {
        let doc = read_json(file)?;
        let label = file.display().to_string();
        return Ok(match doc {
            Value::Array(realms) => realms.into_iter().map(|r| (label.clone(), r)).collect(),
            doc => vec![(label, doc)],
        });
    }
    let dir = args.dir.as_deref().unwrap_or(Path::new("."));
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for path in names
        .iter()
        .filter(|p| file_name(p).ends_with("-realm.json"))
    {
        let mut doc = read_json(path)?;
        let realm = file_name(path).trim_end_matches("-realm.json").to_string();
        let prefix = format!("{realm}-users-");
        for users in names.iter().filter(|p| {
            let n = file_name(p);
            n.starts_with(&prefix)
                && n.ends_with(".json")
                && n[prefix.len()..n.len() - 5].parse::<u32>().is_ok()
        }) {
            let n = add_users(&mut doc, &read_json(users)?)
                .map_err(|e| format!("{}: {e}", users.display()))?;
            progress(&format!("{}: {n} users", users.display()));
        }
        out.push((path.display().to_string(), doc));
    }
    if out.is_empty() {
        return Err(format!("{}: no <realm>-realm.json file", dir.display()));
    }
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `latchkey import`: 0 when every realm was imported or skipped as asked, 1 when one was
/// refused (nothing of it written), 2 for a usage error.
pub fn import(args: ImportArgs) -> ExitCode {
    let docs = match realm_docs(&args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let done = rt.block_on(async {
        let (store, sealer) = open(&args.db).await?;
        let mut refused = false;
        for (source, doc) in docs {
            match import_one(&store, &sealer, &doc, args.override_existing).await {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("error: {source}: {e}");
                    refused = true;
                }
            }
        }
        Ok::<bool, String>(refused)
    });
    match done {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Imports one realm document; the summary line, or why nothing was written.
pub async fn import_one(
    store: &dyn Store,
    sealer: &SecretBox,
    doc: &Value,
    override_existing: bool,
) -> Result<String, String> {
    let name = doc
        .get("realm")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let existing = store
        .realm_by_name(&name)
        .await
        .map_err(|e| e.to_string())?;
    if existing.is_some() && !override_existing {
        return Ok(format!(
            "skipped realm {name}: it exists and --override is false"
        ));
    }
    let users = doc
        .get("users")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    progress(&format!("converting realm {name} ({users} users)…"));
    let now = latchkey_server::state::now_millis();
    let imported =
        realm_from_keycloak(doc, sealer, now).map_err(|e| format!("realm {name}: {e}"))?;
    progress(&format!("writing realm {name}…"));
    let written = match &existing {
        Some(old) => store.replace_realm(&old.id, imported.bundle).await,
        None => store.create_realm(imported.bundle).await,
    };
    written.map_err(|e| match e {
        StoreError::Conflict { what } => format!(
            "realm {name}: the database refused it, nothing was written: {what} already exists (an id in the file may belong to another realm)"
        ),
        e => format!("realm {name}: nothing was written: {e}"),
    })?;
    let mut line = imported.report.summary();
    if existing.is_some() {
        line.push_str("\n  (the existing realm was replaced)");
    }
    Ok(line)
}

/// `latchkey export`: 0 with the files written, 1 when the database or a file failed.
pub fn export(args: ExportArgs) -> ExitCode {
    let users = args.users.unwrap_or(if args.dir.is_some() {
        UsersMode::DifferentFiles
    } else {
        UsersMode::RealmFile
    });
    if matches!(users, UsersMode::DifferentFiles | UsersMode::SameFile) && args.dir.is_none() {
        eprintln!("error: --users same_file and different_files need --dir");
        return ExitCode::from(2);
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let done = rt.block_on(async {
        let (store, sealer) = open(&args.db).await?;
        let realms = match &args.realm {
            Some(name) => vec![
                store
                    .realm_by_name(name)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no realm {name:?}"))?,
            ],
            None => store.list_realms().await.map_err(|e| e.to_string())?,
        };
        let mut docs = Vec::new();
        for realm in realms {
            let name = realm.name.clone();
            progress(&format!("reading realm {name}…"));
            let data = read_realm(&store, realm, users != UsersMode::Skip)
                .await
                .map_err(|e| e.to_string())?;
            let mut doc = to_keycloak(&data, &sealer, Secrets::Clear);
            if users == UsersMode::Skip {
                // Service accounts belong to their clients and are always written.
                keep_service_accounts(&mut doc);
            }
            docs.push((name, doc));
        }
        write_export(&args, users, docs)
    });
    match done {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn keep_service_accounts(doc: &mut Value) {
    if let Some(Value::Array(users)) = doc.get_mut("users") {
        users.retain(|u| u.get("serviceAccountClientId").is_some());
    }
}

fn write_file(path: &Path, doc: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(doc).map_err(|e| e.to_string())?;
    write_private(path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// An export holds secrets: owner-only permissions, as the master key file.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

fn write_export(
    args: &ExportArgs,
    users: UsersMode,
    docs: Vec<(String, Value)>,
) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let count =
        |doc: &Value, field: &str| doc.get(field).and_then(Value::as_array).map_or(0, Vec::len);
    if let Some(file) = &args.file {
        let out = match docs.as_slice() {
            [(_, one)] => one.clone(),
            many => Value::Array(many.iter().map(|(_, d)| d.clone()).collect()),
        };
        write_file(file, &out)?;
        for (name, doc) in &docs {
            lines.push(format!(
                "exported realm {name}: {} clients, {} users to {}",
                count(doc, "clients"),
                count(doc, "users"),
                file.display()
            ));
        }
        return Ok(lines);
    }
    let dir = args.dir.as_deref().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, mut doc) in docs {
        let mut written_users = 0;
        if matches!(users, UsersMode::DifferentFiles | UsersMode::SameFile) {
            let all = match doc.get_mut("users") {
                Some(Value::Array(u)) => std::mem::take(u),
                _ => Vec::new(),
            };
            written_users = all.len();
            let per_file = match users {
                UsersMode::SameFile => all.len().max(1),
                _ => args.users_per_file.max(1),
            };
            for (i, chunk) in all.chunks(per_file).enumerate() {
                let path = dir.join(format!("{name}-users-{i}.json"));
                write_file(&path, &json!({"realm": name, "users": chunk}))?;
            }
            if let Some(o) = doc.as_object_mut() {
                o.remove("users");
            }
        } else {
            written_users = written_users.max(count(&doc, "users"));
        }
        write_file(&dir.join(format!("{name}-realm.json")), &doc)?;
        lines.push(format!(
            "exported realm {name}: {} clients, {written_users} users to {}",
            count(&doc, "clients"),
            dir.display()
        ));
    }
    Ok(lines)
}
