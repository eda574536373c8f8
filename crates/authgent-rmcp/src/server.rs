//! [`McpAuth`]: an rmcp streamable HTTP service, protected.

use std::convert::Infallible;
use std::time::Duration;

use authgent_core::ConfigError;
use authgent_core::mcp::{ToolPolicy, ToolPolicyBuilder};
use authgent_jwks::{AgentAuth, Guard};
use authgent_tower::{AgentAuthLayer, RequireTools, metadata_response};
use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, any_service, get};
use http::Request;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use tower_service::Service;

use crate::session::SessionBinding;

/// The well-known path of RFC 9728 metadata at the root of a host.
const ROOT_METADATA: &str = "/.well-known/oauth-protected-resource";

/// An MCP endpoint protected by authgent: the [`AgentAuth`] that authenticates every request
/// (audience, DPoP, challenges), the per-tool requirements decided before dispatch, the RFC
/// 9728 document for the endpoint, and sessions bound to their caller.
///
/// The protected resource is the MCP endpoint itself: the `resource` of the [`AgentAuth`]
/// (by default the verifier's audience, e.g. `https://tools.example.com/mcp`) is where
/// [`router`](Self::router) mounts the service, so the URL clients are given, the `resource`
/// of the metadata, the token audience and the DPoP `htu` are one and the same.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use authgent_core::ChainPolicy;
/// use authgent_jwks::{AgentAuth, Guard, Verifier};
/// use authgent_rmcp::McpAuth;
/// use rmcp::transport::streamable_http_server::{StreamableHttpService, session::local::LocalSessionManager};
/// # #[derive(Clone)] struct Tools;
/// # impl rmcp::ServerHandler for Tools {}
///
/// let verifier = Verifier::builder()
///     .issuer("https://auth.example.com")
///     .audience("https://tools.example.com/mcp")   // the MCP endpoint is the resource
///     .external_url("https://tools.example.com")
///     .build()?;
/// let mcp = McpAuth::builder(AgentAuth::builder(verifier).build()?)
///     .tool("search", ["search:execute"])
///     .tool("delete_records", ["db:delete"])
///     .tool_guard("human_only", Guard::chain(ChainPolicy::builder().require_human_root(true).build()))
///     .build()?;
/// let service = StreamableHttpService::new(
///     || Ok(Tools),
///     LocalSessionManager::default().into(),
///     mcp.server_config(),
/// );
/// let app: axum::Router = mcp.router(service);   // /mcp and its RFC 9728 documents
/// # let _ = app; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct McpAuth {
    auth: AgentAuth,
    tools: RequireTools,
    endpoint: String,
    path: String,
    sessions: Option<SessionBinding>,
}

/// Builds [`McpAuth`].
#[derive(Debug)]
#[must_use]
pub struct McpAuthBuilder {
    auth: AgentAuth,
    policy: ToolPolicyBuilder,
    guards: Vec<(Target, String, Guard)>,
    bind_sessions: bool,
    session_capacity: u64,
    session_idle: Duration,
}

/// What a guard is for.
#[derive(Clone, Copy, Debug)]
enum Target {
    Tool,
    Prompt,
    Resource,
}

