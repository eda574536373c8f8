//! An MCP server on rmcp whose tools are protected by authgent, following `EXAMPLES.md`
//! ("The MCP server example").
//!
//! ```sh
//! cargo run -p mcp-server -- --embedded          # with a built-in test issuer
//! AUTHGENT_ISSUER=http://127.0.0.1:8000 cargo run -p mcp-server
//! ```
//!
//! The protected resource is the MCP endpoint, `PUBLIC_URL/mcp`: tokens must be issued for it
//! (`aud`), its RFC 9728 document is at `/.well-known/oauth-protected-resource/mcp`, and each
//! tool's scopes are decided before the tool runs — a call without them is a `403
//! insufficient_scope` an MCP client can step up from.

use authgent_rmcp::{AgentIdentity, McpAuth};
use axum::routing::get;
use axum::{Json, Router};
use example_support::{Settings, health_json, identity_json};
use rmcp::handler::server::tool::{ToolCallContext, ToolRouter};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult, ListResourcesResult,
    PaginatedRequestParams, Prompt, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, Role, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument;

/// The prompt (scope `search:execute`) and the resource (scope `db:delete`) of EXAMPLES.md.
const SUMMARY: &str = "summary";
const NOTES: &str = "notes://private";

#[derive(Deserialize, schemars::JsonSchema)]
struct SearchArgs {
    /// What to search for.
    query: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct DeleteArgs {
    /// The table whose records to delete.
    table: String,
}

/// The tools. Each takes the caller as a parameter: rmcp hands every request's HTTP parts to
/// the handler, and authgent put the verified identity there.
#[derive(Clone)]
struct Tools {
    tool_router: ToolRouter<Self>,
}

fn result(value: Value) -> CallToolResult {
    CallToolResult::structured(value)
}

fn with(caller: &AgentIdentity, key: &str, value: String) -> Value {
    let mut json = identity_json(caller);
    json[key] = Value::String(value);
    json
}

#[tool_router]
impl Tools {
    fn new() -> Self {
        Tools {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Who is calling: subject, scopes and delegation chain")]
    async fn whoami(&self, caller: AgentIdentity) -> CallToolResult {
        result(identity_json(&caller))
    }

    #[tool(description = "Search (needs scope search:execute)")]
    async fn search(
        &self,
        caller: AgentIdentity,
        Parameters(args): Parameters<SearchArgs>,
    ) -> CallToolResult {
        tracing::info!(query = %args.query, "searching");
        result(with(&caller, "query", args.query))
    }

    #[tool(description = "Delete a table's records (needs scope db:delete)")]
    async fn delete_records(
        &self,
        caller: AgentIdentity,
        Parameters(args): Parameters<DeleteArgs>,
    ) -> CallToolResult {
        tracing::info!(table = %args.table, "deleting");
        result(with(&caller, "deleted", args.table))
    }

    #[tool(description = "Only for delegation chains rooted in a human")]
    async fn human_only(&self, caller: AgentIdentity) -> CallToolResult {
        result(identity_json(&caller))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .build();
        ServerConfig::new(capabilities).with_server_info(Implementation::new(
            "authgent-mcp-example",
            env!("CARGO_PKG_VERSION"),
        ))
    }

    // One prompt and one resource, under the same policy as the tools (scopes in `main`).
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let summary = Prompt::new(SUMMARY, Some("A summary of the caller's work"), None);
        Ok(ListPromptsResult::with_all_items(vec![summary]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != SUMMARY {
            return Err(ErrorData::invalid_params("no such prompt", None));
        }
        let caller = authgent_rmcp::caller(&context)?;
        let text = format!("Summarise the recent work done for {}.", caller.subject());
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let notes = Resource::new(NOTES, "private notes");
        Ok(ListResourcesResult::with_all_items(vec![notes]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != NOTES {
            // SEP-2164: the error names the URI it did not find.
            let data = serde_json::json!({ "uri": request.uri });
            return Err(ErrorData::resource_not_found(
                "no such resource",
                Some(data),
            ));
        }
        let contents = ResourceContents::text("the private notes", NOTES);
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    // Each call runs in a span naming the caller, its current actor and the chain depth, so
    // what the tool logs lands in the audit trail with the delegation chain.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let span = authgent_rmcp::tool_span(&request.name, &context);
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).instrument(span).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let listener = tokio::net::TcpListener::bind(&settings.bind).await?;
    let bound = listener.local_addr()?;
    // The resource (and default audience) is PUBLIC_URL/mcp; every request needs a token.
    let resource = example_support::prepare_mcp(&settings, bound).await?;

    let [search, delete] = example_support::SCOPES;
    let mcp = McpAuth::builder(resource.auth.clone())
        .tool("search", [search])
        .tool("delete_records", [delete])
        .prompt(SUMMARY, [search])
        .resource(NOTES, [delete])
        .tool_guard(
            "human_only",
            authgent_rmcp::Guard::chain(example_support::human_chain()),
        )
        .build()?;
    let service = StreamableHttpService::new(
        || Ok(Tools::new()),
        LocalSessionManager::default().into(),
        mcp.server_config(),
    );
    let app = mcp
        .router(service)
        .merge(Router::new().route("/health", get(|| async { Json(health_json()) })));

    example_support::announce(bound);
    axum::serve(listener, app)
        .with_graceful_shutdown(example_support::shutdown_signal())
        .await?;
    Ok(())
}
