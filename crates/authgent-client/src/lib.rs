#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! The agent side of **authgent**: talk to an authgent authorization server.
//!
//! - [`AgentAuthClient`] — register agents; get tokens (client credentials), exchange them
//!   (RFC 8693 delegation), chain identities across domains, mint transaction tokens, refresh,
//!   introspect, revoke, request human step-up, and pre-check exchanges. With a
//!   [`DpopKey`](authgent_core::dpop::DpopKey) every token is DPoP-bound (RFC 9449), nonces
//!   included.
//! - [`TokenManager`] — cached tokens renewed before expiry, put on outgoing `reqwest`
//!   requests (with DPoP proofs), and only on requests to the origin each token was requested
//!   for.
//! - [`ScopeChallengeHandler`] — from a resource server's `403 insufficient_scope` to a
//!   human's approval, filing only the scopes on its list; [`StepUpApprover`] — the human's
//!   side, a separate client with its own credential; [`ScopeStepUp`] — the MCP step-up rule.
//! - [`AuthorizationRequest`] — the authorization-code flow with PKCE, `state`, `iss` and
//!   `resource`.
//! - [`McpAuthProvider`] — verification for MCP servers.
//!
//! Safe by default: credentials go over `https://` only (plain `http://` on loopback), never
//! follow a redirect, and a DPoP client never accepts or sends a bearer token
//! (docs/security.md, "The agent side").
//!
//! Errors are typed ([`ClientError`]): the server's OAuth error code, rate limits with
//! `Retry-After`, timeouts and network failures apart. Secrets and tokens are [`Secret`]s:
//! never shown by `Debug`, never logged.
//!
//! ```no_run
//! use authgent_client::{AgentAuthClient, AgentRegistration, ExchangeRequest};
//! use authgent_core::dpop::DpopKey;
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = AgentAuthClient::builder("http://127.0.0.1:8000")
//!     .dpop_key(DpopKey::generate_es256()?)
//!     .build()?;
//! auth.discover().await?;
//! let agent = auth.register_agent(&AgentRegistration::new("planner").scopes(["read"])).await?;
//! let token = auth.get_token(&agent.credentials(), Some("read"), None).await?;
//! assert!(token.is_dpop());
//! # Ok(()) }
//! ```

mod approver;
mod authorization;
mod client;
mod error;
mod introspection;
mod mcp;
mod pkce;
mod registration;
mod resource;
mod scope_challenge;
mod secret;
mod stepup;
mod token;
mod token_manager;
mod transport;

pub use approver::{StepUpApprover, StepUpApproverBuilder};
pub use authorization::AuthorizationRequest;
pub use client::{AgentAuthClient, AgentAuthClientBuilder, ClientAuthMethod};
pub use error::{ClientError, ServerError, TransportError};
pub use introspection::{Confirmation, Introspection};
pub use mcp::McpAuthProvider;
pub use pkce::Pkce;
pub use registration::{AgentRegistration, ClientRegistration, RegisteredAgent, RegisteredClient};
pub use resource::resource_metadata_url;
pub use scope_challenge::{ScopeChallenge, ScopeChallengeHandler, ScopeStepUp, StepUpOutcome};
pub use secret::{ClientCredentials, Secret};
pub use stepup::{MIN_POLL_INTERVAL, StepUp, StepUpRequest, StepUpStatus};
pub use token::{
    ExchangeCheck, ExchangeRequest, TokenResponse, TxnTokenRequest, grant_type, token_type,
};
pub use token_manager::{
    CallerToken, MAX_CACHED_LIFETIME, MAX_TOKEN_KEYS, TokenKey, TokenManager, TokenManagerBuilder,
};
pub use transport::{credential_http_client, is_loopback};
