//! Issue 28: a rig agent (rig's scripted completion model: fixed tool calls, no network) calls
//! the tools of an authgent-protected MCP server (rmcp 3) for its user, against the real
//! authgent-server: the server sees the user as the subject and the agent as the current
//! actor, the user's token never reaches it, a tool needing a wider scope steps up within the
//! agent's policy, and each call is an audit event.

mod common;

use std::sync::{Arc, Mutex};

use authgent_client::{AgentAuthClient, ClientCredentials, ScopeStepUp, TokenManager};
use authgent_harness::real_server::RealServer;
use authgent_jwks::audit::AuditEvent;
use authgent_jwks::{AgentAuth, Verifier};
use authgent_rig::{AgentTools, McpTools, RunContext};
use authgent_rmcp::{AgentIdentity, McpAuth};
use common::alice_calls_the_agent_service;
use rig_agent::AgentBuilder;
use rig_core::test_utils::{MockCompletionModel, MockTurn};
use rmcp::model::{CallToolResult, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde_json::json;

/// Every `Authorization` header the MCP server received.
type Seen = Arc<Mutex<Vec<String>>>;

#[derive(Clone)]
struct Tools;

fn who(caller: &AgentIdentity) -> CallToolResult {
    let chain = caller.delegation_chain();
    CallToolResult::structured(json!({
        "subject": caller.subject(),
        "current_actor": chain.current_actor().map(|a| a.subject()),
        "scopes": caller.scopes(),
    }))
}

#[tool_router]
impl Tools {
    #[tool(description = "who is calling")]
    async fn whoami(&self, caller: AgentIdentity) -> CallToolResult {
        who(&caller)
    }

    #[tool(description = "purge the records (needs db:delete)")]
    async fn purge(&self, caller: AgentIdentity) -> CallToolResult {
        who(&caller)
    }
}

#[tool_handler]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// The MCP server: trusts the real server, endpoint `…/mcp` is the audience; `whoami` needs
/// `search:execute`, `purge` `db:delete`.
async fn mcp_server(real: &RealServer) -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let endpoint = format!("{base}/mcp");
    let auth = AgentAuth::builder(
        Verifier::builder()
            .issuer(&real.url)
            .audience(&endpoint)
            .external_url(&base)
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    let mcp = McpAuth::builder(auth)
        .tool("whoami", ["search:execute"])
        .tool("purge", ["db:delete"])
        .build()
        .unwrap();
    let service = StreamableHttpService::new(
        || Ok(Tools),
        LocalSessionManager::default().into(),
        mcp.server_config(),
    );
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let app = mcp.router(service).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let record = Arc::clone(&record);
            async move {
                if let Some(v) = request.headers().get("authorization") {
                    record
                        .lock()
                        .unwrap()
                        .push(v.to_str().unwrap_or_default().to_owned());
                }
                next.run(request).await
            }
        },
    ));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (endpoint, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_a_rig_agent_calls_mcp_tools_for_its_user_and_steps_up_in_policy() {
    let real = RealServer::default_instance();
    let (endpoint, seen) = mcp_server(&real).await;

    // alice, verified by the agent's service.
    let (user_token, caller) = alice_calls_the_agent_service(&real).await;

    let agent = real.register(&["search:execute", "db:delete"]).await;
    let client = AgentAuthClient::new(&real.url).unwrap();
    let tokens = TokenManager::builder(
        client,
        ClientCredentials::new(&agent.client_id, agent.client_secret.clone()),
    )
    .resource(&endpoint)
    .allow_insecure_http()
    .build()
    .unwrap();
    let tools = AgentTools::new(tokens).step_up(ScopeStepUp::new(["db:delete"]));
    let events: Arc<Mutex<Vec<AuditEvent<'static>>>> = Arc::default();
    let sink = Arc::clone(&events);
    let run = RunContext::on_behalf_of(&caller, agent.subject()).audit_sink(
        move |event: &AuditEvent<'_>| sink.lock().unwrap().push(event.clone().into_owned()),
    );

    let mcp = McpTools::connect(&endpoint, &tools, &run, Some("search:execute"))
        .await
        .unwrap();
    let mut names: Vec<String> = mcp.tools().iter().map(|t| t.name().to_string()).collect();
    names.sort();
    assert_eq!(names, ["purge", "whoami"]);

    let model = MockCompletionModel::from_turns([
        MockTurn::tool_call("call_1", "whoami", json!({})),
        MockTurn::tool_call("call_2", "purge", json!({})),
        MockTurn::text("done"),
    ]);
    let recorded = model.clone();
    let rig_agent = AgentBuilder::new(model).dynamic_tools(mcp.tools()).build();
    rig_agent
        .prompt("who am I, then purge")
        .tool_context(run.tool_context())
        .max_turns(5)
        .await
        .unwrap();
    assert_eq!(
        mcp.key().scope.as_deref(),
        Some("search:execute db:delete"),
        "stepped up within policy"
    );
    mcp.close().await;

    // What the tools answered, as the model got it: alice as subject, the agent acting.
    let requests = format!("{:?}", recorded.requests());
    assert!(requests.contains("user:alice"), "{requests}");
    assert!(requests.contains(&agent.subject()), "{requests}");
    let events = events.lock().unwrap().clone();
    let calls: Vec<(Option<&str>, Option<&str>)> = events
        .iter()
        .map(|e| (e.tool.as_deref(), e.error.as_deref()))
        .collect();
    assert_eq!(
        calls,
        [(Some("whoami"), None), (Some("purge"), None)],
        "{events:?}"
    );
    assert_eq!(events[1].subject.as_deref(), Some("user:alice"));
    assert_eq!(events[1].resource.as_deref(), Some(endpoint.as_str()));
    for authorization in seen.lock().unwrap().iter() {
        assert!(
            !authorization.contains(&user_token),
            "the user's token reached the MCP server"
        );
    }
}
