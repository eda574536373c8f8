//! `cargo deny check` (advisories, licenses, bans, sources) against the RustSec advisory
//! database. The network copy cannot be fetched on the project's machines, so the check uses
//! the snapshot in `../shared/advisory-db` (its date is in that folder's README): it is copied
//! into a git repository under `target/advisory-dbs/`, where cargo-deny keeps its clone of the
//! RustSec database, and cargo-deny runs `--offline` (crates fetched first, so that the crate
//! graph is complete). With network access, `cargo deny check` uses the live database.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cargo-deny release this project checks with; installed into cargo's own bin directory
/// (where the next run finds it) only when missing or different.
pub(crate) const CARGO_DENY_VERSION: &str = "0.20.2";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn ensure_cargo_deny() -> Result<(), String> {
    let installed = Command::new("cargo")
        .args(["deny", "--version"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if installed
        .as_deref()
        .is_some_and(|v| v.ends_with(CARGO_DENY_VERSION))
    {
        return Ok(());
    }
    eprintln!(
        "==> xtask: installing cargo-deny {CARGO_DENY_VERSION} (found {}; takes a few minutes once)",
        installed.as_deref().unwrap_or("none")
    );
    let status = Command::new("cargo")
        .args([
            "install",
            "cargo-deny",
            "--locked",
            "--version",
            CARGO_DENY_VERSION,
        ])
        .status()
        .map_err(|e| format!("could not run cargo install: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo install cargo-deny {CARGO_DENY_VERSION} failed"
        ))
    }
}

/// A git repository holding the snapshot, rebuilt when the snapshot changes.
fn snapshot_repository() -> Result<PathBuf, String> {
    let source = root().join("../shared/advisory-db");
    if !source.join("crates").is_dir() {
        return Err(format!(
            "no advisory database snapshot at {}; with network access run `cargo deny check`",
            source.display()
        ));
    }
    // Where cargo-deny 0.20 keeps its clone of the default (RustSec) database URL.
    let repo = crate::interop::target_dir().join("advisory-dbs/advisory-db-3157b0e258782691");
    let stamp = std::fs::read_to_string(source.join("README.md")).unwrap_or_default();
    let stamp_file = repo.join(".snapshot-readme");
    if std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str())
        && repo.join(".git").is_dir()
    {
        return Ok(repo);
    }
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(&repo).map_err(|e| e.to_string())?;
    let run = |args: &[&str]| -> Result<(), String> {
        let ok = Command::new(args[0])
            .args(&args[1..])
            .current_dir(&repo)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", args[0]))?
            .success();
        if ok {
            Ok(())
        } else {
            Err(format!("`{}` failed", args.join(" ")))
        }
    };
    let source_str = source.display().to_string();
    run(&["cp", "-R", &format!("{source_str}/crates"), "."])?;
    run(&["cp", "-R", &format!("{source_str}/rust"), "."])?;
    for f in ["README.md", "LICENSE.txt", "README.rustsec.md"] {
        let _ = std::fs::copy(source.join(f), repo.join(f));
    }
    run(&["git", "init", "-q", "-b", "main"])?;
    run(&["git", "add", "-A"])?;
    run(&[
        "git",
        "-c",
        "user.name=xtask",
        "-c",
        "user.email=xtask@localhost",
        "commit",
        "-q",
        "-m",
        "RustSec advisory database snapshot",
    ])?;
    std::fs::write(&stamp_file, stamp).map_err(|e| e.to_string())?;
    Ok(repo)
}

/// `cargo deny check` with the snapshot as the advisory database.
pub(crate) fn cargo_deny_check() -> Result<(), String> {
    ensure_cargo_deny()?;
    snapshot_repository()?;
    let config = std::fs::read_to_string(root().join("deny.toml")).map_err(|e| e.to_string())?;
    let offline = config.replacen(
        "[advisories]\n",
        &format!(
            "[advisories]\ndb-path = \"{}\"\n",
            crate::interop::target_dir().join("advisory-dbs").display()
        ),
        1,
    );
    let offline_config = crate::interop::target_dir().join("deny-offline.toml");
    std::fs::write(&offline_config, offline).map_err(|e| e.to_string())?;
    // --offline keeps cargo-deny from fetching the database; the crates must be there first.
    let fetched = Command::new("cargo")
        .args(["fetch", "--locked"])
        .current_dir(root())
        .status()
        .is_ok_and(|s| s.success());
    if !fetched {
        return Err("cargo fetch failed".into());
    }
    let status = Command::new("cargo")
        .args([
            "deny",
            "--all-features",
            "--locked",
            "--offline",
            "--config",
        ])
        .arg(&offline_config)
        .arg("check")
        .current_dir(root())
        .status()
        .map_err(|e| format!("could not run cargo deny: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("cargo deny check found problems (see above)".into())
    }
}
