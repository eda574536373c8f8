//! [`ClientError`]: what went wrong talking to the authorization server, typed.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authgent_core::challenge::Challenge;
use authgent_core::key::KeyError;
use http::HeaderMap;
use serde_json::Value;

/// The authorization server refused a request: its HTTP status and OAuth error code.
///
/// Parsed from an RFC 6749 `{error, error_description}` body, an RFC 9457
/// `application/problem+json` body (authgent's `error_code`, else the `type` URI's last
/// segment), or the `WWW-Authenticate` challenge, in that order.
///
/// ```
/// use authgent_client::ServerError;
/// let e = ServerError::from_response(403, &http::HeaderMap::new(),
///     br#"{"error":"delegation_depth_exceeded","error_description":"Delegation depth 6 exceeds max 5"}"#);
/// assert_eq!((e.status, e.code.as_str()), (403, "delegation_depth_exceeded"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerError {
    /// HTTP status.
    pub status: u16,
    /// The OAuth error code, e.g. `invalid_client`, `scope_escalation`,
    /// `delegation_depth_exceeded`, `use_dpop_nonce`.
    pub code: String,
    /// The server's human-readable description, if any.
    pub description: Option<String>,
    /// The `WWW-Authenticate` header, if any.
    pub www_authenticate: Option<String>,
}

impl ServerError {
    /// Parses a refusal from its status, headers and body.
    pub fn from_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let www_authenticate =
            header(headers, "www-authenticate").map(|v| server_text(&v, MAX_CHALLENGE_CHARS));
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_owned);
        let code = text("error")
            .or_else(|| text("error_code"))
            .or_else(|| {
                text("type").and_then(|t| {
                    t.rsplit('/')
                        .next()
                        .filter(|s| !s.is_empty() && *s != "about:blank")
                        .map(|s| s.replace('-', "_"))
                })
            })
            .or_else(|| challenge_param(headers, "error"))
            .map(|c| error_code(&c))
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| {
                match status {
                    400 => "invalid_request",
                    401 => "invalid_client",
                    403 => "access_denied",
                    404 => "not_found",
                    422 => "invalid_request",
                    s if s >= 500 => "server_error",
                    _ => "unexpected_status",
                }
                .to_owned()
            });
        let description = text("error_description")
            .or_else(|| text("detail"))
            .or_else(|| {
                // FastAPI validation errors: {"detail": [{"msg": ...}, ...]}
                json.get("detail").and_then(Value::as_array).map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.get("msg").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            })
            .or_else(|| text("title"))
            .or_else(|| challenge_param(headers, "error_description"))
            .map(|d| server_text(&d, MAX_DESCRIPTION_CHARS));
        ServerError {
            status,
            code,
            description,
            www_authenticate,
        }
    }

    /// Replaces every occurrence of the values this client sent (secrets, tokens, codes) in the
    /// server's text with `***`: a server that echoes what it received must not put a secret
    /// into an error message or a log line.
    pub(crate) fn scrub(mut self, sent: &[&str]) -> Self {
        for value in sent.iter().filter(|v| v.len() >= 4) {
            for text in [self.description.as_mut(), self.www_authenticate.as_mut()]
                .into_iter()
                .flatten()
            {
                if text.contains(value) {
                    *text = text.replace(value, "***");
                }
            }
            if self.code.contains(value) {
                self.code = "invalid_request".into();
            }
        }
        self
    }
}

/// Longest `error_description` kept from a server (characters).
const MAX_DESCRIPTION_CHARS: usize = 512;
/// Longest `error` code kept from a server (characters).
const MAX_CODE_CHARS: usize = 64;
/// Longest `WWW-Authenticate` value kept from a server (characters).
const MAX_CHALLENGE_CHARS: usize = 1024;

