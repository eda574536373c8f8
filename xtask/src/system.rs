//! System packages the test command installs when missing (apt-get, as root or through sudo),
//! found again on a second run: Redis (`redis.rs`) and the OpenSSL headers.

use std::process::{Command, Stdio};
use std::time::Instant;

/// Installs Debian/Ubuntu `packages` with apt-get; whether that succeeded.
pub(crate) fn apt_install(packages: &[&str]) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let (program, prefix): (&str, &[&str]) = if root {
        ("apt-get", &[])
    } else {
        ("sudo", &["apt-get"])
    };
    let apt = |args: &[&str]| {
        Command::new(program)
            .args(prefix)
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    apt(&["update", "-q"])
        && apt(&["install", "-y", "-q", "--no-install-recommends"]
            .iter()
            .chain(packages)
            .copied()
            .collect::<Vec<_>>())
}

/// The OpenSSL headers and `pkg-config`, which only the tests need: the `openssl` backend's
/// suite and the test keys aws-lc-rs will not make (the default build links no OpenSSL).
pub(crate) fn ensure_openssl_headers() -> Result<(), String> {
    let found = || {
        Command::new("pkg-config")
            .args(["--exists", "openssl"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if found() {
        return Ok(());
    }
    let started = Instant::now();
    eprintln!(
        "==> xtask: the OpenSSL headers were not found (pkg-config openssl); installing libssl-dev and pkg-config (apt-get)"
    );
    if !apt_install(&["libssl-dev", "pkg-config"]) || !found() {
        return Err("could not install the OpenSSL headers, which the tests of the `openssl` backend need: install them yourself (apt-get install libssl-dev pkg-config, dnf install openssl-devel, brew install openssl)".into());
    }
    eprintln!(
        "==> xtask: installed the OpenSSL headers in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
