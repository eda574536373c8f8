//! [`TokenManager`]: cached, renewed-before-expiry tokens, put on outgoing requests.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;
use reqwest::{RequestBuilder, Response, Url};

use crate::error::{ClientError, challenge_param};
use crate::scope_challenge::{ScopeChallenge, ScopeStepUp};
use crate::transport::{Nonces, credential_url, origin};
use crate::{AgentAuthClient, ClientCredentials};
use crate::{ExchangeRequest, Secret, TokenResponse};

/// Longest a token is reused, whatever `expires_in` the server sent.
pub const MAX_CACHED_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Most distinct [`TokenKey`]s a manager keeps at once; idle ones are dropped beyond that.
pub const MAX_TOKEN_KEYS: usize = 256;

/// Most resource-server origins whose `DPoP-Nonce` a manager remembers.
const MAX_NONCE_ORIGINS: usize = 64;

/// How long a failed renewal is shared with every caller before one tries again (a rate
/// limit's `Retry-After` counts instead, up to [`MAX_RENEWAL_BACKOFF`]).
const RENEWAL_BACKOFF: Duration = Duration::from_secs(1);

/// Longest a failed renewal is shared.
const MAX_RENEWAL_BACKOFF: Duration = Duration::from_secs(60);

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
    /// The caller's token the token is exchanged from, on a caller's behalf
    /// ([`TokenKey::on_behalf`]).
    pub on_behalf_of: Option<CallerToken>,
}

/// A caller's access token in a [`TokenKey`]: compared and hashed by its SHA-256 only, and
/// redacted in `Debug`, so keys can be logged and kept in maps without the token.
#[derive(Clone)]
pub struct CallerToken {
    digest: [u8; 32],
    token: Arc<Secret>,
}

impl CallerToken {
    /// The caller's token.
    pub fn new(token: &str) -> Self {
        CallerToken {
            digest: authgent_core::crypto::sha256(token.as_bytes()),
            token: Arc::new(Secret::new(token)),
        }
    }
}

impl PartialEq for CallerToken {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}

impl Eq for CallerToken {}

impl std::hash::Hash for CallerToken {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.digest.hash(state);
    }
}

impl fmt::Debug for CallerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallerToken(<redacted>)")
    }
}

impl TokenKey {
    /// The agent's own token for `scope` and `resource` (client-credentials grant).
    pub fn new(scope: Option<&str>, resource: Option<&str>) -> Self {
        TokenKey {
            scope: scope.map(str::to_owned),
            resource: resource.map(str::to_owned),
            exchanged: false,
            on_behalf_of: None,
        }
    }

    /// The manager's default token exchanged for `audience`, narrowed to `scope` (RFC 8693):
    /// a delegated token to hand to a downstream service.
    pub fn exchanged(audience: &str, scope: Option<&str>) -> Self {
        TokenKey {
            scope: scope.map(str::to_owned),
            resource: Some(audience.to_owned()),
            exchanged: true,
            on_behalf_of: None,
        }
    }

    /// A caller's token exchanged for `audience`, narrowed to `scope` (RFC 8693), with this
    /// manager's credentials: the downstream service sees the caller as the subject and this
    /// client as the current actor. Cached and renewed like any other token, keyed by the
    /// caller's token (its digest); bound to `audience`'s origin.
    ///
    /// ```
    /// use authgent_client::TokenKey;
    /// let key = TokenKey::on_behalf("eyJ…caller", "https://mcp.example/mcp", Some("tools:read"));
    /// assert!(!format!("{key:?}").contains("eyJ"));
    /// assert_eq!(key, TokenKey::on_behalf("eyJ…caller", "https://mcp.example/mcp", Some("tools:read")));
    /// ```
    pub fn on_behalf(caller_token: &str, audience: &str, scope: Option<&str>) -> Self {
        TokenKey {
            scope: scope.map(str::to_owned),
            resource: Some(audience.to_owned()),
            exchanged: true,
            on_behalf_of: Some(CallerToken::new(caller_token)),
        }
    }
}

