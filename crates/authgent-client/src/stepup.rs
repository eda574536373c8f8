//! Human step-up (`/stepup`): requests, their status, and the [`AgentAuthClient`] calls that
//! file and poll them. Handling a resource server's challenge is
//! [`ScopeChallengeHandler`](crate::ScopeChallengeHandler); deciding is
//! [`StepUpApprover`](crate::StepUpApprover).

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::client::{path_segment, unverified_claims};
use crate::{AgentAuthClient, ClientError, Secret};

/// Shortest interval between two polls of a step-up request, whatever is configured.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A human-in-the-loop step-up request to create (`POST /stepup`).
///
/// ```
/// use authgent_client::StepUpRequest;
/// let req = StepUpRequest::new("01J…agent-id", "delete_records", "db:delete")
///     .resource("https://db.example");
/// # let _ = req;
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct StepUpRequest {
    pub(crate) agent_id: String,
    action: String,
    pub(crate) scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delegation_chain: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
}

impl StepUpRequest {
    /// `agent_id` asks a human to approve `action` needing `scope` (space-separated).
    pub fn new(
        agent_id: impl Into<String>,
        action: impl Into<String>,
        scope: impl Into<String>,
    ) -> Self {
        StepUpRequest {
            agent_id: agent_id.into(),
            action: action.into(),
            scope: scope.into(),
            resource: None,
            delegation_chain: None,
            metadata: None,
        }
    }

    /// The resource the action targets.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// A snapshot of the delegation chain, for the reviewer.
    pub fn delegation_chain(mut self, chain: Value) -> Self {
        self.delegation_chain = Some(chain);
        self
    }

    /// Extra context for the reviewer.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// Where a step-up request stands. Unknown statuses are kept, not refused.
///
/// ```
/// use authgent_client::StepUpStatus;
/// let s: StepUpStatus = serde_json::from_str(r#""approved""#)?;
/// assert!(s.is_final() && s == StepUpStatus::Approved);
/// let odd: StepUpStatus = serde_json::from_str(r#""escalated""#)?;
/// assert_eq!(odd.to_string(), "escalated");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepUpStatus {
    /// Waiting for a human.
    Pending,
    /// Approved.
    Approved,
    /// Denied.
    Denied,
    /// Expired before a decision.
    Expired,
    /// A status this client does not know.
    Other(String),
}

impl StepUpStatus {
    /// Whether a decision (or expiry) has been reached.
    pub fn is_final(&self) -> bool {
        !matches!(self, StepUpStatus::Pending)
    }
}

impl fmt::Display for StepUpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepUpStatus::Pending => "pending",
            StepUpStatus::Approved => "approved",
            StepUpStatus::Denied => "denied",
            StepUpStatus::Expired => "expired",
            StepUpStatus::Other(s) => s,
        })
    }
}

impl<'de> Deserialize<'de> for StepUpStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match String::deserialize(d)?.as_str() {
            "pending" => StepUpStatus::Pending,
            "approved" => StepUpStatus::Approved,
            "denied" => StepUpStatus::Denied,
            "expired" => StepUpStatus::Expired,
            other => StepUpStatus::Other(other.to_owned()),
        })
    }
}

/// A step-up request as the server reports it.
///
/// authgent-server 0.3.4 never issues a `step_up_token`: approval is a recorded decision, and the
/// agent then asks for a token with the approved scope itself (see
/// [`ScopeChallengeHandler`](crate::ScopeChallengeHandler)).
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct StepUp {
    /// Its id.
    pub id: String,
    /// The requesting agent.
    pub agent_id: String,
    /// The action.
    pub action: String,
    /// The scopes asked for.
    pub scope: String,
    /// The target resource.
    #[serde(default)]
    pub resource: Option<String>,
    /// Where it stands.
    pub status: StepUpStatus,
    /// Who approved it.
    #[serde(default)]
    pub approved_by: Option<String>,
    /// When (server time, ISO 8601).
    #[serde(default)]
    pub approved_at: Option<String>,
    /// When it expires (ISO 8601).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// When it was made (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
    /// A step-up token, for servers that issue one (authgent-server 0.3.4 does not).
    #[serde(default)]
    pub step_up_token: Option<Secret>,
}

impl AgentAuthClient {
    /// Asks a human to approve an action (`POST /stepup`); poll with [`Self::check_stepup`]
    /// or [`Self::wait_for_stepup`].
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use authgent_client::{AgentAuthClient, StepUpRequest, StepUpStatus};
    /// # async fn run(auth: AgentAuthClient) -> Result<(), authgent_client::ClientError> {
    /// let filed = auth.request_stepup(&StepUpRequest::new("01J…agent-id", "delete_records", "db:delete")).await?;
    /// let decided = auth.wait_for_stepup(&filed.id, Duration::from_secs(2), Duration::from_secs(300)).await?;
    /// if decided.status == StepUpStatus::Approved { /* proceed */ }
    /// # Ok(()) }
    /// ```
    pub async fn request_stepup(&self, request: &StepUpRequest) -> Result<StepUp, ClientError> {
        self.post_json("/stepup", request, &[200, 201, 202]).await
    }

    /// [`Self::request_stepup`] for the agent a token was issued to (its `client_id`, else its
    /// `sub`), read from the token's payload without verification: the server decides.
    pub async fn request_stepup_for_token(
        &self,
        token: &str,
        action: &str,
        scope: &str,
        resource: Option<&str>,
    ) -> Result<StepUp, ClientError> {
        let claims = unverified_claims(token).ok_or_else(|| {
            ClientError::Config("the token is not a JWT: cannot tell which agent it is".into())
        })?;
        let agent = ["client_id", "sub"]
            .iter()
            .find_map(|k| claims.get(*k).and_then(Value::as_str))
            .ok_or_else(|| ClientError::Config("the token has no client_id or sub".into()))?;
        let mut request = StepUpRequest::new(agent, action, scope);
        if let Some(resource) = resource {
            request = request.resource(resource);
        }
        self.request_stepup(&request).await
    }

    /// The current state of a step-up request.
    pub async fn check_stepup(&self, id: &str) -> Result<StepUp, ClientError> {
        self.get_json(&format!("/stepup/{}", path_segment(id)))
            .await
    }

    /// Polls a step-up request every `poll_interval` (at least [`MIN_POLL_INTERVAL`]) until it
    /// is decided or expired, and returns
    /// it (look at [`StepUp::status`]); [`ClientError::StepUpTimeout`] if still pending after
    /// `timeout`.
    pub async fn wait_for_stepup(
        &self,
        id: &str,
        poll_interval: Duration,
        timeout: Duration,
    ) -> Result<StepUp, ClientError> {
        let start = Instant::now();
        loop {
            let state = self.check_stepup(id).await?;
            if state.status.is_final() {
                return Ok(state);
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(ClientError::StepUpTimeout {
                    id: id.to_owned(),
                    waited,
                });
            }
            let interval = poll_interval.max(MIN_POLL_INTERVAL);
            tokio::time::sleep(interval.min(timeout - waited)).await;
        }
    }
}
