//! An agent's day against a real authgent server: register two agents, get a DPoP-bound
//! token, delegate to a worker (RFC 8693), verify what the worker holds, pre-check a deeper
//! delegation, introspect and revoke.
//!
//! ```text
//! AUTHGENT_SERVER_URL=http://127.0.0.1:8000 cargo run -p authgent-client --example agent
//! ```
//! (`cargo xtask serve` starts a server; `interop/README.md` says how.)

use authgent_client::{AgentAuthClient, AgentRegistration, ExchangeRequest, McpAuthProvider};
use authgent_core::dpop::DpopKey;

/// The walk-through, returning what it printed (the interop tests run it too).
pub async fn run(server: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut said = Vec::new();
    let auth = AgentAuthClient::builder(server)
        .dpop_key(DpopKey::generate_es256()?)
        .build()?;
    auth.discover().await?;

    let orchestrator = auth
        .register_agent(&AgentRegistration::new("example-orchestrator").scopes(["read", "write"]))
        .await?;
    let worker = auth
        .register_agent(&AgentRegistration::new("example-worker").scopes(["read"]))
        .await?;
    let token = auth
        .get_token(&orchestrator.credentials(), Some("read write"), None)
        .await?;
    said.push(format!(
        "orchestrator token: {} ({:?})",
        token.token_type, token.scope
    ));

    let check = auth
        .check_exchange(
            token.access_token.expose(),
            "https://tools.example",
            &worker.client_id,
            "read",
        )
        .await?;
    said.push(format!(
        "exchange allowed: {} -> {:?}",
        check.allowed, check.effective_scopes
    ));

    let delegated = auth
        .exchange_token(
            &worker.credentials(),
            &ExchangeRequest::new(token.access_token.clone())
                .audience("https://tools.example")
                .scope("read"),
        )
        .await?;
    let tools = McpAuthProvider::new(server, "https://tools.example")?;
    let url = "https://tools.example/search";
    let key = auth.dpop_key().ok_or("no DPoP key")?;
    let proof = key.proof(
        "GET",
        url,
        Some(delegated.access_token.expose()),
        None,
        std::time::SystemTime::now(),
    )?;
    let identity = tools
        .verify_dpop(delegated.access_token.expose(), &proof, "GET", url)
        .await?;
    let chain = identity.delegation_chain();
    said.push(format!(
        "tools see {} acting for {} (depth {})",
        chain.current_actor().map_or("nobody", |a| a.subject()),
        identity.subject(),
        chain.depth()
    ));

    let before = auth
        .introspect_token(delegated.access_token.expose(), None)
        .await?;
    auth.revoke_token(&worker.credentials(), delegated.access_token.expose())
        .await?;
    let after = auth
        .introspect_token(delegated.access_token.expose(), None)
        .await?;
    said.push(format!(
        "active before revocation: {}, after: {}",
        before.active, after.active
    ));
    Ok(said)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("AUTHGENT_SERVER_URL").map_err(
        |_| "set AUTHGENT_SERVER_URL to an authgent-server (e.g. http://127.0.0.1:8000)",
    )?;
    for line in run(&server).await? {
        eprintln!("{line}");
    }
    Ok(())
}
