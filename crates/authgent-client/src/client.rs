//! [`AgentAuthClient`]: every operation of an authgent authorization server, typed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use authgent_core::dpop::DpopKey;
use authgent_core::metadata::{AuthorizationServerMetadata, well_known_url};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::error::{ClientError, ServerError, json_error};
use crate::transport::{credential_url, origin};
use crate::types::{
    AgentRegistration, ClientRegistration, ExchangeCheck, ExchangeRequest, Introspection,
    RegisteredAgent, RegisteredClient, StepUp, StepUpRequest, TokenResponse, TxnTokenRequest,
    grant_type, token_type,
};
use crate::{ClientCredentials, Secret};

/// Largest response body read from the server (a token response is a few KiB).
const MAX_BODY_BYTES: usize = 1 << 20;

/// Shortest interval between two polls of a step-up request, whatever is configured.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Most authorization-server origins whose `DPoP-Nonce` is remembered (an issuer and its
/// endpoints are a handful).
const MAX_NONCE_ORIGINS: usize = 16;

/// Form fields whose values are secrets: scrubbed from any server text that echoes them.
const SECRET_FIELDS: [&str; 8] = [
    "client_secret",
    "subject_token",
    "actor_token",
    "assertion",
    "refresh_token",
    "code",
    "code_verifier",
    "token",
];

/// How the client authenticates at the token and revocation endpoints (RFC 6749 §2.3.1).
///
/// ```
/// use authgent_client::{AgentAuthClient, ClientAuthMethod};
/// let auth = AgentAuthClient::builder("http://127.0.0.1:8000")
///     .auth_method(ClientAuthMethod::ClientSecretBasic)
///     .build()?;
/// # let _ = auth; Ok::<(), authgent_client::ClientError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// `client_id` and `client_secret` in the form body (the Python SDK's way).
    #[default]
    ClientSecretPost,
    /// HTTP Basic with the form-urlencoded id and secret.
    ClientSecretBasic,
}

/// A client for an authgent authorization server: agent registration, tokens (client
/// credentials, RFC 8693 exchange, identity chaining, transaction tokens, refresh,
/// authorization code), introspection, revocation, step-up and exchange pre-checks.
///
/// Cheap to clone (one shared connection pool). With a [`DpopKey`], every token request
/// carries a fresh DPoP proof for the exact URL it is sent to; a `use_dpop_nonce` answer is
/// retried once with the server's nonce, which is remembered per origin for later requests;
/// and an access token that does not come back `token_type: DPoP` is refused.
///
/// Credentials only go where they belong: the server URL and every discovered endpoint must
/// be `https://` (plain `http://` only on loopback, or after
/// [`allow_insecure_http`](AgentAuthClientBuilder::allow_insecure_http)); no redirect is ever
/// followed (a 3xx is [`ClientError::Redirected`]), whatever HTTP client is configured; and
/// server text in errors is bounded, stripped of control characters and of the secrets sent.
///
/// ```no_run
/// use authgent_client::{AgentAuthClient, AgentRegistration, ExchangeRequest};
/// # async fn run() -> Result<(), authgent_client::ClientError> {
/// let auth = AgentAuthClient::new("http://127.0.0.1:8000")?;
/// let orchestrator = auth
///     .register_agent(&AgentRegistration::new("orchestrator").scopes(["read", "write"]))
///     .await?;
/// let token = auth.get_token(&orchestrator.credentials(), Some("read write"), None).await?;
///
/// let worker = auth.register_agent(&AgentRegistration::new("worker").scopes(["read"])).await?;
/// let delegated = auth
///     .exchange_token(
///         &worker.credentials(),
///         &ExchangeRequest::new(token.access_token).audience("https://tools.example").scope("read"),
///     )
///     .await?;
/// assert_eq!(delegated.scope.as_deref(), Some("read"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AgentAuthClient {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    http: reqwest::Client,
    timeout: Duration,
    auth_method: ClientAuthMethod,
    dpop: Option<Arc<DpopKey>>,
    allow_insecure_http: bool,
    /// The last `DPoP-Nonce` each origin sent (RFC 9449 §8: a nonce is per server).
    nonces: Mutex<HashMap<String, String>>,
    metadata: OnceCell<Arc<AuthorizationServerMetadata>>,
}

