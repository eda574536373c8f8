//! [`StepUpApprover`]: the human approver's side of step-up, a client of its own.

use std::fmt;
use std::time::Duration;

use crate::{AgentAuthClient, ClientError, Secret, StepUp, StepUpStatus};

/// The human approver's side of step-up: approve or deny a pending request.
///
/// **Never give this to an agent.** An agent that can approve its own step-up needs no human:
/// a prompt-injected agent would simply approve itself. Build it in the approver's service
/// (the UI a human clicks in), with the approver's own credential, which is sent as
/// `Authorization: Bearer …` on every decision. authgent-server 0.3.4 does not authenticate
/// `/stepup/{id}/approve` and `/deny` (docs/interop.md): put those routes behind a gateway
/// that checks that credential, and keep them unreachable from where agents run.
///
/// ```no_run
/// use authgent_client::StepUpApprover;
/// # async fn run(id: &str) -> Result<(), authgent_client::ClientError> {
/// let approver = StepUpApprover::builder("https://auth.example", std::env::var("APPROVER_TOKEN").unwrap())
///     .build()?;
/// approver.approve(id, "alice@example.com").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct StepUpApprover {
    client: AgentAuthClient,
    credential: Secret,
}

impl fmt::Debug for StepUpApprover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepUpApprover")
            .field("server", &self.client.server_url())
            .field("credential", &self.credential)
            .finish()
    }
}

/// Builds a [`StepUpApprover`].
#[derive(Debug)]
#[must_use]
pub struct StepUpApproverBuilder {
    client: crate::AgentAuthClientBuilder,
    credential: Secret,
}

impl StepUpApproverBuilder {
    /// Your own `reqwest` configuration; see
    /// [`AgentAuthClientBuilder::http_client`](crate::AgentAuthClientBuilder::http_client).
    pub fn http_client(mut self, client: reqwest::ClientBuilder) -> Self {
        self.client = self.client.http_client(client);
        self
    }

    /// The timeout of each request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client = self.client.timeout(timeout);
        self
    }

    /// The approver.
    pub fn build(self) -> Result<StepUpApprover, ClientError> {
        if self.credential.expose().trim().is_empty() {
            return Err(ClientError::Config(
                "a StepUpApprover needs the approver's own credential: decisions are authenticated"
                    .into(),
            ));
        }
        Ok(StepUpApprover {
            client: self.client.build()?,
            credential: self.credential,
        })
    }
}

impl StepUpApprover {
    /// An approver at the server at `server_url`, deciding with `credential` (sent as a
    /// bearer token on each decision).
    pub fn builder(
        server_url: impl Into<String>,
        credential: impl Into<Secret>,
    ) -> StepUpApproverBuilder {
        StepUpApproverBuilder {
            client: AgentAuthClient::builder(server_url),
            credential: credential.into(),
        }
    }

    /// The pending request, to show the human what they are deciding.
    pub async fn get(&self, id: &str) -> Result<StepUp, ClientError> {
        self.client.check_stepup(id).await
    }

    /// Approves a pending step-up request. An answer that does not show the request approved
    /// is an error: the decision was not recorded.
    pub async fn approve(&self, id: &str, approved_by: &str) -> Result<StepUp, ClientError> {
        let body = serde_json::json!({ "approved_by": approved_by });
        self.decide(id, "approve", &body, StepUpStatus::Approved)
            .await
    }

    /// Denies a pending step-up request. An answer that does not show the request denied is an
    /// error: the decision was not recorded.
    pub async fn deny(&self, id: &str) -> Result<StepUp, ClientError> {
        self.decide(id, "deny", &serde_json::json!({}), StepUpStatus::Denied)
            .await
    }

    async fn decide(
        &self,
        id: &str,
        verb: &str,
        body: &serde_json::Value,
        expected: StepUpStatus,
    ) -> Result<StepUp, ClientError> {
        let url = format!(
            "{}/stepup/{}/{verb}",
            self.client.server_url(),
            crate::client::path_segment(id)
        );
        let mut authorization =
            http::HeaderValue::try_from(format!("Bearer {}", self.credential.expose())).map_err(
                |_| ClientError::Config("the approver credential is not a header value".into()),
            )?;
        authorization.set_sensitive(true);
        let request = self
            .client
            .http()
            .post(&url)
            .header(http::header::AUTHORIZATION, authorization)
            .json(body);
        let mut answer = self.client.send(request).await?;
        answer.scrub(&self.credential);
        let state: StepUp = answer.ok_or_error(&[200])?.json(&url)?;
        if state.id != id {
            return Err(ClientError::InvalidResponse {
                endpoint: url,
                detail: "the answer is about another step-up request".into(),
            });
        }
        if state.status == expected {
            Ok(state)
        } else {
            Err(ClientError::InvalidResponse {
                endpoint: url,
                detail: format!(
                    "the server answered status {} instead of {expected}: the decision was not recorded",
                    state.status
                ),
            })
        }
    }
}
