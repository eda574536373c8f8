//! [`Require`]: a per-route [`Guard`] layered after [`AgentAuthLayer`](crate::AgentAuthLayer).

use std::task::{Context, Poll};

use authgent_jwks::{AuthContext, Guard, Rejection};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::response::rejection_response;

authgent_jwks::require_type! {
    /// Requires a [`Guard`] on a route: scopes (403 `insufficient_scope` with the scopes needed),
    /// a chain policy, a closure, or an active token. Without [`AgentAuthLayer`](crate::AgentAuthLayer)
    /// in front: 500, naming the fix (a configuration bug, never a silent pass).
    ///
    /// ```
    /// use authgent_tower::Require;
    /// let delete = Require::all(["db:delete"]);
    /// let either = Require::any(["db:delete", "db:admin"]);
    /// let human = Require::chain(authgent_core::ChainPolicy::builder().require_human_root(true).build());
    /// let live = Require::active_token();
    /// # let _ = (delete, either, human, live);
    /// ```
}

impl<S> Layer<S> for Require {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService {
            inner,
            guard: self.guard.clone(),
        }
    }
}

/// The service of [`Require`].
#[derive(Clone, Debug)]
pub struct RequireService<S> {
    inner: S,
    guard: Guard,
}

impl<S, B, ResBody> Service<Request<B>> for RequireService<S>
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
        let context = request.extensions().get::<AuthContext>().cloned();
        let guard = self.guard.clone();
        Box::pin(async move {
            let verdict = match &context {
                None => Err(Rejection::missing_authentication(
                    "Require",
                    crate::MISSING_LAYER_FIX,
                )),
                Some(context) => context.check(&guard).await,
            };
            match verdict {
                Ok(()) => inner.call(request).await,
                Err(rejection) => Ok(rejection_response(&rejection)),
            }
        })
    }
}
