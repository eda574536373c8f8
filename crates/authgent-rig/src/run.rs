//! [`RunContext`]: on whose behalf an agent run acts.

use std::fmt;
use std::sync::Arc;

use authgent_core::AgentIdentity;
use authgent_jwks::audit::AuditSink;
use authgent_jwks::{Caller, SubjectToken};
use rig_core::tool::ToolContext;

/// Who is behind one agent run: the user whose request started it (their verified identity
/// and their access token, kept only to be exchanged), the agent acting, and the delegation
/// chain so far. Cheap to clone; its `Debug` never shows the token.
///
/// Tools find it in the run's [`ToolContext`] (a live scope: never serialised, never sent to
/// the model):
///
/// ```no_run
/// # async fn run(caller: authgent_jwks::Caller, agent: rig_agent::Agent) {
/// use authgent_rig::RunContext;
/// // In the agent's service, for the verified caller of this request:
/// let run = RunContext::on_behalf_of(&caller, "client:agnt_research");
/// let answer = agent
///     .prompt("summarise my open tickets")
///     .tool_context(run.tool_context())
///     .await;
/// # let _ = answer; }
/// ```
#[derive(Clone)]
pub struct RunContext {
    inner: Arc<Run>,
}

struct Run {
    /// The caller's verified identity, when the run acts for someone.
    caller: Option<Arc<AgentIdentity>>,
    /// The caller's token, only ever exchanged at the authorization server.
    token: Option<SubjectToken>,
    /// This agent (as the services will see it: the current actor).
    agent: String,
    sink: Option<Arc<dyn AuditSink>>,
}

impl fmt::Debug for RunContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunContext")
            .field("subject", &self.subject())
            .field("agent", &self.inner.agent)
            .field("chain", &self.chain())
            .finish_non_exhaustive()
    }
}

impl RunContext {
    /// A run on behalf of `caller` (the verified caller of the agent's service: its identity
    /// and its token, which tools exchange and never forward). `agent` names this agent as
    /// the services will see it (its subject, e.g. `client:<client id>`).
    pub fn on_behalf_of(caller: &Caller, agent: impl Into<String>) -> Self {
        RunContext {
            inner: Arc::new(Run {
                caller: Some(Arc::clone(caller.shared())),
                token: caller.context().subject_token(),
                agent: agent.into(),
                sink: None,
            }),
        }
    }

    /// A run on nobody's behalf: tools use the agent's own credentials
    /// (client credentials), and the services see the agent as the subject.
    pub fn agent_only(agent: impl Into<String>) -> Self {
        RunContext {
            inner: Arc::new(Run {
                caller: None,
                token: None,
                agent: agent.into(),
                sink: None,
            }),
        }
    }

    /// Also hands each tool call's audit event to `sink` (besides the `authgent::audit`
    /// tracing event).
    #[must_use]
    pub fn audit_sink(self, sink: impl AuditSink) -> Self {
        let run = &self.inner;
        RunContext {
            inner: Arc::new(Run {
                caller: run.caller.clone(),
                token: run.token.clone(),
                agent: run.agent.clone(),
                sink: Some(Arc::new(sink)),
            }),
        }
    }

    /// The context to give the run (`agent.prompt(..).tool_context(run.tool_context())`):
    /// every tool call of the run finds this `RunContext` in it.
    pub fn tool_context(&self) -> ToolContext {
        ToolContext::new().with_scope(Arc::new(self.clone()))
    }

    /// The `RunContext` of a tool call, if its run was given one.
    pub fn of(context: &ToolContext) -> Option<Arc<RunContext>> {
        context.scope::<RunContext>()
    }

    /// On whose behalf the run acts (the caller's `sub`); `None` for an agent-only run.
    pub fn subject(&self) -> Option<&str> {
        self.inner.caller.as_deref().map(AgentIdentity::subject)
    }

    /// The human at the root of the chain, when the caller's chain starts at one.
    pub fn human(&self) -> Option<&str> {
        let caller = self.inner.caller.as_deref()?;
        caller
            .delegation_chain()
            .human_root()
            .then(|| caller.subject())
    }

    /// This agent.
    pub fn agent(&self) -> &str {
        &self.inner.agent
    }

    /// The chain a service called by this run sees, root first: the caller's chain (its
    /// subject, then its actors), then this agent as the current actor. An agent-only run:
    /// the agent alone.
    pub fn chain(&self) -> Vec<&str> {
        let mut chain: Vec<&str> = self
            .inner
            .caller
            .as_deref()
            .map(|c| c.delegation_chain().root_first().collect())
            .unwrap_or_default();
        chain.push(&self.inner.agent);
        chain
    }

    /// The caller's verified identity.
    pub fn caller(&self) -> Option<&Arc<AgentIdentity>> {
        self.inner.caller.as_ref()
    }

    /// The caller's token, for the exchange only.
    pub(crate) fn subject_token(&self) -> Option<&SubjectToken> {
        self.inner.token.as_ref()
    }

    pub(crate) fn sink(&self) -> Option<&Arc<dyn AuditSink>> {
        self.inner.sink.as_ref()
    }
}
