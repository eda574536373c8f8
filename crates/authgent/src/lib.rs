#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! **authgent**: which agent is calling, on whose behalf, through which chain of delegation,
//! and may it?
//!
//! This facade re-exports the SDK's crates; enable the adapter you use:
//!
//! ```toml
//! authgent = { version = "0.1", features = ["axum"] }   # or "tower", "actix", "rocket", "rmcp", "client", "redis", "testkit"
//! ```
//!
//! | path | crate | what |
//! |---|---|---|
//! | [`core`] | `authgent-core` | tokens, identity, delegation chains, policy, DPoP, challenges (no I/O) |
//! | [`jwks`] | `authgent-jwks` | key discovery and caching, the async [`Verifier`], [`AgentAuth`] (the one configuration every adapter takes) |
//! | `tower` | `authgent-tower` | `AgentAuthLayer::new(auth)`, `Require` guards (feature `tower`) |
//! | `axum` | `authgent-axum` | the `AgentIdentity` and `TransactionToken` extractors (feature `axum`) |
//! | `actix` | `authgent-actix` | `AgentAuthMiddleware::new(auth)`, extractors, `Require` (feature `actix`) |
//! | `rocket` | `authgent-rocket` | `AgentAuthFairing::new(auth)`, request guards, catchers (feature `rocket`) |
//! | `rmcp` | `authgent-rmcp` | `McpAuth`: an rmcp MCP server with per-tool scopes, identity in tools, bound sessions (feature `rmcp`, includes `axum`) |
//! | `client` | `authgent-client` | `AgentAuthClient`, `TokenManager`, `ScopeChallengeHandler`, `McpAuthProvider`: the agent side (feature `client`) |
//! | `jwks::RedisReplayStore` | `authgent-jwks` | the DPoP replay store every replica of a service shares, on Redis (feature `redis`; see docs/deployment.md) |
//! | `testkit` | `authgent-testkit` | `TestIssuer` for your tests (feature `testkit`) |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use authgent::{ChainPolicy, Verifier};
//! let verifier = Verifier::builder()
//!     .issuer("http://127.0.0.1:8000")
//!     .audience("https://tools.example.com")      // this service: tokens for others are refused
//!     .external_url("https://tools.example.com")  // the DPoP htu base
//!     .build()?;
//! let identity = verifier.verify_token("eyJ…").await?;
//! ChainPolicy::builder().max_depth(3).build().check(identity.delegation_chain())?;
//! # Ok(()) }
//! ```

pub use authgent_core as core;
pub use authgent_jwks as jwks;

pub use authgent_core::dpop::{DpopKey, NonceIssuer};
pub use authgent_core::metadata::ProtectedResourceMetadata;
pub use authgent_core::request::DpopMode;
pub use authgent_core::{
    AgentIdentity, Algorithm, AuthgentError, ChainPolicy, DelegationChain, HumanRootRule,
    ScopeRequirement, TokenValidator,
};
#[cfg(feature = "redis")]
pub use authgent_jwks::RedisReplayStore;
pub use authgent_jwks::{
    AgentAuth, Guard, MemoryReplayStore, MultiIssuerVerifier, ReplayStore, Verifier,
    describe_metrics, nonce_secrets_from_env, verify_token,
};

/// Audit events: one per request authgent decides ([`audit::AuditEvent`]), as `tracing`
/// events (target `authgent::audit`) and to an [`audit::AuditSink`] such as
/// [`audit::JsonLines`]. See docs/operations.md.
pub use authgent_jwks::audit;

/// tower integration (feature `tower`).
#[cfg(feature = "tower")]
pub use authgent_tower as tower;

/// axum integration (feature `axum`).
#[cfg(feature = "axum")]
pub use authgent_axum as axum;

/// actix-web integration (feature `actix`).
#[cfg(feature = "actix")]
pub use authgent_actix as actix;

/// Rocket integration (feature `rocket`).
#[cfg(feature = "rocket")]
pub use authgent_rocket as rocket;

/// MCP servers on rmcp (feature `rmcp`).
#[cfg(feature = "rmcp")]
pub use authgent_rmcp as rmcp;

/// The agent side: a client of the authgent server (feature `client`).
#[cfg(feature = "client")]
pub use authgent_client as client;

/// rig agents: tools with a delegated token per service, MCP tools, audit per call (feature
/// `rig`).
#[cfg(feature = "rig")]
pub use authgent_rig as rig;

/// The in-process test issuer (feature `testkit`).
#[cfg(feature = "testkit")]
pub use authgent_testkit as testkit;

/// The README's and the guides' snippets, compiled (and, where they do not serve forever, run)
/// as this crate's doc tests, so they cannot drift from the API. Each is a whole program
/// written against this facade, as a user with only `authgent` as a dependency writes it.
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "actix",
    feature = "rocket",
    feature = "rmcp",
    feature = "client",
    feature = "redis",
    feature = "testkit"
))]
pub mod snippets {
    #[doc = include_str!("../../../README.md")]
    pub struct Readme;
    #[doc = include_str!("../../../docs/getting-started.md")]
    pub struct GettingStarted;
    #[doc = include_str!("../../../docs/concepts.md")]
    pub struct Concepts;
    #[doc = include_str!("../../../docs/adapters.md")]
    pub struct Adapters;
    #[doc = include_str!("../../../docs/testing.md")]
    pub struct Testing;
    #[doc = include_str!("../../../docs/migrating-from-python.md")]
    pub struct MigratingFromPython;
    #[doc = include_str!("../../../docs/mcp.md")]
    pub struct Mcp;
    #[doc = include_str!("../../../docs/deployment.md")]
    pub struct Deployment;
    #[doc = include_str!("../../../docs/security.md")]
    pub struct Security;
    #[doc = include_str!("../../../docs/operations.md")]
    pub struct Operations;
    #[doc = include_str!("../../authgent-core/README.md")]
    pub struct AuthgentCoreReadme;
    #[doc = include_str!("../../authgent-jwks/README.md")]
    pub struct AuthgentJwksReadme;
    #[doc = include_str!("../../authgent-testkit/README.md")]
    pub struct AuthgentTestkitReadme;
}
