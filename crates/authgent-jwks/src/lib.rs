#![forbid(unsafe_code)]
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
//! - **Verified-token cache** (SHA-256 of the token → identity, until `exp`) and a bounded
//!   DPoP [`ReplayStore`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use authgent_jwks::Verifier;
//! let verifier = Verifier::builder()
//!     .issuer("http://127.0.0.1:8000")
//!     .audience("https://tools.example.com")
//!     .build()?;
//! let identity = verifier.verify_token("eyJhbGciOi…").await?;
//! println!("{} (delegation depth {})", identity.subject(), identity.delegation_chain().depth());
//!
//! // The Python SDK's shape, backed by a process-wide verifier per issuer:
//! let identity = authgent_jwks::verify_token("eyJhbGciOi…", "http://127.0.0.1:8000").await?;
//! # let _ = identity; Ok(()) }
//! ```

mod fetch;
mod keys;
mod multi;
mod replay;
mod stats;
mod token_cache;
mod verifier;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use authgent_core::{AgentIdentity, AuthgentError};
pub use fetch::JwksError;
pub use keys::KeySetInfo;
pub use multi::MultiIssuerVerifier;
pub use replay::ReplayStore;
pub use stats::VerifierStats;
pub use verifier::{Verifier, VerifierBuilder};

/// Verifies `token` for `issuer` with default settings, like the Python SDK's
/// `verify_token(token, issuer)`. The first call for an issuer builds a verifier that later
/// calls share (keys and verified tokens stay cached for the life of the process).
///
/// No audience is checked here; build a [`Verifier`] with `.audience(…)` for that.
pub async fn verify_token(token: &str, issuer: &str) -> Result<Arc<AgentIdentity>, AuthgentError> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Verifier>>> = OnceLock::new();
    let verifier = {
        let mut registry = REGISTRY
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match registry.get(issuer) {
            Some(v) => v.clone(),
            None => {
                let v = Verifier::builder().issuer(issuer).build()?;
                registry.insert(issuer.to_owned(), v.clone());
                v
            }
        }
    };
    verifier.verify_token(token).await
}