impl fmt::Debug for AgentAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuthClient")
            .field("server", &self.inner.base)
            .field("auth_method", &self.inner.auth_method)
            .field("dpop_jkt", &self.inner.dpop.as_ref().map(|k| k.jkt()))
            .field("discovered", &self.inner.metadata.initialized())
            .finish_non_exhaustive()
    }
}

/// Builds an [`AgentAuthClient`].
#[derive(Debug)]
#[must_use]
pub struct AgentAuthClientBuilder {
    base: String,
    http: Option<reqwest::ClientBuilder>,
    timeout: Duration,
    auth_method: ClientAuthMethod,
    dpop: Option<Arc<DpopKey>>,
    allow_insecure_http: bool,
}

impl AgentAuthClientBuilder {
    /// The timeout of each request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Your own `reqwest` configuration (proxies, TLS roots, pool sizes). The client is built
    /// from it with redirects **disabled**, whatever the builder said: requests to the
    /// authorization server carry client secrets, codes and tokens, and a redirect would
    /// re-send them to wherever a `Location` header points. That is why this takes a
    /// `ClientBuilder` and not a built `Client`, whose redirect policy cannot be changed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let auth = authgent_client::AgentAuthClient::builder("https://auth.example")
    ///     .http_client(reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(30)))
    ///     .build()?;
    /// # let _ = auth; Ok::<(), authgent_client::ClientError>(())
    /// ```
    pub fn http_client(mut self, client: reqwest::ClientBuilder) -> Self {
        self.http = Some(client);
        self
    }

    /// Accepts plain `http://` for a server (and discovered endpoints) that is not on
    /// loopback. Credentials then cross the network unencrypted: only for test networks you
    /// control. Loopback `http://` (`127.0.0.1`, `[::1]`, `localhost`) is always accepted.
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }

    /// How to send client credentials (default `client_secret_post`).
    pub fn auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.auth_method = method;
        self
    }

    /// DPoP-bind every token to `key` (RFC 9449). Pass an `Arc<DpopKey>` to share one key
    /// between clients (one per server, say).
    pub fn dpop_key(mut self, key: impl Into<Arc<DpopKey>>) -> Self {
        self.dpop = Some(key.into());
        self
    }

    /// The client.
    pub fn build(self) -> Result<AgentAuthClient, ClientError> {
        let base = self.base.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base).map_err(|e| {
            ClientError::Config(format!(
                "the server URL is not an absolute URL ({e}); use e.g. http://127.0.0.1:8000"
            ))
        })?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ClientError::Config(
                "the server URL must not carry credentials: pass ClientCredentials to each call"
                    .into(),
            ));
        }
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(ClientError::Config(format!(
                "the server URL {base:?} must be an absolute http(s) URL"
            )));
        }
        credential_url(&base, "the server URL", self.allow_insecure_http)?;
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(ClientError::Config(format!(
                "the server URL {base:?} must not have a query or fragment"
            )));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder().connect_timeout(self.timeout),
        }
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ClientError::Config(format!("HTTP client: {e}")))?;
        Ok(AgentAuthClient {
            inner: Arc::new(Inner {
                base,
                http,
                timeout: self.timeout,
                auth_method: self.auth_method,
                dpop: self.dpop,
                allow_insecure_http: self.allow_insecure_http,
                nonces: Mutex::new(HashMap::new()),
                metadata: OnceCell::new(),
            }),
        })
    }
}

/// An answer read whole (up to [`MAX_BODY_BYTES`]).
pub(crate) struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// The secret values the request carried, scrubbed from error text.
    sent: Vec<Secret>,
}

impl Answer {
    /// Adds `secret` to the values scrubbed from error text.
    pub(crate) fn scrub(&mut self, secret: &Secret) {
        self.sent.push(secret.clone());
    }

    pub(crate) fn json<T: DeserializeOwned>(&self, endpoint: &str) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::InvalidResponse {
            endpoint: endpoint.to_owned(),
            detail: format!("body is not the expected JSON: {}", json_error(&e)),
        })
    }

    pub(crate) fn ok_or_error(self, accept: &[u16]) -> Result<Self, ClientError> {
        if accept.contains(&self.status.as_u16()) {
            Ok(self)
        } else {
            let sent: Vec<&str> = self.sent.iter().map(Secret::expose).collect();
            Err(ClientError::from_status(
                self.status.as_u16(),
                &self.headers,
                &self.body,
                &sent,
            ))
        }
    }
}

