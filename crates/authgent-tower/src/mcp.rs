//! [`RequireTools`]: per-tool scopes of an MCP endpoint, enforced at the HTTP level before the
//! MCP server dispatches anything.

use std::sync::Arc;
use std::task::{Context, Poll};

use authgent_core::mcp::ToolPolicy;
use authgent_core::{AuthgentError, RequestError};
use authgent_jwks::{AuthContext, Rejection};
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use tower_layer::Layer;
use tower_service::Service;

use crate::response::rejection_response;

/// Guards an MCP endpoint (JSON-RPC over streamable HTTP) with a [`ToolPolicy`], after
/// [`AgentAuthLayer`](crate::AgentAuthLayer): each `POST` body is read (bounded by the
/// policy), its calls decided — `403 insufficient_scope` naming every scope the called tools
/// need, `400` for a body or `Mcp-Method`/`Mcp-Name` header it cannot decide on — and only then
/// handed to the MCP server, unchanged. `GET` (the event stream) and `DELETE` (end of session)
/// call no tool and pass.
///
/// ```no_run
/// use authgent_core::mcp::ToolPolicy;
/// let guard = authgent_tower::RequireTools::new(
///     ToolPolicy::builder().tool("delete_records", ["db:delete"]).build(),
/// );
/// // Router::new().nest_service("/mcp", mcp).route_layer(guard).layer(AgentAuthLayer::new(auth))
/// # let _ = guard;
/// ```
#[derive(Clone, Debug)]
pub struct RequireTools {
    policy: Arc<ToolPolicy>,
}

impl RequireTools {
    /// The guard for `policy`.
    pub fn new(policy: ToolPolicy) -> Self {
        RequireTools {
            policy: Arc::new(policy),
        }
    }
}

impl<S> Layer<S> for RequireTools {
    type Service = RequireToolsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireToolsService {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// The service of [`RequireTools`].
#[derive(Clone, Debug)]
pub struct RequireToolsService<S> {
    inner: S,
    policy: Arc<ToolPolicy>,
}

/// The verdict on one request's body: the body back, or the refusal.
fn decide(
    policy: &ToolPolicy,
    context: &AuthContext,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), Rejection> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let request = policy
        .inspect(body, header("mcp-method"), header("mcp-name"))
        .map_err(|e| context.reject(e.into()))?;
    let granted: &[String] = context.identity().map_or(&[], |i| i.scopes());
    match policy.check(&request, granted) {
        Ok(()) => Ok(()),
        Err(_) if context.identity().is_none() => {
            Err(context.reject(AuthgentError::MissingCredentials))
        }
        Err(e) => Err(context.reject(e.into())),
    }
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
        let policy = Arc::clone(&self.policy);
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
            let bytes = match Limited::new(body, policy.max_body()).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    let error = RequestError::InvalidMcpRequest(
                        "the body could not be read within the size limit",
                    );
                    return Ok(rejection_response(&context.reject(error.into())));
                }
            };
            if let Err(rejection) = decide(&policy, &context, &parts.headers, &bytes) {
                return Ok(rejection_response(&rejection));
            }
            inner.call(Request::from_parts(parts, B::from(bytes))).await
        })
    }
}