struct Cached {
    token: Arc<TokenResponse>,
    renew_at: Instant,
}

/// A renewal that failed, shared with the callers that come within its backoff.
struct Failed {
    at: Instant,
    until: Instant,
    error: Arc<ClientError>,
}

#[derive(Default)]
struct Slot {
    current: Mutex<Option<Cached>>,
    /// Held while one task renews, so concurrent callers wait for its token (single flight).
    renewing: tokio::sync::Mutex<()>,
    failed: Mutex<Option<Failed>>,
}

impl Slot {
    fn fresh(&self) -> Option<Arc<TokenResponse>> {
        let current = self.current.lock().ok()?;
        current
            .as_ref()
            .filter(|c| Instant::now() < c.renew_at)
            .map(|c| Arc::clone(&c.token))
    }

    /// The shared failure, while its backoff runs.
    fn backoff(&self) -> Option<ClientError> {
        let failed = self.failed.lock().ok()?;
        let failed = failed.as_ref()?;
        let now = Instant::now();
        (now < failed.until).then(|| ClientError::RenewalBackoff {
            retry_after: failed.until - now,
            failed_ago: now - failed.at,
            cause: Arc::clone(&failed.error),
        })
    }

    fn record_failure(&self, error: &ClientError) {
        let wait = match error {
            ClientError::RateLimited {
                retry_after: Some(d),
                ..
            } => (*d).clamp(RENEWAL_BACKOFF, MAX_RENEWAL_BACKOFF),
            _ => RENEWAL_BACKOFF,
        };
        let at = Instant::now();
        if let Ok(mut failed) = self.failed.lock() {
            *failed = Some(Failed {
                at,
                until: at.checked_add(wait).unwrap_or(at),
                error: Arc::new(error.clone()),
            });
        }
    }
}

/// Keeps an agent's access tokens: one per [`TokenKey`], fetched with the client-credentials
/// grant, renewed `buffer` before expiry, one renewal at a time however many tasks ask. With a
/// DPoP client, tokens are DPoP-bound and every authorized request gets a fresh proof with
/// `ath`; a resource server's `use_dpop_nonce` is answered once with its nonce.
///
/// **Tokens go only where they belong.** Each token is bound to the origin of the resource
/// (or exchange audience) it was requested for, or, for tokens without one, to the origins
/// given to [`allow_origin`](TokenManagerBuilder::allow_origin); a request to any other
/// origin is [`ClientError::OriginNotBound`] before anything is sent or fetched. Plain
/// `http://` origins are refused unless they are loopback (or
/// [`allow_insecure_http`](TokenManagerBuilder::allow_insecure_http)).
///
/// **Authenticated requests never follow redirects.** They go out on the manager's own HTTP
/// client, built with redirects disabled (the client a `RequestBuilder` was made from is not
/// used): a 3xx comes back to you as it is, so the token, the proof and the body never reach
/// the `Location`, and a proof is never replayed for a URL it was not made for.
///
/// ```no_run
/// use authgent_client::{AgentAuthClient, ClientCredentials, TokenManager};
/// # async fn run() -> Result<(), authgent_client::ClientError> {
/// let auth = AgentAuthClient::new("http://127.0.0.1:8000")?;
/// let tokens = TokenManager::builder(auth, ClientCredentials::new("agnt_…", "…"))
///     .resource("https://tools.example") // tokens for tools.example go to tools.example only
///     .scope("search:execute")
///     .build()?;
/// let http = reqwest::Client::new();
/// let response = tokens.send(http.get("https://tools.example/search?q=rust")).await?;
/// assert!(tokens.send(http.get("https://elsewhere.example/")).await.is_err()); // nothing sent
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
    /// Where tokens without a URL resource may go (`scheme://host[:port]`).
    origins: Vec<String>,
    /// Where the default token may go, computed once.
    default_origins: Vec<String>,
    allow_insecure_http: bool,
    /// Sends authenticated requests; never follows redirects.
    http: reqwest::Client,
    timeout: Duration,
    slots: Mutex<HashMap<TokenKey, Arc<Slot>>>,
    /// The last `DPoP-Nonce` per resource-server origin.
    nonces: Nonces,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("client_id", &self.inner.creds.client_id)
            .field("default_key", &self.inner.default_key)
            .field("origins", &self.inner.origins)
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
    origins: Vec<String>,
    allow_insecure_http: bool,
    http: Option<reqwest::ClientBuilder>,
    timeout: Duration,
}

