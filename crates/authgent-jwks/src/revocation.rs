//! Revocation checking (CONFORMANCE 32): RFC 7662 introspection of the token at its issuer,
//! the verdict cached for a short, bounded time, fail-closed unless told otherwise.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use authgent_core::{AgentIdentity, AuthgentError, ConfigError, TokenError};
use moka::Expiry;
use serde_json::Value;
use tracing::warn;

use crate::fetch::JwksError;
use crate::keys::KeyCache;

/// A SHA-256 of a token: the key of the introspection caches (the token itself is never
/// stored).
pub(crate) type TokenDigest = [u8; 32];

/// Longest a verdict may be cached: revocation must take effect within minutes.
pub const MAX_REVOCATION_CACHE_TTL: Duration = Duration::from_secs(300);

/// How a [`Verifier`](crate::Verifier) checks that a token has not been revoked: an RFC 7662
/// introspection request to the issuer's `introspection_endpoint` (discovered from its
/// metadata unless set), authenticated with this resource server's client credentials when
/// given. The verdict is cached per token for [`cache_ttl`](Self::cache_ttl) (default 30 s),
/// so a revoked token is refused at most that long after its revocation.
///
/// If introspection fails (network, status, garbage), the request is refused with 503 and
/// `Retry-After` (**fail-closed**, the default); [`fail_open`](Self::fail_open) accepts the
/// token instead and logs a warning.
///
/// ```
/// use std::time::Duration;
/// use authgent_jwks::{RevocationCheck, Verifier};
/// let verifier = Verifier::builder()
///     .issuer("https://as.example")
///     .audience("https://tools.example")
///     .external_url("https://tools.example")
///     .revocation_check(
///         RevocationCheck::new()
///             .client_credentials("tools-rs", "s3cr3t")
///             .cache_ttl(Duration::from_secs(10)),
///     )
///     .build()?;
/// # Ok::<(), authgent_core::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct RevocationCheck {
    endpoint: Option<String>,
    credentials: Option<(String, String)>,
    cache_ttl: Duration,
    cache_capacity: u64,
    fail_open: bool,
    every_request: bool,
}

impl fmt::Debug for RevocationCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationCheck")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.credentials.as_ref().map(|(id, _)| id))
            .field(
                "client_secret",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("cache_ttl", &self.cache_ttl)
            .field("fail_open", &self.fail_open)
            .field("every_request", &self.every_request)
            .finish()
    }
}

impl Default for RevocationCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationCheck {
    /// Introspection at the discovered endpoint, without client authentication, verdicts
    /// cached 30 s, fail-closed, on every request.
    pub fn new() -> Self {
        RevocationCheck {
            endpoint: None,
            credentials: None,
            cache_ttl: Duration::from_secs(30),
            cache_capacity: 10_000,
            fail_open: false,
            every_request: true,
        }
    }

