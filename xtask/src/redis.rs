//! Redis for the replica tests and benchmarks: `redis-server` from the system packages,
//! installed when missing (as the interop venv is), found again on a second run.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The oldest Redis the replay store is tested on is 7.0 (Debian 12's); `SET … NX PX` itself
/// needs 2.6.12.
const MIN_MAJOR: u32 = 6;

/// The `redis-server` binary, installed with apt-get when missing.
pub(crate) fn ensure_redis_server() -> Result<PathBuf, String> {
    if let Some(found) = find() {
        return Ok(found);
    }
    let started = Instant::now();
    eprintln!(
        "==> xtask: redis-server not found; installing it from the system packages (apt-get)"
    );
    if !crate::system::apt_install(&["redis-server"]) {
        return Err("could not install redis-server: install it yourself (apt-get install redis-server, brew install redis) or set AUTHGENT_REDIS_SERVER to its path".into());
    }
    // The package starts a system service where there is an init system; the tests start
    // their own servers on free ports and do not use it.
    let found = find().ok_or("redis-server was installed but cannot be run")?;
    eprintln!(
        "==> xtask: installed {} in {:.0}s",
        found.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(found)
}

/// `AUTHGENT_REDIS_SERVER` or `redis-server` on `PATH`, if it runs and is recent enough.
fn find() -> Option<PathBuf> {
    let candidate = std::env::var_os("AUTHGENT_REDIS_SERVER")
        .map_or_else(|| PathBuf::from("redis-server"), PathBuf::from);
    let out = Command::new(&candidate).arg("--version").output().ok()?;
    // "Redis server v=7.0.15 sha=…"
    let text = String::from_utf8_lossy(&out.stdout);
    let major: u32 = text.split("v=").nth(1)?.split('.').next()?.parse().ok()?;
    if major < MIN_MAJOR {
        eprintln!(
            "==> xtask: {} is Redis {major}; 6 or later is needed",
            candidate.display()
        );
        return None;
    }
    if candidate.components().count() > 1 {
        return Some(candidate);
    }
    // Resolve through PATH so the tests run the very binary checked here.
    let which = Command::new("sh")
        .args(["-c", "command -v redis-server"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&which.stdout).trim().to_owned();
    (!path.is_empty()).then(|| PathBuf::from(path))
}