impl TokenManagerBuilder {
    /// The scope of the default token.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.key.scope = Some(scope.into());
        self
    }

    /// The resource (RFC 8707) of the default token: the URL of the service it is for. The
    /// token is sent to that URL's origin and nowhere else.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.key.resource = Some(resource.into());
        self
    }

    /// An origin (`https://host[:port]`) that tokens requested without a URL resource may be
    /// sent to (repeatable): for authorization servers that issue tokens without `resource`,
    /// say so explicitly here. Tokens with a URL resource stay bound to its origin only.
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.origins.push(origin.into());
        self
    }

    /// Accepts plain `http://` resource origins that are not loopback. Tokens then cross the
    /// network unencrypted: only for test networks you control.
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }

    /// Your own `reqwest` configuration for the requests the manager authenticates (TLS roots,
    /// proxies). The client is built from it with redirects disabled, whatever it says.
    /// Without this, authenticated requests use no proxy, whatever `HTTP_PROXY` and friends
    /// say; a builder you pass is used as configured (start from
    /// [`credential_http_client`](crate::credential_http_client) to keep the environment's
    /// proxies out, as `reqwest::Client::builder()` reads them).
    pub fn http_client(mut self, client: reqwest::ClientBuilder) -> Self {
        self.http = Some(client);
        self
    }

    /// The timeout of each authenticated request that sets none itself (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Renew this long before expiry (default 30 s).
    pub fn buffer(mut self, buffer: Duration) -> Self {
        self.buffer = buffer;
        self
    }

    /// The manager. Fails when the default token would have nowhere it may go (no URL
    /// [`resource`](Self::resource) and no [`allow_origin`](Self::allow_origin)), for an
    /// origin that is not one, or for non-loopback `http://`.
    pub fn build(self) -> Result<TokenManager, ClientError> {
        let mut origins = Vec::with_capacity(self.origins.len());
        for given in &self.origins {
            let url = credential_url(given, "the allowed origin", self.allow_insecure_http)?;
            let origin = origin(&url);
            if url.as_str().trim_end_matches('/') != origin {
                return Err(ClientError::Config(format!(
                    "allow_origin({given:?}) is not an origin: give scheme://host[:port] only, e.g. {origin:?}"
                )));
            }
            origins.push(origin);
        }
        let resource_url = self.key.resource.as_deref().filter(|r| is_url(r));
        let default_origins = if let Some(resource) = resource_url {
            vec![origin(&credential_url(
                resource,
                "the resource",
                self.allow_insecure_http,
            )?)]
        } else {
            origins.clone()
        };
        if default_origins.is_empty() {
            return Err(ClientError::Config(
                "a TokenManager must know where its tokens may go: set .resource(\"https://service.example\") \
                 (the service the token is for) or .allow_origin(\"https://service.example\")"
                    .into(),
            ));
        }
        let http = self
            .http
            .unwrap_or_else(crate::credential_http_client)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Config(format!("HTTP client: {e}")))?;
        Ok(TokenManager {
            inner: Arc::new(Inner {
                client: self.client,
                creds: self.creds,
                default_key: self.key,
                buffer: self.buffer,
                origins,
                default_origins,
                allow_insecure_http: self.allow_insecure_http,
                http,
                timeout: self.timeout,
                slots: Mutex::new(HashMap::new()),
                nonces: Nonces::new(MAX_NONCE_ORIGINS),
            }),
        })
    }
}

