#![forbid(unsafe_code)]
//! actix-web integration for **authgent**.
//!
//! Wrap the app in [`AgentAuth`]: it verifies each request once (Bearer or DPoP, with the
//! proof and its binding) and stores the outcome in the request extensions. Handlers take an
//! [`AgentIdentity`]; guards ([`Require`]) check scopes and delegation chains per scope or
//! resource. Refusals are [`AuthError`]s: status, `WWW-Authenticate`, JSON body.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use authgent_actix::{AgentAuth, AgentIdentity, Require};
//! use authgent_core::ScopeRequirement;
//!
//! async fn search(identity: AgentIdentity) -> String {
//!     format!("{} (depth {})", identity.subject(), identity.delegation_chain().depth())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = authgent_jwks::Verifier::builder()
//!     .issuer("http://127.0.0.1:8000")
//!     .audience("https://tools.example.com")
//!     .external_url("https://tools.example.com")
//!     .build()?;
//! let auth = AgentAuth::builder(verifier).build();
//! HttpServer::new(move || {
//!     App::new().wrap(auth.clone()).service(
//!         web::resource("/tools/search")
//!             .wrap(Require::scopes(ScopeRequirement::all(["search:execute"])))
//!             .route(web::post().to(search)),
//!     )
//! })
//! .bind("127.0.0.1:3000")?
//! .run()
//! .await?;
//! # Ok(()) }
//! ```

mod error;
mod extract;
mod guard;
mod middleware;

pub use error::AuthError;
pub use extract::{AgentIdentity, OptionalAgentIdentity};
pub use guard::{Require, RequireMiddleware};
pub use middleware::{AgentAuth, AgentAuthBuilder, AgentAuthMiddleware, AuthContext};

/// A resource serving `doc` (RFC 9728) at its well-known path; needs no authentication.
///
/// ```
/// use authgent_core::metadata::ProtectedResourceMetadata;
/// let doc = ProtectedResourceMetadata::builder("https://tools.example.com").build()?;
/// let app = actix_web::App::new().service(authgent_actix::resource_metadata(doc));
/// # let _ = app;
/// # Ok::<(), authgent_core::ConfigError>(())
/// ```
pub fn resource_metadata(
    doc: authgent_core::metadata::ProtectedResourceMetadata,
) -> actix_web::Resource {
    let path = doc.well_known_path();
    let body = serde_json::to_string(&doc).unwrap_or_else(|_| "{}".to_owned());
    actix_web::web::resource(path).route(actix_web::web::get().to(move || {
        let body = body.clone();
        async move {
            actix_web::HttpResponse::Ok()
                .content_type("application/json")
                .body(body)
        }
    }))
}
