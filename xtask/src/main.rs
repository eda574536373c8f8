//! Project automation. `cargo xtask test` runs, in order, every check CI runs: formatting,
//! clippy with `-D warnings`, the dependency rule for `authgent-core`, rustdoc with
//! `-D warnings`, the whole test suite (nextest when installed, otherwise `cargo test`), then
//! the doc tests.
//!
//! The test steps run with two real authgent-server instances (see `interop/README.md`),
//! started before and stopped after, whatever the outcome.
//!
//! Adding a step is one line in [`test_steps`].

mod bench;
mod demo;
mod fuzz;
mod interop;
mod npm_tools;
mod proxy;
mod redis;
mod snippets;
mod supply_chain;
mod system;

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// One named step: a command, or a check written in Rust.
struct Step {
    name: &'static str,
    action: Action,
}

enum Action {
    Command {
        program: &'static str,
        args: Vec<&'static str>,
        env: Vec<(&'static str, &'static str)>,
    },
    Check(fn() -> Result<(), String>),
}

fn cargo(name: &'static str, args: &[&'static str]) -> Step {
    cargo_with(name, args, &[])
}

/// A cargo step with extra environment for that step only.
fn cargo_with(
    name: &'static str,
    args: &[&'static str],
    env: &[(&'static str, &'static str)],
) -> Step {
    let args = args
        .iter()
        .flat_map(|&arg| match arg {
            EVERY_FEATURE_BUT_OPENSSL => vec!["--features", every_feature_but_openssl()],
            arg => vec![arg],
        })
        .collect();
    let action = Action::Command {
        program: "cargo",
        args,
        env: env.to_vec(),
    };
    Step { name, action }
}

/// `crate/feature,…` for every feature of every workspace crate except those named `openssl`,
/// from `cargo metadata` (so a new feature is tested without touching this list).
fn every_feature_but_openssl() -> &'static str {
    static FEATURES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FEATURES.get_or_init(|| {
        let out = Command::new("cargo")
            .args(["metadata", "--no-deps", "--format-version", "1", "--locked"])
            .stderr(Stdio::inherit())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .expect("cargo metadata failed");
        let metadata: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("cargo metadata printed no JSON");
        let mut features = Vec::new();
        for package in metadata["packages"].as_array().into_iter().flatten() {
            let name = package["name"].as_str().unwrap_or_default();
            for feature in package["features"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|f| f.0)
            {
                if feature != "openssl" && feature != "default" {
                    features.push(format!("{name}/{feature}"));
                }
            }
        }
        features.join(",")
    })
}

fn check(name: &'static str, f: fn() -> Result<(), String>) -> Step {
    Step {
        name,
        action: Action::Check(f),
    }
}

/// Stands for `--features` with every feature of every workspace crate except the `openssl`
/// backend switches ([`every_feature_but_openssl`]): the adapters are checked and tested too,
/// on the default crypto backend (`openssl` wins when enabled, so `--all-features` would run
/// the whole suite on OpenSSL).
const EVERY_FEATURE_BUT_OPENSSL: &str = "@every-feature-but-openssl";

/// Every crate with every feature: the facade's adapters are checked and tested too.
const CLIPPY: &[&str] = &[
    "clippy",
    "--workspace",
    "--all-targets",
    EVERY_FEATURE_BUT_OPENSSL,
    "--locked",
    "--",
    "-D",
    "warnings",
];
const NEXTEST: &[&str] = &[
    "nextest",
    "run",
    "--workspace",
    EVERY_FEATURE_BUT_OPENSSL,
    "--locked",
    "--no-fail-fast",
];
const DOCS: &[&str] = &[
    "doc",
    "--workspace",
    "--no-deps",
    EVERY_FEATURE_BUT_OPENSSL,
    "--locked",
];
const DOC_TESTS: &[&str] = &[
    "test",
    "--workspace",
    EVERY_FEATURE_BUT_OPENSSL,
    "--locked",
    "--doc",
];
/// Without nextest's test group, the tests named `interop` run in a second pass, one at a time
/// (the real server's SQLite sessions share one connection, and overlapping writes are
/// lost). Both passes select the same packages and features, so nothing is built twice.
const CARGO_TEST: &[&str] = &[
    "test",
    "--workspace",
    EVERY_FEATURE_BUT_OPENSSL,
    "--locked",
    "--no-fail-fast",
    "--",
    "--skip",
    "interop",
];
const CARGO_TEST_INTEROP: &[&str] = &[
    "test",
    "--workspace",
    EVERY_FEATURE_BUT_OPENSSL,
    "--locked",
    "--no-fail-fast",
    "--tests",
    "--",
    "interop",
    "--test-threads=1",
];