/// Whether `s` is an absolute `http(s)` URL with a host (a resource that names an origin).
fn is_url(s: &str) -> bool {
    Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

fn request_error(e: &reqwest::Error) -> ClientError {
    ClientError::Config(format!("request: {e}"))
}

impl TokenManager {
    /// A manager of `creds`' tokens from `client`'s server.
    pub fn builder(client: AgentAuthClient, creds: ClientCredentials) -> TokenManagerBuilder {
        TokenManagerBuilder {
            client,
            creds,
            key: TokenKey::default(),
            buffer: Duration::from_secs(30),
            origins: Vec::new(),
            allow_insecure_http: false,
            http: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// The origins the token for `key` may be sent to: its resource's, when that is a URL,
    /// else the allowed origins.
    pub fn bound_origins(&self, key: &TokenKey) -> Result<Vec<String>, ClientError> {
        if *key == self.inner.default_key {
            return Ok(self.inner.default_origins.clone());
        }
        match key.resource.as_deref().filter(|r| is_url(r)) {
            Some(resource) => {
                let url = credential_url(resource, "the resource", self.inner.allow_insecure_http)?;
                Ok(vec![origin(&url)])
            }
            None => Ok(self.inner.origins.clone()),
        }
    }

    /// Refuses `url` unless it is on an origin the token for `key` is bound to.
    fn check_destination(&self, url: &Url, key: &TokenKey) -> Result<(), ClientError> {
        let target = origin(url);
        let bound = if *key == self.inner.default_key {
            if self.inner.default_origins.contains(&target) {
                return Ok(());
            }
            self.inner.default_origins.clone()
        } else {
            let bound = self.bound_origins(key)?;
            if bound.contains(&target) {
                return Ok(());
            }
            bound
        };
        Err(ClientError::OriginNotBound {
            origin: target,
            bound,
        })
    }

    fn slot(&self, key: &TokenKey) -> Result<Arc<Slot>, ClientError> {
        let mut slots = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(key) {
            return Ok(Arc::clone(slot));
        }
        if slots.len() >= MAX_TOKEN_KEYS {
            let default = &self.inner.default_key;
            slots.retain(|k, s| k == default || Arc::strong_count(s) > 1);
        }
        if slots.len() >= MAX_TOKEN_KEYS {
            return Err(ClientError::Config(format!(
                "more than {MAX_TOKEN_KEYS} distinct token keys in use at once"
            )));
        }
        Ok(Arc::clone(slots.entry(key.clone()).or_default()))
    }

    fn existing_slot(&self, key: &TokenKey) -> Option<Arc<Slot>> {
        let slots = self.inner.slots.lock().ok()?;
        slots.get(key).cloned()
    }

    /// The default token.
    pub async fn token(&self) -> Result<Arc<TokenResponse>, ClientError> {
        self.token_for(&self.inner.default_key.clone()).await
    }

    /// The token for `key`: cached while more than the buffer from expiry, else fetched (once,
    /// however many tasks ask at the same time). A failed fetch is shared with every caller
    /// for a short backoff ([`ClientError::RenewalBackoff`]) instead of being repeated by each.
    ///
    /// The raw token is yours to send; [`Self::send`] and friends are the calls that enforce
    /// where it may go.
    pub async fn token_for(&self, key: &TokenKey) -> Result<Arc<TokenResponse>, ClientError> {
        let slot = self.slot(key)?;
        if let Some(token) = slot.fresh() {
            return Ok(token);
        }
        let _renewing = slot.renewing.lock().await;
        if let Some(token) = slot.fresh() {
            return Ok(token);
        }
        if let Some(error) = slot.backoff() {
            return Err(error);
        }
        let token = match self.fetch(key).await {
            Ok(token) => Arc::new(token),
            Err(error) => {
                slot.record_failure(&error);
                return Err(error);
            }
        };
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
        if let Ok(mut failed) = slot.failed.lock() {
            *failed = None;
        }
        Ok(token)
    }

    async fn fetch(&self, key: &TokenKey) -> Result<TokenResponse, ClientError> {
        let client = &self.inner.client;
        match (&key.resource, key.exchanged) {
            (Some(audience), true) => {
                let subject = match &key.on_behalf_of {
                    Some(caller) => Secret::clone(&caller.token),
                    None => Box::pin(self.token()).await?.access_token.clone(),
                };
                let mut request = ExchangeRequest::new(subject).audience(audience);
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
    /// `key`, for HTTP clients other than reqwest. `url` must be on an origin the token is
    /// bound to. The values are marked sensitive; make sure your client does not follow
    /// redirects with them.
    pub async fn headers_for(
        &self,
        method: &str,
        url: &str,
        key: &TokenKey,
    ) -> Result<HeaderMap, ClientError> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| ClientError::Config(format!("HTTP method {method:?}")))?;
        let url = Url::parse(url).map_err(|e| ClientError::Config(format!("URL {url:?}: {e}")))?;
        self.check_destination(&url, key)?;
        let mut request = reqwest::Request::new(method, url);
        let token = self.token_for(key).await?;
        self.add_credentials(&mut request, &token)?;
        Ok(std::mem::take(request.headers_mut()))
    }

    /// Revokes the token for `key` at the server (RFC 7009) and forgets it.
    pub async fn revoke(&self, key: &TokenKey) -> Result<(), ClientError> {
        let current = self
            .existing_slot(key)
            .and_then(|slot| slot.current.lock().ok().and_then(|mut c| c.take()));
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
        if let Some(slot) = self.existing_slot(key)
            && let Ok(mut current) = slot.current.lock()
        {
            *current = None;
        }
    }

    /// Forgets the token for `key` if it is still `token` (a newer one is kept).
    fn invalidate_if_current(&self, key: &TokenKey, token: &Arc<TokenResponse>) {
        if let Some(slot) = self.existing_slot(key)
            && let Ok(mut current) = slot.current.lock()
            && current
                .as_ref()
                .is_some_and(|c| Arc::ptr_eq(&c.token, token))
        {
            *current = None;
        }
    }

    /// Adds `Authorization` (and, for DPoP-bound tokens, a fresh `DPoP` proof with `ath` and the
    /// server's last nonce) to `request`, with the default token. The request must be for an
    /// origin the token is bound to. The builder returned sends on the manager's client, which
    /// never follows redirects.
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
        let (_, request) = request.build_split();
        let mut request = request.map_err(|e| request_error(&e))?;
        let _token = self.prepare(&mut request, key).await?;
        Ok(RequestBuilder::from_parts(self.inner.http.clone(), request))
    }

    /// Checks where `request` goes, then adds the credentials of the token for `key`.
    async fn prepare(
        &self,
        request: &mut reqwest::Request,
        key: &TokenKey,
    ) -> Result<Arc<TokenResponse>, ClientError> {
        self.check_destination(request.url(), key)?;
        let token = self.token_for(key).await?;
        self.add_credentials(request, &token)?;
        if request.timeout().is_none() {
            *request.timeout_mut() = Some(self.inner.timeout);
        }
        Ok(token)
    }

    fn add_credentials(
        &self,
        request: &mut reqwest::Request,
        token: &TokenResponse,
    ) -> Result<(), ClientError> {
        let access = token.access_token.expose();
        let dpop = self.inner.client.dpop_key();
        if dpop.is_some() && !token.is_dpop() {
            // A DPoP client never sends its tokens as bearer tokens.
            return Err(ClientError::NotDpopBound(token.token_type.clone()));
        }
        let scheme = if dpop.is_some() { "DPoP" } else { "Bearer" };
        let mut value =
            http::HeaderValue::try_from(format!("{scheme} {access}")).map_err(|_| {
                ClientError::InvalidResponse {
                    endpoint: self.inner.client.token_endpoint(),
                    detail: "the access token is not a valid header value".into(),
                }
            })?;
        value.set_sensitive(true);
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
        if let Some(key) = dpop {
            let nonce = self.inner.nonces.get(request.url());
            let proof = key
                .proof(
                    request.method().as_str(),
                    request.url().as_str(),
                    Some(access),
                    nonce.as_deref(),
                    SystemTime::now(),
                )
                .map_err(ClientError::Dpop)?;
            let mut proof = http::HeaderValue::try_from(proof)
                .map_err(|_| ClientError::Config("DPoP proof is not a header value".into()))?;
            proof.set_sensitive(true);
            request.headers_mut().insert("dpop", proof);
        }
        Ok(())
    }

    /// Sends `request` with the default token; see [`Self::send_for`].
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let key = self.inner.default_key.clone();
        self.send_for(request, &key).await
    }

    /// Sends `request` authorized with the token for `key`, on the manager's HTTP client (only
    /// the request is taken from the builder). A request to an origin the token is not bound
    /// to is refused before anything is sent. Redirects are not followed: a 3xx is returned as
    /// it is. A `401` whose challenge says `use_dpop_nonce` (with a `DPoP-Nonce`) is retried
    /// once with a new proof carrying that nonce, when the body can be replayed; a
    /// `401 invalid_token` drops the cached token (if it is still the one sent) so the next
    /// call fetches a new one. Other answers are returned as they are.
    pub async fn send_for(
        &self,
        request: RequestBuilder,
        key: &TokenKey,
    ) -> Result<Response, ClientError> {
        let (_, request) = request.build_split();
        let request = request.map_err(|e| request_error(&e))?;
        self.send_request(request, key).await.map(|(r, _)| r)
    }

    async fn execute(&self, request: reqwest::Request) -> Result<Response, ClientError> {
        self.inner
            .http
            .execute(request)
            .await
            .map_err(ClientError::from_reqwest)
    }

    /// Sends `request` on the caller's behalf: the caller's access token (`subject_token`,
    /// e.g. [`authgent_jwks::AuthContext::subject_token`] in a service) is exchanged (RFC 8693)
    /// with this manager's credentials for a token whose audience is `audience` (narrowed to
    /// `scope`), which then authorizes the request — DPoP-bound when the client has a key, with
    /// the nonce retry of [`Self::send_for`]. The new token carries one more `act` level (this
    /// service acting for the caller), so the downstream service sees the whole chain.
    ///
    /// This is how a tool or API calls downstream **without token passthrough** (MCP
    /// authorization forbids forwarding the token a client sent): the caller's token goes only
    /// to the authorization server. The request must be for `audience`'s origin (checked
    /// before anything is sent, `https` off loopback unless allowed). Exchanged tokens are not
    /// cached: each call exchanges.
    ///
    /// ```no_run
    /// # async fn run(tokens: authgent_client::TokenManager, caller_token: &str) -> Result<(), authgent_client::ClientError> {
    /// let downstream = "https://records.example.com";
    /// let response = tokens
    ///     .send_on_behalf(
    ///         caller_token,
    ///         downstream,
    ///         Some("records:read"),
    ///         reqwest::Client::new().get(format!("{downstream}/records")),
    ///     )
    ///     .await?;
    /// # let _ = response; Ok(()) }
    /// ```
    pub async fn send_on_behalf(
        &self,
        subject_token: &str,
        audience: &str,
        scope: Option<&str>,
        request: RequestBuilder,
    ) -> Result<Response, ClientError> {
        let request = self.on_behalf_request(audience, request)?;
        self.exchange_and_send(subject_token, audience, scope, request)
            .await
            .map(|(response, _)| response)
    }

    /// [`Self::send_on_behalf`], stepping up on `403 insufficient_scope` by the MCP rule: the
    /// caller's token is exchanged again for the union of the scopes asked for and the
    /// challenged ones that `rule` allows, then the request is retried, at most
    /// [`ScopeStepUp::max_retries`] times (and only while the union grows and the body can be
    /// replayed). A scope the rule does not allow is never asked for: the `403` is returned.
    /// The authorization server still decides: it grants no scope the caller's own token does
    /// not carry. Returns the last answer and the scope its token was exchanged for.
    ///
    /// ```no_run
    /// # async fn run(tokens: authgent_client::TokenManager, caller_token: &str) -> Result<(), authgent_client::ClientError> {
    /// use authgent_client::ScopeStepUp;
    /// let downstream = "https://records.example.com";
    /// let rule = ScopeStepUp::new(["records:read", "records:delete"]);
    /// let (response, scope) = tokens
    ///     .send_on_behalf_with_step_up(
    ///         caller_token,
    ///         downstream,
    ///         Some("records:read"),
    ///         reqwest::Client::new().delete(format!("{downstream}/records/7")),
    ///         &rule,
    ///     )
    ///     .await?;
    /// println!("{} with {scope:?}", response.status());
    /// # Ok(()) }
    /// ```
    pub async fn send_on_behalf_with_step_up(
        &self,
        subject_token: &str,
        audience: &str,
        scope: Option<&str>,
        request: RequestBuilder,
        rule: &ScopeStepUp,
    ) -> Result<(Response, Option<String>), ClientError> {
        let request = self.on_behalf_request(audience, request)?;
        let grant = Grant::OnBehalf {
            subject_token,
            audience,
        };
        self.stepping_up(&grant, request, scope.map(str::to_owned), rule)
            .await
    }

    /// The request to send on a caller's behalf to `audience`: built, and for `audience`'s
    /// origin (`https` off loopback unless allowed).
    fn on_behalf_request(
        &self,
        audience: &str,
        request: RequestBuilder,
    ) -> Result<reqwest::Request, ClientError> {
        let (_, request) = request.build_split();
        let request = request.map_err(|e| request_error(&e))?;
        let bound = origin(&credential_url(
            audience,
            "the audience",
            self.inner.allow_insecure_http,
        )?);
        let target = origin(request.url());
        if target != bound {
            return Err(ClientError::OriginNotBound {
                origin: target,
                bound: vec![bound],
            });
        }
        Ok(request)
    }

    /// Exchanges `subject_token` for `audience` and `scope`, and sends `request` with it.
    async fn exchange_and_send(
        &self,
        subject_token: &str,
        audience: &str,
        scope: Option<&str>,
        mut request: reqwest::Request,
    ) -> Result<(Response, Arc<TokenResponse>), ClientError> {
        let mut exchange = ExchangeRequest::new(subject_token.to_owned()).audience(audience);
        if let Some(scope) = scope {
            exchange = exchange.scope(scope);
        }
        let token = Arc::new(
            self.inner
                .client
                .exchange_token(&self.inner.creds, &exchange)
                .await?,
        );
        self.add_credentials(&mut request, &token)?;
        if request.timeout().is_none() {
            *request.timeout_mut() = Some(self.inner.timeout);
        }
        self.send_with(request, token, None).await
    }

    async fn send_request(
        &self,
        mut request: reqwest::Request,
        key: &TokenKey,
    ) -> Result<(Response, Arc<TokenResponse>), ClientError> {
        let token = self.prepare(&mut request, key).await?;
        self.send_with(request, token, Some(key)).await
    }

    /// Sends a request already carrying `token`, retrying once for a DPoP nonce; a
    /// `401 invalid_token` drops the cached token of `key`.
    async fn send_with(
        &self,
        request: reqwest::Request,
        token: Arc<TokenResponse>,
        key: Option<&TokenKey>,
    ) -> Result<(Response, Arc<TokenResponse>), ClientError> {
        let retry = request.try_clone();
        // Redirects are never followed, so the answer comes from the request's origin.
        let target = request.url().clone();
        let response = self.execute(request).await?;
        self.inner.nonces.remember(&target, response.headers());
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok((response, token));
        }
        let error = challenge_param(response.headers(), "error");
        match (error.as_deref(), retry) {
            (Some("use_dpop_nonce"), Some(mut again))
                if response.headers().contains_key("dpop-nonce") && token.is_dpop() =>
            {
                self.add_credentials(&mut again, &token)?;
                let response = self.execute(again).await?;
                self.inner.nonces.remember(&target, response.headers());
                Ok((response, token))
            }
            (Some("invalid_token"), _) => {
                if let Some(key) = key {
                    self.invalidate_if_current(key, &token);
                }
                Ok((response, token))
            }
            _ => Ok((response, token)),
        }
    }

    /// [`Self::send_for`], stepping up on `403 insufficient_scope` by the MCP rule: a token for
    /// the union of the granted and the challenged scopes that `rule` allows, then a retry, at
    /// most [`ScopeStepUp::max_retries`] times (and only while the union grows and the body can
    /// be replayed). Returns the last answer and the key of the token it was sent with.
    ///
    /// ```no_run
    /// # async fn run(tokens: authgent_client::TokenManager) -> Result<(), authgent_client::ClientError> {
    /// use authgent_client::{ScopeStepUp, TokenKey};
    /// let rule = ScopeStepUp::new(["files:read", "files:write"]);
    /// let key = TokenKey::new(Some("files:read"), Some("https://files.example"));
    /// let (response, used) = tokens
    ///     .send_with_step_up(reqwest::Client::new().delete("https://files.example/f/1"), &key, &rule)
    ///     .await?;
    /// println!("{} with scopes {:?}", response.status(), used.scope);
    /// # Ok(()) }
    /// ```
    pub async fn send_with_step_up(
        &self,
        request: RequestBuilder,
        key: &TokenKey,
        rule: &ScopeStepUp,
    ) -> Result<(Response, TokenKey), ClientError> {
        let (_, request) = request.build_split();
        let request = request.map_err(|e| request_error(&e))?;
        let (response, scope) = self
            .stepping_up(&Grant::Own(key), request, key.scope.clone(), rule)
            .await?;
        Ok((
            response,
            TokenKey {
                scope,
                ..key.clone()
            },
        ))
    }

    /// Sends `request` with a token of `grant` for `scope`, and again with a token for a wider
    /// scope while the answer is a `403 insufficient_scope` whose scopes `rule` allows — the
    /// MCP step-up rule, one place for both grants. Returns the last answer and its token's
    /// scope.
    async fn stepping_up(
        &self,
        grant: &Grant<'_>,
        mut request: reqwest::Request,
        mut scope: Option<String>,
        rule: &ScopeStepUp,
    ) -> Result<(Response, Option<String>), ClientError> {
        let mut retries = 0;
        loop {
            let again = request.try_clone();
            let (response, token) = match grant {
                Grant::Own(key) => {
                    let key = TokenKey {
                        scope: scope.clone(),
                        ..(*key).clone()
                    };
                    self.send_request(request, &key).await?
                }
                Grant::OnBehalf {
                    subject_token,
                    audience,
                } => {
                    self.exchange_and_send(subject_token, audience, scope.as_deref(), request)
                        .await?
                }
            };
            let next = ScopeChallenge::from_response(response.status(), response.headers())
                .filter(|_| retries < rule.retries())
                .and_then(|c| rule.next_scope(token.scope.as_deref().or(scope.as_deref()), &c));
            match (next, again) {
                (Some(wider), Some(again)) => {
                    scope = Some(wider);
                    request = again;
                    retries += 1;
                }
                _ => return Ok((response, scope)),
            }
        }
    }
}

/// Whose token a stepped-up request is sent with.
enum Grant<'a> {
    /// The agent's own (client credentials), for this key's resource.
    Own(&'a TokenKey),
    /// A caller's, exchanged for `audience` (RFC 8693).
    OnBehalf {
        subject_token: &'a str,
        audience: &'a str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_map_is_bounded_and_keeps_the_default_and_keys_in_use() {
        let auth = AgentAuthClient::new("http://127.0.0.1:9").unwrap();
        let tokens = TokenManager::builder(auth, ClientCredentials::new("a", "b"))
            .allow_origin("https://rs.example")
            .build()
            .unwrap();
        let default = tokens.slot(&TokenKey::default()).unwrap();
        drop(default);
        let held = tokens.slot(&TokenKey::new(Some("held"), None)).unwrap();
        for i in 0..(MAX_TOKEN_KEYS * 2) {
            tokens
                .slot(&TokenKey::new(Some(&format!("s{i}")), None))
                .unwrap();
        }
        let slots = tokens.inner.slots.lock().unwrap();
        assert!(slots.len() <= MAX_TOKEN_KEYS, "{}", slots.len());
        assert!(slots.contains_key(&TokenKey::default()));
        assert!(slots.contains_key(&TokenKey::new(Some("held"), None)));
        drop(held);
    }
}
