//! `cargo xtask demo [--server]`: builds the demo and the two example servers it starts, then
//! plays the story (examples/demo). With `--server`, against a real authgent-server from the
//! interop venv (installed on first use, like `cargo xtask test` does).

use std::process::Command;
use std::time::Instant;

use crate::interop;

const PACKAGES: [&str; 6] = [
    "-p",
    "authgent-demo",
    "-p",
    "axum-resource-server",
    "-p",
    "mcp-server",
];

/// Builds, then runs the demo binary (which finds the example binaries beside it).
pub(crate) fn run(server: bool) -> Result<(), String> {
    let t = Instant::now();
    eprintln!(
        "==> xtask: building the demo and the example servers (the first build takes a few minutes)"
    );
    let built = Command::new("cargo")
        .args(["build", "--locked"])
        .args(PACKAGES)
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !built.success() {
        return Err("the build failed".into());
    }
    eprintln!("==> xtask: built in {:.1}s", t.elapsed().as_secs_f64());
    let demo = interop::workspace_root().join("target/debug/authgent-demo");
    let mut command = Command::new(&demo);
    // Kept alive until the demo exits; stopped on drop.
    let _real = if server {
        eprintln!("==> xtask: preparing the real authgent-server (pip install on first use)");
        let python = interop::ensure_venv()?;
        eprintln!("==> xtask: starting authgent-server");
        let real = interop::start(&python, "demo", &[], false)?;
        command
            .arg("--server")
            .env("AUTHGENT_SERVER_URL", &real.url)
            .env("AUTHGENT_INTEROP_PYTHON", &python)
            .env("AUTHGENT_INTEROP_ENV", &real.env_file);
        Some(real)
    } else {
        None
    };
    let t = Instant::now();
    let status = command
        .status()
        .map_err(|e| format!("could not start {}: {e}", demo.display()))?;
    if !status.success() {
        return Err(format!("the demo failed ({status})"));
    }
    eprintln!(
        "==> xtask: the demo ran in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
