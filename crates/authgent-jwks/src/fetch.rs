//! HTTP GET with the limits a key fetch needs: timeout, no redirects, body cap, status 200.

use std::time::Duration;

use reqwest::header;

/// Why a JWKS or metadata document could not be obtained.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// No answer within the fetch timeout.
    #[error("timed out fetching {url}")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// Could not connect (refused, DNS, TLS).
    #[error("could not connect to {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The connection failed mid-way or another transport error.
    #[error("HTTP error fetching {url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// A redirect: never followed for key material.
    #[error("{url} answered with a redirect ({status}); redirects are not followed for keys")]
    Redirect {
        /// The URL.
        url: String,
        /// The 3xx status.
        status: u16,
    },
    /// An OAuth error answer (RFC 6749 §5.2: 400 or 401 with a JSON `error` code), as an
    /// introspection endpoint gives for a token it will not introspect.
    #[error("{url} answered HTTP {status} with the OAuth error {error:?}")]
    OAuthError {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The `error` code, e.g. `unsupported_token_type`.
        error: String,
    },
    /// A status other than 200.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The body exceeded the cap.
    #[error("{url} sent more than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap in bytes.
        limit: usize,
    },
    /// Not a JWKS / metadata document.
    #[error("{url} did not return a valid document: {reason}")]
    InvalidDocument {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Metadata for another issuer (RFC 8414 §3.3): refused.
    #[error("metadata at {url} names another issuer; refusing it")]
    IssuerMismatch {
        /// The metadata URL.
        url: String,
    },
}

pub(crate) struct Fetched {
    pub(crate) body: Vec<u8>,
    pub(crate) max_age: Option<Duration>,
}

/// Why the HTTP client could not be built.
#[derive(Debug)]
pub(crate) enum FetcherError {
    Proxy,
    Tls,
}

impl FetcherError {
    pub(crate) fn setting(&self) -> &'static str {
        match self {
            FetcherError::Proxy => "proxy",
            FetcherError::Tls => "http client",
        }
    }

    pub(crate) fn reason(&self) -> &'static str {
        match self {
            FetcherError::Proxy => "an absolute http(s) URL of the proxy",
            FetcherError::Tls => "TLS could not be initialised",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    max_body: usize,
}

impl Fetcher {
    pub(crate) fn new(
        timeout: Duration,
        max_body: usize,
        proxy: Option<&str>,
    ) -> Result<Self, FetcherError> {
        // No proxy from the environment: introspection carries client credentials and the
        // token, and a loopback issuer is reached over plain http.
        let mut builder = reqwest::Client::builder().no_proxy();
        if let Some(url) = proxy {
            let proxy = reqwest::Proxy::all(url).map_err(|_| FetcherError::Proxy)?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("authgent-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| FetcherError::Tls)?;
        Ok(Fetcher { client, max_body })
    }

    pub(crate) async fn get(&self, url: &str) -> Result<Fetched, JwksError> {
        let request = self
            .client
            .get(url)
            .header(header::ACCEPT, "application/json");
        self.send(url, request).await
    }

    /// An RFC 7662 introspection request: a form POST, with HTTP Basic client credentials
    /// when given (RFC 6749 §2.3.1 form-encoding of both parts).
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Fetched, JwksError> {
        let mut request = self
            .client
            .post(url)
            .header(header::ACCEPT, "application/json")
            .form(form);
        if let Some((id, secret)) = basic {
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(encode(id), Some(encode(secret)));
        }
        self.send(url, request).await
    }

    async fn send(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Fetched, JwksError> {
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                JwksError::Timeout {
                    url: url.to_owned(),
                }
            } else if e.is_connect() {
                JwksError::Connect {
                    url: url.to_owned(),
                    reason: root_cause(&e),
                }
            } else {
                JwksError::Transport {
                    url: url.to_owned(),
                    reason: root_cause(&e),
                }
            }
        };
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(JwksError::Redirect {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        let too_large = || JwksError::TooLarge {
            url: url.to_owned(),
            limit: self.max_body,
        };
        if status == reqwest::StatusCode::BAD_REQUEST || status == reqwest::StatusCode::UNAUTHORIZED
        {
            // An OAuth error body (bounded like every body read here).
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                if body.len() + chunk.len() > self.max_body {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            let error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_owned));
            return Err(match error {
                Some(error) => JwksError::OAuthError {
                    url: url.to_owned(),
                    status: status.as_u16(),
                    error,
                },
                None => JwksError::Status {
                    url: url.to_owned(),
                    status: status.as_u16(),
                },
            });
        }
        if status != reqwest::StatusCode::OK {
            return Err(JwksError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(too_large());
        }
        let max_age = max_age(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, max_age })
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// `Cache-Control: max-age=N` (`no-cache`/`no-store` count as 0; the caller clamps).
fn max_age(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    let mut result = None;
    for directive in value.split(',').map(str::trim) {
        let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age") {
            result = arg
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_parsing() {
        let h = |v: &str| {
            let mut m = header::HeaderMap::new();
            m.insert(header::CACHE_CONTROL, v.parse().unwrap());
            max_age(&m)
        };
        assert_eq!(h("public, max-age=600"), Some(Duration::from_secs(600)));
        assert_eq!(h("MAX-AGE=\"30\""), Some(Duration::from_secs(30)));
        assert_eq!(h("no-store"), Some(Duration::ZERO));
        assert_eq!(h("max-age=abc"), None);
        assert_eq!(h("public"), None);
    }
}
