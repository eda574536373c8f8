//! [`TokenManager`]: cached, renewed-before-expiry tokens, put on outgoing requests.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;
use reqwest::{RequestBuilder, Response};

use crate::error::{ClientError, challenge_param};
use crate::types::{ExchangeRequest, TokenResponse};
use crate::{AgentAuthClient, ClientCredentials};

/// Longest a token is reused, whatever `expires_in` the server sent.
pub const MAX_CACHED_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Which token a [`TokenManager`] holds: the agent's own (client credentials) for a scope and
/// RFC 8707 resource, or its default token exchanged (RFC 8693) for an audience and scope.
///
/// ```
/// use authgent_client::TokenKey;
/// let own = TokenKey::new(Some("read"), Some("https://tools.example"));
/// let delegated = TokenKey::exchanged("https://downstream.example", Some("read"));
/// assert_ne!(own, delegated);
/// assert_eq!(delegated.resource.as_deref(), Some("https://downstream.example"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TokenKey {
    /// Space-separated scopes, as requested.
    pub scope: Option<String>,
    /// The resource (client credentials) or audience (exchange) the token is for.
    pub resource: Option<String>,
    /// Whether the token is the default token exchanged for `resource`.
    pub exchanged: bool,
}

impl TokenKey {
    /// The agent's own token for `scope` and `resource` (client-credentials grant).
    pub fn new(scope: Option<&str>, resource: Option<&str>) -> Self {
        TokenKey {
            scope: scope.map(str::to_owned),
            resource: resource.map(str::to_owned),
            exchanged: false,
        }
    }

    /// The manager's default token exchanged for `audience`, narrowed to `scope` (RFC 8693):
    /// a delegated token to hand to a downstream service.
    pub fn exchanged(audience: &str, scope: Option<&str>) -> Self {
        TokenKey {
            scope: scope.map(str::to_owned),
            resource: Some(audience.to_owned()),
            exchanged: true,
        }
    }
}

struct Cached {
    token: Arc<TokenResponse>,
    renew_at: Instant,
}

#[derive(Default)]
struct Slot {
    current: Mutex<Option<Cached>>,
    /// Held while one task renews, so concurrent callers wait for its token (single flight).
    renewing: tokio::sync::Mutex<()>,
}

impl Slot {
    fn fresh(&self) -> Option<Arc<TokenResponse>> {
        let current = self.current.lock().ok()?;
        current
            .as_ref()
            .filter(|c| Instant::now() < c.renew_at)
            .map(|c| Arc::clone(&c.token))
    }
}

