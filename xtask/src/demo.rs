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
    crate::waiting_for(
        "the build of the demo and the example servers",
        "a few minutes the first time",
        || {
            let built = Command::new("cargo")
                .args(["build", "--locked"])
                .args(PACKAGES)
                .status()
                .map_err(|e| format!("could not run cargo: {e}"))?;
            if built.success() {
                Ok(())
            } else {
                Err("the build failed".into())
            }
        },
    )?;
    let demo = interop::target_dir().join("debug/authgent-demo");
    let mut command = Command::new(&demo);
    // Kept alive until the demo exits; stopped on drop.
    let _real = if server {
        let python = crate::waiting_for(
            "the interop venv",
            "authgent-server, pip-installed on first use",
            interop::ensure_venv,
        )?;
        let real = crate::waiting_for("authgent-server", "a fresh database", || {
            interop::start(&python, "demo", &[], false)
        })?;
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
