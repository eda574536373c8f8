//! Project automation. `cargo xtask test` runs, in order, every check CI runs:
//! formatting, clippy with `-D warnings`, and the whole test suite (nextest when installed,
//! otherwise `cargo test`), then the doc tests.
//!
//! Adding a step is one line in [`test_steps`].

use std::process::{Command, ExitCode};
use std::time::Instant;

/// One named step: a program and its arguments.
struct Step {
    name: &'static str,
    program: &'static str,
    args: Vec<&'static str>,
}

fn step(name: &'static str, program: &'static str, args: &[&'static str]) -> Step {
    Step {
        name,
        program,
        args: args.to_vec(),
    }
}

fn cargo(name: &'static str, args: &[&'static str]) -> Step {
    step(name, "cargo", args)
}

fn test_steps() -> Vec<Step> {
    let mut steps = vec![
        cargo("format", &["fmt", "--all", "--check"]),
        cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
        ),
    ];
    if has_nextest() {
        steps.push(cargo(
            "tests",
            &[
                "nextest",
                "run",
                "--workspace",
                "--locked",
                "--no-fail-fast",
            ],
        ));
        // nextest does not run doc tests.
        steps.push(cargo(
            "doc tests",
            &["test", "--workspace", "--locked", "--doc"],
        ));
    } else {
        steps.push(cargo(
            "tests",
            &["test", "--workspace", "--locked", "--no-fail-fast"],
        ));
    }
    steps
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(steps: &[Step]) -> ExitCode {
    let started = Instant::now();
    for s in steps {
        eprintln!("==> xtask: {} ({} {})", s.name, s.program, s.args.join(" "));
        let t = Instant::now();
        let status = Command::new(s.program).args(&s.args).status();
        match status {
            Ok(st) if st.success() => {
                eprintln!(
                    "==> xtask: {} ok in {:.1}s",
                    s.name,
                    t.elapsed().as_secs_f64()
                );
            }
            Ok(st) => {
                eprintln!("==> xtask: {} FAILED ({st})", s.name);
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("==> xtask: could not start `{}`: {e}", s.program);
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!(
        "==> xtask: all {} steps passed in {:.1}s",
        steps.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("test") | Some("ci") => run(&test_steps()),
        Some("fmt") => run(&[cargo("format", &["fmt", "--all"])]),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n\
                 tasks:\n  \
                 test   format check, clippy -D warnings, the whole test suite (what CI runs)\n  \
                 ci     same as test\n  \
                 fmt    format the workspace"
            );
            ExitCode::FAILURE
        }
    }
}