/// A PKCE verifier and its S256 challenge (RFC 7636), for the authorization-code flow.
///
/// ```
/// let pkce = authgent_client::Pkce::new().unwrap();
/// assert_eq!(pkce.verifier().expose().len(), 43);
/// assert_ne!(pkce.challenge(), pkce.verifier().expose());
/// ```
#[derive(Clone, Debug)]
pub struct Pkce {
    verifier: Secret,
    challenge: String,
}

impl Pkce {
    /// A fresh 256-bit verifier.
    pub fn new() -> Result<Self, ClientError> {
        let mut bytes = [0u8; 32];
        openssl::rand::rand_bytes(&mut bytes)
            .map_err(|e| ClientError::Config(format!("no randomness for PKCE: {e}")))?;
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
        Ok(Pkce {
            verifier: Secret::new(verifier),
            challenge,
        })
    }

    /// The verifier, sent with the code.
    pub fn verifier(&self) -> &Secret {
        &self.verifier
    }

    /// The S256 challenge, sent in the authorization request.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl AgentAuthClient {
    /// A client for the server at `server_url` (its issuer URL), with defaults.
    pub fn new(server_url: impl Into<String>) -> Result<Self, ClientError> {
        Self::builder(server_url).build()
    }

    /// A builder for a client of the server at `server_url`.
    pub fn builder(server_url: impl Into<String>) -> AgentAuthClientBuilder {
        AgentAuthClientBuilder {
            base: server_url.into(),
            http: None,
            timeout: Duration::from_secs(30),
            auth_method: ClientAuthMethod::default(),
            dpop: None,
            allow_insecure_http: false,
        }
    }

    /// The server's URL (its issuer identifier).
    pub fn server_url(&self) -> &str {
        &self.inner.base
    }