impl McpAuthBuilder {
    /// `tool` needs every scope in `scopes`: a call without them is refused before dispatch,
    /// `403` with `Bearer error="insufficient_scope", scope="…"` naming all the scopes the
    /// request's tools need, so the client can step up. Tools not named need a valid token.
    pub fn tool<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        tool: impl Into<String>,
        scopes: I,
    ) -> Self {
        self.policy = self.policy.tool(tool, scopes);
        self
    }

    /// The prompt `name` (`prompts/get`) needs every scope in `scopes`, refused before
    /// dispatch like a tool's.
    pub fn prompt<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        name: impl Into<String>,
        scopes: I,
    ) -> Self {
        self.policy = self.policy.prompt(name, scopes);
        self
    }

    /// Resources whose URI matches `pattern` (exact, or a prefix before a trailing `*`) need
    /// every scope in `scopes` to be read or (un)subscribed to.
    pub fn resource<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        pattern: impl Into<String>,
        scopes: I,
    ) -> Self {
        self.policy = self.policy.resource(pattern, scopes);
        self
    }

    /// `tool` also needs `guard` — a chain policy (`403` with its code), a closure, an
    /// active token — checked before dispatch, after its scopes.
    pub fn tool_guard(mut self, tool: impl Into<String>, guard: Guard) -> Self {
        self.guards.push((Target::Tool, tool.into(), guard));
        self
    }

    /// The prompt `name` also needs `guard`, checked before dispatch, after its scopes.
    pub fn prompt_guard(mut self, name: impl Into<String>, guard: Guard) -> Self {
        self.guards.push((Target::Prompt, name.into(), guard));
        self
    }

    /// Resources matching `pattern` also need `guard`, checked before dispatch, after their
    /// scopes.
    pub fn resource_guard(mut self, pattern: impl Into<String>, guard: Guard) -> Self {
        self.guards.push((Target::Resource, pattern.into(), guard));
        self
    }

    /// A scope that covers narrower ones (e.g. `db:admin` covers `db:delete`).
    pub fn covers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        broad: impl Into<String>,
        narrower: I,
    ) -> Self {
        self.policy = self.policy.covers(broad, narrower);
        self
    }

    /// The largest JSON-RPC body read to decide on (default 1 MiB); larger is refused `400`.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.policy = self.policy.max_body(bytes);
        self
    }

    /// Whether sessions are bound to the caller who created them (default: yes). Turn off
    /// only if something in front of this service binds them already.
    pub fn bind_sessions(mut self, bind: bool) -> Self {
        self.bind_sessions = bind;
        self
    }

    /// How many live session bindings are kept (default 100 000) and how long an idle one is
    /// (default 1 hour). A forgotten binding answers `404` and the client starts a new
    /// session.
    pub fn session_limits(mut self, capacity: u64, idle: Duration) -> Self {
        self.session_capacity = capacity;
        self.session_idle = idle;
        self
    }

    /// Checks the configuration: the [`AgentAuth`] must know its resource (the MCP endpoint
    /// URL, from its verifier's audience or [`resource`](authgent_jwks::AgentAuthBuilder::resource))
    /// and serve its RFC 9728 document, which MCP clients need to find the authorization
    /// server.
    pub fn build(self) -> Result<McpAuth, ConfigError> {
        let metadata = self.auth.metadata().ok_or(ConfigError::Required {
            setting: "resource",
            fix: "an MCP endpoint is its own protected resource: give the verifier the endpoint \
                  URL as audience (e.g. https://tools.example.com/mcp) or call \
                  AgentAuth::builder(..).resource(url), and keep the RFC 9728 document on",
        })?;
        let endpoint = metadata.document.resource.clone();
        let path = match metadata.path.strip_prefix(ROOT_METADATA) {
            Some("") | None => "/".to_owned(),
            Some(path) => path.to_owned(),
        };
        let mut tools = RequireTools::new(self.policy.build());
        for (target, name, guard) in self.guards {
            tools = match target {
                Target::Tool => tools.guard(name, guard),
                Target::Prompt => tools.prompt_guard(name, guard),
                Target::Resource => tools.resource_guard(name, guard),
            };
        }
        Ok(McpAuth {
            auth: self.auth,
            tools,
            endpoint,
            path,
            sessions: self
                .bind_sessions
                .then(|| SessionBinding::new(self.session_capacity, self.session_idle)),
        })
    }
}

impl McpAuth {
    /// Protects an endpoint authenticated by `auth`; add tools' requirements, then
    /// [`build`](McpAuthBuilder::build).
    pub fn builder(auth: AgentAuth) -> McpAuthBuilder {
        McpAuthBuilder {
            auth,
            policy: ToolPolicy::builder(),
            guards: Vec::new(),
            bind_sessions: true,
            session_capacity: 100_000,
            session_idle: Duration::from_secs(3600),
        }
    }

    /// The MCP endpoint URL: the protected resource, the RFC 9728 `resource`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The path the service is mounted at (the endpoint URL's path, e.g. `/mcp`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The authentication configuration.
    pub fn auth(&self) -> &AgentAuth {
        &self.auth
    }

    /// rmcp's server configuration with the endpoint's host allowed (rmcp refuses other
    /// `Host` headers, against DNS rebinding; by default it allows loopback names only) next
    /// to loopback. Start from it and adjust.
    pub fn server_config(&self) -> StreamableHttpServerConfig {
        let mut hosts = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        if let Some(authority) = self
            .endpoint
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(rest))
        {
            let host = authority
                .rsplit_once(':')
                .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
                .map_or(authority, |(host, _)| host);
            for name in [authority, host] {
                if !hosts.iter().any(|h| h == name) {
                    hosts.push(name.to_owned());
                }
            }
        }
        StreamableHttpServerConfig::default().with_allowed_hosts(hosts)
    }

    /// An axum router serving `service` (rmcp's `StreamableHttpService`) at [`path`](Self::path)
    /// — every request authenticated, tool calls decided before dispatch, sessions bound —
    /// and the RFC 9728 document at the path-inserted well-known URL (RFC 9728 §3.1) and at
    /// the root form (`/.well-known/oauth-protected-resource`), which MCP clients try next.
    pub fn router<S>(&self, service: S) -> Router
    where
        S: Service<Request<Body>, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse + 'static,
        S::Future: Send + 'static,
    {
        // An event stream ends when its token expires (`stream`).
        let mut mcp: MethodRouter = any_service(service)
            .layer::<_, Infallible>(axum::middleware::from_fn(crate::stream::end_at_expiry));
        if let Some(sessions) = &self.sessions {
            mcp = mcp.layer::<_, Infallible>(axum::middleware::from_fn_with_state(
                sessions.clone(),
                crate::session::bind,
            ));
        }
        let mcp = mcp
            .layer::<_, Infallible>(self.tools.clone())
            .layer::<_, Infallible>(AgentAuthLayer::new(self.auth.clone()));
        let mut router = Router::new()
            .route(&self.path, mcp)
            .merge(authgent_axum::resource_metadata_router(&self.auth));
        if let Some(document) = self.auth.metadata()
            && document.path != ROOT_METADATA
        {
            let document = document.clone();
            router = router.route(
                ROOT_METADATA,
                get(move || {
                    let response = metadata_response::<Body>(&document);
                    async move { response }
                }),
            );
        }
        router
    }
}