/// The core's whole suite (conformance, adversarial, bad inputs, RFC vectors, no-panic) again
/// with the other signature backend: OpenSSL instead of the default aws-lc-rs. Only
/// authgent-core is rebuilt.
const CORE_OPENSSL: &[&str] = &[
    "test",
    "--package",
    "authgent-core",
    "--no-default-features",
    "--features",
    "openssl",
    "--locked",
    "--no-fail-fast",
];
const CLIPPY_CORE_OPENSSL: &[&str] = &[
    "clippy",
    "--package",
    "authgent-core",
    "--no-default-features",
    "--features",
    "openssl",
    "--all-targets",
    "--locked",
    "--",
    "-D",
    "warnings",
];

fn test_steps() -> Vec<Step> {
    let mut steps = vec![
        cargo("format", &["fmt", "--all", "--check"]),
        check(
            "OpenSSL headers, for the tests of the opt-in `openssl` backend",
            system::ensure_openssl_headers,
        ),
        cargo("clippy", CLIPPY),
        cargo(
            "clippy (authgent-core, OpenSSL backend)",
            CLIPPY_CORE_OPENSSL,
        ),
        check(
            "authgent-core has no I/O dependencies",
            core_has_no_io_dependencies,
        ),
        check(
            "the default build links no OpenSSL (authgent with every framework feature)",
            default_build_has_no_openssl,
        ),
        check(
            "supply chain (cargo deny: advisories, licenses, bans, sources)",
            supply_chain::cargo_deny_check,
        ),
    ];
    // Broken intra-doc links and other rustdoc warnings fail the build.
    steps.push(cargo_with("docs", DOCS, &[("RUSTDOCFLAGS", "-D warnings")]));
    steps.push(check(
        "docs' snippets, each built with the dependencies its page shows",
        snippets::check,
    ));
    if has_nextest() {
        steps.push(cargo("tests", NEXTEST));
        // nextest does not run doc tests.
        steps.push(cargo("doc tests", DOC_TESTS));
    } else {
        steps.push(cargo("tests", CARGO_TEST));
        steps.push(cargo("interop tests", CARGO_TEST_INTEROP));
    }
    steps.push(cargo(
        "tests (authgent-core, OpenSSL backend)",
        CORE_OPENSSL,
    ));
    steps.push(check("fuzz smoke (5 s per target)", fuzz::smoke));
    steps
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Crates that do I/O; `authgent-core` must not depend on any of them (ARCHITECTURE.md).
const IO_CRATES: [&str; 9] = [
    "tokio",
    "reqwest",
    "hyper",
    "moka",
    "mio",
    "socket2",
    "async-std",
    "h2",
    "ureq",
];

fn core_has_no_io_dependencies() -> Result<(), String> {
    let found = tree_crates_among("authgent-core", &[], &IO_CRATES)?;
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "authgent-core depends on I/O crates {found:?}; keep I/O in authgent-jwks"
        ))
    }
}

