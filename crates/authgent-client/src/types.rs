//! Typed requests to and answers from an authgent server.

use std::fmt;

use authgent_core::DelegationChain;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::{ClientCredentials, Secret};

/// RFC 8693 token type URIs.
pub mod token_type {
    /// An OAuth access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// An OAuth refresh token.
    pub const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
    /// An OpenID Connect id_token.
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    /// A JWT (identity chaining's authorization grant).
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
    /// A transaction token.
    pub const TXN_TOKEN: &str = "urn:ietf:params:oauth:token-type:txn_token";
}

/// Grant type URIs beyond the RFC 6749 names.
pub mod grant_type {
    /// RFC 8693 token exchange.
    pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
    /// RFC 7523 JWT bearer (identity chaining's second hop).
    pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
}

/// A token endpoint answer (RFC 6749 §5.1, RFC 8693 §2.2.1). Tokens are [`Secret`]s.
///
/// ```
/// use authgent_client::TokenResponse;
/// let t: TokenResponse = serde_json::from_str(
///     r#"{"access_token":"eyJ…","token_type":"DPoP","expires_in":900,"scope":"read write","refresh_token":null}"#,
/// )?;
/// assert!(t.is_dpop());
/// assert_eq!(t.scopes().collect::<Vec<_>>(), ["read", "write"]);
/// assert!(!format!("{t:?}").contains("eyJ"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The issued token.
    pub access_token: Secret,
    /// `Bearer`, `DPoP`, or `N_A` for grants and transaction tokens.
    pub token_type: String,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Granted scopes, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// A refresh token (authorization-code and refresh grants).
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// RFC 8693 `issued_token_type`.
    #[serde(default)]
    pub issued_token_type: Option<String>,
}

impl TokenResponse {
    /// Whether the token is DPoP-bound (`token_type` `DPoP`, case-insensitive).
    pub fn is_dpop(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("DPoP")
    }

    /// Granted scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_ascii_whitespace()
    }
}

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

/// An RFC 8693 token exchange: "give me a token for `audience`, on behalf of `subject_token`".
///
/// ```
/// use authgent_client::ExchangeRequest;
/// let req = ExchangeRequest::new("eyJ…subject")
///     .audience("https://tools.example")
///     .scope("search:execute");
/// # let _ = req;
/// ```
#[derive(Clone, Debug)]
pub struct ExchangeRequest {
    pub(crate) subject_token: Secret,
    pub(crate) subject_token_type: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) scope: Option<String>,
    pub(crate) requested_token_type: Option<String>,
    pub(crate) actor_token: Option<(Secret, String)>,
}

impl ExchangeRequest {
    /// Exchange `subject_token` (an access token unless [`Self::subject_token_type`] says).
    pub fn new(subject_token: impl Into<Secret>) -> Self {
        ExchangeRequest {
            subject_token: subject_token.into(),
            subject_token_type: token_type::ACCESS_TOKEN.to_owned(),
            audiences: Vec::new(),
            resources: Vec::new(),
            scope: None,
            requested_token_type: None,
            actor_token: None,
        }
    }

    /// The subject token's type URI (see [`token_type`]), e.g. an id_token for a human root.
    pub fn subject_token_type(mut self, uri: impl Into<String>) -> Self {
        self.subject_token_type = uri.into();
        self
    }

    /// Adds an audience (repeatable).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds an RFC 8707 resource (repeatable).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// The (narrower) scopes wanted, space-separated.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The token type wanted (see [`token_type`]).
    pub fn requested_token_type(mut self, uri: impl Into<String>) -> Self {
        self.requested_token_type = Some(uri.into());
        self
    }

    /// An actor token and its type URI (RFC 8693 §2.1).
    pub fn actor_token(mut self, token: impl Into<Secret>, token_type: impl Into<String>) -> Self {
        self.actor_token = Some((token.into(), token_type.into()));
        self
    }

    /// Whether the exchange asks for an access token (no `requested_token_type`, or the
    /// access-token URI): with a DPoP key the answer must then be DPoP-bound.
    pub(crate) fn requests_access_token(&self) -> bool {
        self.requested_token_type
            .as_deref()
            .is_none_or(|t| t == token_type::ACCESS_TOKEN)
    }

    pub(crate) fn form(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("grant_type", grant_type::TOKEN_EXCHANGE.to_owned()),
            ("subject_token", self.subject_token.expose().to_owned()),
            ("subject_token_type", self.subject_token_type.clone()),
        ];
        f.extend(self.audiences.iter().map(|a| ("audience", a.clone())));
        f.extend(self.resources.iter().map(|r| ("resource", r.clone())));
        if let Some(s) = &self.scope {
            f.push(("scope", s.clone()));
        }
        if let Some(t) = &self.requested_token_type {
            f.push(("requested_token_type", t.clone()));
        }
        if let Some((token, ty)) = &self.actor_token {
            f.push(("actor_token", token.expose().to_owned()));
            f.push(("actor_token_type", ty.clone()));
        }
        f
    }
}