/// Server-supplied text made safe to show: control characters (newlines that would forge log
/// lines, terminal escapes) replaced by spaces and the length bounded.
pub(crate) fn server_text(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// An OAuth error code as RFC 6749 §5.2 allows it (`%x20-21 / %x23-5B / %x5D-7E`), bounded;
/// anything else is dropped.
fn error_code(code: &str) -> String {
    code.chars()
        .filter(|c| matches!(*c, ' '..='~') && *c != '"' && *c != '\\')
        .take(MAX_CODE_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A JSON error's message with every quoted value removed (serde quotes what it found:
/// `invalid type: string "…"`, which could be a token), bounded.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        match (c, quoted) {
            ('"', false) => {
                out.push_str("\"…");
                quoted = true;
            }
            ('"', true) => {
                out.push('"');
                quoted = false;
            }
            (_, false) => out.push(c),
            (_, true) => {}
        }
    }
    server_text(&out, MAX_DESCRIPTION_CHARS)
}

/// A transport failure (connection refused, TLS, timeout, a broken body) from the HTTP client.
/// Opaque on purpose: its message and its [`source`](std::error::Error::source) chain describe
/// it, and no third-party error type is part of this crate's API.
#[derive(Clone)]
pub struct TransportError(Arc<reqwest::Error>);

impl TransportError {
    /// Whether connecting failed (nothing was sent).
    pub fn is_connect(&self) -> bool {
        self.0.is_connect()
    }

