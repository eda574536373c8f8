//! Project automation. `cargo xtask test` runs, in order, every check CI runs: formatting,
//! clippy with `-D warnings`, the dependency rule for `authgent-core`, the whole test suite
//! (nextest when installed, otherwise `cargo test`), then the doc tests.
//!
//! Adding a step is one line in [`test_steps`].

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
    },
    Check(fn() -> Result<(), String>),
}

fn cargo(name: &'static str, args: &[&'static str]) -> Step {
    let action = Action::Command {
        program: "cargo",
        args: args.to_vec(),
    };
    Step { name, action }
}

fn check(name: &'static str, f: fn() -> Result<(), String>) -> Step {
    Step {
        name,
        action: Action::Check(f),
    }
}

/// Every crate with every feature: the facade's adapters are checked and tested too.
const CLIPPY: &[&str] = &[
    "clippy",
    "--workspace",
    "--all-targets",
    "--all-features",
    "--locked",
    "--",
    "-D",
    "warnings",
];
const NEXTEST: &[&str] = &[
    "nextest",
    "run",
    "--workspace",
    "--all-features",
    "--locked",
    "--no-fail-fast",
];
const DOC_TESTS: &[&str] = &["test", "--workspace", "--all-features", "--locked", "--doc"];
const CARGO_TEST: &[&str] = &[
    "test",
    "--workspace",
    "--all-features",
    "--locked",
    "--no-fail-fast",
];

fn test_steps() -> Vec<Step> {
    let mut steps = vec![
        cargo("format", &["fmt", "--all", "--check"]),
        cargo("clippy", CLIPPY),
        check(
            "authgent-core has no I/O dependencies",
            core_has_no_io_dependencies,
        ),
    ];
    if has_nextest() {
        steps.push(cargo("tests", NEXTEST));
        // nextest does not run doc tests.
        steps.push(cargo("doc tests", DOC_TESTS));
    } else {
        steps.push(cargo("tests", CARGO_TEST));
    }
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
    let out = Command::new("cargo")
        .args(["tree", "--package", "authgent-core", "--edges", "normal"])
        .args(["--prefix", "none", "--locked"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo tree: {e}"))?;
    if !out.status.success() {
        return Err("cargo tree failed".into());
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let found: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| IO_CRATES.contains(name))
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "authgent-core depends on I/O crates {found:?}; keep I/O in authgent-jwks"
        ))
    }
}

fn run(steps: &[Step]) -> ExitCode {
    let started = Instant::now();
    for s in steps {
        let t = Instant::now();
        let result = match &s.action {
            Action::Command { program, args } => {
                eprintln!("==> xtask: {} ({program} {})", s.name, args.join(" "));
                match Command::new(program).args(args).status() {
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
            Ok(()) => eprintln!(
                "==> xtask: {} ok in {:.1}s",
                s.name,
                t.elapsed().as_secs_f64()
            ),
            Err(why) => {
                eprintln!("==> xtask: {} FAILED: {why}", s.name);
                return ExitCode::FAILURE;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!("==> xtask: all {} steps passed in {secs:.1}s", steps.len());
    ExitCode::SUCCESS
}

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test   format check, clippy -D warnings, dependency rules, the whole test suite (what CI runs)
  ci     same as test
  fmt    format the workspace";

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("test" | "ci") => run(&test_steps()),
        Some("fmt") => run(&[cargo("format", &["fmt", "--all"])]),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::FAILURE
        }
    }
}