/// A transaction token request (draft-ietf-oauth-transaction-tokens).
///
/// ```
/// use authgent_client::TxnTokenRequest;
/// let req = TxnTokenRequest::new("eyJ…subject", "https://trust-domain.example", "read")
///     .request_details(serde_json::json!({"action": "transfer", "amount": 100}));
/// # let _ = req;
/// ```
#[derive(Clone, Debug)]
pub struct TxnTokenRequest {
    pub(crate) subject_token: Secret,
    pub(crate) trust_domain: String,
    pub(crate) scope: String,
    pub(crate) request_details: Option<Value>,
    pub(crate) request_context: Option<Value>,
}

impl TxnTokenRequest {
    /// A transaction token for `trust_domain` with `scope`, on behalf of `subject_token`.
    pub fn new(
        subject_token: impl Into<Secret>,
        trust_domain: impl Into<String>,
        scope: impl Into<String>,
    ) -> Self {
        TxnTokenRequest {
            subject_token: subject_token.into(),
            trust_domain: trust_domain.into(),
            scope: scope.into(),
            request_details: None,
            request_context: None,
        }
    }

    /// The immutable transaction context (`tctx`).
    pub fn request_details(mut self, details: Value) -> Self {
        self.request_details = Some(details);
        self
    }

    /// The requester context (`rctx`).
    pub fn request_context(mut self, context: Value) -> Self {
        self.request_context = Some(context);
        self
    }
}

/// An RFC 7662 introspection answer plus authgent's `act`. `active: false` is an answer, not an
/// error: every other field is then absent. `Debug` shows the standard members and only the
/// names of [`extra`](Self::extra)'s.
///
/// ```
/// use authgent_client::Introspection;
/// let i: Introspection = serde_json::from_str(r#"{"active":true,"sub":"client:root",
///     "scope":"read","aud":"https://b.example","act":{"sub":"client:worker"}}"#)?;
/// let chain = i.delegation_chain().unwrap();
/// assert_eq!(chain.depth(), 1);
/// assert_eq!(chain.current_actor().unwrap().subject(), "client:worker");
/// let gone: Introspection = serde_json::from_str(r#"{"active":false,"sub":null}"#)?;
/// assert!(!gone.active && gone.delegation_chain().is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is currently active (valid, unexpired, unrevoked).
    pub active: bool,
    /// Scopes, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `username`.
    #[serde(default)]
    pub username: Option<String>,
    /// `Bearer` or `DPoP`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Expiry (seconds since the epoch).
    #[serde(default)]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(default)]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// Subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// Audience(s).
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Token id.
    #[serde(default)]
    pub jti: Option<String>,
    /// The RFC 8693 delegation (`act`, newest actor outermost).
    #[serde(default)]
    pub act: Option<Value>,
    /// RFC 7800 confirmation (`cnf.jkt` for DPoP-bound tokens).
    #[serde(default)]
    pub cnf: Option<Confirmation>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Introspection {
    /// The delegation chain the server reports, parsed as the core parses a token's: `None` when
    /// inactive or when `sub`/`act` are malformed.
    pub fn delegation_chain(&self) -> Option<DelegationChain> {
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::String(self.sub.clone()?));
        if let Some(act) = &self.act {
            claims.insert("act".into(), act.clone());
        }
        let claims = authgent_core::TokenClaims::from_json(claims, 16).ok()?;
        Some(DelegationChain::from_claims(&claims))
    }

    /// Scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_ascii_whitespace()
    }
}

/// RFC 7800 `cnf`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct Confirmation {
    /// RFC 9449 JWK thumbprint of the DPoP key.
    #[serde(default)]
    pub jkt: Option<String>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

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

/// The dry-run answer of `POST /token/check`: would this exchange be allowed?
///
/// ```
/// use authgent_client::ExchangeCheck;
/// let c: ExchangeCheck = serde_json::from_str(r#"{"allowed":false,"effective_scopes":[],
///     "delegation_depth":0,"max_delegation_depth":5,"reasons":["Scope escalation: write"]}"#)?;
/// assert!(!c.allowed && c.reasons[0].contains("write"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExchangeCheck {
    /// Whether it would succeed.
    pub allowed: bool,
    /// The scopes the new token would carry.
    #[serde(default)]
    pub effective_scopes: Vec<String>,
    /// The subject token's delegation depth (authgent-server 0.3.4 reports the parent's
    /// depth: the new token would be one deeper, and is refused when this is already the
    /// maximum).
    #[serde(default)]
    pub delegation_depth: u32,
    /// The server's maximum depth.
    #[serde(default)]
    pub max_delegation_depth: u32,
    /// Why not, when not allowed.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// `extra` members for `Debug`: names only, since servers put tokens there.
struct Names<'a>(&'a Map<String, Value>);

impl fmt::Debug for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, format_args!("***"))))
            .finish()
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

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("active", &self.active)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("token_type", &self.token_type)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("nbf", &self.nbf)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("iss", &self.iss)
            .field("jti", &self.jti)
            .field("act", &self.act)
            .field("cnf", &self.cnf)
            .field("extra", &Names(&self.extra))
            .finish()
    }
}
