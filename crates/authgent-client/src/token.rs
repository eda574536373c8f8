//! Tokens: the token endpoint's answer, RFC 8693 exchange and transaction-token requests, and
//! the [`AgentAuthClient`] grants (client credentials, exchange, identity chaining, transaction
//! tokens, refresh, exchange pre-checks).

use serde::Deserialize;
use serde_json::Value;

use crate::{AgentAuthClient, ClientCredentials, ClientError, Secret};

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

impl AgentAuthClient {
    /// `POST /token` with `form`. `access_token` says whether the request asks for an access
    /// token (every grant but the identity-chaining JWT grant and transaction tokens): with a
    /// DPoP key, such an answer must be `token_type: DPoP`. The decision follows what was
    /// requested, never what the server claims to have issued: an answer of `N_A` or of
    /// another `issued_token_type` cannot turn a DPoP request into a bearer token.
    async fn token(
        &self,
        creds: &ClientCredentials,
        form: Vec<(&'static str, String)>,
        access_token: bool,
    ) -> Result<TokenResponse, ClientError> {
        let endpoint = self.token_endpoint();
        let answer = self
            .post_form(&endpoint, Some(creds), form, true)
            .await?
            .ok_or_error(&[200])?;
        let token: TokenResponse = answer.json(&endpoint)?;
        if self.dpop_key().is_some() && access_token && !token.is_dpop() {
            return Err(ClientError::NotDpopBound(crate::error::server_text(
                &token.token_type,
                32,
            )));
        }
        Ok(token)
    }

    /// An access token for the client itself (client-credentials grant), optionally narrowed to
    /// `scope` (space-separated) and bound to an RFC 8707 `resource`.
    pub async fn get_token(
        &self,
        creds: &ClientCredentials,
        scope: Option<&str>,
        resource: Option<&str>,
    ) -> Result<TokenResponse, ClientError> {
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if let Some(scope) = scope {
            form.push(("scope", scope.to_owned()));
        }
        if let Some(resource) = resource {
            form.push(("resource", resource.to_owned()));
        }
        self.token(creds, form, true).await
    }

    /// RFC 8693 token exchange: a delegated token with one more `act` level, acting for the
    /// subject. The server refuses wider scopes (`scope_escalation`) and chains deeper than its
    /// limit (`delegation_depth_exceeded`).
    pub async fn exchange_token(
        &self,
        creds: &ClientCredentials,
        request: &ExchangeRequest,
    ) -> Result<TokenResponse, ClientError> {
        self.token(creds, request.form(), request.requests_access_token())
            .await
    }

    /// Identity chaining, domain A (draft-ietf-oauth-identity-chaining §2.3): a short-lived JWT
    /// authorization grant for `target_authorization_server`, to hand to it.
    ///
    /// ```no_run
    /// # async fn run(auth: authgent_client::AgentAuthClient, me: authgent_client::ClientCredentials,
    /// #   b: authgent_client::AgentAuthClient, b_client: authgent_client::ClientCredentials, token: &str)
    /// # -> Result<(), authgent_client::ClientError> {
    /// let grant = auth.start_identity_chain(&me, token, b.server_url(), Some("read")).await?;
    /// let in_b = b.consume_identity_chain(&b_client, grant.access_token.expose(), None, Some("read")).await?;
    /// # let _ = in_b; Ok(()) }
    /// ```
    pub async fn start_identity_chain(
        &self,
        creds: &ClientCredentials,
        subject_token: &str,
        target_authorization_server: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, ClientError> {
        let mut request = ExchangeRequest::new(subject_token)
            .requested_token_type(token_type::JWT)
            .audience(target_authorization_server);
        if let Some(scope) = scope {
            request = request.scope(scope);
        }
        self.token(creds, request.form(), false).await
    }

    /// Identity chaining, domain B (§2.4, RFC 7523): redeems a JWT authorization grant for an
    /// access token. Grants are single-use.
    pub async fn consume_identity_chain(
        &self,
        creds: &ClientCredentials,
        assertion: &str,
        resource: Option<&str>,
        scope: Option<&str>,
    ) -> Result<TokenResponse, ClientError> {
        let mut form = vec![
            ("grant_type", grant_type::JWT_BEARER.to_owned()),
            ("assertion", assertion.to_owned()),
        ];
        if let Some(resource) = resource {
            form.push(("resource", resource.to_owned()));
        }
        if let Some(scope) = scope {
            form.push(("scope", scope.to_owned()));
        }
        self.token(creds, form, true).await
    }

    /// A transaction token (`typ: txntoken+jwt`) for a trust domain; verify it downstream with
    /// [`authgent_core::txn::TxnTokenValidator`].
    ///
    /// ```no_run
    /// # use authgent_client::{AgentAuthClient, ClientCredentials, TxnTokenRequest};
    /// # async fn run(auth: AgentAuthClient, me: ClientCredentials, token: &str) -> Result<(), authgent_client::ClientError> {
    /// let txn = auth
    ///     .issue_transaction_token(&me, &TxnTokenRequest::new(token, "https://trust-domain.example", "read")
    ///         .request_details(serde_json::json!({"action": "transfer", "amount": 100})))
    ///     .await?;
    /// assert_eq!(txn.token_type, "N_A");
    /// # Ok(()) }
    /// ```
    pub async fn issue_transaction_token(
        &self,
        creds: &ClientCredentials,
        request: &TxnTokenRequest,
    ) -> Result<TokenResponse, ClientError> {
        let mut form = ExchangeRequest::new(request.subject_token.clone())
            .requested_token_type(token_type::TXN_TOKEN)
            .audience(request.trust_domain.clone())
            .scope(request.scope.clone())
            .form();
        if let Some(details) = &request.request_details {
            form.push(("request_details", details.to_string()));
        }
        if let Some(context) = &request.request_context {
            form.push(("request_context", context.to_string()));
        }
        self.token(creds, form, false).await
    }

    /// A fresh access token for a refresh token, for `resource` (RFC 8707; MCP clients must
    /// name it on every token request). The server rotates refresh tokens: use the new one;
    /// reusing the old one is refused (`invalid_grant`) and revokes the family.
    pub async fn refresh_token(
        &self,
        creds: &ClientCredentials,
        refresh_token: &str,
        resource: Option<&str>,
    ) -> Result<TokenResponse, ClientError> {
        let mut form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token.to_owned()),
        ];
        if let Some(resource) = resource {
            form.push(("resource", resource.to_owned()));
        }
        self.token(creds, form, true).await
    }

