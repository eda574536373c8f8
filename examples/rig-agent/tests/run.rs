//! The example, run as a user runs it, against the real authgent-server and the MCP example
//! (started beside it, built by the same workspace build): on alice's behalf the MCP server
//! sees alice as the subject and the agent as the current actor, `delete_records` steps up to
//! `db:delete` within the agent's policy, and every call is an audit line.

use authgent_harness::contract::ServerProcess;
use authgent_harness::real_server::RealServer;

const EXAMPLE: &str = env!("CARGO_BIN_EXE_rig-agent-example");

fn mcp_server_binary() -> String {
    let dir = std::path::Path::new(EXAMPLE).parent().unwrap();
    let binary = dir.join("mcp-server");
    assert!(
        binary.exists(),
        "mcp-server is not built beside the example: `cargo build -p mcp-server` (cargo xtask test builds it)"
    );
    binary.display().to_string()
}

async fn run(env: &[(&str, &str)]) -> String {
    let out = tokio::process::Command::new(EXAMPLE)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_the_rig_agent_example_calls_the_mcp_example_for_alice() {
    let real = RealServer::default_instance();
    let mcp = ServerProcess::trusting(&mcp_server_binary(), &real.url).await;
    let endpoint = format!("http://{}/mcp", mcp.addr);
    // alice signs in at a front agent: a human-rooted token for the agent's service.
    let alice = real
        .human_token("alice", "https://agent.example", "search:execute db:delete")
        .await;

    let out = run(&[
        ("AUTHGENT_ISSUER", &real.url),
        ("MCP_ENDPOINT", &endpoint),
        ("USER_TOKEN", &alice),
    ])
    .await;
    let agent = out
        .lines()
        .find_map(|l| l.strip_prefix("AGENT="))
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    assert!(out.contains("RUN for user:alice"), "{out}");
    for tool in ["whoami", "search", "delete_records"] {
        let line = format!("CALL {tool} allowed 200 subject=user:alice chain=user:alice > ");
        let call = out
            .lines()
            .find(|l| l.starts_with(&line))
            .unwrap_or_else(|| panic!("no {line:?} in:\n{out}"));
        assert!(call.ends_with(&format!(" > {agent}")), "{call}");
    }
    assert!(out.contains("SCOPE search:execute db:delete"), "{out}");
    assert!(out.contains("ANSWER Done"), "{out}");
    assert!(!out.contains(&alice), "the user's token in the output");

    // Without a user: the agent's own credentials, the agent as the subject.
    let out = run(&[("AUTHGENT_ISSUER", &real.url), ("MCP_ENDPOINT", &endpoint)]).await;
    assert!(out.contains("RUN for nobody"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("CALL whoami allowed 200 subject=client:")),
        "{out}"
    );
    assert!(mcp.terminate().await);
}
