#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! axum integration for **authgent**: put [`AgentIdentity`] in a handler's signature.
//!
//! The [`AgentAuthLayer`] (from `authgent-tower`, re-exported) over one [`AgentAuth`]
//! verifies each request once;
//! the extractor only reads what it found. `Option<AgentIdentity>` is `None` for anonymous
//! requests on an optional layer — invalid credentials are refused by the layer, never
//! treated as anonymous. Without the layer the extractor answers 500, naming the fix.
//!
//! ```no_run
//! use axum::{Json, Router, routing::{get, post}};
//! use authgent_axum::{AgentAuth, AgentAuthLayer, AgentIdentity, Require, resource_metadata_router};
//! use authgent_jwks::Verifier;
//!
//! async fn search(identity: AgentIdentity) -> Json<serde_json::Value> {
//!     let chain = identity.delegation_chain();
//!     Json(serde_json::json!({"subject": identity.subject(), "depth": chain.depth()}))
//! }
//!
//! async fn me(identity: Option<AgentIdentity>) -> String {
//!     identity.map_or("anonymous".into(), |i| i.subject().to_owned())
//! }
//!
//! # fn app() -> Result<Router, Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .issuer("http://127.0.0.1:8000")
//!     .audience("https://tools.example.com")
//!     .external_url("https://tools.example.com")
//!     .build()?;
//! let auth = AgentAuth::builder(verifier).optional().build()?;
//! let app = Router::new()
//!     .route("/tools/search", post(search).route_layer(Require::all(["search:execute"])))
//!     .route("/me", get(me))
//!     .layer(AgentAuthLayer::new(auth.clone()))
//!     .merge(resource_metadata_router(&auth));   // RFC 9728, at the derived well-known path
//! # Ok(app) }
//! ```

mod extract;
mod metadata;

pub use authgent_tower::{
    AgentAuth, AgentAuthBuilder, AgentAuthLayer, AuthContext, AuthMode, Caller, Guard, Rejection,
    Require, RequireTools,
};
pub use extract::{AgentIdentity, AuthRejection, TransactionToken};
pub use metadata::resource_metadata_router;
