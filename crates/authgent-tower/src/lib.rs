#![forbid(unsafe_code)]
//! A tower [`Layer`](tower_layer::Layer) that answers "which agent is calling, on whose behalf,
//! and may it?" once per request, for any tower stack (axum, tonic, hyper).
//!
//! [`AgentAuthLayer`] verifies the `Authorization` (Bearer or DPoP) and `DPoP` headers with an
//! [`authgent_jwks::Verifier`], then puts an [`AuthContext`] — the verified
//! [`AgentIdentity`](authgent_core::AgentIdentity) or "anonymous" — into the request extensions.
//! Failures become responses with the right status, `WWW-Authenticate` challenge and JSON body.
//! [`RequireScopes`] and [`RequireChain`] are per-route guards layered after it.
//!
//! ```no_run
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use authgent_tower::{AgentAuthLayer, RequireScopes};
//! let verifier = authgent_jwks::Verifier::builder()
//!     .issuer("http://127.0.0.1:8000")
//!     .audience("https://tools.example.com")
//!     .external_url("https://tools.example.com")
//!     .build()?;
//! let auth = AgentAuthLayer::builder(verifier)
//!     .resource_metadata("https://tools.example.com/.well-known/oauth-protected-resource")
//!     .build();
//! let search_guard = RequireScopes::all(["search:execute"]);
//! // ServiceBuilder::new().layer(auth).layer(search_guard).service(handler) — or with axum:
//! // Router::new().route("/search", post(h).route_layer(search_guard)).layer(auth)
//! # let _ = (auth, search_guard); Ok(()) }
//! ```

mod guard;
mod layer;
mod response;

pub use authgent_core::challenge::ErrorBodyHook;
pub use guard::{
    RequireActiveToken, RequireActiveTokenService, RequireChain, RequireChainService,
    RequireScopes, RequireScopesService,
};
pub use layer::{AgentAuthLayer, AgentAuthLayerBuilder, AgentAuthService, AuthContext, AuthMode};
pub use response::{error_response, resource_metadata_response};
