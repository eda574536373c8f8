//! [`RequireTools`]: per-tool scopes and guards of an MCP endpoint, enforced at the HTTP level
//! before the MCP server dispatches anything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::task::{Context, Poll};

use authgent_core::mcp::{McpHeaders, McpRequest, ToolPolicy, header_error_body, resource_matches};
use authgent_core::{AuthgentError, RequestError};
use authgent_jwks::{AuthContext, Guard, Rejection};
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

use crate::response::rejection_response;

/// Guards an MCP endpoint (JSON-RPC over streamable HTTP) with a [`ToolPolicy`] and per-tool
/// [`Guard`]s, after [`AgentAuthLayer`](crate::AgentAuthLayer): each `POST` body is read
/// (bounded by the policy), its calls decided — `403 insufficient_scope` naming every scope the
/// called tools, prompts and resources need, the guard's refusal (a chain policy's 403, a
/// closure's error), `400 invalid_request` for a body it cannot decide on, and `400` with the
/// JSON-RPC error `-32020` (`HeaderMismatch`, as MCP 2026-07-28 requires of a server) for an
/// `Mcp-Method`/`Mcp-Name`/`MCP-Protocol-Version` header sent twice, not visible ASCII, or
/// naming something else than the body — and only then handed to the MCP server, unchanged. `GET` (the event stream) and `DELETE` (end of session) call no tool
/// and pass.
///
/// The request's audit event (target `authgent::audit`, emitted by
/// [`AgentAuthLayer`](crate::AgentAuthLayer) or here for a refusal) names its JSON-RPC methods
/// and the tools, prompts and resources it calls, with the whole delegation chain — never the
/// token. The decision runs in an `authgent.mcp.authorize` span with the OpenTelemetry MCP
/// attributes (`mcp.method.name`, `gen_ai.tool.name`, `gen_ai.prompt.name`,
/// `mcp.resource.uri`).
///
/// ```no_run
/// use authgent_core::{ChainPolicy, mcp::ToolPolicy};
/// use authgent_tower::{Guard, RequireTools};
/// let guard = RequireTools::new(
///     ToolPolicy::builder().tool("delete_records", ["db:delete"]).build(),
/// )
/// .guard("human_only", Guard::chain(ChainPolicy::builder().require_human_root(true).build()));
/// // Router::new().route_service("/mcp", mcp).route_layer(guard).layer(AgentAuthLayer::new(auth))
/// # let _ = guard;
/// ```
#[derive(Clone, Debug)]
pub struct RequireTools {
    rules: Arc<Rules>,
}

#[derive(Clone, Debug)]
struct Rules {
    policy: ToolPolicy,
    /// By tool name.
    guards: BTreeMap<String, Vec<Guard>>,
    /// By prompt name.
    prompt_guards: BTreeMap<String, Vec<Guard>>,
    /// By resource URI pattern (exact, or a prefix before a trailing `*`).
    resource_guards: Vec<(String, Guard)>,
}

impl RequireTools {
    /// The guard for `policy`.
    pub fn new(policy: ToolPolicy) -> Self {
        RequireTools {
            rules: Arc::new(Rules {
                policy,
                guards: BTreeMap::new(),
                prompt_guards: BTreeMap::new(),
                resource_guards: Vec::new(),
            }),
        }
    }

    /// `tool` also needs `guard` (a chain policy, a closure, an active token), checked after
    /// its scopes. A tool may have several; all must pass.
    #[must_use]
    pub fn guard(mut self, tool: impl Into<String>, guard: Guard) -> Self {
        Arc::make_mut(&mut self.rules)
            .guards
            .entry(tool.into())
            .or_default()
            .push(guard);
        self
    }

    /// The prompt `name` (`prompts/get`) also needs `guard`, checked after its scopes.
    #[must_use]
    pub fn prompt_guard(mut self, name: impl Into<String>, guard: Guard) -> Self {
        Arc::make_mut(&mut self.rules)
            .prompt_guards
            .entry(name.into())
            .or_default()
            .push(guard);
        self
    }

    /// Resources whose URI matches `pattern` (exact, or a prefix before a trailing `*`) also
    /// need `guard` to be read or (un)subscribed to, checked after their scopes.
    #[must_use]
    pub fn resource_guard(mut self, pattern: impl Into<String>, guard: Guard) -> Self {
        Arc::make_mut(&mut self.rules)
            .resource_guards
            .push((pattern.into(), guard));
        self
    }

    /// The scope policy.
    pub fn policy(&self) -> &ToolPolicy {
        &self.rules.policy
    }
}

impl<S> Layer<S> for RequireTools {
    type Service = RequireToolsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireToolsService {
            inner,
            rules: Arc::clone(&self.rules),
        }
    }
}

/// The service of [`RequireTools`].
#[derive(Clone, Debug)]
pub struct RequireToolsService<S> {
    inner: S,
    rules: Arc<Rules>,
}

/// The error code audit events and spans give an MCP header refusal (JSON-RPC `-32020`).
const HEADER_MISMATCH_CODE: &str = "header_mismatch";

/// Why a request is not handed to the MCP server.
enum Refusal {
    /// The authorization layer's refusal (OAuth-shaped, with its challenge).
    Auth(Rejection),
    /// An MCP request header that fails validation: `400` with this JSON-RPC error body
    /// (`-32020`, MCP 2026-07-28 streamable HTTP, "Server Validation").
    Header(Vec<u8>),
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Self {
        Refusal::Auth(rejection)
    }
}

