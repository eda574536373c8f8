//! The agent side against this MCP server, both trusting the real authgent-server: rmcp's own
//! client with authgent's credentials discovers the authorization server from the 401, gets a
//! DPoP-bound token for the endpoint, calls tools, and steps up on `403 insufficient_scope`.

#[path = "../../../crates/authgent-rmcp/examples/mcp_agent.rs"]
#[allow(dead_code, unreachable_pub)]
mod mcp_agent;

use authgent_harness::contract::ServerProcess;
use authgent_harness::real_server::required_env;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-server");

async fn walk_through(issuer: &str) -> Vec<String> {
    walk_through_with(issuer, rmcp::service::ClientLifecycleMode::Initialize).await
}

async fn walk_through_with(
    issuer: &str,
    lifecycle: rmcp::service::ClientLifecycleMode,
) -> Vec<String> {
    let server = ServerProcess::trusting(BIN, issuer).await;
    let endpoint = format!("http://{}/mcp", server.addr);
    let said = mcp_agent::run_with(issuer, &endpoint, lifecycle)
        .await
        .unwrap_or_else(|e| panic!("the agent walk-through: {e}"));
    assert!(server.terminate().await);
    said
}

fn check(said: &[String], issuer: &str) {
    assert_eq!(said.len(), 5, "{said:#?}");
    assert!(said[0].contains(&format!("[\"{issuer}\"]")), "{said:#?}");
    assert_eq!(
        said[1], "tools: delete_records, human_only, search, whoami",
        "{said:#?}"
    );
    assert!(said[2].contains("DPoP-bound: true"), "{said:#?}");
    assert!(said[2].contains(r#"["search:execute"]"#), "{said:#?}");
    assert!(said[3].contains(r#"deleted "scratch""#), "{said:#?}");
    assert!(said[3].contains("db:delete"), "{said:#?}");
    assert_eq!(
        said[4], r#"token scope now: Some("search:execute db:delete")"#,
        "{said:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_the_rmcp_client_with_authgent_credentials_discovers_calls_and_steps_up() {
    let issuer = required_env("AUTHGENT_INTEROP_URL");
    check(&walk_through(&issuer).await, &issuer);
}

/// The same against the server that requires DPoP with nonces at its token endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_the_rmcp_client_against_a_server_requiring_dpop_nonces() {
    let issuer = required_env("AUTHGENT_INTEROP_DPOP_URL");
    check(&walk_through(&issuer).await, &issuer);
}

/// Issue 24, item 7: rmcp's client at protocol 2026-07-28 (`server/discover`, no session,
/// every request self-contained with the SEP-2243 headers rmcp adds) through
/// `AuthgentHttpClient`, DPoP-bound, with the same step-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_the_rmcp_client_at_2026_07_28_discovers_calls_and_steps_up() {
    let issuer = required_env("AUTHGENT_INTEROP_URL");
    let lifecycle = rmcp::service::ClientLifecycleMode::Discover {
        preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
    };
    check(&walk_through_with(&issuer, lifecycle).await, &issuer);
}

/// Issue 25: the same walk-through with panva's oidc-provider as the authorization server
/// (its metadata found from the MCP server's 401, a DPoP-bound token for the endpoint, the
/// step-up), on both protocol revisions; its agent is configured there, not registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_the_rmcp_client_against_oidc_provider() {
    use authgent_harness::oidc::{AGENT_A, OidcProvider, secret};
    let provider = OidcProvider::start(false).await;
    for lifecycle in [
        rmcp::service::ClientLifecycleMode::Initialize,
        rmcp::service::ClientLifecycleMode::Discover {
            preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
        },
    ] {
        let server = provider.serve_example(BIN).await;
        let endpoint = format!("http://{}/mcp", server.addr);
        let credentials = authgent_client::ClientCredentials::new(AGENT_A, secret(AGENT_A));
        let said = mcp_agent::run_as(&provider.url, &endpoint, credentials, lifecycle)
            .await
            .unwrap_or_else(|e| panic!("the agent walk-through: {e}"));
        check(&said, &provider.url);
        assert!(
            said[2].starts_with(&format!("whoami: {AGENT_A} ")),
            "{said:#?}"
        );
        assert!(server.terminate().await);
    }
}
