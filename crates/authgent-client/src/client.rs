//! [`AgentAuthClient`]: every operation of an authgent authorization server, typed.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
use crate::transport::{Nonces, credential_url};
use crate::{ClientCredentials, Secret};

/// Largest response body read from the server (a token response is a few KiB).
const MAX_BODY_BYTES: usize = 1 << 20;

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
    nonces: Nonces,
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
    /// Without this, the client uses no proxy, whatever `HTTP_PROXY` and friends say. The
    /// builder you pass is used as configured: start from
    /// [`credential_http_client`](crate::credential_http_client) (no environment proxy)
    /// rather than `reqwest::Client::builder()` (which reads the proxy variables), and name a
    /// proxy explicitly where one is needed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let auth = authgent_client::AgentAuthClient::builder("https://auth.example")
    ///     .http_client(authgent_client::credential_http_client().pool_idle_timeout(Duration::from_secs(30)))
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
            None => crate::credential_http_client().connect_timeout(self.timeout),
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
                nonces: Nonces::new(MAX_NONCE_ORIGINS),
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
    /// The body read.
    pub(crate) fn body(&self) -> &[u8] {
        &self.body
    }

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
        self.inner.nonces.get(&url::Url::parse(url).ok()?)
    }

    /// Fetches the server's RFC 8414 metadata once — or, where the server has none (`404`), its
    /// OpenID Connect discovery document — (its `issuer` must equal the server URL) and from
    /// then on sends requests to the endpoints it names. Without this, the authgent
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
                let mut answer = self.send(self.inner.http.get(&url)).await?;
                let mut url = url;
                if answer.status == StatusCode::NOT_FOUND {
                    // An OpenID provider without RFC 8414 (oidc-provider, Keycloak, Entra ID):
                    // OIDC Discovery 1.0 §4, the issuer with the well-known path appended.
                    url = format!(
                        "{}/.well-known/openid-configuration",
                        self.inner.base.trim_end_matches('/')
                    );
                    answer = self.send(self.inner.http.get(&url)).await?;
                }
                let answer = answer.ok_or_error(&[200])?;
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

    pub(crate) fn allow_insecure(&self) -> bool {
        self.inner.allow_insecure_http
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
        if let Ok(url) = url::Url::parse(endpoint) {
            self.inner.nonces.remember(&url, headers);
        }
    }

    /// A form POST with client authentication and, when a key is set, a DPoP proof for
    /// `endpoint`; retried once on `use_dpop_nonce`.
    pub(crate) async fn post_form(
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
    pub(crate) async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        accept: &[u16],
    ) -> Result<T, ClientError> {
        self.post_json_to(&format!("{}{path}", self.inner.base), body, accept)
            .await
    }

    /// A JSON POST to `url`, its answer read as `T` when its status is in `accept`.
    pub(crate) async fn post_json_to<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &impl Serialize,
        accept: &[u16],
    ) -> Result<T, ClientError> {
        let answer = self.send(self.inner.http.post(url).json(body)).await?;
        answer.ok_or_error(accept)?.json(url)
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.inner.base);
        let answer = self.send(self.inner.http.get(&url)).await?;
        answer.ok_or_error(&[200])?.json(&url)
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
