//! A resource server's scope challenge: [`ScopeChallenge`], the human-in-the-loop
//! [`ScopeChallengeHandler`], and the MCP step-up rule [`ScopeStepUp`].

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};

use crate::error::{ClientError, challenges};
use crate::stepup::MIN_POLL_INTERVAL;
use crate::{AgentAuthClient, StepUp, StepUpRequest, StepUpStatus};

/// Called when a step-up request has been filed.
type OnFiled = Arc<dyn Fn(&StepUp) + Send + Sync>;

/// A resource server's RFC 6750 §3.1 `insufficient_scope` challenge.
///
/// ```
/// use authgent_client::ScopeChallenge;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("www-authenticate",
///     r#"Bearer error="insufficient_scope", scope="db:delete db:read""#.parse().unwrap());
/// let c = ScopeChallenge::from_response(http::StatusCode::FORBIDDEN, &headers).unwrap();
/// assert_eq!(c.scopes, ["db:delete", "db:read"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScopeChallenge {
    /// The challenge's scheme (`Bearer` or `DPoP`).
    pub scheme: String,
    /// The scopes the resource needs.
    pub scopes: Vec<String>,
    /// Its `error_description`.
    pub description: Option<String>,
    /// Its `resource_metadata` (RFC 9728), if any.
    pub resource_metadata: Option<String>,
}

impl ScopeChallenge {
    /// The challenge in a response, if it is a `403` whose `WWW-Authenticate` (any challenge, any
    /// header line) says `error="insufficient_scope"` with a non-empty `scope`. Parsed with the
    /// core's RFC 9110 parser: quoted commas, escapes and several challenges are handled, and a
    /// malformed header is no challenge.
    pub fn from_response(status: StatusCode, headers: &HeaderMap) -> Option<Self> {
        if status != StatusCode::FORBIDDEN {
            return None;
        }
        challenges(headers).into_iter().find_map(|c| {
            if c.get("error") != Some("insufficient_scope") {
                return None;
            }
            let scopes: Vec<String> = c
                .get("scope")?
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect();
            (!scopes.is_empty()).then(|| ScopeChallenge {
                scheme: c.scheme().to_owned(),
                scopes,
                description: c.get("error_description").map(str::to_owned),
                resource_metadata: c.get("resource_metadata").map(str::to_owned),
            })
        })
    }
}

/// How a step-up ended.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StepUpOutcome {
    /// A human approved. authgent-server 0.3.4 issues no step-up token
    /// ([`StepUp::step_up_token`] is `None`): get a new token that includes the scopes (e.g.
    /// [`AgentAuthClient::get_token`], or [`TokenManager`](crate::TokenManager) with a wider
    /// scope) and retry. The agent's registration must allow them: approval is a recorded
    /// decision, it does not widen what the server will issue.
    Approved(StepUp),
    /// A human denied: do not retry.
    Denied(StepUp),
    /// Nobody decided before the request expired on the server.
    Expired(StepUp),
}

/// Handles `403 insufficient_scope` from a resource server: when a missing scope is one that
/// needs a human (the configured HITL list), it files a step-up request for **those scopes
/// only**, polls until a human decides, checks that the decision is about the request it
/// filed, and returns the [`StepUpOutcome`].
///
/// The resource server chooses what the challenge names, so the challenge is not trusted: a
/// `scope="db:delete admin *:*"` from a server that needs `db:delete` files `db:delete` and
/// nothing else (`admin` and `*:*` are not on the list). Scopes not on the list are left to
/// the caller (see [`ScopeStepUp`] for asking the authorization server for them). Approving
/// is not this type's job: see [`StepUpApprover`](crate::StepUpApprover).
///
/// ```no_run
/// use std::time::Duration;
/// use authgent_client::{AgentAuthClient, ScopeChallengeHandler, StepUpOutcome};
/// # async fn run(response: reqwest::Response) -> Result<(), authgent_client::ClientError> {
/// let auth = AgentAuthClient::new("http://127.0.0.1:8000")?;
/// let handler = ScopeChallengeHandler::new(auth, ["db:delete", "bank:transfer"])
///     .poll_interval(Duration::from_secs(2))
///     .timeout(Duration::from_secs(300));
/// match handler.handle(response.status(), response.headers(), "01J…agent-id", None).await? {
///     Some(StepUpOutcome::Approved(_)) => { /* get a token with the scope, retry */ }
///     Some(_) => { /* denied or expired: give up */ }
///     None => { /* not a HITL scope challenge */ }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ScopeChallengeHandler {
    client: AgentAuthClient,
    hitl_scopes: BTreeSet<String>,
    poll_interval: Duration,
    timeout: Duration,
    on_filed: Option<OnFiled>,
}