    /// The DPoP key tokens are bound to, if any.
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.inner.dpop.as_deref()
    }

    /// The `DPoP-Nonce` the origin of `url` (e.g. [`Self::token_endpoint`]) sent last, if any.
    /// Nonces are kept per origin: one server's nonce is never sent to another.
    pub fn dpop_nonce(&self, url: &str) -> Option<String> {
        let origin = origin(&url::Url::parse(url).ok()?);
        self.inner.nonces.lock().ok()?.get(&origin).cloned()
    }

    /// Fetches the server's RFC 8414 metadata once (its `issuer` must equal the server URL) and
    /// from then on sends requests to the endpoints it names. Without this, the authgent
    /// defaults (`/token`, `/introspect`, `/revoke`, `/register`, `/authorize`) are used.
    ///
    /// Every endpoint the document names must be one credentials may go to: `https://`, or
    /// loopback `http://` when the server URL is `http://` itself (an `https` issuer cannot
    /// name an `http` endpoint), unless insecure HTTP was allowed; otherwise
    /// [`ClientError::InsecureUrl`] and nothing is used.
    pub async fn discover(&self) -> Result<Arc<AuthorizationServerMetadata>, ClientError> {
        self.inner
            .metadata
            .get_or_try_init(|| async {
                let url = well_known_url(&self.inner.base, "oauth-authorization-server")
                    .map_err(|e| ClientError::Config(e.to_string()))?;
                let answer = self
                    .send(self.inner.http.get(&url))
                    .await?
                    .ok_or_error(&[200])?;
                let metadata = AuthorizationServerMetadata::parse(&answer.body, &self.inner.base)
                    .map_err(|e| ClientError::InvalidResponse {
                    endpoint: url,
                    detail: e.to_string(),
                })?;
                self.check_endpoints(&metadata)?;
                Ok(Arc::new(metadata))
            })
            .await
            .cloned()
    }

    fn check_endpoints(&self, m: &AuthorizationServerMetadata) -> Result<(), ClientError> {
        let issuer_https = self.inner.base.starts_with("https:");
        let endpoints = [
            ("the discovered token_endpoint", &m.token_endpoint),
            (
                "the discovered authorization_endpoint",
                &m.authorization_endpoint,
            ),
            (
                "the discovered registration_endpoint",
                &m.registration_endpoint,
            ),
            ("the discovered revocation_endpoint", &m.revocation_endpoint),
            (
                "the discovered introspection_endpoint",
                &m.introspection_endpoint,
            ),
            ("the discovered jwks_uri", &m.jwks_uri),
            (
                "the discovered device_authorization_endpoint",
                &m.device_authorization_endpoint,
            ),
        ];
        for (what, url) in endpoints {
            let Some(url) = url else { continue };
            let parsed = credential_url(url, what, self.inner.allow_insecure_http)?;
            if issuer_https && parsed.scheme() == "http" && !self.inner.allow_insecure_http {
                return Err(ClientError::InsecureUrl {
                    what,
                    url: url.clone(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The discovered metadata, if [`Self::discover`] ran.
    pub fn metadata(&self) -> Option<Arc<AuthorizationServerMetadata>> {
        self.inner.metadata.get().cloned()
    }

    pub(crate) fn endpoint(
        &self,
        pick: fn(&AuthorizationServerMetadata) -> Option<&String>,
        path: &str,
    ) -> String {
        self.inner
            .metadata
            .get()
            .and_then(|m| pick(m).cloned())
            .unwrap_or_else(|| format!("{}{path}", self.inner.base))
    }

    /// The token endpoint requests go to.
    pub fn token_endpoint(&self) -> String {
        self.endpoint(|m| m.token_endpoint.as_ref(), "/token")
    }

    /// Sends `request` and reads the answer whole. A 3xx is refused before its body is read:
    /// the client never follows redirects (its HTTP client is built with none), and says so.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, ClientError> {
        let mut response = request
            .timeout(self.inner.timeout)
            .send()
            .await
            .map_err(ClientError::from_reqwest)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(ClientError::Redirected {
                endpoint: response.url().as_str().to_owned(),
                status: status.as_u16(),
            });
        }
        let headers = std::mem::take(response.headers_mut());
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(too_big(response.url().as_str()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(ClientError::from_reqwest)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_big(response.url().as_str()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            body,
            sent: Vec::new(),
        })
    }

    /// Remembers the `DPoP-Nonce` of an answer from `endpoint`, for `endpoint`'s origin only.
    fn remember_nonce(&self, endpoint: &str, headers: &HeaderMap) {
        let Some(nonce) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) else {
            return;
        };
        let Ok(url) = url::Url::parse(endpoint) else {
            return;
        };
        if let Ok(mut nonces) = self.inner.nonces.lock() {
            if nonces.len() >= MAX_NONCE_ORIGINS && !nonces.contains_key(&origin(&url)) {
                nonces.clear();
            }
            nonces.insert(origin(&url), nonce.to_owned());
        }
    }

    /// A form POST with client authentication and, when a key is set, a DPoP proof for
    /// `endpoint`; retried once on `use_dpop_nonce`.
    async fn post_form(
        &self,
        endpoint: &str,
        creds: Option<&ClientCredentials>,
        mut form: Vec<(&'static str, String)>,
        dpop: bool,
    ) -> Result<Answer, ClientError> {
        let mut basic = None;
        if let Some(creds) = creds {
            match self.inner.auth_method {
                ClientAuthMethod::ClientSecretPost => {
                    form.push(("client_id", creds.client_id.clone()));
                    form.push(("client_secret", creds.client_secret.expose().to_owned()));
                }
                ClientAuthMethod::ClientSecretBasic => {
                    let pair = format!(
                        "{}:{}",
                        form_encode(&creds.client_id),
                        form_encode(creds.client_secret.expose())
                    );
                    basic = Some(format!("Basic {}", STANDARD.encode(pair)));
                }
            }
        }
        let key = self.inner.dpop.as_deref().filter(|_| dpop);
        let sent: Vec<Secret> = form
            .iter()
            .filter(|(name, _)| SECRET_FIELDS.contains(name))
            .map(|(_, value)| Secret::new(value.clone()))
            .collect();
        let mut retried = false;
        loop {
            let mut request = self.inner.http.post(endpoint).form(&form);
            if let Some(basic) = &basic {
                request = request.header(http::header::AUTHORIZATION, basic);
            }
            if let Some(key) = key {
                let nonce = self.dpop_nonce(endpoint);
                let proof = key
                    .proof("POST", endpoint, None, nonce.as_deref(), SystemTime::now())
                    .map_err(ClientError::Dpop)?;
                request = request.header("dpop", proof);
            }
            let mut answer = self.send(request).await?;
            answer.sent.clone_from(&sent);
            self.remember_nonce(endpoint, &answer.headers);
            let wants_nonce = key.is_some()
                && matches!(answer.status.as_u16(), 400 | 401)
                && answer.headers.contains_key("dpop-nonce")
                && ServerError::from_response(
                    answer.status.as_u16(),
                    &answer.headers,
                    &answer.body,
                )
                .code
                    == "use_dpop_nonce";
            if wants_nonce && !retried {
                retried = true;
                tracing::debug!(target: "authgent_client", endpoint, "retrying with the server's DPoP nonce");
                continue;
            }
            return Ok(answer);
        }
    }

    /// A JSON POST to `path` on the server.
    async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        accept: &[u16],
    ) -> Result<T, ClientError> {
        self.post_json_to(&format!("{}{path}", self.inner.base), body, accept)
            .await
    }

    /// A JSON POST to `url`, its answer read as `T` when its status is in `accept`.
    async fn post_json_to<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &impl Serialize,
        accept: &[u16],
    ) -> Result<T, ClientError> {
        let answer = self.send(self.inner.http.post(url).json(body)).await?;
        answer.ok_or_error(accept)?.json(url)
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.inner.base);
        let answer = self.send(self.inner.http.get(&url)).await?;
        answer.ok_or_error(&[200])?.json(&url)
    }

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
        if self.inner.dpop.is_some() && access_token && !token.is_dpop() {
            return Err(ClientError::NotDpopBound(crate::error::server_text(
                &token.token_type,
                32,
            )));
        }
        Ok(token)
    }

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

    /// RFC 7662 introspection. An inactive token is `Ok` with `active: false`.
    ///
    /// ```no_run
    /// # async fn run(auth: authgent_client::AgentAuthClient, me: authgent_client::ClientCredentials, token: &str)
    /// # -> Result<(), authgent_client::ClientError> {
    /// assert!(auth.introspect_token(token, None).await?.active);
    /// auth.revoke_token(&me, token).await?;
    /// assert!(!auth.introspect_token(token, None).await?.active);
    /// # Ok(()) }
    /// ```
    pub async fn introspect_token(
        &self,
        token: &str,
        creds: Option<&ClientCredentials>,
    ) -> Result<Introspection, ClientError> {
        let endpoint = self.endpoint(|m| m.introspection_endpoint.as_ref(), "/introspect");
        let form = vec![("token", token.to_owned())];
        let answer = self.post_form(&endpoint, creds, form, false).await?;
        answer.ok_or_error(&[200])?.json(&endpoint)
    }

    /// RFC 7009 revocation of an access or refresh token the client owns.
    pub async fn revoke_token(
        &self,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<(), ClientError> {
        let endpoint = self.endpoint(|m| m.revocation_endpoint.as_ref(), "/revoke");
        let form = vec![("token", token.to_owned())];
        let answer = self.post_form(&endpoint, Some(creds), form, false).await?;
        answer.ok_or_error(&[200, 204]).map(drop)
    }

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

fn too_big(url: &str) -> ClientError {
    ClientError::InvalidResponse {
        endpoint: url.to_owned(),
        detail: format!("body larger than {MAX_BODY_BYTES} bytes"),
    }
}

/// Percent-encodes an id for use as one path segment.
pub(crate) fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A JWT's payload, unverified (only to learn which agent a token names).
pub(crate) fn unverified_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let payload = parts.nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(issuer: &str, token_endpoint: &str) -> AuthorizationServerMetadata {
        let doc = format!(r#"{{"issuer":"{issuer}","token_endpoint":"{token_endpoint}"}}"#);
        AuthorizationServerMetadata::parse(doc.as_bytes(), issuer).unwrap()
    }

    #[test]
    fn an_https_issuer_cannot_name_a_plain_http_endpoint() {
        let auth = AgentAuthClient::new("https://as.example").unwrap();
        for endpoint in ["http://as.example/token", "http://127.0.0.1:8000/token"] {
            let err = auth
                .check_endpoints(&metadata("https://as.example", endpoint))
                .unwrap_err();
            assert_eq!(err.code(), "insecure_url", "{endpoint}");
        }
        auth.check_endpoints(&metadata("https://as.example", "https://tokens.example/t"))
            .unwrap();
        let relaxed = AgentAuthClient::builder("https://as.example")
            .allow_insecure_http()
            .build()
            .unwrap();
        relaxed
            .check_endpoints(&metadata("https://as.example", "http://as.example/token"))
            .unwrap();
        // A loopback issuer may name loopback endpoints.
        let local = AgentAuthClient::new("http://127.0.0.1:8000").unwrap();
        local
            .check_endpoints(&metadata(
                "http://127.0.0.1:8000",
                "http://localhost:8001/token",
            ))
            .unwrap();
    }
}
