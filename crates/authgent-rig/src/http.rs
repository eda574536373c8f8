//! [`AgentTools`] and [`ToolHttp`]: the requests a tool sends, each with a token for its
//! service.

use std::fmt;
use std::sync::Arc;

use authgent_client::{ClientError, ScopeChallenge, ScopeStepUp, TokenKey, TokenManager};
use authgent_core::audit::{AuditEvent, Outcome};
use authgent_core::challenge::Challenge;
use reqwest::{RequestBuilder, Response};

use crate::RunContext;

/// The agent's side of authgent for its tools: its credentials and DPoP key (a
/// [`TokenManager`]) and the scopes it may step up to when a service answers
/// `403 insufficient_scope` (none by default: the `403` stands). The counterpart of the Python
/// SDK's `AuthgentToolWrapper`. Cheap to clone.
///
/// ```no_run
/// # fn demo() -> Result<(), authgent_client::ClientError> {
/// use authgent_client::{AgentAuthClient, ClientCredentials, ScopeStepUp, TokenManager};
/// use authgent_rig::AgentTools;
/// let client = AgentAuthClient::new("https://auth.example.com")?;
/// let tokens = TokenManager::builder(client, ClientCredentials::new("agnt_research", "…"))
///     .allow_origin("https://tickets.example.com")
///     .build()?;
/// let tools = AgentTools::new(tokens).step_up(ScopeStepUp::new(["tickets:write"]));
/// # let _ = tools; Ok(()) }
/// ```
#[derive(Clone)]
pub struct AgentTools {
    inner: Arc<Inner>,
}

struct Inner {
    tokens: TokenManager,
    step_up: ScopeStepUp,
    client: reqwest::Client,
}

impl fmt::Debug for AgentTools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentTools")
            .field("step_up", &self.inner.step_up)
            .finish_non_exhaustive()
    }
}

impl AgentTools {
    /// The tools' side of `tokens` (the agent's client: its credentials, its DPoP key, the
    /// origins it may send tokens to), with no step-up.
    pub fn new(tokens: TokenManager) -> Self {
        AgentTools {
            inner: Arc::new(Inner {
                tokens,
                step_up: ScopeStepUp::new(Vec::<String>::new()),
                client: reqwest::Client::new(),
            }),
        }
    }

    /// The scopes tools may step up to, by the MCP rule ([`ScopeStepUp`]): on a
    /// `403 insufficient_scope`, a token for the granted scopes plus the challenged ones this
    /// rule allows, then one retry. A challenge for any other scope ends the call with
    /// [`ToolError::ScopeNotAllowed`].
    #[must_use]
    pub fn step_up(self, rule: ScopeStepUp) -> Self {
        AgentTools {
            inner: Arc::new(Inner {
                tokens: self.inner.tokens.clone(),
                step_up: rule,
                client: self.inner.client.clone(),
            }),
        }
    }

    /// The token manager.
    pub fn tokens(&self) -> &TokenManager {
        &self.inner.tokens
    }

    /// The scopes tools may step up to.
    pub fn step_up_rule(&self) -> &ScopeStepUp {
        &self.inner.step_up
    }
}

/// What a tool call may go wrong with, besides the tool's own logic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The service needs scopes the agent's policy does not let it ask for (or asking did not
    /// help): the call stops here rather than widen the agent's rights.
    #[error(
        "{tool}: the service needs scope {needed}, which this agent may not step up to \
         (allow it with AgentTools::step_up, or ask for it up front)"
    )]
    ScopeNotAllowed {
        /// The tool.
        tool: &'static str,
        /// The scopes the service's challenge named, space-separated.
        needed: String,
    },
    /// No token could be had or the request could not be sent (the authorization server
    /// refused the exchange, an origin the agent may not send tokens to, a transport error).
    #[error("{tool}: {source}")]
    Client {
        /// The tool.
        tool: &'static str,
        /// Why.
        #[source]
        source: ClientError,
    },
    /// The tool's own failure (the service's answer could not be read, …).
    #[error("{0}")]
    Tool(String),
}

impl ToolError {
    /// A failure of the tool's own, in words for the model.
    pub fn tool(message: impl Into<String>) -> Self {
        ToolError::Tool(message.into())
    }
}