    /// `POST /token` with an authorization-code grant's `form` (see
    /// [`AuthorizationRequest`](crate::AuthorizationRequest)).
    pub(crate) async fn code_grant(
        &self,
        creds: &ClientCredentials,
        form: Vec<(&'static str, String)>,
    ) -> Result<TokenResponse, ClientError> {
        self.token(creds, form, true).await
    }

    /// Dry run: would `client_id` exchanging `subject_token` for `audience` with `scope` be
    /// allowed, and with which scopes and depth (`POST /token/check`)?
    ///
    /// ```no_run
    /// # async fn run(auth: authgent_client::AgentAuthClient, token: &str) -> Result<(), authgent_client::ClientError> {
    /// let check = auth.check_exchange(token, "https://tools.example", "agnt_worker", "read").await?;
    /// if !check.allowed { eprintln!("would be refused: {:?}", check.reasons); }
    /// # Ok(()) }
    /// ```
    pub async fn check_exchange(
        &self,
        subject_token: &str,
        audience: &str,
        client_id: &str,
        scope: &str,
    ) -> Result<ExchangeCheck, ClientError> {
        let body = serde_json::json!({
            "subject_token": subject_token,
            "audience": audience,
            "client_id": client_id,
            "scope": scope,
        });
        self.post_json("/token/check", &body, &[200]).await
    }
}
