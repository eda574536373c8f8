#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! Key discovery, fetching and caching for **authgent**, and the async [`Verifier`].
//!
//! `authgent-core` checks tokens against keys; this crate gets the keys and keeps them:
//!
//! - **Discovery** from the issuer: RFC 8414 metadata (path-inserted), then OpenID
//!   configuration, then `/.well-known/jwks.json`; metadata for another issuer is refused.
//! - **Cache**: keys prepared once; fresh for `Cache-Control: max-age` (clamped to
//!   30 s – 24 h) or 10 minutes; reads never wait on a fetch while keys are present.
//! - **Unknown `kid`**: one refresh, single-flight across all concurrent callers, then a
//!   cooldown during which unknown kids are refused without fetching.
//! - **Failures**: timeouts, no redirects, body cap, bad status and bad JSON are handled; the
//!   last good keys keep serving for a bounded time; a cold failure is
//!   [`AuthgentError::KeysUnavailable`] (503 with `Retry-After`), never 401 or 500.
//! - **Verified-token cache** (the token → identity, until `exp`) and DPoP [`replay`] stores:
//!   exact in memory for one process, or on Redis for several replicas (feature `redis`).
//! - **Shared DPoP nonce secrets** from the environment or files ([`nonce_secrets_from_env`]),
//!   so every replica accepts every replica's nonces.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use authgent_jwks::Verifier;
//! let verifier = Verifier::builder()
//!     .issuer("http://127.0.0.1:8000")
//!     .audience("https://tools.example.com")
//!     .external_url("https://tools.example.com")
//!     .build()?;
//! let identity = verifier.verify_token("eyJhbGciOi…").await?;
//! println!("{} (delegation depth {})", identity.subject(), identity.delegation_chain().depth());
//!
//! // The Python SDK's shape, backed by a process-wide verifier per issuer:
//! let identity = authgent_jwks::verify_token(
//!     "eyJhbGciOi…", "http://127.0.0.1:8000", "https://tools.example.com").await?;
//! # let _ = identity; Ok(()) }
//! ```

#[doc(hidden)]
pub mod adapter;
mod agent_auth;
pub mod audit;
mod fetch;
mod keys;
mod metrics;
mod multi;
mod nonce_secrets;
mod opaque;
pub mod replay;
mod revocation;
mod stats;
mod token_cache;
mod verifier;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use agent_auth::{
    AgentAuth, AgentAuthBuilder, AuthContext, AuthMode, Caller, Guard, HeaderSource,
    MetadataDocument, Rejection, SubjectToken, Verifiers,
};
pub use authgent_core::{AgentIdentity, AuthgentError};
pub use fetch::JwksError;
pub use keys::KeySetInfo;
pub use metrics::describe_metrics;
pub use multi::MultiIssuerVerifier;
pub use nonce_secrets::{
    NONCE_SECRET_PREVIOUS_VAR, NONCE_SECRET_VAR, nonce_secrets_from, nonce_secrets_from_env,
};
pub use opaque::OpaqueTokens;
pub use replay::{MemoryReplayStore, ReplayFuture, ReplayStore};
#[cfg(feature = "redis")]
pub use replay::{RedisReplayError, RedisReplayStats, RedisReplayStore, RedisReplayStoreBuilder};
pub use revocation::{MAX_REVOCATION_CACHE_TTL, RevocationCheck};
pub use stats::VerifierStats;
pub use verifier::{Verifier, VerifierBuilder};

/// Most issuer/audience pairs [`verify_token`] keeps a verifier for; past it, one is evicted.
const REGISTRY_CAPACITY: usize = 64;

/// Verifies `token` for `issuer` and `audience` (this resource's identifier) with default
/// settings, like the Python SDK's `verify_token(token, issuer, audience)`. The first call
/// for an issuer and audience builds a verifier that later calls share (keys and verified
/// tokens stay cached); at most 64 pairs are kept.
///
/// DPoP is not accepted here (a bare token carries no proof): a DPoP-bound token is refused.
/// Build a [`Verifier`] for DPoP, chain policy, revocation or any other setting.
pub async fn verify_token(
    token: &str,
    issuer: &str,
    audience: &str,
) -> Result<Arc<AgentIdentity>, AuthgentError> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    let verifier = REGISTRY
        .get_or_init(|| Mutex::new(Registry::new(REGISTRY_CAPACITY)))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get_or_build(issuer, audience)?;
    verifier.verify_token(token).await
}

/// Verifiers by (issuer, audience), bounded: a caller that passes many issuers cannot grow
/// it without end.
struct Registry {
    verifiers: HashMap<(String, String), Verifier>,
    capacity: usize,
}

impl Registry {
    fn new(capacity: usize) -> Self {
        Registry {
            verifiers: HashMap::new(),
            capacity,
        }
    }

    fn get_or_build(&mut self, issuer: &str, audience: &str) -> Result<Verifier, AuthgentError> {
        let key = (issuer.to_owned(), audience.to_owned());
        if let Some(v) = self.verifiers.get(&key) {
            return Ok(v.clone());
        }
        let v = Verifier::builder()
            .issuer(issuer)
            .audience(audience)
            .dpop_mode(authgent_core::request::DpopMode::Disabled)
            .build()?;
        if self.verifiers.len() >= self.capacity
            && let Some(evicted) = self.verifiers.keys().next().cloned()
        {
            self.verifiers.remove(&evicted);
        }
        self.verifiers.insert(key, v.clone());
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9 finding 10: the process-wide `verify_token` registry grew with every issuer.
    #[test]
    fn verify_token_registry_is_bounded() {
        let mut registry = Registry::new(REGISTRY_CAPACITY);
        for n in 0..200 {
            let issuer = format!("https://issuer-{n}.example");
            registry
                .get_or_build(&issuer, "https://tools.example")
                .unwrap();
            assert!(registry.verifiers.len() <= REGISTRY_CAPACITY);
        }
        assert_eq!(registry.verifiers.len(), REGISTRY_CAPACITY);
        // A kept pair is reused, not rebuilt.
        let (issuer, audience) = registry.verifiers.keys().next().cloned().unwrap();
        registry.get_or_build(&issuer, &audience).unwrap();
        assert_eq!(registry.verifiers.len(), REGISTRY_CAPACITY);
        // An audience is required: an empty one is refused at build.
        assert!(registry.get_or_build("https://as.example", "").is_err());
    }
}