    /// Use this introspection endpoint instead of the one in the issuer's metadata.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Authenticate introspection requests with HTTP Basic (RFC 7662 §2.1).
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Some((client_id.into(), client_secret.into()));
        self
    }

    /// How long a verdict is reused (default 30 s, at most 5 min; zero: introspect every time).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Accept tokens when introspection fails (default: refuse with 503). Only where
    /// availability matters more than honouring a revocation quickly.
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    /// Check on every request (default), or only where a route asks for it: the tower and axum
    /// adapters' `Require::active_token()` guard, or a call to
    /// [`Verifier::check_revocation`](crate::Verifier::check_revocation) (e.g. before a
    /// destructive action), with the same cache and failure policy.
    pub fn every_request(mut self, every_request: bool) -> Self {
        self.every_request = every_request;
        self
    }

    pub(crate) fn build(self) -> Result<Revocation, ConfigError> {
        check_introspection_settings(
            self.cache_ttl,
            self.endpoint.as_deref(),
            ["revocation cache_ttl", "revocation endpoint"],
        )?;
        let verdicts = moka::sync::Cache::builder()
            .max_capacity(self.cache_capacity)
            .expire_after(VerdictExpiry)
            .build();
        Ok(Revocation {
            config: self,
            verdicts,
            jwt_unsupported: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

/// The settings every introspecting cache checks alike (revocation, opaque tokens): a cache
/// lifetime of at most [`MAX_REVOCATION_CACHE_TTL`] and, when set, an absolute http(s)
/// endpoint. `settings` names the two in errors.
pub(crate) fn check_introspection_settings(
    cache_ttl: Duration,
    endpoint: Option<&str>,
    [ttl_setting, endpoint_setting]: [&'static str; 2],
) -> Result<(), ConfigError> {
    if cache_ttl > MAX_REVOCATION_CACHE_TTL {
        return Err(ConfigError::Invalid {
            setting: ttl_setting,
            reason: "at most 5 minutes",
        });
    }
    if let Some(url) = endpoint {
        authgent_core::request::check_external_url(url).map_err(|_| ConfigError::Invalid {
            setting: endpoint_setting,
            reason: "an absolute http(s) URL",
        })?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct Verdict {
    active: bool,
    ttl: Duration,
}

struct VerdictExpiry;

impl Expiry<TokenDigest, Verdict> for VerdictExpiry {
    fn expire_after_create(&self, _: &TokenDigest, v: &Verdict, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
}

pub(crate) struct Revocation {
    config: RevocationCheck,
    /// Set once the issuer answered `unsupported_token_type`: it will not introspect its JWT
    /// access tokens (oidc-provider does this), so no check can succeed; every later request
    /// fails at once, as a configuration error, without asking again.
    jwt_unsupported: std::sync::atomic::AtomicBool,
    /// Verdicts by SHA-256 of the token (the token itself is never stored). A dropped entry
    /// only costs one more introspection, so a bounded cache is safe here.
    verdicts: moka::sync::Cache<TokenDigest, Verdict>,
}

impl Revocation {
    pub(crate) fn every_request(&self) -> bool {
        self.config.every_request
    }

    /// `Ok(())` when the issuer says the token is active (or, fail-open, cannot say).
    pub(crate) async fn check(
        &self,
        keys: &KeyCache,
        token: &str,
        identity: &AgentIdentity,
        now: SystemTime,
        retry_after: Duration,
    ) -> Result<(), AuthgentError> {
        use std::sync::atomic::Ordering;
        if self.jwt_unsupported.load(Ordering::Relaxed) {
            crate::metrics::revocation("unsupported");
            return self.unsupported();
        }
        let digest: TokenDigest = authgent_core::crypto::sha256(token.as_bytes());
        if let Some(v) = self.verdicts.get(&digest) {
            crate::metrics::revocation(if v.active {
                "cached_active"
            } else {
                "cached_revoked"
            });
            return verdict(v.active);
        }
        match self.introspect(keys, token).await {
            Err(JwksError::OAuthError { url, error, .. }) if error == "unsupported_token_type" => {
                if !self.jwt_unsupported.swap(true, Ordering::Relaxed) {
                    tracing::error!(target: "authgent_jwks", endpoint = %url,
                        "the issuer will not introspect its JWT access tokens \
                         (unsupported_token_type), so their revocation cannot be checked: \
                         turn the revocation check off for this issuer and keep its tokens \
                         short-lived, or have it issue opaque tokens (introspected, and so \
                         revocable); until then every token is refused as a configuration \
                         error (fail-closed) or accepted unchecked (fail_open)");
                }
                crate::metrics::revocation("unsupported");
                self.unsupported()
            }
            Ok(active) => {
                crate::metrics::revocation(if active { "active" } else { "revoked" });
                let remaining = identity
                    .expires_at()
                    .and_then(|exp| exp.duration_since(now).ok())
                    .unwrap_or_default();
                let ttl = self.config.cache_ttl.min(remaining);
                if !ttl.is_zero() {
                    self.verdicts.insert(digest, Verdict { active, ttl });
                }
                verdict(active)
            }
            Err(e) if self.config.fail_open => {
                crate::metrics::revocation("unchecked");
                warn!(target: "authgent_jwks", error = %e,
                    "introspection failed; accepting the token unchecked (fail_open)");
                Ok(())
            }
            Err(e) => {
                crate::metrics::revocation("unavailable");
                warn!(target: "authgent_jwks", error = %e,
                    "introspection failed; refusing the token (fail-closed)");
                Err(AuthgentError::RevocationCheckUnavailable { retry_after })
            }
        }
    }

    /// The answer once the issuer is known not to introspect its JWTs.
    fn unsupported(&self) -> Result<(), AuthgentError> {
        if self.config.fail_open {
            return Ok(());
        }
        Err(AuthgentError::Config(ConfigError::Invalid {
            setting: "revocation_check",
            reason: "the issuer does not introspect its JWT access tokens \
                     (unsupported_token_type): revocation cannot be checked",
        }))
    }

    async fn introspect(&self, keys: &KeyCache, token: &str) -> Result<bool, JwksError> {
        let credentials = self.config.credentials.as_ref();
        let (endpoint, body) =
            introspect(keys, self.config.endpoint.as_deref(), credentials, token).await?;
        // RFC 7662 §2.2: `active` is REQUIRED and a boolean; anything else is no answer.
        match body.get("active") {
            Some(Value::Bool(active)) => Ok(*active),
            _ => Err(JwksError::InvalidDocument {
                url: endpoint,
                reason: "no boolean active member".into(),
            }),
        }
    }
}

/// One RFC 7662 introspection of `token` at `endpoint` (else the issuer's discovered
/// `introspection_endpoint`), authenticated with HTTP Basic `credentials` when given: the
/// endpoint asked and its JSON object.
pub(crate) async fn introspect(
    keys: &KeyCache,
    endpoint: Option<&str>,
    credentials: Option<&(String, String)>,
    token: &str,
) -> Result<(String, serde_json::Map<String, Value>), JwksError> {
    let endpoint = match endpoint {
        Some(url) => url.to_owned(),
        None => keys
            .introspection_endpoint()
            .await?
            .ok_or_else(|| JwksError::InvalidDocument {
                url: "issuer metadata".into(),
                reason: "no introspection_endpoint to introspect tokens with".into(),
            })?,
    };
    let basic = credentials.map(|(id, secret)| (id.as_str(), secret.as_str()));
    let form = [("token", token), ("token_type_hint", "access_token")];
    let fetched = keys.fetcher().post_form(&endpoint, &form, basic).await?;
    match serde_json::from_slice(&fetched.body) {
        Ok(Value::Object(body)) => Ok((endpoint, body)),
        _ => Err(JwksError::InvalidDocument {
            url: endpoint,
            reason: "not a JSON object".into(),
        }),
    }
}

fn verdict(active: bool) -> Result<(), AuthgentError> {
    if active {
        Ok(())
    } else {
        Err(TokenError::Revoked.into())
    }
}

/// Shared by verifier clones.
pub(crate) type SharedRevocation = Arc<Revocation>;
