#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! actix-web integration for **authgent**.
//!
//! Wrap the app in [`AgentAuthMiddleware`] over one [`AgentAuth`]: it verifies each request once (Bearer or DPoP, with the
//! proof and its binding) and stores the outcome in the request extensions. Handlers take an
//! [`AgentIdentity`]; guards ([`Require`]) check scopes and delegation chains per scope or
//! resource. Refusals are [`AuthRejection`]s: status, `WWW-Authenticate`, JSON body.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use authgent_actix::{AgentAuth, AgentAuthMiddleware, AgentIdentity, Require};
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
//! let auth = AgentAuth::builder(verifier).build()?;
//! HttpServer::new(move || {
//!     App::new().wrap(AgentAuthMiddleware::new(auth.clone())).service(
//!         web::resource("/tools/search")
//!             .wrap(Require::all(["search:execute"]))
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

pub use authgent_jwks::{
    AgentAuth, AgentAuthBuilder, AuthContext, AuthMode, Caller, Guard, Rejection,
};
pub use extract::OptionalAgentIdentity;

authgent_jwks::adapter_types!();
pub use guard::{Require, RequireService};
pub use middleware::{AgentAuthMiddleware, AgentAuthService};

/// What to add when a guard or extractor finds no [`AuthContext`].
const MISSING_MIDDLEWARE_FIX: &str =
    "AgentAuthMiddleware: add .wrap(AgentAuthMiddleware::new(auth)) to the App";

/// Serves `auth`'s RFC 9728 document at its well-known path (nothing when the resource is not
/// known); it needs no authentication: `App::new().configure(resource_metadata(&auth))`.
///
/// ```no_run
/// # fn demo(auth: authgent_jwks::AgentAuth) {
/// let app = actix_web::App::new().configure(authgent_actix::resource_metadata(&auth));
/// # let _ = app; }
/// ```
pub fn resource_metadata(auth: &AgentAuth) -> impl FnOnce(&mut actix_web::web::ServiceConfig) {
    let document = auth.metadata().cloned();
    move |config| {
        if let Some(document) = document {
            let json = document.json;
            config.service(actix_web::web::resource(document.path).route(
                actix_web::web::get().to(move || {
                    let body = json.to_string();
                    async move {
                        actix_web::HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body)
                    }
                }),
            ));
        }
    }
}
