#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! Rocket integration for **authgent**.
//!
//! Attach [`AgentAuthFairing`] over one [`AgentAuth`]: it manages the configuration (and
//! sends `DPoP-Nonce` on successes when nonces are on). Handlers take an [`AgentIdentity`]
//! guard (or [`OptionalAgentIdentity`]); the request is authenticated once, however many
//! guards ask. Refusals are rendered by [`catchers`], which you register where you want them
//! ([`AgentAuthFairing::with_catchers`] registers them at `/`), or by your own catchers through
//! [`AuthRejection::of`].
//!
//! Use [`OptionalAgentIdentity`], not `Option<AgentIdentity>`: Rocket's `Option<T>` guard turns
//! every failure into `None`, so an invalid token would look anonymous.
//!
//! ```no_run
//! use rocket::{get, routes};
//! use authgent_rocket::{AgentAuth, AgentAuthFairing, AgentIdentity};
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
//! let auth = AgentAuth::builder(verifier).build()?;
//! let app = rocket::build()
//!     .mount("/", authgent_rocket::resource_metadata_routes(&auth))
//!     .attach(AgentAuthFairing::new(auth).with_catchers())
//!     .mount("/", routes![me]);
//! # Ok(app) }
//! ```

mod guard;
mod response;

use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header, Method};
use rocket::route::{Handler, Outcome, Route};
use rocket::{Build, Data, Request, Response, Rocket};

pub use authgent_jwks::{
    AgentAuth, AgentAuthBuilder, AuthContext, AuthMode, Caller, Guard, Rejection,
};
pub use guard::OptionalAgentIdentity;
pub use response::catchers;

authgent_jwks::adapter_types!();

/// What to add when a guard finds no [`AgentAuth`] state.
const MISSING_FAIRING_FIX: &str = "AgentAuthFairing: attach AgentAuthFairing::new(auth) to Rocket";

/// The fairing: manages the [`AgentAuth`] (the guards read it), adds `DPoP-Nonce` to
/// successful responses when nonces are on and the current one is about to expire, and emits
/// the audit event (`authgent::audit`) of each request a guard let through. Registers
/// no catchers unless asked ([`Self::with_catchers`]): an application's own catchers for the
/// same codes would collide.
#[derive(Clone, Debug)]
pub struct AgentAuthFairing {
    auth: AgentAuth,
    catchers_at: Option<String>,
}

impl AgentAuthFairing {
    /// The fairing for `auth`.
    pub fn new(auth: AgentAuth) -> Self {
        AgentAuthFairing {
            auth,
            catchers_at: None,
        }
    }

    /// Also registers [`catchers`] at `/`.
    #[must_use]
    pub fn with_catchers(self) -> Self {
        self.with_catchers_at("/")
    }

    /// Also registers [`catchers`] at `base`.
    #[must_use]
    pub fn with_catchers_at(mut self, base: impl Into<String>) -> Self {
        self.catchers_at = Some(base.into());
        self
    }
}

#[rocket::async_trait]
impl Fairing for AgentAuthFairing {
    fn info(&self) -> Info {
        Info {
            name: "authgent",
            kind: Kind::Ignite | Kind::Response,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> rocket::fairing::Result {
        let rocket = rocket.manage(self.auth.clone());
        Ok(match &self.catchers_at {
            Some(base) => rocket.register(base.as_str(), catchers()),
            None => rocket,
        })
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let context = req
            .local_cache(|| guard::Authenticated(None))
            .0
            .as_ref()
            .and_then(|r| r.as_ref().ok());
        // The request's audit event, unless a guard already recorded its refusal (a request no
        // guard authenticated was not decided by authgent: no event).
        if let Some(context) = context {
            context.record_response(res.status().code);
        }
        let nonce = context.and_then(|c| c.dpop_nonce().map(str::to_owned));
        if let Some(nonce) = nonce
            && res.status().code < 400
        {
            res.set_header(Header::new("dpop-nonce", nonce));
        }
    }
}

#[derive(Clone)]
struct MetadataHandler(Arc<str>);

#[rocket::async_trait]
impl Handler for MetadataHandler {
    async fn handle<'r>(&self, req: &'r Request<'_>, _: Data<'r>) -> Outcome<'r> {
        Outcome::from(req, (ContentType::JSON, self.0.to_string()))
    }
}

/// Routes serving `auth`'s RFC 9728 document at its well-known path (none when the resource is
/// not known): `rocket.mount("/", resource_metadata_routes(&auth))`.
pub fn resource_metadata_routes(auth: &AgentAuth) -> Vec<Route> {
    auth.metadata()
        .map(|document| {
            Route::new(
                Method::Get,
                &document.path,
                MetadataHandler(Arc::clone(&document.json)),
            )
        })
        .into_iter()
        .collect()
}
