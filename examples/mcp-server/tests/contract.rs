//! The MCP example started as a process and driven over HTTP as an MCP client drives it,
//! through the EXAMPLES.md contract ("The MCP server example").

use authgent_harness::{contract, mcp};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-server");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_the_mcp_contract_against_a_testkit_issuer() {
    mcp::mcp_example_follows_the_contract(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_mode_prints_issuer_tokens_and_serves_them() {
    let server = contract::ServerProcess::start(BIN, &["--embedded"], &[("BIND", "127.0.0.1:0")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let token = server.printed("TOKEN_SEARCH").expect("TOKEN_SEARCH= line");
    let endpoint = format!("http://{}/mcp", server.addr);
    let mut client = mcp::McpClient::bearer(&endpoint, Some(token));
    let r = client.initialize().await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = client
        .call("search", serde_json::json!({"query": "q"}))
        .await
        .unwrap();
    assert_eq!(r.structured().unwrap()["query"], "q", "{}", r.text);
    assert!(server.terminate().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_start_without_an_issuer() {
    contract::example_requires_an_issuer(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_with_the_real_authgent_server_as_issuer() {
    mcp::mcp_example_against_the_real_server(BIN).await;
}

/// Issue 25: `authgent doctor` is clean with oidc-provider as the issuer too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_authgent_doctor_finds_nothing_to_fix_with_oidc_provider() {
    authgent_harness::doctor::example_passes_the_doctor_with_oidc_provider(
        BIN,
        authgent_harness::doctor::Kind::Mcp,
    )
    .await;
}

/// Issue 25: the whole MCP contract with panva's oidc-provider as the issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_with_oidc_provider_as_issuer() {
    mcp::mcp_example_against_oidc_provider(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authgent_doctor_finds_nothing_to_fix() {
    authgent_harness::doctor::example_passes_the_doctor(BIN, authgent_harness::doctor::Kind::Mcp)
        .await;
}

/// Issue 27: each tool call, allowed or refused, is one JSON audit line naming the tool and
/// the whole chain; the refusal is counted in the Prometheus metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audits_every_tool_call() {
    authgent_harness::observability::mcp_example_audits_tool_calls(BIN).await;
}
