#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)] // a transcript for people, and for its test
//! A rig agent calling the tools of an authgent-protected MCP server (the MCP example) on its
//! user's behalf, with `authgent-rig`.
//!
//! ```sh
//! AUTHGENT_ISSUER=http://127.0.0.1:8000 MCP_ENDPOINT=http://127.0.0.1:3000/mcp \
//!     USER_TOKEN="$ALICES_TOKEN" cargo run -p rig-agent-example-example
//! ```
//!
//! - The agent registers itself at the issuer (open registration, as authgent-server allows by
//!   default) with the scopes `search:execute` and `db:delete`, and a DPoP key.
//! - `USER_TOKEN` is the token of the user whose request starts the run, for the agent's own
//!   service (`AGENT_AUDIENCE`, default `https://agent.example`): verified here as the agent's
//!   service verifies it, it becomes the run's `RunContext`. Without it the run acts for no
//!   one, with the agent's own credentials.
//! - The model is rig's scripted completion model, a stand-in for a provider (no network, no
//!   API key): it calls `whoami`, `search` and `delete_records`, then answers.
//! - Every tool call is one audit line on stdout (`CALL …`); `AUTHGENT_AUDIT=json` also writes
//!   the audit events to stderr as JSON lines.

use std::sync::{Arc, Mutex};

use authgent_client::{
    AgentAuthClient, AgentRegistration, ClientCredentials, ScopeStepUp, TokenManager,
};
use authgent_core::dpop::DpopKey;
use authgent_jwks::audit::{AuditEvent, AuditSink, JsonLines};
use authgent_jwks::{AgentAuth, Verifier};
use authgent_rig::{AgentTools, McpTools, RunContext};
use rig_agent::AgentBuilder;
use rig_core::test_utils::{MockCompletionModel, MockTurn};
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let issuer = var("AUTHGENT_ISSUER").ok_or("set AUTHGENT_ISSUER to the authorization server")?;
    let endpoint = var("MCP_ENDPOINT").ok_or("set MCP_ENDPOINT to the MCP server's /mcp URL")?;
    let agent_audience = var("AGENT_AUDIENCE").unwrap_or_else(|| "https://agent.example".into());

    // The agent: registered at the issuer, with a DPoP key; tokens only for the MCP server.
    let client = AgentAuthClient::builder(&issuer)
        .dpop_key(DpopKey::generate_es256()?)
        .allow_insecure_http() // loopback in the example's test; https elsewhere
        .build()?;
    let registered = client
        .register_agent(
            &AgentRegistration::new("rig-example-agent").scopes(["search:execute", "db:delete"]),
        )
        .await?;
    let credentials: ClientCredentials = registered.credentials();
    let agent = format!("client:{}", credentials.client_id);
    println!("AGENT={agent}");
    let tokens = TokenManager::builder(client, credentials)
        .resource(&endpoint)
        .allow_insecure_http()
        .build()?;
    // The agent may step up to db:delete when a tool asks for it; no other scope.
    let tools = AgentTools::new(tokens).step_up(ScopeStepUp::new(["db:delete"]));

    // Who the run is for.
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let run = match var("USER_TOKEN") {
        Some(token) => {
            let auth = AgentAuth::builder(
                Verifier::builder()
                    .issuer(&issuer)
                    .audience(&agent_audience)
                    .external_url(&agent_audience)
                    .build()?,
            )
            .build()?;
            let headers = http::HeaderMap::from_iter([(
                http::header::AUTHORIZATION,
                format!("Bearer {token}").parse()?,
            )]);
            let caller = auth
                .authenticate("POST", "/run", &headers)
                .await
                .map_err(|r| format!("USER_TOKEN: {r}"))?
                .caller()
                .map_err(|r| format!("USER_TOKEN: {r}"))?;
            RunContext::on_behalf_of(&caller, &agent)
        }
        None => RunContext::agent_only(&agent),
    };
    let json_lines = (var("AUTHGENT_AUDIT").as_deref() == Some("json")).then(JsonLines::stderr);
    let seen = Arc::clone(&calls);
    let run = run.audit_sink(move |event: &AuditEvent<'_>| {
        if let Some(lines) = &json_lines {
            lines.record(event);
        }
        seen.lock().unwrap_or_else(|p| p.into_inner()).push(format!(
            "CALL {} {} {} subject={} chain={}",
            event.tool.as_deref().unwrap_or("?"),
            event.outcome.as_str(),
            event.status,
            event.subject.as_deref().unwrap_or("-"),
            event.chain.join(" > "),
        ));
    });
    println!(
        "RUN for {} ({})",
        run.subject().unwrap_or("nobody"),
        run.chain().join(" > ")
    );

    // The MCP server's tools, for this run; the scripted model calls three of them.
    let mcp = McpTools::connect(&endpoint, &tools, &run, Some("search:execute")).await?;
    let model = MockCompletionModel::from_turns([
        MockTurn::tool_call("call_1", "whoami", json!({})),
        MockTurn::tool_call("call_2", "search", json!({"query": "invoices"})),
        MockTurn::tool_call("call_3", "delete_records", json!({"table": "scratch"})),
        MockTurn::text("Done: searched the invoices and cleared the scratch table."),
    ]);
    let agent = AgentBuilder::new(model).dynamic_tools(mcp.tools()).build();
    let answer = agent
        .prompt("Find the invoices, then clear the scratch table.")
        .tool_context(run.tool_context())
        .max_turns(6)
        .await?;
    println!("SCOPE {}", mcp.key().scope.unwrap_or_default());
    mcp.close().await;
    for call in calls.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        println!("{call}");
    }
    println!("ANSWER {}", answer.output());
    Ok(())
}
