//! Build script: the git revision `latchkey --version` prints (`LATCHKEY_GIT_REV`): the
//! variable of that name when the build is given one (the container recipe's build
//! argument), else `git rev-parse --short HEAD`, else `unknown` (no git, no repository).
//!
//! It reruns only when the checked-out commit changes: when `HEAD` moves to another branch
//! or commit, or the branch it names gets a new commit (its loose ref; where the ref is
//! packed, `packed-refs` and the folder its loose file will appear in). Watching the work tree instead would rebuild the binary on
//! every edit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // Given from outside (the container build, whose context has no .git).
    println!("cargo:rerun-if-env-changed=LATCHKEY_GIT_REV");
    let given = std::env::var("LATCHKEY_GIT_REV")
        .ok()
        .filter(|r| !r.is_empty() && r != "unknown");
    let rev = given
        .or_else(|| in_repository(&dir).then(|| repository_rev(&dir)).flatten())
        .unwrap_or_else(|| "unknown".into());
    // Without a repository nothing above was watched; this keeps cargo from rerunning the
    // script on every build (its default when a script names no file).
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=LATCHKEY_GIT_REV={rev}");
}

/// `git rev-parse --short HEAD`, watching the files that change with it.
fn repository_rev(dir: &Path) -> Option<String> {
    for watched in watched_files(dir) {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    git(dir, &["rev-parse", "--short", "HEAD"])
}

/// A `.git` (directory, or the file a worktree has) in `dir` or a folder above it.
fn in_repository(dir: &Path) -> bool {
    dir.ancestors().any(|d| d.join(".git").exists())
}

/// `HEAD`, and the branch ref it points to: the loose file, or `packed-refs` when the
/// branch has none. Paths come from git itself, so linked worktrees work too.
fn watched_files(dir: &Path) -> Vec<PathBuf> {
    let path_of = |p: &str| {
        git(
            dir,
            &["rev-parse", "--path-format=absolute", "--git-path", p],
        )
    };
    let mut files: Vec<PathBuf> = path_of("HEAD").map(PathBuf::from).into_iter().collect();
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        match path_of(&branch).map(PathBuf::from) {
            Some(loose) if loose.exists() => files.push(loose),
            // Packed: a commit writes the loose file anew, in the ref's folder.
            loose => {
                files.extend(path_of("packed-refs").map(PathBuf::from));
                files.extend(loose.and_then(|l| l.parent().map(Path::to_path_buf)));
            }
        }
    }
    files.retain(|f| f.exists());
    files
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}
