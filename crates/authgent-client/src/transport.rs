//! Where credentials may travel: `https://`, or `http://` on loopback only, unless the caller
//! opted in (RFC 9700 §2.6; oauth4webapi's `allowInsecureRequests` is the model).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use url::{Host, Url};

use crate::ClientError;

/// Whether `url`'s host is the loopback interface: an IP literal in `127.0.0.0/8` or `::1`,
/// or exactly `localhost` (any case). Plain HTTP to such a host never leaves the machine:
/// the one rule for where this SDK sends credentials over `http://`. Other names that end in
/// `.localhost` are not loopback here, since they are resolved by whatever DNS answers (RFC
/// 6761 §6.3 asks resolvers, not every resolver obeys).
///
/// ```
/// use url::Url;
/// assert!(authgent_client::is_loopback(&Url::parse("http://127.0.0.1:8000").unwrap()));
/// assert!(authgent_client::is_loopback(&Url::parse("http://[::1]:8000").unwrap()));
/// assert!(authgent_client::is_loopback(&Url::parse("http://localhost:8000").unwrap()));
/// assert!(!authgent_client::is_loopback(&Url::parse("http://api.localhost").unwrap()));
/// assert!(!authgent_client::is_loopback(&Url::parse("http://localhost.evil.example").unwrap()));
/// ```
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The `reqwest` configuration every credential-carrying HTTP client of this SDK starts
/// from: redirects are never followed, and **no proxy is taken from the environment**
/// (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`). A proxy named by the environment would
/// otherwise receive, in clear, every token and secret sent over loopback `http://` — which
/// the loopback rule ([`is_loopback`]) lets through precisely because it never leaves the
/// machine.
///
/// Where a proxy is needed, configure it yourself and pass the builder to
/// [`AgentAuthClientBuilder::http_client`](crate::AgentAuthClientBuilder::http_client) or
/// [`TokenManagerBuilder::http_client`](crate::TokenManagerBuilder::http_client): a builder
/// you pass is used as you configured it (only redirects are turned off). Note that
/// `reqwest::Client::builder()` itself reads the proxy variables; start from this function
/// to keep them out, and add an explicit proxy for `https` only:
///
/// ```
/// let through_the_proxy = authgent_client::credential_http_client()
///     .proxy(reqwest::Proxy::https("http://proxy.internal:3128")?);
/// let auth = authgent_client::AgentAuthClient::builder("https://auth.example")
///     .http_client(through_the_proxy)
///     .build()?;
/// # let _ = auth; Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn credential_http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
}

/// Parses `url` as an absolute `http(s)` URL that credentials may be sent to: `https`, or
/// `http` on loopback, or any `http` when `allow_insecure`.
pub(crate) fn credential_url(
    url: &str,
    what: &'static str,
    allow_insecure: bool,
) -> Result<Url, ClientError> {
    let parsed = Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| {
            ClientError::Config(format!("{what} {url:?} is not an absolute http(s) URL"))
        })?;
    if parsed.scheme() == "http" && !allow_insecure && !is_loopback(&parsed) {
        return Err(ClientError::InsecureUrl {
            what,
            url: url.to_owned(),
        });
    }
    Ok(parsed)
}

/// `scheme://host[:port]` of `url`.
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The last `DPoP-Nonce` each origin sent (RFC 9449 §8: a nonce belongs to the server that
/// issued it), for at most `capacity` origins (all are forgotten when a new one would exceed
/// it).
pub(crate) struct Nonces {
    by_origin: Mutex<HashMap<String, String>>,
    capacity: usize,
}

impl Nonces {
    pub(crate) fn new(capacity: usize) -> Self {
        Nonces {
            by_origin: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The nonce `url`'s origin sent last.
    pub(crate) fn get(&self, url: &Url) -> Option<String> {
        let nonces = self
            .by_origin
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        nonces.get(&origin(url)).cloned()
    }

    /// Remembers the `DPoP-Nonce` of an answer from `url`, for `url`'s origin only.
    pub(crate) fn remember(&self, url: &Url, headers: &http::HeaderMap) {
        let Some(nonce) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) else {
            return;
        };
        let origin = origin(url);
        let mut nonces = self
            .by_origin
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if nonces.len() >= self.capacity && !nonces.contains_key(&origin) {
            nonces.clear();
        }
        nonces.insert(origin, nonce.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_recognised_and_nothing_else() {
        for yes in [
            "http://127.0.0.1:8000",
            "http://127.9.9.9",
            "http://[::1]:80",
            "http://localhost",
            "http://LocalHost:1",
        ] {
            assert!(is_loopback(&Url::parse(yes).unwrap()), "{yes}");
        }
        for no in [
            "http://10.0.0.1",
            "http://localhost.evil.example",
            "http://a.localhost",
            "http://localhost.:1",
            "http://128.0.0.1",
            "http://[::2]",
            "http://example.com",
        ] {
            assert!(!is_loopback(&Url::parse(no).unwrap()), "{no}");
        }
    }

    #[test]
    fn only_https_or_loopback_http_carries_credentials_by_default() {
        assert!(credential_url("https://as.example", "server URL", false).is_ok());
        assert!(credential_url("http://127.0.0.1:8000", "server URL", false).is_ok());
        let err = credential_url("http://as.example", "server URL", false).unwrap_err();
        assert_eq!(err.code(), "insecure_url");
        assert!(credential_url("http://as.example", "server URL", true).is_ok());
        assert_eq!(
            credential_url("ftp://as.example", "server URL", true)
                .unwrap_err()
                .code(),
            "config"
        );
    }
}