impl fmt::Debug for ScopeChallengeHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeChallengeHandler")
            .field("server", &self.client.server_url())
            .field("hitl_scopes", &self.hitl_scopes)
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ScopeChallengeHandler {
    /// A handler filing step-ups with `client`'s server for the scopes in `hitl_scopes`.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(
        client: AgentAuthClient,
        hitl_scopes: I,
    ) -> Self {
        ScopeChallengeHandler {
            client,
            hitl_scopes: hitl_scopes.into_iter().map(Into::into).collect(),
            poll_interval: Duration::from_secs(2),
            timeout: Duration::from_secs(300),
            on_filed: None,
        }
    }

    /// Called with each step-up request right after it is filed, before waiting: tell the
    /// human where to approve it (its id, the action, the scopes).
    #[must_use]
    pub fn on_filed(mut self, notify: impl Fn(&StepUp) + Send + Sync + 'static) -> Self {
        self.on_filed = Some(Arc::new(notify));
        self
    }

    /// How often to poll (default 2 s; at least [`MIN_POLL_INTERVAL`]).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(MIN_POLL_INTERVAL);
        self
    }

    /// How long to wait for a human (default 300 s, the server's default expiry).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The challenge, when the response is one this handler acts on (a scope challenge naming
    /// at least one HITL scope), with its `scopes` narrowed to the HITL ones: what a step-up
    /// would be filed for.
    pub fn challenge(&self, status: StatusCode, headers: &HeaderMap) -> Option<ScopeChallenge> {
        let mut challenge = ScopeChallenge::from_response(status, headers)?;
        let mut seen = BTreeSet::new();
        challenge
            .scopes
            .retain(|s| self.hitl_scopes.contains(s) && seen.insert(s.clone()));
        (!challenge.scopes.is_empty()).then_some(challenge)
    }

    /// Files a step-up for `agent_id` (the agent's id at the server) when the response is a HITL
    /// scope challenge, waits for the decision and returns it; `Ok(None)` when it is not one.
    /// Still pending after the timeout is [`ClientError::StepUpTimeout`].
    pub async fn handle(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        agent_id: &str,
        resource: Option<&str>,
    ) -> Result<Option<StepUpOutcome>, ClientError> {
        let Some(challenge) = self.challenge(status, headers) else {
            return Ok(None);
        };
        let mut request =
            StepUpRequest::new(agent_id, "scope_escalation", challenge.scopes.join(" "));
        if let Some(resource) = resource {
            request = request.resource(resource);
        }
        let filed = self.client.request_stepup(&request).await?;
        self.matches(&filed, &request, None)?;
        if let Some(notify) = &self.on_filed {
            notify(&filed);
        }
        let decided = self
            .client
            .wait_for_stepup(&filed.id, self.poll_interval, self.timeout)
            .await?;
        self.matches(&decided, &request, Some(&filed.id))?;
        Ok(Some(match decided.status {
            StepUpStatus::Approved => StepUpOutcome::Approved(decided),
            StepUpStatus::Denied => StepUpOutcome::Denied(decided),
            StepUpStatus::Expired => StepUpOutcome::Expired(decided),
            ref other => {
                return Err(ClientError::InvalidResponse {
                    endpoint: format!("{}/stepup/{}", self.client.server_url(), decided.id),
                    detail: format!("unknown step-up status {other}"),
                });
            }
        }))
    }

    /// A step-up the server reports must be the one filed: same id (once known), agent, scopes
    /// and resource. Otherwise an approval of something else could pass for this one.
    fn matches(
        &self,
        got: &StepUp,
        asked: &StepUpRequest,
        id: Option<&str>,
    ) -> Result<(), ClientError> {
        let scopes = |s: &str| {
            s.split_ascii_whitespace()
                .map(str::to_owned)
                .collect::<BTreeSet<_>>()
        };
        let mismatch = if id.is_some_and(|id| got.id != id) {
            Some("id")
        } else if got.agent_id != asked.agent_id {
            Some("agent_id")
        } else if scopes(&got.scope) != scopes(&asked.scope) {
            Some("scope")
        } else if asked.resource.is_some() && got.resource != asked.resource {
            Some("resource")
        } else {
            None
        };
        match mismatch {
            None => Ok(()),
            Some(what) => Err(ClientError::InvalidResponse {
                endpoint: format!("{}/stepup", self.client.server_url()),
                detail: format!(
                    "the step-up the server reports differs from the one filed in its {what}: refusing it"
                ),
            }),
        }
    }
}

/// The MCP step-up rule (MCP authorization, "scope challenge handling"): after a
/// `403 insufficient_scope`, ask for a token with the union of the scopes already granted and
/// the challenged ones, and retry, a bounded number of times. Only scopes on the allow-list are
/// ever requested: the resource server names the scopes, so it must not choose what the agent
/// asks the authorization server for.
///
/// ```
/// use authgent_client::{ScopeChallenge, ScopeStepUp};
/// let rule = ScopeStepUp::new(["files:read", "files:write"]).max_retries(1);
/// let mut headers = http::HeaderMap::new();
/// headers.insert("www-authenticate",
///     r#"Bearer error="insufficient_scope", scope="files:write admin""#.parse().unwrap());
/// let challenge = ScopeChallenge::from_response(http::StatusCode::FORBIDDEN, &headers).unwrap();
/// assert_eq!(rule.next_scope(Some("files:read"), &challenge).as_deref(), Some("files:read files:write"));
/// assert_eq!(rule.next_scope(Some("files:read files:write"), &challenge), None); // nothing new
/// ```
#[derive(Clone, Debug)]
pub struct ScopeStepUp {
    allowed: BTreeSet<String>,
    max_retries: u32,
}

impl ScopeStepUp {
    /// The rule for an agent that may ask for the scopes in `allowed` (default: one retry).
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(allowed: I) -> Self {
        ScopeStepUp {
            allowed: allowed.into_iter().map(Into::into).collect(),
            max_retries: 1,
        }
    }

    /// How many times to step up and retry one request (default 1, at most 5).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries.min(5);
        self
    }

    /// The retry limit.
    pub fn retries(&self) -> u32 {
        self.max_retries
    }

    /// The scope to request next: `granted` plus every challenged scope on the allow-list, in a
    /// stable order; `None` when that adds nothing (retrying would get the same answer).
    pub fn next_scope(&self, granted: Option<&str>, challenge: &ScopeChallenge) -> Option<String> {
        let mut scopes: Vec<&str> = granted.unwrap_or("").split_ascii_whitespace().collect();
        let before = scopes.len();
        for scope in &challenge.scopes {
            if self.allowed.contains(scope) && !scopes.contains(&scope.as_str()) {
                scopes.push(scope);
            }
        }
        (scopes.len() > before).then(|| scopes.join(" "))
    }
}