/// Which of `wanted` are in `cargo tree -e normal` of `package` with `features`: what the
/// package links for its users (no dev- or build-dependencies), sorted, each once.
fn tree_crates_among(
    package: &str,
    features: &[&str],
    wanted: &[&str],
) -> Result<Vec<String>, String> {
    let mut command = Command::new("cargo");
    command.args(["tree", "--package", package, "--edges", "normal"]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let out = command
        .args(["--prefix", "none", "--locked"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo tree: {e}"))?;
    if !out.status.success() {
        return Err("cargo tree failed".into());
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| wanted.contains(name))
        .map(str::to_owned)
        .collect();
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// Crates that mean OpenSSL is linked: only the `openssl` backend feature may bring them.
const OPENSSL_CRATES: [&str; 4] = ["openssl-sys", "openssl", "josekit", "native-tls"];

/// `cargo tree -e normal` of the facade with its default features and every other feature but
/// `openssl` (every framework adapter, the client, Redis, the testkit) must not contain
/// OpenSSL: `cargo add authgent` builds with a C compiler alone.
fn default_build_has_no_openssl() -> Result<(), String> {
    let features: Vec<&str> = every_feature_but_openssl()
        .split(',')
        .filter_map(|f| f.strip_prefix("authgent/"))
        .collect();
    if features.is_empty() {
        return Err("found no features of `authgent` in cargo metadata".into());
    }
    let found = tree_crates_among("authgent", &features, &OPENSSL_CRATES)?;
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the default `authgent` build (features {features:?}) depends on {found:?}; \
             OpenSSL belongs behind the `openssl` feature only (`cargo tree -p authgent -e normal -i openssl-sys` shows the path)"
        ))
    }
}

fn run(steps: &[Step]) -> ExitCode {
    let started = Instant::now();
    let mut times = Vec::new();
    for s in steps {
        let t = Instant::now();
        let result = match &s.action {
            Action::Command {
                program,
                args,
                env: step_env,
            } => {
                eprintln!("==> xtask: {} ({program} {})", s.name, args.join(" "));
                let env = ENV.with(|e| e.borrow().clone());
                let status = Command::new(program)
                    .args(args)
                    .envs(env)
                    .envs(step_env.iter().copied())
                    .status();
                match status {
                    Ok(st) if st.success() => Ok(()),
                    Ok(st) => Err(format!("exited with {st}")),
                    Err(e) => Err(format!("could not start `{program}`: {e}")),
                }
            }
            Action::Check(f) => {
                eprintln!("==> xtask: {}", s.name);
                f()
            }
        };
        match result {
            Ok(()) => {
                let took = t.elapsed().as_secs_f64();
                eprintln!("==> xtask: {} ok in {took:.1}s", s.name);
                times.push((s.name, took));
            }
            Err(why) => {
                eprintln!("==> xtask: {} FAILED: {why}", s.name);
                return ExitCode::FAILURE;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    for (name, took) in &times {
        eprintln!("==> xtask: {took:>7.1}s  {name}");
    }
    eprintln!("==> xtask: all {} steps passed in {secs:.1}s", steps.len());
    ExitCode::SUCCESS
}

/// Installs (if needed) and starts the interop servers, exports their URLs to the test
/// processes, runs `f`, and stops the servers (their guards drop on every path).
fn with_servers(f: impl FnOnce() -> ExitCode) -> ExitCode {
    let started = (|| -> Result<(interop::Idp, Vec<interop::Server>), String> {
        let python = waiting_for(
            "the interop venv",
            "authgent-server and the Python SDKs, pip-installed on first use",
            interop::ensure_venv,
        )?;
        let idp = waiting_for("the test OpenID provider", "a Python process", || {
            interop::start_idp(&python)
        })?;
        let trusted = format!("[\"{}\"]", idp.url);
        let default_env = [("AUTHGENT_TRUSTED_OIDC_ISSUERS", trusted.as_str())];
        let dpop_env = [("AUTHGENT_REQUIRE_DPOP", "true")];
        // For the 429 path (5 requests/min to /token, /agents, /register) and step-up expiry.
        let limited_env = [
            ("AUTHGENT_TOKEN_RATE_LIMIT", "5"),
            ("AUTHGENT_HITL_TIMEOUT", "2"),
        ];
        let (default, dpop, limited) = waiting_for(
            "authgent-server",
            "three instances, fresh databases",
            || {
                Ok((
                    interop::start(&python, "default", &default_env, true)?,
                    interop::start(&python, "require-dpop", &dpop_env, false)?,
                    interop::start(&python, "limited", &limited_env, false)?,
                ))
            },
        )?;
        let conformance = waiting_for(
            "the MCP conformance suite",
            "with its Node 22, npm-installed on first use",
            npm_tools::ensure_conformance,
        )?;
        let oidc_provider = waiting_for(
            "oidc-provider",
            "the second authorization server, with its Node 22, npm-installed on first use",
            npm_tools::ensure_oidc_provider,
        )?;
        let redis = waiting_for(
            "redis-server",
            "apt-get install when missing",
            redis::ensure_redis_server,
        )?;
        set_env("AUTHGENT_REDIS_SERVER", &redis.display().to_string());
        set_env(
            "AUTHGENT_INTEROP_CONFORMANCE",
            &conformance.display().to_string(),
        );
        set_env("AUTHGENT_INTEROP_PYTHON", &python.display().to_string());
        set_env(
            "AUTHGENT_INTEROP_OIDC_PROVIDER",
            &oidc_provider.display().to_string(),
        );
        set_env("AUTHGENT_INTEROP_URL", &default.url);
        set_env(
            "AUTHGENT_INTEROP_ENV",
            &default.env_file.display().to_string(),
        );
        set_env(
            "AUTHGENT_INTEROP_JWKS_FETCHES",
            &default.jwks_counts.display().to_string(),
        );
        set_env(
            "AUTHGENT_INTEROP_TOKEN_REQUESTS",
            &default.token_counts.display().to_string(),
        );
        set_env("AUTHGENT_INTEROP_DPOP_URL", &dpop.url);
        set_env("AUTHGENT_INTEROP_LIMITED_URL", &limited.url);
        set_env("AUTHGENT_INTEROP_IDP_URL", &idp.url);
        set_env("AUTHGENT_INTEROP_IDP_DIR", &idp.dir.display().to_string());
        Ok((idp, vec![default, dpop, limited]))
    })();
    match started {
        Ok(servers) => {
            let code = f();
            drop(servers);
            code
        }
        Err(why) => {
            eprintln!(
                "==> xtask: cannot start the real authgent-server for the interop tests: {why}"
            );
            ExitCode::FAILURE
        }
    }
}

/// Runs one piece of set-up, saying what it waits for (and what that may involve) and how
/// long it took.
pub(crate) fn waiting_for<T>(
    what: &str,
    involves: &str,
    f: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    eprintln!("==> xtask: waiting for {what} ({involves})");
    let t = Instant::now();
    let result = f();
    if result.is_ok() {
        eprintln!(
            "==> xtask: {what} ready in {:.1}s",
            t.elapsed().as_secs_f64()
        );
    }
    result
}

/// Keeps the servers up for development until stdin closes (e.g. `sleep infinity | cargo
/// xtask serve &`; killing the `sleep` stops them cleanly).
fn serve() -> ExitCode {
    let exports: String = ENV.with(|e| {
        e.borrow()
            .iter()
            .map(|(k, v)| format!("export {k}='{v}'\n"))
            .collect()
    });
    let file = interop::target_dir().join("authgent-interop/env.sh");
    if let Err(e) = std::fs::write(&file, &exports) {
        eprintln!("==> xtask: cannot write {}: {e}", file.display());
        return ExitCode::FAILURE;
    }
    eprintln!(
        "==> xtask: servers up; `source {}`; close stdin to stop",
        file.display()
    );
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    ExitCode::SUCCESS
}

/// Passes a variable to every command a step spawns (`std::env::set_var` is unsafe in
/// edition 2024 and `unsafe` is forbidden here).
fn set_env(key: &str, value: &str) {
    ENV.with(|e| e.borrow_mut().push((key.to_owned(), value.to_owned())));
}

thread_local! {
    static ENV: std::cell::RefCell<Vec<(String, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  demo [--server]
         an agent's story against the axum and MCP examples, on the embedded test issuer
         (nothing to install); --server: against a real authgent-server (installed on first use)
  test   format check, clippy -D warnings, dependency rules, the whole test suite with the
         real authgent-server started for the interop tests (what CI runs)
  ci     same as test
  fuzz [--seconds N] [target…]
         run the cargo-fuzz targets (default: all, 600 s each; nightly toolchain)
  bench [--quick]
         criterion benches side by side with the aws-lc-rs floor, jsonwebtoken and the Python
         SDK, a loopback HTTP load run; a table and target/bench-summary.json (--quick: < 10 min)
  deny   cargo deny check against the RustSec snapshot in ../shared/advisory-db
  snippets
         every Rust snippet of the README, docs/ and the crate READMEs built in a crate of its
         own with the dependencies its page shows (part of test)
  serve  start the interop servers and keep them up until standard input closes; writes
         target/authgent-interop/env.sh to source before `cargo test` of interop tests
  fmt    format the workspace
  target-dir
         the target directory xtask builds in and runs from (CARGO_TARGET_DIR and
         build.target-dir honoured), on stderr";

fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("==> xtask: {why}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("test" | "ci") => with_servers(|| run(&test_steps())),
        Some("serve") => with_servers(serve),
        Some("demo") => report(demo::run(std::env::args().skip(2).any(|a| a == "--server"))),
        Some("fmt") => run(&[cargo("format", &["fmt", "--all"])]),
        Some("target-dir") => {
            eprintln!("{}", interop::target_dir().display());
            ExitCode::SUCCESS
        }
        Some("deny") => report(supply_chain::cargo_deny_check()),
        Some("snippets") => report(snippets::check()),
        Some("bench") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            report(bench::run(&args))
        }
        Some("fuzz") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            let mut seconds = 600;
            let mut targets = Vec::new();
            let mut it = args.iter();
            while let Some(a) = it.next() {
                if a == "--seconds" {
                    match it.next().and_then(|s| s.parse().ok()) {
                        Some(n) => seconds = n,
                        None => return report(Err("--seconds takes a number".into())),
                    }
                } else {
                    targets.push(a.as_str());
                }
            }
            if targets.is_empty() {
                targets = fuzz::TARGETS.to_vec();
            }
            report(fuzz::run(&targets, seconds))
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::FAILURE
        }
    }
}
