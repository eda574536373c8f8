//! The demo binary, run as `cargo xtask demo` runs it: it starts the example servers beside it
//! (built by the same workspace build) and fails on the first answer that is not as told.

use std::process::Command;

const DEMO: &str = env!("CARGO_BIN_EXE_authgent-demo");

fn run(args: &[&str], env: &[(&str, String)]) -> String {
    let dir = std::path::Path::new(DEMO).parent().unwrap();
    for example in ["axum-resource-server", "mcp-server"] {
        assert!(
            dir.join(example).exists(),
            "{example} is not built beside the demo: `cargo build -p {example}` (cargo xtask test builds it)"
        );
    }
    let out = Command::new(DEMO)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn assert_the_whole_story(out: &str) {
    for line in [
        "1. An agent calls a tool with its own token",
        "POST /tools/search -> 200",
        "◀ current actor",
        "POST /tools/search with a fresh proof -> 200",
        "proof -> 401 \"invalid_dpop_proof\"",
        "WWW-Authenticate: DPoP resource_metadata=",
        "POST /tools/delete -> 403 \"insufficient_scope\"",
        "scope=\"db:delete\"",
        "403 \"delegation_depth_exceeded\"",
        "a token signed with the new key -> 200",
        "tools/call whoami -> the tool got AgentIdentity",
        "tools/call delete_records -> 403 before the tool runs",
        "The story went as told",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn the_demo_tells_the_whole_story_on_the_embedded_issuer() {
    let out = run(&[], &[]);
    assert_the_whole_story(&out);
    assert!(out.contains("user:alice (human root)"), "{out}");
    assert!(
        out.contains("(JWKS fetches at the issuer: 1 -> 2)"),
        "{out}"
    );
}

/// `cargo xtask demo --server`: the same story through `AgentAuthClient` against the real
/// authgent-server `cargo xtask test` started (`AUTHGENT_INTEROP_*`).
#[test]
fn interop_the_demo_tells_the_same_story_against_the_real_server() {
    let var =
        |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is set by cargo xtask test"));
    let env = [
        ("AUTHGENT_SERVER_URL", var("AUTHGENT_INTEROP_URL")),
        ("AUTHGENT_INTEROP_PYTHON", var("AUTHGENT_INTEROP_PYTHON")),
        ("AUTHGENT_INTEROP_ENV", var("AUTHGENT_INTEROP_ENV")),
    ];
    let out = run(&["--server"], &env);
    assert_the_whole_story(&out);
    assert!(out.contains("against the real authgent-server"), "{out}");
}
