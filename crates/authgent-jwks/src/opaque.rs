//! Opaque access tokens, verified by RFC 7662 introspection at their issuer.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use authgent_core::{AgentIdentity, AuthgentError, ConfigError, TokenValidator};
use moka::Expiry;

use crate::keys::KeyCache;
use crate::revocation::{TokenDigest, check_introspection_settings, introspect};

/// Opaque (non-JWT) access tokens, accepted by asking their issuer: an RFC 7662 introspection
/// request to its `introspection_endpoint` (discovered unless set), authenticated with this
/// resource server's client credentials. Providers issue them where no resource indicator
/// names an API that wants JWTs (panva's oidc-provider), or by configuration (Ory Hydra's
/// default, Auth0's for its own APIs).
///
/// The response passes the same checks a JWT's claims do (`active: true`, `exp`, `iss`,
/// `sub`, `aud`, the claims profile; a `cnf.jkt` binds it to a DPoP key, and `act` makes the
/// chain), and the identity is cached per token (by its SHA-256) for at most
/// [`cache_ttl`](Self::cache_ttl) (default 30 s, at most 5 minutes) and never past `exp`: a
/// token revoked at the issuer is refused within that time. If the issuer cannot answer, the
/// request is refused with 503 and `Retry-After` — there is no fail-open for a token nothing
/// else vouches for. A token with exactly two dots is read as a JWT, never introspected.
///
/// ```
/// use authgent_jwks::{OpaqueTokens, Verifier};
/// let verifier = Verifier::builder()
///     .issuer("https://as.example")
///     .audience("https://tools.example")
///     .external_url("https://tools.example")
///     .opaque_tokens(OpaqueTokens::new().client_credentials("tools-rs", "s3cr3t"))
///     .build()?;
/// # Ok::<(), authgent_core::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct OpaqueTokens {
    endpoint: Option<String>,
    credentials: Option<(String, String)>,
    cache_ttl: Duration,
    cache_capacity: u64,
}

impl fmt::Debug for OpaqueTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaqueTokens")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.credentials.as_ref().map(|(id, _)| id))
            .field(
                "client_secret",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("cache_ttl", &self.cache_ttl)
            .finish()
    }
}

impl Default for OpaqueTokens {
    fn default() -> Self {
        Self::new()
    }
}

impl OpaqueTokens {
    /// Introspection at the discovered endpoint, no client authentication, 30 s cache.
    pub fn new() -> Self {
        OpaqueTokens {
            endpoint: None,
            credentials: None,
            cache_ttl: Duration::from_secs(30),
            cache_capacity: 10_000,
        }
    }

    /// The introspection endpoint, instead of the one the issuer's metadata names.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// This resource server's client credentials at the issuer (HTTP Basic).
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Some((client_id.into(), client_secret.into()));
        self
    }

    /// How long an accepted token is remembered (default 30 s, at most 5 minutes).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    pub(crate) fn build(self) -> Result<Opaque, ConfigError> {
        check_introspection_settings(
            self.cache_ttl,
            self.endpoint.as_deref(),
            ["opaque_tokens cache_ttl", "opaque_tokens endpoint"],
        )?;
        let accepted = moka::sync::Cache::builder()
            .max_capacity(self.cache_capacity)
            .expire_after(Lifetime)
            .build();
        Ok(Opaque {
            config: self,
            accepted,
        })
    }
}

#[derive(Clone)]
struct Accepted {
    identity: Arc<AgentIdentity>,
    ttl: Duration,
}

struct Lifetime;

impl Expiry<TokenDigest, Accepted> for Lifetime {
    fn expire_after_create(&self, _: &TokenDigest, v: &Accepted, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
}

pub(crate) struct Opaque {
    config: OpaqueTokens,
    accepted: moka::sync::Cache<TokenDigest, Accepted>,
}

/// Whether `token` is read as a JWT (a compact JWS has exactly two dots).
pub(crate) fn is_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

impl Opaque {
    /// The identity of an opaque `token`, from the cache or its issuer.
    pub(crate) async fn identity(
        &self,
        keys: &KeyCache,
        validator: &TokenValidator,
        token: &str,
        now: SystemTime,
        retry_after: Duration,
    ) -> Result<Arc<AgentIdentity>, AuthgentError> {
        let digest: TokenDigest = authgent_core::crypto::sha256(token.as_bytes());
        if let Some(hit) = self.accepted.get(&digest) {
            return Ok(hit.identity);
        }
        let credentials = self.config.credentials.as_ref();
        let endpoint = self.config.endpoint.as_deref();
        let response = match introspect(keys, endpoint, credentials, token).await {
            Ok((_, response)) => response,
            Err(e) => {
                tracing::warn!(target: "authgent_jwks", error = %e,
                    "introspection of an opaque token failed; refusing it (fail-closed)");
                return Err(AuthgentError::RevocationCheckUnavailable { retry_after });
            }
        };
        let identity = Arc::new(validator.verify_introspected(&response, now)?);
        let remaining = identity
            .expires_at()
            .and_then(|exp| exp.duration_since(now).ok())
            .unwrap_or_default();
        let ttl = self.config.cache_ttl.min(remaining);
        if !ttl.is_zero() {
            let identity = Arc::clone(&identity);
            self.accepted.insert(digest, Accepted { identity, ttl });
        }
        Ok(identity)
    }
}
