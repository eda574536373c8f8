//! `AgentAuthLayer`: authenticate once per request, carry the result in the extensions.

use std::fmt;
use std::task::{Context, Poll};

use authgent_jwks::AgentAuth;
use http::{HeaderValue, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::response::rejection_response;

/// Authenticates every request with an [`AgentAuth`] and stores the
/// [`AuthContext`](authgent_jwks::AuthContext) in its extensions; refusals are answered here.
/// Each request gets one audit event (`authgent::audit`): its refusal, or once the inner
/// service answered, "allowed" with the status.
/// A success gets a `DPoP-Nonce` when nonces are on and the current one is about to expire.
///
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct AgentAuthLayer {
    auth: AgentAuth,
}

impl AgentAuthLayer {
    /// The layer for `auth`.
    pub fn new(auth: AgentAuth) -> Self {
        AgentAuthLayer { auth }
    }

    /// The configuration.
    pub fn auth(&self) -> &AgentAuth {
        &self.auth
    }
}

impl From<AgentAuth> for AgentAuthLayer {
    fn from(auth: AgentAuth) -> Self {
        AgentAuthLayer::new(auth)
    }
}

impl<S> Layer<S> for AgentAuthLayer {
    type Service = AgentAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AgentAuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service [`AgentAuthLayer`] wraps around an inner service.
#[derive(Clone)]
pub struct AgentAuthService<S> {
    inner: S,
    auth: AgentAuth,
}

impl<S> fmt::Debug for AgentAuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuthService").finish_non_exhaustive()
    }
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
    type Future = crate::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut inner = crate::take_ready(&mut self.inner);
        let auth = self.auth.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let context = match auth.authenticate_parts(&parts).await {
                Ok(context) => context,
                Err(rejection) => return Ok(rejection_response(&rejection)),
            };
            let nonce = context
                .dpop_nonce()
                .and_then(|n| HeaderValue::from_str(n).ok());
            // Both, so that `extensions().get::<Caller>()` finds the caller too.
            if let Some(caller) = context.verified_caller() {
                parts.extensions.insert(caller);
            }
            parts.extensions.insert(context.clone());
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            // The request's audit event, unless a guard already recorded its refusal.
            context.record_response(response.status().as_u16());
            if let Some(nonce) = nonce {
                response.headers_mut().insert("dpop-nonce", nonce);
            }
            Ok(response)
        })
    }
}
