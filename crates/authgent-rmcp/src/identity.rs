//! The caller inside a tool handler: [`AgentIdentity`] as a plain parameter, and
//! [`tool_span`] for the tool's logs.

use std::fmt;
use std::ops::Deref;

use authgent_jwks::{AuthContext, Caller};
use rmcp::ErrorData;
use rmcp::handler::server::common::{AsRequestContext, FromContextPart};
use rmcp::service::{RequestContext, RoleServer};

/// The verified caller of a tool, as a tool handler parameter: rmcp hands each request's
/// `http::request::Parts` to the handler, and [`McpAuth`](crate::McpAuth) put the request's
/// [`AuthContext`] there. Derefs to [`Caller`] and through it to
/// [`authgent_core::AgentIdentity`] (`subject()`, `scopes()`, `delegation_chain()`,
/// `dpop_jkt()`, …).
///
/// A tool asking for it on a request that carried no credentials (an endpoint in optional
/// mode) answers the JSON-RPC error `invalid_request` ("authentication required"); on a
/// service not mounted with [`McpAuth::router`](crate::McpAuth::router), `internal_error`
/// naming the fix. Neither ever runs the tool.
///
/// ```
/// use authgent_rmcp::AgentIdentity;
/// use rmcp::{tool, tool_router, handler::server::tool::ToolRouter};
///
/// #[derive(Clone)]
/// struct Tools { tool_router: ToolRouter<Self> }
///
/// #[tool_router]
/// impl Tools {
///     #[tool(description = "Who is calling, through which chain")]
///     async fn whoami(&self, caller: AgentIdentity) -> String {
///         let chain = caller.delegation_chain();
///         format!("{} via {} hop(s)", caller.subject(), chain.depth())
///     }
/// }
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct AgentIdentity(pub Caller);

impl fmt::Debug for AgentIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Deref for AgentIdentity {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

/// What to do when a tool finds no authentication on its request.
pub(crate) const MISSING_FIX: &str = "authgent: this MCP request was not authenticated by authgent; \
     mount the service with authgent_rmcp::McpAuth::router(service)";

/// The [`AuthContext`] of the request a tool runs for, if authgent authenticated it.
pub fn auth_context(context: &RequestContext<RoleServer>) -> Option<&AuthContext> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<AuthContext>())
}

/// The caller of the request a tool runs for; the JSON-RPC error to answer otherwise.
pub fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
    let auth = auth_context(context).ok_or_else(|| ErrorData::internal_error(MISSING_FIX, None))?;
    auth.caller()
        .map_err(|_| ErrorData::invalid_request("authentication required", None))
}

impl<C: AsRequestContext> FromContextPart<C> for AgentIdentity {
    fn from_context_part(context: &mut C) -> Result<Self, ErrorData> {
        caller(context.as_request_context()).map(AgentIdentity)
    }
}

/// A span for one tool call, so whatever the tool logs carries the delegation chain (never the
/// token). It follows the OpenTelemetry MCP server span (semantic-conventions-genai v0.1.0):
/// named `tools/call {tool}` (`otel.name`), kind server, with `mcp.method.name`,
/// `gen_ai.tool.name` and `jsonrpc.request.id`; and the caller: `enduser.id` (the subject),
/// `authgent.client_id`, `authgent.delegation.actor` (the current actor) and
/// `authgent.delegation.depth`. Its parent is the HTTP request's span (the one the request was
/// authenticated in, [`AuthContext::request_span`]), though rmcp runs the tool on another
/// task. Wrap the dispatch in it in your `call_tool`:
///
/// ```
/// use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
/// use rmcp::handler::server::tool::{ToolCallContext, ToolRouter};
/// use rmcp::model::{CallToolRequestParams, CallToolResponse};
/// use rmcp::service::{RequestContext, RoleServer};
/// use tracing::Instrument;
///
/// #[derive(Clone)]
/// struct Tools { tool_router: ToolRouter<Self> }
/// #[tool_router]
/// impl Tools {
///     #[tool(description = "Who is calling")]
///     async fn whoami(&self, caller: authgent_rmcp::AgentIdentity) -> String {
///         caller.subject().to_owned()
///     }
/// }
///
/// #[tool_handler(router = self.tool_router)]
/// impl ServerHandler for Tools {
///     async fn call_tool(
///         &self,
///         request: CallToolRequestParams,
///         context: RequestContext<RoleServer>,
///     ) -> Result<CallToolResponse, ErrorData> {
///         let span = authgent_rmcp::tool_span(&request.name, &context);
///         let call = ToolCallContext::new(self, request, context);
///         self.tool_router.call(call).instrument(span).await
///     }
/// }
/// ```
pub fn tool_span(tool: &str, context: &RequestContext<RoleServer>) -> tracing::Span {
    let auth = auth_context(context);
    let parent = auth
        .map(AuthContext::request_span)
        .filter(|span| !span.is_none())
        .map_or_else(tracing::Span::current, tracing::Span::clone);
    let span = tracing::info_span!(
        target: "authgent::mcp",
        parent: &parent,
        "mcp.tool_call",
        "otel.name" = %format_args!("tools/call {tool}"),
        "otel.kind" = "server",
        "mcp.method.name" = "tools/call",
        "gen_ai.tool.name" = %tool,
        "jsonrpc.request.id" = %context.id,
        "enduser.id" = tracing::field::Empty,
        "authgent.client_id" = tracing::field::Empty,
        "authgent.delegation.actor" = tracing::field::Empty,
        "authgent.delegation.depth" = tracing::field::Empty,
    );
    if let Some(id) = auth.and_then(AuthContext::identity)
        && !span.is_disabled()
    {
        authgent_jwks::audit::record_identity(&span, id);
    }
    span
}
