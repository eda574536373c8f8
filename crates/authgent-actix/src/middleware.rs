//! The `AgentAuth` middleware: verify once per request.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage, ResponseError};
use authgent_core::challenge::{ChallengeConfig, ErrorBodyHook, ErrorResponse};
use authgent_core::credentials::Scheme;
use authgent_core::request::RequestParts;
use authgent_core::{AgentIdentity, AuthgentError};
use authgent_jwks::Verifier;

use crate::error::AuthError;

pub(crate) struct Shared {
    verifier: Verifier,
    optional: bool,
    challenge: ChallengeConfig,
}

/// What the middleware established, in the request extensions.
#[derive(Clone)]
pub struct AuthContext {
    identity: Option<Arc<AgentIdentity>>,
    scheme: Option<Scheme>,
    shared: Arc<Shared>,
}

impl fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthContext")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl AuthContext {
    /// The verified identity (`None`: anonymous request through an optional middleware).
    pub fn identity(&self) -> Option<&Arc<AgentIdentity>> {
        self.identity.as_ref()
    }

    /// The refusal of this request for `error`.
    pub fn reject(&self, error: &AuthgentError) -> AuthError {
        reject(&self.shared, error, self.scheme)
    }
}

fn reject(shared: &Shared, error: &AuthgentError, scheme: Option<Scheme>) -> AuthError {
    AuthError::refused(ErrorResponse::new(error, scheme, &shared.challenge))
}

/// The middleware factory: `App::new().wrap(auth.clone())`. Cheap to clone.
#[derive(Clone)]
pub struct AgentAuth {
    shared: Arc<Shared>,
}

impl fmt::Debug for AgentAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuth")
            .field("optional", &self.shared.optional)
            .finish_non_exhaustive()
    }
}

impl AgentAuth {
    /// Starts a middleware around `verifier` (credentials required, terse errors).
    pub fn builder(verifier: Verifier) -> AgentAuthBuilder {
        AgentAuthBuilder {
            verifier,
            optional: false,
            resource_metadata: None,
            verbose: false,
            hook: None,
        }
    }
}

/// Builds [`AgentAuth`].
#[must_use]
pub struct AgentAuthBuilder {
    verifier: Verifier,
    optional: bool,
    resource_metadata: Option<String>,
    verbose: bool,
    hook: Option<ErrorBodyHook>,
}

impl fmt::Debug for AgentAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuthBuilder").finish_non_exhaustive()
    }
}

impl AgentAuthBuilder {
    /// Let requests without credentials through as anonymous (invalid ones are still refused).
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

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

    /// Finishes the middleware.
    pub fn build(self) -> AgentAuth {
        let mut challenge = self.verifier.challenge_config(self.resource_metadata);
        challenge.verbose = self.verbose;
        challenge.body = self.hook;
        AgentAuth {
            shared: Arc::new(Shared {
                verifier: self.verifier,
                optional: self.optional,
                challenge,
            }),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for AgentAuth
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = AgentAuthMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AgentAuthMiddleware {
            service: Rc::new(service),
            shared: Arc::clone(&self.shared),
        }))
    }
}

/// The service [`AgentAuth`] wraps around the app.
pub struct AgentAuthMiddleware<S> {
    service: Rc<S>,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for AgentAuthMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuthMiddleware")
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for AgentAuthMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let headers = req.headers();
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            let scheme = header("authorization").and_then(Scheme::from_authorization);
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let uri = shared.verifier.uri_for(
                path,
                None,
                header("host"),
                header("x-forwarded-proto"),
                header("x-forwarded-host"),
            );
            let authorization: Vec<&[u8]> = headers
                .get_all("authorization")
                .map(|v| v.as_bytes())
                .collect();
            let dpop: Vec<&[u8]> = headers.get_all("dpop").map(|v| v.as_bytes()).collect();
            let request = RequestParts::new(req.method().as_str(), &uri, &authorization, &dpop);
            let outcome = shared.verifier.verify_request(&request).await;
            let identity = match outcome {
                Ok(Some(identity)) => Some(identity),
                Ok(None) if shared.optional => None,
                Ok(None) => {
                    return Ok(refuse(
                        req,
                        &shared,
                        &AuthgentError::MissingCredentials,
                        scheme,
                    ));
                }
                Err(e) => return Ok(refuse(req, &shared, &e, scheme)),
            };
            req.extensions_mut().insert(AuthContext {
                identity,
                scheme,
                shared: Arc::clone(&shared),
            });
            service
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        })
    }
}

fn refuse<B>(
    req: ServiceRequest,
    shared: &Shared,
    error: &AuthgentError,
    scheme: Option<Scheme>,
) -> ServiceResponse<EitherBody<B>> {
    let response = reject(shared, error, scheme).error_response();
    req.into_response(response).map_into_right_body()
}