/// Keeps an agent's access tokens: one per [`TokenKey`], fetched with the client-credentials
/// grant, renewed `buffer` before expiry, one renewal at a time however many tasks ask. With a
/// DPoP client, tokens are DPoP-bound and every authorized request gets a fresh proof with
/// `ath`; a resource server's `use_dpop_nonce` is answered once with its nonce.
///
/// ```no_run
/// use authgent_client::{AgentAuthClient, ClientCredentials, TokenManager};
/// # async fn run() -> Result<(), authgent_client::ClientError> {
/// let auth = AgentAuthClient::new("http://127.0.0.1:8000")?;
/// let tokens = TokenManager::builder(auth, ClientCredentials::new("agnt_…", "…"))
///     .scope("search:execute")
///     .build();
/// let http = reqwest::Client::new();
/// let response = tokens.send(http.get("https://tools.example/search?q=rust")).await?;
/// # let _ = response; Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    client: AgentAuthClient,
    creds: ClientCredentials,
    default_key: TokenKey,
    buffer: Duration,
    slots: Mutex<HashMap<TokenKey, Arc<Slot>>>,
    /// The last `DPoP-Nonce` per resource-server origin.
    nonces: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("client_id", &self.inner.creds.client_id)
            .field("default_key", &self.inner.default_key)
            .field("buffer", &self.inner.buffer)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TokenManager`].
#[derive(Debug)]
#[must_use]
pub struct TokenManagerBuilder {
    client: AgentAuthClient,
    creds: ClientCredentials,
    key: TokenKey,
    buffer: Duration,
}

impl TokenManagerBuilder {
    /// The scope of the default token.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.key.scope = Some(scope.into());
        self
    }

    /// The resource (RFC 8707) of the default token.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.key.resource = Some(resource.into());
        self
    }

    /// Renew this long before expiry (default 30 s).
    pub fn buffer(mut self, buffer: Duration) -> Self {
        self.buffer = buffer;
        self
    }

    /// The manager.
    pub fn build(self) -> TokenManager {
        TokenManager {
            inner: Arc::new(Inner {
                client: self.client,
                creds: self.creds,
                default_key: self.key,
                buffer: self.buffer,
                slots: Mutex::new(HashMap::new()),
                nonces: Mutex::new(HashMap::new()),
            }),
        }
    }
}

fn origin(url: &reqwest::Url) -> String {
    url.origin().ascii_serialization()
}

impl TokenManager {
    /// A manager of `creds`' tokens from `client`'s server.
    pub fn builder(client: AgentAuthClient, creds: ClientCredentials) -> TokenManagerBuilder {
        TokenManagerBuilder {
            client,
            creds,
            key: TokenKey::default(),
            buffer: Duration::from_secs(30),
        }
    }

    fn slot(&self, key: &TokenKey) -> Arc<Slot> {
        let mut slots = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(slots.entry(key.clone()).or_default())
    }

    /// The default token.
    pub async fn token(&self) -> Result<Arc<TokenResponse>, ClientError> {
        self.token_for(&self.inner.default_key.clone()).await
    }

    /// The token for `key`: cached while more than the buffer from expiry, else fetched (once,
    /// however many tasks ask at the same time).
    pub async fn token_for(&self, key: &TokenKey) -> Result<Arc<TokenResponse>, ClientError> {
        let slot = self.slot(key);
        if let Some(token) = slot.fresh() {
            return Ok(token);
        }
        let _renewing = slot.renewing.lock().await;
        if let Some(token) = slot.fresh() {
            return Ok(token);
        }
        let token = Arc::new(self.fetch(key).await?);
        // Without expires_in the lifetime is unknown: use the token once, never cache it.
        // Capped at a day and added with checked arithmetic: a hostile `expires_in` (1e19)
        // must neither panic nor pin a token forever (CONFORMANCE 30).
        let lifetime = token
            .expires_in
            .map_or(Duration::ZERO, Duration::from_secs)
            .min(MAX_CACHED_LIFETIME);
        let now = Instant::now();
        let renew_at = now
            .checked_add(lifetime.saturating_sub(self.inner.buffer))
            .unwrap_or(now);
        if let Ok(mut current) = slot.current.lock() {
            *current = Some(Cached {
                token: Arc::clone(&token),
                renew_at,
            });
        }
        Ok(token)
    }

    async fn fetch(&self, key: &TokenKey) -> Result<TokenResponse, ClientError> {
        let client = &self.inner.client;
        match (&key.resource, key.exchanged) {
            (Some(audience), true) => {
                let parent = Box::pin(self.token()).await?;
                let mut request =
                    ExchangeRequest::new(parent.access_token.clone()).audience(audience);
                if let Some(scope) = &key.scope {
                    request = request.scope(scope);
                }
                client.exchange_token(&self.inner.creds, &request).await
            }
            _ => {
                client
                    .get_token(
                        &self.inner.creds,
                        key.scope.as_deref(),
                        key.resource.as_deref(),
                    )
                    .await
            }
        }
    }

    /// The default token exchanged for `audience` (see [`TokenKey::exchanged`]), cached and
    /// renewed like any other.
    pub async fn exchange_for(
        &self,
        audience: &str,
        scope: Option<&str>,
    ) -> Result<Arc<TokenResponse>, ClientError> {
        self.token_for(&TokenKey::exchanged(audience, scope)).await
    }

    /// `Authorization` (and `DPoP`) headers for a `method` request to `url` with the token for
    /// `key`, for HTTP clients other than reqwest.
    pub async fn headers_for(
        &self,
        method: &str,
        url: &str,
        key: &TokenKey,
    ) -> Result<HeaderMap, ClientError> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| ClientError::Config(format!("HTTP method {method:?}")))?;
        let url = reqwest::Url::parse(url)
            .map_err(|e| ClientError::Config(format!("URL {url:?}: {e}")))?;
        let mut request = reqwest::Request::new(method, url);
        let token = self.token_for(key).await?;
        self.add_credentials(&mut request, &token)?;
        Ok(std::mem::take(request.headers_mut()))
    }

    /// Revokes the token for `key` at the server (RFC 7009) and forgets it.
    pub async fn revoke(&self, key: &TokenKey) -> Result<(), ClientError> {
        let current = self
            .slot(key)
            .current
            .lock()
            .ok()
            .and_then(|mut c| c.take());
        match current {
            Some(cached) => {
                self.inner
                    .client
                    .revoke_token(&self.inner.creds, cached.token.access_token.expose())
                    .await
            }
            None => Ok(()),
        }
    }

    /// Forgets the token for `key` (e.g. after the resource server said `invalid_token`).
    pub fn invalidate(&self, key: &TokenKey) {
        if let Ok(mut current) = self.slot(key).current.lock() {
            *current = None;
        }
    }

    /// Adds `Authorization` (and, for DPoP-bound tokens, a fresh `DPoP` proof with `ath` and the
    /// server's last nonce) to `request`, with the default token.
    pub async fn authorize(&self, request: RequestBuilder) -> Result<RequestBuilder, ClientError> {
        let key = self.inner.default_key.clone();
        self.authorize_for(request, &key).await
    }

    /// [`Self::authorize`] with the token for `key`.
    pub async fn authorize_for(
        &self,
        request: RequestBuilder,
        key: &TokenKey,
    ) -> Result<RequestBuilder, ClientError> {
        let (http, request, _) = self.prepare(request, key).await?;
        Ok(RequestBuilder::from_parts(http, request))
    }

    /// Builds `request` and adds the credentials of the token for `key`.
    async fn prepare(
        &self,
        request: RequestBuilder,
        key: &TokenKey,
    ) -> Result<(reqwest::Client, reqwest::Request, Arc<TokenResponse>), ClientError> {
        let (http, request) = request.build_split();
        let mut request = request.map_err(|e| ClientError::Config(format!("request: {e}")))?;
        let token = self.token_for(key).await?;
        self.add_credentials(&mut request, &token)?;
        Ok((http, request, token))
    }

    fn add_credentials(
        &self,
        request: &mut reqwest::Request,
        token: &TokenResponse,
    ) -> Result<(), ClientError> {
        let access = token.access_token.expose();
        let dpop = self.inner.client.dpop_key().filter(|_| token.is_dpop());
        let scheme = if dpop.is_some() { "DPoP" } else { "Bearer" };
        let value = http::HeaderValue::try_from(format!("{scheme} {access}")).map_err(|_| {
            ClientError::InvalidResponse {
                endpoint: self.inner.client.token_endpoint(),
                detail: "the access token is not a valid header value".into(),
            }
        })?;
        let headers = request.headers_mut();
        headers.insert(http::header::AUTHORIZATION, value);
        if let Some(key) = dpop {
            let nonce = self
                .inner
                .nonces
                .lock()
                .ok()
                .and_then(|n| n.get(&origin(request.url())).cloned());
            let proof = key
                .proof(
                    request.method().as_str(),
                    request.url().as_str(),
                    Some(access),
                    nonce.as_deref(),
                    SystemTime::now(),
                )
                .map_err(ClientError::Dpop)?;
            let proof = http::HeaderValue::try_from(proof)
                .map_err(|_| ClientError::Config("DPoP proof is not a header value".into()))?;
            request.headers_mut().insert("dpop", proof);
        }
        Ok(())
    }

    fn remember_nonce(&self, url: &reqwest::Url, headers: &HeaderMap) {
        if let Some(nonce) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok())
            && let Ok(mut nonces) = self.inner.nonces.lock()
        {
            nonces.insert(origin(url), nonce.to_owned());
        }
    }

    /// Sends `request` with the default token; see [`Self::send_for`].
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let key = self.inner.default_key.clone();
        self.send_for(request, &key).await
    }

    /// Sends `request` authorized with the token for `key`. A `401` whose challenge says
    /// `use_dpop_nonce` (with a `DPoP-Nonce`) is retried once with a new proof carrying that
    /// nonce, when the body can be replayed; a `401 invalid_token` drops the cached token so
    /// the next call fetches a new one. Other answers are returned as they are.
    pub async fn send_for(
        &self,
        request: RequestBuilder,
        key: &TokenKey,
    ) -> Result<Response, ClientError> {
        let (http, request, token) = self.prepare(request, key).await?;
        let retry = request.try_clone();
        let url = request.url().clone();
        let response = http
            .execute(request)
            .await
            .map_err(ClientError::from_reqwest)?;
        self.remember_nonce(&url, response.headers());
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let error = challenge_param(response.headers(), "error");
        match (error.as_deref(), retry) {
            (Some("use_dpop_nonce"), Some(mut again))
                if response.headers().contains_key("dpop-nonce") && token.is_dpop() =>
            {
                self.add_credentials(&mut again, &token)?;
                let response = http
                    .execute(again)
                    .await
                    .map_err(ClientError::from_reqwest)?;
                self.remember_nonce(&url, response.headers());
                Ok(response)
            }
            (Some("invalid_token"), _) => {
                self.invalidate(key);
                Ok(response)
            }
            _ => Ok(response),
        }
    }
}
