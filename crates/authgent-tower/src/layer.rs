//! `AgentAuthLayer`: verify once per request, carry the result in the extensions.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use authgent_core::challenge::{ChallengeConfig, ErrorResponse};
use authgent_core::credentials::Scheme;
use authgent_core::{AgentIdentity, AuthgentError};
use authgent_jwks::Verifier;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use authgent_core::challenge::ErrorBodyHook;

use crate::response::error_response;

/// Whether requests without credentials are refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMode {
    /// No credentials → 401 with a challenge (default).
    #[default]
    Required,
    /// No credentials → passed on as anonymous. Invalid credentials are still refused: a bad
    /// token is never silently treated as no token.
    Optional,
}

/// What the layer established, in the request extensions. Its presence proves the layer ran.
#[derive(Clone)]
pub struct AuthContext {
    identity: Option<Arc<AgentIdentity>>,
    scheme: Option<Scheme>,
    shared: Arc<Shared>,
}

impl fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthContext")
            .field(
                "subject",
                &self.identity.as_ref().map(|i| i.subject().to_owned()),
            )
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl AuthContext {
    /// The verified identity; `None` for an anonymous request in optional mode.
    pub fn identity(&self) -> Option<&Arc<AgentIdentity>> {
        self.identity.as_ref()
    }

    /// The scheme the request authenticated with.
    pub fn scheme(&self) -> Option<Scheme> {
        self.scheme
    }

    /// The response this resource gives for `error` (status, challenge, body).
    pub fn reject<B: From<String>>(&self, error: &AuthgentError) -> Response<B> {
        let r = ErrorResponse::new(error, self.scheme, &self.shared.challenge);
        error_response(&r)
    }

    /// The verifier that verified this request.
    pub fn verifier(&self) -> &Verifier {
        &self.shared.verifier
    }

    /// The error response description, for adapters that build their own response type.
    pub fn error_response(&self, error: &AuthgentError) -> ErrorResponse {
        ErrorResponse::new(error, self.scheme, &self.shared.challenge)
    }
}

struct Shared {
    verifier: Verifier,
    mode: AuthMode,
    challenge: ChallengeConfig,
}

/// Verifies every request once and stores an [`AuthContext`] in its extensions.
///
/// Cheap to clone. Build with [`AgentAuthLayer::builder`].
#[derive(Clone)]
pub struct AgentAuthLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for AgentAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuthLayer")
            .field("verifier", &self.shared.verifier)
            .field("mode", &self.shared.mode)
            .finish_non_exhaustive()
    }
}

impl AgentAuthLayer {
    /// Starts a layer around `verifier` (required mode, terse errors).
    pub fn builder(verifier: Verifier) -> AgentAuthLayerBuilder {
        AgentAuthLayerBuilder {
            verifier,
            mode: AuthMode::Required,
            resource_metadata: None,
            verbose: false,
            hook: None,
            realm: None,
        }
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.shared.verifier
    }
}

/// Builds an [`AgentAuthLayer`].
#[must_use]
pub struct AgentAuthLayerBuilder {
    verifier: Verifier,
    mode: AuthMode,
    resource_metadata: Option<String>,
    verbose: bool,
    hook: Option<ErrorBodyHook>,
    realm: Option<String>,
}

impl fmt::Debug for AgentAuthLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuthLayerBuilder")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl AgentAuthLayerBuilder {
    /// Let requests without credentials through as anonymous.
    pub fn optional(mut self) -> Self {
        self.mode = AuthMode::Optional;
        self
    }

    /// Set the mode.
    pub fn mode(mut self, mode: AuthMode) -> Self {
        self.mode = mode;
        self
    }

    /// URL of this resource's RFC 9728 metadata, sent as `resource_metadata` in challenges.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// `realm` in challenges.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Put each error's own message in `error_description` (default: fixed terse texts).
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

    /// Finishes the layer.
    pub fn build(self) -> AgentAuthLayer {
        let mut challenge = self.verifier.challenge_config(self.resource_metadata);
        challenge.verbose = self.verbose;
        challenge.realm = self.realm;
        challenge.body = self.hook;
        AgentAuthLayer {
            shared: Arc::new(Shared {
                verifier: self.verifier,
                mode: self.mode,
                challenge,
            }),
        }
    }
}

impl<S> Layer<S> for AgentAuthLayer {
    type Service = AgentAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AgentAuthService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`AgentAuthLayer`] wraps around an inner service.
#[derive(Clone)]
pub struct AgentAuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for AgentAuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuthService").finish_non_exhaustive()
    }
}

fn scheme_of(parts: &http::request::Parts) -> Option<Scheme> {
    Scheme::from_authorization(
        parts
            .headers
            .get(http::header::AUTHORIZATION)?
            .to_str()
            .ok()?,
    )
}

impl<S, B, ResBody> Service<Request<B>> for AgentAuthService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was driven to readiness serves this call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let scheme = scheme_of(&parts);
            let outcome = shared.verifier.verify(&parts).await;
            let identity = match outcome {
                Ok(Some(identity)) => Some(identity),
                Ok(None) if shared.mode == AuthMode::Optional => None,
                Ok(None) => return Ok(reject(&shared, &AuthgentError::MissingCredentials, scheme)),
                Err(e) => return Ok(reject(&shared, &e, scheme)),
            };
            parts.extensions.insert(AuthContext {
                identity,
                scheme,
                shared: Arc::clone(&shared),
            });
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

fn reject<B: From<String>>(
    shared: &Shared,
    error: &AuthgentError,
    scheme: Option<Scheme>,
) -> Response<B> {
    let r = ErrorResponse::new(error, scheme, &shared.challenge);
    error_response(&r)
}
