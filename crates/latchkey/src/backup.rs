//! `latchkey backup --to FILE`: a consistent copy of a live SQLite database, written
//! beside the target and renamed into place, so a failed backup leaves no half file; on
//! PostgreSQL, the `pg_dump` command to run instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use latchkey_core::crypto::random_token;
use latchkey_store::Backend;

use crate::admin_cli::database_url;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  latchkey backup --to /var/backups/latchkey-$(date +%F).db\n  \
    latchkey backup --db-url sqlite:///var/lib/latchkey/latchkey.db --to latest.db --force"
)]
pub struct BackupArgs {
    /// The file to write; it must not exist unless --force
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    /// Replace FILE if it exists
    #[arg(long)]
    force: bool,
    /// The server's database, as `start` is given it [default: start-dev's
    /// sqlite://data/latchkey.db, when that file exists]
    #[arg(long, env = "LATCHKEY_DB_URL")]
    db_url: Option<String>,
    /// TOML configuration file whose db-url to use [default: ./latchkey.toml if present]
    #[arg(long, env = "LATCHKEY_CONFIG_FILE")]
    config_file: Option<PathBuf>,
}

/// Exit code 0 with the copy in place, 1 when copying failed (nothing left behind), 2 for
/// a usage error: no database, an existing FILE without --force, a PostgreSQL database.
pub fn run(args: BackupArgs) -> ExitCode {
    let usage = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    let db_url = match database_url(args.db_url.clone(), args.config_file.clone()) {
        Ok(url) => url,
        Err(e) => return usage(e),
    };
    if Backend::of_url(&db_url) == Some(Backend::Postgres) {
        return usage(pg_dump_advice(&db_url, &args.to));
    }
    let Some(db) = latchkey_store::sqlite_file(&db_url) else {
        return usage(format!(
            "--db-url {db_url:?}: backup copies a SQLite file (sqlite://PATH); an in-memory database has nothing to copy"
        ));
    };
    if let Err(e) = check_target(&db, &args.to, args.force) {
        return usage(e);
    }
    let started = Instant::now();
    match copy(&db, &args.to, args.force) {
        Ok(version) => {
            let bytes = std::fs::metadata(&args.to).map(|m| m.len()).unwrap_or(0);
            // Not println!: a closed stdout (`| head`) must not turn a backup made into a panic.
            let report = format!(
                "Backed up {} to {}: {bytes} bytes, schema version {version}, in {} ms.\n{}",
                db.display(),
                args.to.display(),
                started.elapsed().as_millis(),
                restore_advice(&db, &args.to)
            );
            let _ = writeln!(std::io::stdout(), "{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: backup failed, nothing was written: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Refuses an existing target (without `force`), a missing folder, and the database itself.
fn check_target(db: &Path, to: &Path, force: bool) -> Result<(), String> {
    let dir = folder_of(to);
    if !dir.is_dir() {
        return Err(format!(
            "--to {}: the folder {} does not exist",
            to.display(),
            dir.display()
        ));
    }
    if to.exists() {
        let same = match (db.canonicalize(), to.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same {
            return Err(format!(
                "--to {} is the database itself; write the backup somewhere else",
                to.display()
            ));
        }
        if !force {
            return Err(format!(
                "--to {} exists; choose another name, or give --force to replace it",
                to.display()
            ));
        }
    }
    Ok(())
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The copy goes to a hidden file in the target's folder (same file system, so the rename
/// is atomic), is flushed to disk, then takes the target's name: replacing it with
/// `force`, else by a hard link, which fails rather than replace a file that appeared
/// meanwhile.
fn copy(db: &Path, to: &Path, force: bool) -> Result<i64, String> {
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    let dir = folder_of(to);
    let partial = dir.join(format!(".{name}.{}.partial", random_token::<9>()));
    let result = (|| {
        let version =
            latchkey_store::sqlite_vacuum_into(db, &partial).map_err(|e| e.to_string())?;
        // Owner-only, as the database: it holds password hashes and sealed secrets.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("cannot restrict {}: {e}", partial.display()))?;
        }
        let sync = |p: &Path| std::fs::File::open(p).and_then(|f| f.sync_all());
        sync(&partial).map_err(|e| format!("cannot flush {}: {e}", partial.display()))?;
        if force {
            // A WAL left beside the file being replaced (a server once ran on it) would be
            // replayed into the new copy when it is opened: it goes first.
            for suffix in ["-wal", "-shm"] {
                let stale = PathBuf::from(format!("{}{suffix}", to.display()));
                match std::fs::remove_file(&stale) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(format!("cannot remove {}: {e}", stale.display()));
                    }
                    _ => {}
                }
            }
            std::fs::rename(&partial, to)
        } else {
            match std::fs::hard_link(&partial, to) {
                // A file system without hard links: the check made before copying stands.
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists && !to.exists() => {
                    std::fs::rename(&partial, to)
                }
                linked => linked,
            }
        }
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{} appeared while the backup ran; give --force to replace it",
                to.display()
            ),
            _ => format!("cannot write {}: {e}", to.display()),
        })?;
        // The directory entry too, so the new name survives a power cut.
        let _ = sync(dir);
        Ok(version)
    })();
    // Gone in every case: renamed, linked (the target keeps the data) or failed.
    let _ = std::fs::remove_file(&partial);
    let _ = std::fs::remove_file(format!("{}-journal", partial.display()));
    result
}

/// How to put the copy back, and the master key it needs.
fn restore_advice(db: &Path, to: &Path) -> String {
    let db = db.display();
    format!(
        "\nTo restore:\n  \
         1. stop the server;\n  \
         2. delete {db}-wal and {db}-shm if they exist;\n  \
         3. copy {} into place as {db} (the server's latchkey.db);\n  \
         4. start the server with the same master key.\n\n\
         The master key is not in this backup: back up its file (--key-file; start-dev's\n\
         data/latchkey.key) or LATCHKEY_MASTER_KEY separately, and keep it apart from the\n\
         backup. Without it the client secrets and signing keys sealed in the database cannot\n\
         be read: every client would need a new secret and every realm new keys.",
        to.display()
    )
}

/// The `pg_dump` command that backs up `db_url` into `to`, and its `pg_restore`.
fn pg_dump_advice(db_url: &str, to: &Path) -> String {
    let url = shell_quote(db_url);
    let file = shell_quote(&to.display().to_string());
    format!(
        "the database is PostgreSQL; back it up with PostgreSQL's own tool, which takes a consistent\n\
         snapshot while the servers run:\n\n  pg_dump --format=custom --file={file} {url}\n\n\
         and restore it into an empty database (servers stopped) with:\n\n  \
         pg_restore --no-owner --dbname={url} {file}\n\n\
         Back up the master key (--key-file or LATCHKEY_MASTER_KEY) separately: without it the\n\
         sealed client secrets and signing keys in the dump cannot be read."
    )
}

/// `s` as one word for a POSIX shell.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@=,+%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("backup.db"), "backup.db");
        assert_eq!(
            shell_quote("postgres://u@h/db?options=-c%20x"),
            "'postgres://u@h/db?options=-c%20x'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
