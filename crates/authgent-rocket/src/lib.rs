#![forbid(unsafe_code)]
//! Rocket integration for **authgent**.
//!
//! Attach [`AgentAuth::fairing`]: it manages the verifier and registers catchers that answer
//! refusals with the right status, `WWW-Authenticate` challenge and JSON body. Handlers take
//! an [`AgentIdentity`] guard (or [`OptionalAgentIdentity`]); the request is verified once,
//! however many guards ask.
//!
//! Use [`OptionalAgentIdentity`], not `Option<AgentIdentity>`: Rocket's `Option<T>` guard turns
//! every failure into `None`, so an invalid token would look anonymous.
//!
//! ```no_run
//! use rocket::{get, routes};
//! use authgent_rocket::{AgentAuth, AgentIdentity};
//!
//! #[get("/me")]
//! fn me(identity: AgentIdentity) -> String {
//!     identity.subject().to_owned()
//! }
//!
//! # fn app() -> Result<rocket::Rocket<rocket::Build>, Box<dyn std::error::Error>> {
//! let verifier = authgent_jwks::Verifier::builder()
//!     .issuer("http://127.0.0.1:8000")
//!     .audience("https://tools.example.com")
//!     .external_url("https://tools.example.com")
//!     .build()?;
//! let app = rocket::build().attach(AgentAuth::builder(verifier).build().fairing()).mount("/", routes![me]);
//! # Ok(app) }
//! ```

mod guard;
mod response;

use std::sync::Arc;

use authgent_core::challenge::{ChallengeConfig, ErrorBodyHook, ErrorResponse};
use authgent_core::metadata::ProtectedResourceMetadata;
use authgent_jwks::Verifier;
use rocket::fairing::AdHoc;
use rocket::http::{ContentType, Method};
use rocket::route::{Handler, Outcome, Route};
use rocket::{Data, Request};

pub use guard::{AgentIdentity, OptionalAgentIdentity};
pub use response::AuthError;

/// The verifier and its response settings, managed as Rocket state.
#[derive(Clone)]
pub struct AgentAuth {
    pub(crate) verifier: Verifier,
    pub(crate) challenge: ChallengeConfig,
}

impl std::fmt::Debug for AgentAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentAuth")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl AgentAuth {
    /// Starts the configuration around `verifier`.
    pub fn builder(verifier: Verifier) -> AgentAuthBuilder {
        AgentAuthBuilder {
            verifier,
            resource_metadata: None,
            verbose: false,
            hook: None,
        }
    }

    /// The fairing: manages this state and registers the refusal catchers (400, 401, 403,
    /// 500, 503 at `/`).
    pub fn fairing(self) -> AdHoc {
        AdHoc::on_ignite("authgent", |rocket| async move {
            rocket.manage(self).register("/", response::catchers())
        })
    }
}

/// Builds [`AgentAuth`].
#[must_use]
pub struct AgentAuthBuilder {
    verifier: Verifier,
    resource_metadata: Option<String>,
    verbose: bool,
    hook: Option<ErrorBodyHook>,
}

impl std::fmt::Debug for AgentAuthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentAuthBuilder").finish_non_exhaustive()
    }
}

impl AgentAuthBuilder {
    /// URL of the RFC 9728 metadata, for `resource_metadata` in challenges.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Put each error's own message in `error_description`.
    pub fn verbose_errors(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// Build error bodies with `hook` instead of the default JSON.
    pub fn error_body(
        mut self,
        hook: impl Fn(&ErrorResponse) -> String + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Finishes the configuration.
    pub fn build(self) -> AgentAuth {
        let mut challenge = self.verifier.challenge_config(self.resource_metadata);
        challenge.verbose = self.verbose;
        challenge.body = self.hook;
        AgentAuth {
            verifier: self.verifier,
            challenge,
        }
    }
}

#[derive(Clone)]
struct MetadataHandler(Arc<String>);

#[rocket::async_trait]
impl Handler for MetadataHandler {
    async fn handle<'r>(&self, req: &'r Request<'_>, _: Data<'r>) -> Outcome<'r> {
        Outcome::from(req, (ContentType::JSON, self.0.as_str().to_owned()))
    }
}

/// Routes serving `doc` (RFC 9728) at its well-known path: `rocket.mount("/", routes)`.
///
/// ```
/// use authgent_core::metadata::ProtectedResourceMetadata;
/// let doc = ProtectedResourceMetadata::builder("https://tools.example.com").build()?;
/// let rocket = rocket::build().mount("/", authgent_rocket::resource_metadata_routes(doc));
/// # let _ = rocket;
/// # Ok::<(), authgent_core::ConfigError>(())
/// ```
pub fn resource_metadata_routes(doc: ProtectedResourceMetadata) -> Vec<Route> {
    let path = doc.well_known_path();
    let body = Arc::new(serde_json::to_string(&doc).unwrap_or_else(|_| "{}".to_owned()));
    vec![Route::new(Method::Get, &path, MetadataHandler(body))]
}