impl Refusal {
    fn response<B: From<String>>(self) -> Response<B> {
        match self {
            Refusal::Auth(rejection) => rejection_response(&rejection),
            Refusal::Header(body) => {
                let mut response =
                    Response::new(B::from(String::from_utf8_lossy(&body).into_owned()));
                *response.status_mut() = http::StatusCode::BAD_REQUEST;
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                response
            }
        }
    }
}

/// The verdict on one request's body.
async fn decide(
    rules: &Rules,
    context: &AuthContext,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<McpRequest, Refusal> {
    let values =
        |name: &str| -> Vec<&[u8]> { headers.get_all(name).iter().map(|v| v.as_bytes()).collect() };
    let request = McpHeaders::from_values(
        &values("mcp-method"),
        &values("mcp-name"),
        &values("mcp-protocol-version"),
    )
    .and_then(|mcp| rules.policy.inspect_request(body, &mcp))
    .map_err(|e| match header_error_body(&e, body) {
        Some(answer) => {
            context.record_refusal(400, HEADER_MISMATCH_CODE, Some(e.to_string()));
            Refusal::Header(answer)
        }
        None => Refusal::Auth(context.reject(e.into())),
    })?;
    context.record_mcp(&request);
    record_target(&request);
    let granted: &[String] = context.identity().map_or(&[], |i| i.scopes());
    match rules.policy.check(&request, granted) {
        Ok(()) => {}
        Err(_) if context.identity().is_none() => {
            return Err(context.reject(AuthgentError::MissingCredentials).into());
        }
        Err(e) => return Err(context.reject(e.into()).into()),
    }
    // Each guard once, however often the batch names its target (linear in the batch).
    let tools: BTreeSet<&str> = request.tools.iter().map(String::as_str).collect();
    for tool in tools {
        for guard in rules.guards.get(tool).into_iter().flatten() {
            context.check(guard).await?;
        }
    }
    let prompts: BTreeSet<&str> = request.prompts.iter().map(String::as_str).collect();
    for prompt in prompts {
        for guard in rules.prompt_guards.get(prompt).into_iter().flatten() {
            context.check(guard).await?;
        }
    }
    let uris: BTreeSet<&str> = request.resources.iter().map(String::as_str).collect();
    for (pattern, guard) in &rules.resource_guards {
        if uris.iter().any(|uri| resource_matches(pattern, uri)) {
            context.check(guard).await?;
        }
    }
    Ok(request)
}

/// The OpenTelemetry MCP attributes (semantic-conventions-genai v0.1.0, "MCP") of a request
/// with one message on the current `authgent.mcp.authorize` span: `mcp.method.name` and the
/// target (`gen_ai.tool.name`, `gen_ai.prompt.name`, `mcp.resource.uri`).
fn record_target(request: &McpRequest) {
    let span = tracing::Span::current();
    if span.is_disabled() || request.methods.len() != 1 {
        return;
    }
    span.record("mcp.method.name", request.methods[0].as_str());
    if let Some(tool) = request.tools.first() {
        span.record("gen_ai.tool.name", tool.as_str());
    }
    if let Some(prompt) = request.prompts.first() {
        span.record("gen_ai.prompt.name", prompt.as_str());
    }
    if let Some(uri) = request.resources.first() {
        span.record("mcp.resource.uri", uri.as_str());
    }
}

/// The `authgent.mcp.authorize` span of one request.
fn authorize_span() -> tracing::Span {
    tracing::info_span!(target: "authgent::mcp", "authgent.mcp.authorize",
        "mcp.method.name" = tracing::field::Empty,
        "gen_ai.tool.name" = tracing::field::Empty,
        "gen_ai.prompt.name" = tracing::field::Empty,
        "mcp.resource.uri" = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
        "otel.status_code" = tracing::field::Empty)
}

impl<S, B, ResBody> Service<Request<B>> for RequireToolsService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = crate::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut inner = crate::take_ready(&mut self.inner);
        let rules = Arc::clone(&self.rules);
        Box::pin(async move {
            if request.method() != Method::POST {
                return inner.call(request).await;
            }
            let (parts, body) = request.into_parts();
            let Some(context) = parts.extensions.get::<AuthContext>().cloned() else {
                let rejection =
                    Rejection::missing_authentication("RequireTools", crate::MISSING_LAYER_FIX);
                return Ok(rejection_response(&rejection));
            };
            let bytes = match Limited::new(body, rules.policy.max_body()).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    let error = RequestError::InvalidMcpRequest(
                        "the body could not be read within the size limit",
                    );
                    return Ok(rejection_response(&context.reject(error.into())));
                }
            };
            let span = authorize_span();
            let verdict = decide(&rules, &context, &parts.headers, &bytes)
                .instrument(span.clone())
                .await;
            if let Err(refusal) = verdict {
                let code = match &refusal {
                    Refusal::Auth(rejection) => rejection.code(),
                    Refusal::Header(_) => HEADER_MISMATCH_CODE,
                };
                span.record("error.type", code);
                span.record("otel.status_code", "error");
                return Ok(refusal.response());
            }
            inner.call(Request::from_parts(parts, B::from(bytes))).await
        })
    }
}