/// The HTTP side of one tool call: requests sent through it carry a token for the tool's
/// service, never the user's.
#[derive(Debug)]
pub struct ToolHttp<'a> {
    pub(crate) tools: &'a AgentTools,
    pub(crate) run: Option<&'a RunContext>,
    pub(crate) tool: &'static str,
    pub(crate) resource: &'a str,
    pub(crate) scope: Option<&'a str>,
}

impl ToolHttp<'_> {
    /// A client to build requests with (they are sent by [`Self::send`]).
    pub fn client(&self) -> &reqwest::Client {
        &self.tools.inner.client
    }

    /// The service (its resource identifier, the token's audience).
    pub fn resource(&self) -> &str {
        self.resource
    }

    /// Sends `request` (for the tool's service) with a token for it: on behalf of the run's
    /// caller, exchanged from their token (RFC 8693: the service sees the caller as the
    /// subject and this agent as the current actor), or the agent's own for an agent-only
    /// run; DPoP-bound when the agent has a key; stepped up within the agent's policy on a
    /// `403 insufficient_scope`. The answer is audited. A `403 insufficient_scope` that
    /// remains is [`ToolError::ScopeNotAllowed`]; any other answer is returned.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ToolError> {
        let audited = request.try_clone().and_then(|r| r.build().ok());
        let tokens = &self.tools.inner.tokens;
        let rule = &self.tools.inner.step_up;
        let client = |source| ToolError::Client {
            tool: self.tool,
            source,
        };
        let response = match self.run.and_then(RunContext::subject_token) {
            Some(token) => {
                tokens
                    .send_on_behalf_with_step_up(
                        token.expose(),
                        self.resource,
                        self.scope,
                        request,
                        rule,
                    )
                    .await
                    .map_err(client)?
                    .0
            }
            None => {
                let key = TokenKey::new(self.scope, Some(self.resource));
                tokens
                    .send_with_step_up(request, &key, rule)
                    .await
                    .map_err(client)?
                    .0
            }
        };
        self.audit(audited.as_ref(), &response);
        match ScopeChallenge::from_response(response.status(), response.headers()) {
            Some(challenge) => Err(ToolError::ScopeNotAllowed {
                tool: self.tool,
                needed: challenge.scopes.join(" "),
            }),
            None => Ok(response),
        }
    }

    /// The call's audit event: the tool, the service's answer, and who the service saw.
    fn audit(&self, request: Option<&reqwest::Request>, response: &Response) {
        let error = response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| Challenge::parse_all(v).ok())
            .flatten()
            .find_map(|c| c.get("error").map(str::to_owned));
        record_call(
            self.run,
            self.tool,
            self.resource,
            request.map(|r| (r.method().as_str(), r.url().path())),
            response.status().as_u16(),
            error,
        );
    }
}

/// The audit event of one tool call by `run`'s agent: `tool`, the service (`resource`) and
/// its request, the answer's `status` (0: none came) and error, and who the service saw (the
/// run's caller and chain, or the agent alone).
pub(crate) fn record_call(
    run: Option<&RunContext>,
    tool: &str,
    resource: &str,
    request: Option<(&str, &str)>,
    status: u16,
    error: Option<String>,
) {
    let outcome = if (1..400).contains(&status) && error.is_none() {
        Outcome::Allowed
    } else {
        Outcome::Refused
    };
    let mut event = AuditEvent::new(outcome, status, std::time::SystemTime::now()).with_tool(tool);
    if let Some((method, path)) = request {
        event = event.with_request(method, path);
    }
    event.error = error.map(Into::into);
    event.resource = Some(resource.into());
    match (run, run.and_then(RunContext::caller)) {
        (_, Some(caller)) => {
            event.subject = Some(caller.subject().into());
            event.human_root = Some(caller.delegation_chain().human_root());
        }
        (Some(run), None) => event.subject = Some(run.agent().into()),
        (None, None) => {}
    }
    event.chain = run
        .map(RunContext::chain)
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect();
    authgent_jwks::audit::record(&event, run.and_then(RunContext::sink));
}
