//! `cargo xtask fuzz`: the cargo-fuzz targets in `fuzz/` (libFuzzer, nightly toolchain).
//! Each run starts from the committed seeds (`fuzz/seeds/<target>`: RFC vectors and real
//! authgent-server fixtures) and past crashes (`fuzz/regressions/<target>`), and grows its
//! working corpus in `fuzz/corpus/<target>` (not committed). Builds are optimised, with debug
//! assertions and overflow checks on (an overflow is a crash) and AddressSanitizer.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cargo-fuzz release used; installed into cargo's bin directory when missing.
const CARGO_FUZZ_VERSION: &str = "0.13.1";

pub(crate) const TARGETS: [&str; 7] = [
    "access_token",
    "dpop_proof",
    "www_authenticate",
    "jwks",
    "metadata",
    "token_response",
    "mcp_request",
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn quiet_success(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether a nightly toolchain is there (libFuzzer's instrumentation needs it).
pub(crate) fn has_nightly() -> bool {
    quiet_success(Command::new("rustup").args(["run", "nightly", "rustc", "--version"]))
}

fn ensure_cargo_fuzz() -> Result<(), String> {
    let version = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if version
        .as_deref()
        .is_some_and(|v| v.contains(CARGO_FUZZ_VERSION))
    {
        return Ok(());
    }
    eprintln!("==> xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION}");
    let ok = Command::new("cargo")
        .args([
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err("cargo install cargo-fuzz failed".into())
    }
}

/// Fuzzes each of `targets` for `seconds` (libFuzzer's `-max_total_time`), one after the
/// other; a crash fails the run and leaves its input in `fuzz/artifacts/<target>/`.
pub(crate) fn run(targets: &[&str], seconds: u64) -> Result<(), String> {
    if !has_nightly() {
        return Err(
            "fuzzing needs a nightly toolchain (`rustup toolchain install nightly`)".into(),
        );
    }
    ensure_cargo_fuzz()?;
    let dir = fuzz_dir();
    for target in targets {
        if !TARGETS.contains(target) {
            return Err(format!(
                "unknown fuzz target {target}; targets: {TARGETS:?}"
            ));
        }
        let corpus = dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&dir)
            .args([
                "+nightly",
                "fuzz",
                "run",
                "-O",
                "--debug-assertions",
                target,
            ])
            .arg(&corpus)
            .arg(dir.join("seeds").join(target));
        let regressions = dir.join("regressions").join(target);
        if regressions.is_dir() {
            cmd.arg(&regressions);
        }
        cmd.arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1");
        eprintln!("==> xtask: fuzzing {target} for {seconds} s");
        let ok = cmd.status().is_ok_and(|s| s.success());
        if !ok {
            return Err(format!(
                "fuzz target {target} failed: the input is in fuzz/artifacts/{target}/"
            ));
        }
    }
    Ok(())
}

/// The CI smoke: a few seconds per target (the long runs are `cargo xtask fuzz`). Without a
/// nightly toolchain it says so and passes: the seeds and every past crash are also
/// regression tests of the stable suite.
pub(crate) fn smoke() -> Result<(), String> {
    if !has_nightly() {
        eprintln!("==> xtask: no nightly toolchain: fuzz smoke skipped");
        return Ok(());
    }
    run(&TARGETS, 5)
}
