//! An agent calling MCP tools through rmcp's own client, with authgent supplying the
//! credentials: it finds the authorization server from the MCP server's 401 (RFC 9728, then
//! RFC 8414 with the issuer checked), gets a DPoP-bound token for the MCP endpoint, lists and
//! calls tools, and steps up when a tool answers `403 insufficient_scope`.
//!
//! ```text
//! cargo xtask serve                                   # a real authgent-server (prints its URL)
//! AUTHGENT_ISSUER=http://127.0.0.1:8000 BIND=127.0.0.1:3000 cargo run -p mcp-server
//! AUTHGENT_SERVER_URL=http://127.0.0.1:8000 MCP_URL=http://127.0.0.1:3000/mcp \
//!     cargo run -p authgent-rmcp --features client --example mcp_agent
//! ```

use authgent_client::{
    AgentAuthClient, AgentRegistration, ClientCredentials, ScopeStepUp, TokenKey, TokenManager,
    resource_metadata_url,
};
use authgent_core::dpop::DpopKey;
use authgent_rmcp::client::AuthgentHttpClient;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

/// The walk-through against the authorization server `server` and the MCP endpoint `mcp`,
/// returning what it printed (the tests run it too), as a client of the session protocol
/// (`initialize`).
pub async fn run(server: &str, mcp: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    run_with(server, mcp, ClientLifecycleMode::Initialize).await
}

/// [`run`] with the client's lifecycle: `Initialize` (2025-11-25 and before, a session) or
/// `Discover` (2026-07-28: `server/discover`, then self-contained requests, no session).
pub async fn run_with(
    server: &str,
    mcp: &str,
    lifecycle: ClientLifecycleMode,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (auth, mut said) = discover(server, mcp).await?;
    // 2. An agent with both scopes registered, but asking for the narrow one first.
    let agent = auth
        .register_agent(
            &AgentRegistration::new("mcp-example-agent").scopes(["search:execute", "db:delete"]),
        )
        .await?;
    said.extend(call_tools(auth, agent.credentials(), mcp, lifecycle).await?);
    Ok(said)
}

/// [`run_with`] for an agent the authorization server already knows (`credentials`), for
/// servers without authgent's agent registration.
pub async fn run_as(
    server: &str,
    mcp: &str,
    credentials: ClientCredentials,
    lifecycle: ClientLifecycleMode,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (auth, mut said) = discover(server, mcp).await?;
    said.extend(call_tools(auth, credentials, mcp, lifecycle).await?);
    Ok(said)
}

/// 1. Discovery: the MCP server's 401 names its RFC 9728 document; the document names the
///    authorization server, which must be `server` (its metadata, issuer checked).
async fn discover(
    server: &str,
    mcp: &str,
) -> Result<(AgentAuthClient, Vec<String>), Box<dyn std::error::Error>> {
    let probe = reqwest::Client::new()
        .post(mcp)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{}")
        .send()
        .await?;
    let hint = resource_metadata_url(probe.status(), probe.headers())
        .ok_or("the MCP server's 401 names no resource_metadata")?;
    let auth = AgentAuthClient::builder(server)
        .dpop_key(DpopKey::generate_es256()?)
        .build()?;
    let document = auth.discover_resource(mcp, Some(&hint)).await?;
    auth.discover().await?;
    let said = format!(
        "discovered {} -> {:?}, scopes {:?}",
        document.resource, document.authorization_servers, document.scopes_supported
    );
    Ok((auth, vec![said]))
}

/// 2–4. A token for the endpoint with the narrow scope, rmcp's client with authgent's HTTP
/// client, the tools, and a step-up.
async fn call_tools(
    auth: AgentAuthClient,
    credentials: ClientCredentials,
    mcp: &str,
    lifecycle: ClientLifecycleMode,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut said = Vec::new();
    let tokens = TokenManager::builder(auth, credentials)
        .scope("search:execute")
        .resource(mcp)
        .allow_insecure_http() // the walk-through runs on loopback http
        .build()?;
    let key = TokenKey::new(Some("search:execute"), Some(mcp));
    let http = AuthgentHttpClient::new(tokens, key)
        .step_up(ScopeStepUp::new(["search:execute", "db:delete"]));

    // 3. rmcp's client over streamable HTTP, with authgent's HTTP client.
    let transport = StreamableHttpClientTransport::with_client(
        http.clone(),
        StreamableHttpClientTransportConfig::with_uri(mcp),
    );
    let client = ().serve_with_lifecycle(transport, lifecycle).await?;
    let tools = client.list_all_tools().await?;
    let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    said.push(format!("tools: {}", names.join(", ")));

    let whoami = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await?;
    let me = whoami.structured_content.unwrap_or_default();
    said.push(format!(
        "whoami: {} with {} (DPoP-bound: {})",
        me["subject"].as_str().unwrap_or("?"),
        me["scopes"],
        me["dpop_jkt"].is_string()
    ));

    // 4. A tool needing db:delete: 403 insufficient_scope, step-up, retry — one call here.
    let mut arguments = serde_json::Map::new();
    arguments.insert("table".into(), "scratch".into());
    let deleted = client
        .call_tool(CallToolRequestParams::new("delete_records").with_arguments(arguments))
        .await?;
    let result = deleted.structured_content.unwrap_or_default();
    said.push(format!(
        "delete_records after step-up: deleted {} with {}",
        result["deleted"], result["scopes"]
    ));
    said.push(format!("token scope now: {:?}", http.key().scope));
    client.cancel().await?;
    Ok(said)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |k: &str| std::env::var(k).map_err(|_| format!("set {k}"));
    for line in run(&var("AUTHGENT_SERVER_URL")?, &var("MCP_URL")?).await? {
        #[allow(clippy::print_stdout)]
        {
            println!("{line}");
        }
    }
    Ok(())
}