    /// The URL of the request, when known (request URLs never carry secrets).
    pub fn url(&self) -> Option<&str> {
        self.0.url().map(reqwest::Url::as_str)
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Why a call to the authorization server failed.
///
/// ```
/// use authgent_client::ClientError;
/// fn explain(e: &ClientError) -> String {
///     match e {
///         ClientError::RateLimited { retry_after, .. } => format!("slow down: {retry_after:?}"),
///         ClientError::Server(s) if s.code == "scope_escalation" => "ask for fewer scopes".into(),
///         other => other.to_string(),
///     }
/// }
/// # let _ = explain;
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused the request; see [`ServerError::code`].
    #[error("the authorization server refused the request (HTTP {}, {}){}", .0.status, .0.code,
        .0.description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Server(ServerError),
    /// HTTP 429: too many requests. Wait `retry_after` (when the server said) and retry.
    #[error("rate limited by the authorization server{}",
        .retry_after.map(|d| format!("; retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// The server's `Retry-After`, as a duration from when the answer arrived.
        retry_after: Option<Duration>,
        /// The refusal's details.
        error: ServerError,
    },
    /// The request timed out (connect or whole request); the server may be overloaded.
    #[error("timed out talking to the server: {0}")]
    Timeout(#[source] TransportError),
    /// The server could not be reached or the connection failed.
    #[error("could not reach the server: {0}")]
    Network(#[source] TransportError),
    /// An authorization-server endpoint answered a redirect. Requests to the authorization
    /// server carry client secrets, codes and tokens, so no redirect is ever followed, whatever
    /// HTTP client is configured: configure the endpoint's final URL.
    #[error(
        "{endpoint} answered HTTP {status} (a redirect); requests to the authorization server never follow redirects, so credentials cannot be sent elsewhere: configure the endpoint's final URL"
    )]
    Redirected {
        /// The endpoint that answered.
        endpoint: String,
        /// The 3xx status.
        status: u16,
    },
    /// A [`TokenManager`](crate::TokenManager) was asked to put a token on a request to an
    /// origin the token is not bound to; nothing was sent.
    #[error("refusing to send a token to {origin}: the token is bound to {}; configure TokenManagerBuilder::resource (or allow_origin) for the service you call", if .bound.is_empty() { "no origin".to_owned() } else { .bound.join(", ") })]
    OriginNotBound {
        /// The origin of the refused request.
        origin: String,
        /// The origins the token may go to.
        bound: Vec<String>,
    },
    /// A plain `http://` URL on a non-loopback host, where credentials would travel
    /// unencrypted (RFC 9700 §2.6).
    #[error(
        "{what} {url:?} is plain http:// on a host that is not loopback: use https:// (or allow_insecure_http() on a network you trust, for tests)"
    )]
    InsecureUrl {
        /// Which URL (the server URL, a discovered endpoint, a resource).
        what: &'static str,
        /// The URL.
        url: String,
    },
    /// A renewal of this token failed moments ago; rather than send one more request per
    /// waiting task, the failure is shared until `retry_after` has passed.
    #[error("the last renewal of this token failed {} ms ago; retrying after {} ms: {cause}", .failed_ago.as_millis(), .retry_after.as_millis())]
    RenewalBackoff {
        /// How long until the next renewal attempt is allowed.
        retry_after: Duration,
        /// How long ago it failed.
        failed_ago: Duration,
        /// The failure.
        #[source]
        cause: Arc<ClientError>,
    },
    /// An authorization-code callback failed its checks (`state`, `iss`, an `error`).
    #[error("the authorization callback is refused: {0}")]
    Callback(String),
    /// The server answered 2xx with a body this client cannot use.
    #[error("unexpected response from {endpoint}: {detail}")]
    InvalidResponse {
        /// The endpoint URL.
        endpoint: String,
        /// What was wrong with it.
        detail: String,
    },
    /// A DPoP-bound token was requested but the server answered another `token_type`: the
    /// token is refused, since it would not be bound to the key.
    #[error("asked for a DPoP-bound token, the server answered token_type {0:?}; refusing it")]
    NotDpopBound(String),
    /// A DPoP proof could not be made with the configured key.
    #[error("could not make a DPoP proof: {0}")]
    Dpop(#[source] KeyError),
    /// The client is misconfigured (bad URL and the like); the message says what to fix.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// A step-up request was denied by the human approver.
    #[error("step-up request {id} was denied")]
    StepUpDenied {
        /// The step-up request id.
        id: String,
    },
    /// A step-up request expired on the server before anyone decided.
    #[error("step-up request {id} expired before it was approved")]
    StepUpExpired {
        /// The step-up request id.
        id: String,
    },
    /// A step-up request was still pending when the client stopped waiting.
    #[error("step-up request {id} still pending after {} s", .waited.as_secs())]
    StepUpTimeout {
        /// The step-up request id.
        id: String,
        /// How long the client waited.
        waited: Duration,
    },
}

impl ClientError {
    /// A stable machine-readable code: the server's OAuth error code for refusals, else one of
    /// `rate_limited`, `timeout`, `network`, `invalid_response`, `not_dpop_bound`, `dpop_key`,
    /// `config`, `step_up_denied`, `step_up_expired`, `step_up_timeout`, `redirect_refused`,
    /// `origin_not_bound`, `insecure_url`, `invalid_callback` (a [`ClientError::RenewalBackoff`]
    /// has its cause's code).
    pub fn code(&self) -> &str {
        match self {
            ClientError::Server(e) => &e.code,
            ClientError::RateLimited { .. } => "rate_limited",
            ClientError::Timeout(_) => "timeout",
            ClientError::Network(_) => "network",
            ClientError::Redirected { .. } => "redirect_refused",
            ClientError::OriginNotBound { .. } => "origin_not_bound",
            ClientError::InsecureUrl { .. } => "insecure_url",
            ClientError::RenewalBackoff { cause, .. } => cause.code(),
            ClientError::Callback(_) => "invalid_callback",
            ClientError::InvalidResponse { .. } => "invalid_response",
            ClientError::NotDpopBound(_) => "not_dpop_bound",
            ClientError::Dpop(_) => "dpop_key",
            ClientError::Config(_) => "config",
            ClientError::StepUpDenied { .. } => "step_up_denied",
            ClientError::StepUpExpired { .. } => "step_up_expired",
            ClientError::StepUpTimeout { .. } => "step_up_timeout",
        }
    }

