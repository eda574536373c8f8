//! Registration: agents (`POST /agents`) and dynamically registered OAuth clients (RFC 7591).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::secret::Names;
use crate::{AgentAuthClient, ClientCredentials, ClientError, Secret};

/// An agent to register (`POST /agents`).
///
/// ```
/// use authgent_client::AgentRegistration;
/// let agent = AgentRegistration::new("search-bot")
///     .scopes(["search:read", "search:execute"])
///     .owner("alice@example.com")
///     .field("agent_model", "gpt-x");
/// # let _ = agent;
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct AgentRegistration {
    name: String,
    #[serde(rename = "allowed_scopes", skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    capabilities: Vec<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl AgentRegistration {
    /// An agent named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        AgentRegistration {
            name: name.into(),
            scopes: Vec::new(),
            owner: None,
            capabilities: Vec::new(),
            extra: Map::new(),
        }
    }

    /// The scopes it may ask for.
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Its owner (a person or team).
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Its capabilities.
    pub fn capabilities<I: IntoIterator<Item = S>, S: Into<String>>(mut self, caps: I) -> Self {
        self.capabilities = caps.into_iter().map(Into::into).collect();
        self
    }

    /// Any other member the server accepts (`agent_type`, `agent_model`, …).
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}

/// A registered agent, with its credentials. `Debug` redacts the secret and every value of
/// [`extra`](Self::extra) (only its member names are shown).
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct RegisteredAgent {
    /// The agent's id (used for step-up requests).
    pub id: String,
    /// Its OAuth `client_id`.
    pub client_id: String,
    /// Its OAuth `client_secret`.
    pub client_secret: Secret,
    /// Its name.
    pub name: String,
    /// Scopes it may ask for.
    #[serde(default)]
    pub allowed_scopes: Vec<String>,
    /// Everything else the server said.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RegisteredAgent {
    /// Its credentials, for token requests.
    pub fn credentials(&self) -> ClientCredentials {
        ClientCredentials::new(self.client_id.clone(), self.client_secret.clone())
    }

    /// The token subject the server gives it: `client:<client_id>`.
    pub fn subject(&self) -> String {
        format!("client:{}", self.client_id)
    }
}

/// An OAuth client to register dynamically (RFC 7591, `POST /register`), e.g. a client allowed
/// the authorization-code or jwt-bearer grants, which `/agents` does not grant.
///
/// ```
/// use authgent_client::{ClientRegistration, grant_type};
/// let consumer = ClientRegistration::new("domain-b")
///     .grant_types([grant_type::JWT_BEARER, "client_credentials"])
///     .scope("read");
/// # let _ = consumer;
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct ClientRegistration {
    client_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    grant_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl ClientRegistration {
    /// A client named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        ClientRegistration {
            client_name: name.into(),
            grant_types: Vec::new(),
            redirect_uris: Vec::new(),
            scope: None,
            extra: Map::new(),
        }
    }

    /// Grant types it may use.
    pub fn grant_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, grants: I) -> Self {
        self.grant_types = grants.into_iter().map(Into::into).collect();
        self
    }

    /// Redirect URIs (authorization-code flow).
    pub fn redirect_uris<I: IntoIterator<Item = S>, S: Into<String>>(mut self, uris: I) -> Self {
        self.redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }

    /// Scopes it may ask for, space-separated.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Any other RFC 7591 member.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}

/// A dynamically registered client (RFC 7591 §3.2.1). `Debug` redacts the secret and every
/// value of [`extra`](Self::extra), which holds `registration_access_token` and the like
/// (only member names are shown).
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct RegisteredClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret` (absent for public clients).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Grant types it may use.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Its redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Scopes it may ask for.
    #[serde(default)]
    pub scope: Option<String>,
    /// Everything else the server said.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RegisteredClient {
    /// Its credentials, when it is a confidential client.
    pub fn credentials(&self) -> Option<ClientCredentials> {
        self.client_secret
            .as_ref()
            .map(|s| ClientCredentials::new(self.client_id.clone(), s.clone()))
    }
}

impl fmt::Debug for RegisteredAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredAgent")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("name", &self.name)
            .field("allowed_scopes", &self.allowed_scopes)
            .field("extra", &Names(&self.extra))
            .finish()
    }
}

impl fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("grant_types", &self.grant_types)
            .field("redirect_uris", &self.redirect_uris)
            .field("scope", &self.scope)
            .field("extra", &Names(&self.extra))
            .finish()
    }
}

impl AgentAuthClient {
    /// Registers an agent (`POST /agents`) and returns it with its credentials.
    pub async fn register_agent(
        &self,
        agent: &AgentRegistration,
    ) -> Result<RegisteredAgent, ClientError> {
        self.post_json("/agents", agent, &[200, 201]).await
    }

    /// Registers an OAuth client dynamically (RFC 7591), e.g. one allowed the
    /// authorization-code or jwt-bearer grants.
    pub async fn register_client(
        &self,
        client: &ClientRegistration,
    ) -> Result<RegisteredClient, ClientError> {
        let url = self.endpoint(|m| m.registration_endpoint.as_ref(), "/register");
        self.post_json_to(&url, client, &[200, 201]).await
    }
}
