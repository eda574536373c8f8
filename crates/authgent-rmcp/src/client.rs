//! The agent side (feature `client`): rmcp's own streamable HTTP client with authgent's
//! credentials — DPoP-bound or Bearer tokens from a [`TokenManager`], sent only to the
//! origins they are bound to, and the MCP scope step-up on `403 insufficient_scope`.
//!
//! rmcp's OAuth client has no DPoP; [`AuthgentHttpClient`] plugs authgent into rmcp's
//! transport instead, as its HTTP client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use authgent_client::{ClientError, ScopeChallenge, ScopeStepUp, TokenKey, TokenManager};
use futures_core::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;

/// rmcp's [`StreamableHttpClient`] authorized by a [`TokenManager`]: every request carries
/// the manager's token for the current [`TokenKey`] (and a fresh DPoP proof for its method and
/// URL when the client is DPoP-bound); a `403 insufficient_scope` steps up by `rule` — a token
/// for the granted plus the challenged scopes `rule` allows, then one retry — and the wider key
/// is kept for the following requests. A `401 invalid_token` drops the cached token and
/// retries once.
///
/// ```no_run
/// # async fn run(tokens: authgent_client::TokenManager) -> Result<(), Box<dyn std::error::Error>> {
/// use authgent_client::{ScopeStepUp, TokenKey};
/// use authgent_rmcp::client::AuthgentHttpClient;
/// use rmcp::ServiceExt;
/// use rmcp::transport::StreamableHttpClientTransport;
/// use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
///
/// let endpoint = "https://tools.example.com/mcp";
/// let http = AuthgentHttpClient::new(tokens, TokenKey::new(Some("search:execute"), Some(endpoint)))
///     .step_up(ScopeStepUp::new(["search:execute", "db:delete"]));
/// let transport = StreamableHttpClientTransport::with_client(
///     http,
///     StreamableHttpClientTransportConfig::with_uri(endpoint),
/// );
/// let client = ().serve(transport).await?;
/// let tools = client.list_all_tools().await?;
/// # let _ = tools; Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuthgentHttpClient {
    tokens: TokenManager,
    key: Arc<Mutex<TokenKey>>,
    step_up: Option<ScopeStepUp>,
    http: reqwest::Client,
}

impl std::fmt::Debug for AuthgentHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthgentHttpClient")
            .field("key", &self.key())
            .field("step_up", &self.step_up)
            .finish_non_exhaustive()
    }
}

type HttpError = StreamableHttpError<reqwest::Error>;

/// An authgent failure as rmcp's transport error (an I/O error whose source is the
/// [`ClientError`], for `downcast_ref`).
fn auth_error(error: ClientError) -> HttpError {
    StreamableHttpError::Io(std::io::Error::other(error))
}

impl AuthgentHttpClient {
    /// Requests authorized with `tokens`' token for `key` (its resource: the MCP endpoint).
    /// Redirects are never followed, and no proxy is taken from the environment
    /// ([`credential_http_client`](authgent_client::credential_http_client)).
    pub fn new(tokens: TokenManager, key: TokenKey) -> Self {
        AuthgentHttpClient {
            tokens,
            key: Arc::new(Mutex::new(key)),
            step_up: None,
            // No redirects and no proxy from the environment: every request carries a token.
            http: authgent_client::credential_http_client()
                .build()
                .unwrap_or_default(),
        }
    }

    /// Step up on `403 insufficient_scope` to the scopes `rule` allows.
    #[must_use]
    pub fn step_up(mut self, rule: ScopeStepUp) -> Self {
        self.step_up = Some(rule);
        self
    }

    /// The key of the token requests are sent with now (wider after a step-up).
    pub fn key(&self) -> TokenKey {
        self.key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `custom` plus `Authorization` (and `DPoP`) for `method uri`.
    async fn headers(
        &self,
        method: &str,
        uri: &str,
        key: &TokenKey,
        mut custom: HashMap<HeaderName, HeaderValue>,
    ) -> Result<HashMap<HeaderName, HeaderValue>, HttpError> {
        let credentials = self
            .tokens
            .headers_for(method, uri, key)
            .await
            .map_err(auth_error)?;
        for (name, value) in &credentials {
            custom.insert(name.clone(), value.clone());
        }
        Ok(custom)
    }

    /// What to do after `error`: the key to retry with, if any.
    fn retry_key(&self, error: &HttpError, key: &TokenKey) -> Option<TokenKey> {
        match error {
            StreamableHttpError::InsufficientScope(e) => {
                let rule = self.step_up.as_ref()?;
                let mut headers = http::HeaderMap::new();
                headers.insert(
                    http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_str(&e.www_authenticate_header).ok()?,
                );
                let challenge =
                    ScopeChallenge::from_response(http::StatusCode::FORBIDDEN, &headers)?;
                let scope = rule.next_scope(key.scope.as_deref(), &challenge)?;
                let mut wider = key.clone();
                wider.scope = Some(scope);
                Some(wider)
            }
            StreamableHttpError::AuthRequired(e)
                if e.www_authenticate_header.contains("invalid_token") =>
            {
                self.tokens.invalidate(key);
                Some(key.clone())
            }
            _ => None,
        }
    }

    fn remember(&self, key: TokenKey) {
        *self.key.lock().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl StreamableHttpClient for AuthgentHttpClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let key = self.key();
        let headers = self
            .headers("POST", &uri, &key, custom_headers.clone())
            .await?;
        let first = self
            .http
            .post_message_with_response_limits(
                Arc::clone(&uri),
                message.clone(),
                session_id.clone(),
                None,
                headers,
                limits,
            )
            .await;
        let Err(error) = first else { return first };
        let Some(retry) = self.retry_key(&error, &key) else {
            return Err(error);
        };
        let headers = self.headers("POST", &uri, &retry, custom_headers).await?;
        let again = self
            .http
            .post_message_with_response_limits(uri, message, session_id, None, headers, limits)
            .await;
        if again.is_ok() {
            self.remember(retry);
        }
        again
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        let headers = self
            .headers("DELETE", &uri, &self.key(), custom_headers)
            .await?;
        self.http
            .delete_session(uri, session_id, None, headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        let headers = self
            .headers("GET", &uri, &self.key(), custom_headers)
            .await?;
        self.http
            .get_stream(uri, session_id, last_event_id, None, headers)
            .await
    }
}

/// The error of a transport failure that came from authgent (no token, an origin the token is
/// not bound to, …), if it did.
pub fn client_error(error: &HttpError) -> Option<&ClientError> {
    match error {
        StreamableHttpError::Io(io) => io.get_ref()?.downcast_ref::<ClientError>(),
        _ => None,
    }
}
