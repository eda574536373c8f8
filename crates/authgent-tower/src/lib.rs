#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! A tower [`Layer`](tower_layer::Layer) that answers "which agent is calling, on whose behalf,
//! and may it?" once per request, for any tower stack (axum, tonic, hyper).
//!
//! [`AgentAuthLayer`] takes one [`AgentAuth`] (the configuration, built once in
//! `authgent-jwks`), authenticates each request with it and puts the [`AuthContext`] — the
//! verified [`AgentIdentity`](authgent_core::AgentIdentity) or "anonymous" — into the request
//! extensions. Refusals become responses with the right status, `WWW-Authenticate` challenge
//! and JSON body. [`Require`] is the per-route guard layered after it.
//!
//! ```no_run
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use authgent_tower::{AgentAuth, AgentAuthLayer, Require};
//! let verifier = authgent_jwks::Verifier::builder()
//!     .issuer("http://127.0.0.1:8000")
//!     .audience("https://tools.example.com")
//!     .external_url("https://tools.example.com")
//!     .build()?;
//! let auth = AgentAuth::builder(verifier).build()?;
//! let layer = AgentAuthLayer::new(auth);
//! let search_guard = Require::all(["search:execute"]);
//! // ServiceBuilder::new().layer(layer).layer(search_guard).service(handler) — or with axum:
//! // Router::new().route("/search", post(h).route_layer(search_guard)).layer(layer)
//! # let _ = (layer, search_guard); Ok(()) }
//! ```

mod guard;
mod layer;
mod mcp;
mod response;

pub use authgent_core::challenge::ErrorBodyHook;
pub use authgent_jwks::{
    AgentAuth, AgentAuthBuilder, AuthContext, AuthMode, Caller, Guard, Rejection,
};
pub use guard::{Require, RequireService};
pub use layer::{AgentAuthLayer, AgentAuthService};
pub use mcp::{RequireTools, RequireToolsService};
pub use response::{metadata_response, rejection_response};

/// The future every service of this crate returns.
type BoxFuture<R, E> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<R, E>> + Send>>;

/// The inner service for one call: the clone that was driven to readiness serves it, and a
/// fresh clone stays behind for the next `poll_ready` (tower's usual swap).
fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

/// What to add when a guard or extractor finds no [`AuthContext`].
#[doc(hidden)]
pub const MISSING_LAYER_FIX: &str =
    "AgentAuthLayer: add .layer(AgentAuthLayer::new(auth)) outside this route";
