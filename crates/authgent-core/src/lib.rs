#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! The I/O-free core of **authgent**: answer "which agent is calling, on whose behalf, through
//! which chain of delegation, and may it?" for a request to a protected resource.
//!
//! - [`TokenValidator`] verifies an access token (JWS over the issuer's [`KeySet`]) into an
//!   [`AgentIdentity`] with its [`DelegationChain`] (RFC 8693 nested `act`, newest first).
//! - [`ChainPolicy`] and [`ScopeRequirement`] decide whether that identity may proceed.
//! - [`dpop`] verifies and creates DPoP proofs (RFC 9449), with replay guard and nonces.
//! - [`request::RequestVerifier`] does a whole request: credentials, token, DPoP binding.
//! - [`challenge`] builds and parses `WWW-Authenticate` and maps errors to responses.
//! - [`metadata`] has RFC 9728 / RFC 8414 documents; [`txn`] transaction tokens.
//!
//! Nothing here does I/O or reads the clock: keys come through [`KeyResolver`] and time is an
//! argument, so every check is deterministic under test. `authgent-jwks` adds key discovery
//! and caching; the framework adapters add HTTP.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use authgent_core::{Algorithm, ChainPolicy, KeySet, ScopeRequirement, SigningKey, TokenValidator};
//!
//! // The issuer's side (normally authgent-server): a key and a delegated token.
//! let key = SigningKey::generate(Algorithm::Es256)?.with_kid("2026-11");
//! let claims = serde_json::json!({
//!     "iss": "https://as.example", "sub": "user:alice", "aud": "https://tools.example",
//!     "exp": 1_800_000_300, "scope": "search:execute",
//!     "act": {"sub": "client:tool", "act": {"sub": "client:orchestrator"}}
//! });
//! let token = key.sign(&Default::default(), claims.as_object().unwrap())?;
//!
//! // The resource server's side.
//! let keys = KeySet::from_keys([key.verification_key()?]);
//! let validator = TokenValidator::builder("https://as.example")
//!     .audience("https://tools.example")
//!     .build()?;
//! let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! let identity = validator.verify(&token, &keys, now)?;
//!
//! ScopeRequirement::all(["search:execute"]).check(identity.scopes())?;
//! ChainPolicy::builder().max_depth(2).require_human_root(true).build()
//!     .check(identity.delegation_chain())?;
//! assert_eq!(identity.delegation_chain().current_actor().unwrap().subject(), "client:tool");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod algorithm;
pub mod audit;
mod b64;
pub mod backend;
pub mod chain;
pub mod challenge;
pub mod claims;
pub mod credentials;
pub mod crypto;
pub mod dpop;
pub mod error;
pub mod identity;
mod json;
mod jws;
pub mod key;
pub mod mcp;
pub mod metadata;
pub mod profile;
pub mod request;
pub mod scope;
pub mod signing;
pub mod thumbprint;
mod time;
pub mod txn;
mod uri;
pub mod validator;

pub use algorithm::{Algorithm, UnsupportedAlgorithm};
pub use backend::SignatureBackend;
pub use chain::{
    Actor, ChainPolicy, ChainPolicyBuilder, ChainTree, DelegationChain, HumanRootRule,
};
pub use claims::{AgentMetadata, MayAct, TokenClaims};
pub use error::{
    AuthgentError, ConfigError, DelegationError, DpopError, RequestError, ScopeError, TokenError,
};
pub use identity::AgentIdentity;
pub use key::{KeyError, KeyResolver, KeySet, SkippedKey, VerificationKey};
pub use profile::{ClaimsProfile, ClientIdClaim, ScopeClaim};
pub use scope::{ScopeMatch, ScopeRequirement};
pub use signing::SigningKey;
pub use thumbprint::{ThumbprintError, jwk_thumbprint};
pub use validator::{TokenValidator, TokenValidatorBuilder, TypPolicy, UntrustedToken};