    /// The server's refusal, when this is one (including a rate limit).
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            ClientError::Server(e) | ClientError::RateLimited { error: e, .. } => Some(e),
            ClientError::RenewalBackoff { cause, .. } => cause.server_error(),
            _ => None,
        }
    }

    /// Transient failures worth retrying later: rate limits, timeouts, network errors, 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::RateLimited { .. } | ClientError::Timeout(_) | ClientError::Network(_) => {
                true
            }
            ClientError::Server(e) => e.status >= 500,
            ClientError::RenewalBackoff { .. } => true,
            _ => false,
        }
    }

    /// Keeps the URL in the message: request URLs never carry secrets (the builder refuses a
    /// server URL with userinfo, and credentials travel in bodies and headers only).
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            ClientError::Timeout(TransportError(Arc::new(e)))
        } else {
            ClientError::Network(TransportError(Arc::new(e)))
        }
    }

    /// The error for a non-success answer.
    /// `sent` are the secret values of the request, scrubbed from the server's text.
    pub(crate) fn from_status(
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        sent: &[&str],
    ) -> Self {
        let error = ServerError::from_response(status, headers, body).scrub(sent);
        if status == 429 {
            let retry_after = header(headers, "retry-after").and_then(|v| parse_retry_after(&v));
            ClientError::RateLimited { retry_after, error }
        } else {
            ClientError::Server(error)
        }
    }
}

/// Every challenge in every `WWW-Authenticate` line, parsed by the core's RFC 9110 parser; a
/// line that does not parse contributes none.
pub(crate) fn challenges(headers: &HeaderMap) -> Vec<Challenge> {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| Challenge::parse_all(v).ok())
        .flatten()
        .collect()
}

/// The first value of parameter `name` among the response's challenges.
pub(crate) fn challenge_param(headers: &HeaderMap, name: &str) -> Option<String> {
    challenges(headers)
        .into_iter()
        .find_map(|c| c.get(name).map(str::to_owned))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn oauth_body_gives_code_and_description() {
        let e = ServerError::from_response(
            403,
            &HeaderMap::new(),
            br#"{"error":"scope_escalation","error_description":"Downstream scopes exceed parent: write"}"#,
        );
        assert_eq!(e.code, "scope_escalation");
        assert_eq!(
            e.description.as_deref(),
            Some("Downstream scopes exceed parent: write")
        );
    }

    #[test]
    fn problem_json_gives_error_code_or_type_segment() {
        let e = ServerError::from_response(
            400,
            &HeaderMap::new(),
            br#"{"type":"https://authgent.dev/errors/invalid-request","title":"Invalid Request","detail":"token parameter is required","error_code":"invalid_request"}"#,
        );
        assert_eq!(e.code, "invalid_request");
        assert_eq!(
            e.description.as_deref(),
            Some("token parameter is required")
        );
        let e = ServerError::from_response(
            429,
            &HeaderMap::new(),
            br#"{"type":"https://authgent.dev/errors/rate-limited","title":"Too Many Requests"}"#,
        );
        assert_eq!(e.code, "rate_limited");
    }

    #[test]
    fn challenge_is_the_fallback_and_garbage_is_survived() {
        let h = headers(&[(
            "www-authenticate",
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce""#,
        )]);
        let e = ServerError::from_response(401, &h, b"");
        assert_eq!(e.code, "use_dpop_nonce");
        assert_eq!(
            e.description.as_deref(),
            Some("Resource server requires nonce")
        );
        let e = ServerError::from_response(502, &HeaderMap::new(), b"\xff<html>");
        assert_eq!(e.code, "server_error");
        assert!(e.description.is_none());
    }

    #[test]
    fn rate_limit_carries_retry_after_in_both_forms() {
        let e = ClientError::from_status(429, &headers(&[("retry-after", "42")]), b"{}", &[]);
        assert!(
            matches!(e, ClientError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(42))
        );
        assert_eq!(e.code(), "rate_limited");
        assert!(e.is_transient());
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let d = parse_retry_after(&later).unwrap();
        assert!(d <= Duration::from_secs(120) && d >= Duration::from_secs(115));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
