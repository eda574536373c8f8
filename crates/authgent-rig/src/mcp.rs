//! [`McpTools`]: the tools of an authgent-protected MCP server as rig tools, for one run.
//!
//! rig's own MCP adapter (`rig-rmcp` 0.44) is built on rmcp 2, and authgent's MCP client
//! ([`AuthgentHttpClient`]) on rmcp 3, the SDK this workspace serves and calls MCP with: the
//! two cannot be plugged together. This is the same idea on rmcp 3: the server's tools, listed
//! once, each a rig [`DynamicTool`] whose calls go through `AuthgentHttpClient`.

use std::sync::Arc;

use authgent_client::TokenKey;
use authgent_rmcp::client::AuthgentHttpClient;
use rig_core::message::ToolName;
use rig_core::tool::{DynamicTool, ToolContext, ToolExecutionError, ToolOutput};
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService, ServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use crate::http::record_call;
use crate::{AgentTools, RunContext, ToolError};

type Client = Arc<RunningService<RoleClient, ()>>;

/// An authgent-protected MCP server's tools, as rig tools, for one run: its requests carry a
/// token for the server's endpoint — exchanged from the run's caller's token (the server sees
/// the caller as the subject and this agent as the current actor; the caller's token is never
/// sent) or the agent's own for an agent-only run — DPoP-bound when the agent has a key,
/// stepped up within the agent's policy. Each tool call is an audit event.
///
/// The session belongs to the run: connect per run, add [`Self::tools`] to the agent that
/// serves it, and [`close`](Self::close) it when the run is over.
///
/// ```no_run
/// # async fn run(tools: authgent_rig::AgentTools, run: authgent_rig::RunContext, model: rig_core::DynModel<rig_core::operation::Completion>) -> Result<(), authgent_rig::ToolError> {
/// use authgent_rig::McpTools;
/// let mcp = McpTools::connect("https://tools.example.com/mcp", &tools, &run, Some("search:execute")).await?;
/// let agent = rig_agent::AgentBuilder::new(model).dynamic_tools(mcp.tools()).build();
/// let answer = agent.prompt("find the open tickets").tool_context(run.tool_context()).await;
/// mcp.close().await;
/// # let _ = answer; Ok(()) }
/// ```
#[derive(Debug)]
pub struct McpTools {
    client: Client,
    tools: Vec<DynamicTool>,
    http: AuthgentHttpClient,
}

impl McpTools {
    /// Connects to the MCP server at `endpoint` (its resource identifier: the tokens'
    /// audience) for `run`, asking for `scope` first, and lists its tools.
    pub async fn connect(
        endpoint: &str,
        tools: &AgentTools,
        run: &RunContext,
        scope: Option<&str>,
    ) -> Result<Self, ToolError> {
        let key = match run.subject_token() {
            Some(token) => TokenKey::on_behalf(token.expose(), endpoint, scope),
            None => TokenKey::new(scope, Some(endpoint)),
        };
        let http = AuthgentHttpClient::new(tools.tokens().clone(), key)
            .step_up(tools.step_up_rule().clone());
        let transport = StreamableHttpClientTransport::with_client(
            http.clone(),
            StreamableHttpClientTransportConfig::with_uri(endpoint),
        );
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            ToolError::tool(format!("MCP server {endpoint}: {what}: {e}"))
        };
        let client = ().serve(transport).await.map_err(|e| failed("connect", &e))?;
        let listed = client
            .list_all_tools()
            .await
            .map_err(|e| failed("tools/list", &e))?;
        let client: Client = Arc::new(client);
        let tools = listed
            .into_iter()
            .filter_map(|tool| dynamic(&client, endpoint, tool))
            .collect();
        Ok(McpTools {
            client,
            tools,
            http,
        })
    }

    /// The server's tools, as rig tools.
    pub fn tools(&self) -> Vec<DynamicTool> {
        self.tools.clone()
    }

    /// The token key requests are sent with now (its scope wider after a step-up).
    pub fn key(&self) -> TokenKey {
        self.http.key()
    }

    /// Ends the session.
    pub async fn close(self) {
        if let Ok(client) = Arc::try_unwrap(self.client) {
            let _ = client.cancel().await;
        }
    }
}

/// One MCP tool as a rig tool calling it on `client`.
fn dynamic(client: &Client, endpoint: &str, tool: rmcp::model::Tool) -> Option<DynamicTool> {
    let name = ToolName::new(tool.name.to_string()).ok()?;
    let description = tool.description.as_deref().unwrap_or_default().to_owned();
    let parameters = serde_json::Value::Object((*tool.input_schema).clone());
    let tool_name: Arc<str> = Arc::from(tool.name.as_ref());
    let client = Arc::clone(client);
    let endpoint: Arc<str> = Arc::from(endpoint);
    Some(DynamicTool::new_with_context(
        name,
        description,
        parameters,
        move |context: &mut ToolContext, arguments: serde_json::Value| {
            let run = RunContext::of(context);
            let client = Arc::clone(&client);
            let (tool_name, endpoint) = (Arc::clone(&tool_name), Arc::clone(&endpoint));
            Box::pin(async move {
                let mut params = CallToolRequestParams::new(tool_name.to_string());
                if let serde_json::Value::Object(arguments) = arguments {
                    params = params.with_arguments(arguments);
                }
                let answer = client.call_tool(params).await;
                let (status, error) = match &answer {
                    Ok(result) if result.is_error != Some(true) => (200, None),
                    Ok(_) => (200, Some("tool_error".to_owned())),
                    Err(e) => (0, Some(e.to_string())),
                };
                record_call(
                    run.as_deref(),
                    &tool_name,
                    &endpoint,
                    None,
                    status,
                    error.clone(),
                );
                let result = answer.map_err(|e| {
                    ToolExecutionError::refused(format!("MCP tool {tool_name}: {e}"))
                })?;
                Ok(match result.structured_content {
                    Some(value) => ToolOutput::json(value),
                    None => {
                        ToolOutput::json(serde_json::to_value(&result.content).unwrap_or_default())
                    }
                })
            })
        },
    ))
}
