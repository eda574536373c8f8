//! Per-route guards layered after [`AgentAuthLayer`](crate::AgentAuthLayer): required scopes,
//! delegation-chain policy, and revocation.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use authgent_core::credentials::Credentials;
use authgent_core::{AgentIdentity, AuthgentError, ChainPolicy, ScopeRequirement};
use http::{HeaderValue, Request, Response, StatusCode, header};
use tower_layer::Layer;
use tower_service::Service;

use crate::layer::AuthContext;

type Check = Arc<dyn Fn(&AgentIdentity) -> Result<(), AuthgentError> + Send + Sync>;
type BoxResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

/// What to answer when a guard runs without [`AgentAuthLayer`](crate::AgentAuthLayer) before
/// it: a 500 that names the fix (a configuration bug, never a silent pass).
fn missing_layer<B: From<String>>(guard: &str) -> Response<B> {
    let body = format!(
        r#"{{"error":"server_error","error_description":"{guard} needs AgentAuthLayer: add .layer(AgentAuthLayer) outside this route"}}"#
    );
    let mut r = Response::new(B::from(body));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn guard_call<S, B, ResBody>(
    name: &'static str,
    check: &Check,
    inner: &mut S,
    request: Request<B>,
) -> BoxResponseFuture<Response<ResBody>, S::Error>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    let clone = inner.clone();
    let mut inner = std::mem::replace(inner, clone);
    let verdict = match request.extensions().get::<AuthContext>() {
        None => Err(missing_layer(name)),
        Some(ctx) => match ctx.identity() {
            None => Err(ctx.reject(&AuthgentError::MissingCredentials)),
            Some(identity) => check(identity).map_err(|e| ctx.reject(&e)),
        },
    };
    Box::pin(async move {
        match verdict {
            Ok(()) => inner.call(request).await,
            Err(response) => Ok(response),
        }
    })
}

/// Requires scopes on a route: 403 `insufficient_scope` with the `scope` the route needs.
///
/// ```
/// let guard = authgent_tower::RequireScopes::all(["db:delete"]);
/// let either = authgent_tower::RequireScopes::any(["db:delete", "db:admin"]);
/// # let _ = (guard, either);
/// ```
#[derive(Clone)]
pub struct RequireScopes {
    check: Check,
}

impl fmt::Debug for RequireScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequireScopes(..)")
    }
}

impl RequireScopes {
    /// Every scope is required.
    pub fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::requirement(ScopeRequirement::all(scopes))
    }

    /// One of the scopes suffices.
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::requirement(ScopeRequirement::any(scopes))
    }

    /// From a [`ScopeRequirement`].
    pub fn requirement(requirement: ScopeRequirement) -> Self {
        RequireScopes {
            check: Arc::new(move |id: &AgentIdentity| Ok(requirement.check(id.scopes())?)),
        }
    }
}

/// Applies a [`ChainPolicy`] on a route: 403 with `delegation_depth_exceeded`,
/// `unauthorized_actor` or `no_human_root`.
#[derive(Clone)]
pub struct RequireChain {
    check: Check,
}

impl fmt::Debug for RequireChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequireChain(..)")
    }
}

impl RequireChain {
    /// Requires `policy`.
    ///
    /// ```
    /// use authgent_core::ChainPolicy;
    /// let human = authgent_tower::RequireChain::new(ChainPolicy::builder().require_human_root(true).build());
    /// # let _ = human;
    /// ```
    pub fn new(policy: ChainPolicy) -> Self {
        RequireChain {
            check: Arc::new(move |id: &AgentIdentity| Ok(policy.check(id.delegation_chain())?)),
        }
    }
}

macro_rules! guard_layer {
    ($layer:ident, $service:ident, $name:literal) => {
        impl<S> Layer<S> for $layer {
            type Service = $service<S>;
            fn layer(&self, inner: S) -> Self::Service {
                $service {
                    inner,
                    check: Arc::clone(&self.check),
                }
            }
        }

        #[doc = concat!("The service of [`", stringify!($layer), "`].")]
        #[derive(Clone)]
        pub struct $service<S> {
            inner: S,
            check: Check,
        }

        impl<S> fmt::Debug for $service<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($service))
            }
        }

        impl<S, B, ResBody> Service<Request<B>> for $service<S>
        where
            S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
            S::Future: Send + 'static,
            B: Send + 'static,
            ResBody: From<String> + Send + 'static,
        {
            type Response = Response<ResBody>;
            type Error = S::Error;
            type Future = BoxResponseFuture<Self::Response, Self::Error>;

            fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
                self.inner.poll_ready(cx)
            }

            fn call(&mut self, request: Request<B>) -> Self::Future {
                guard_call($name, &self.check, &mut self.inner, request)
            }
        }
    };
}

guard_layer!(RequireScopes, RequireScopesService, "RequireScopes");
guard_layer!(RequireChain, RequireChainService, "RequireChain");

/// Checks on a route that the token is still active at its issuer (RFC 7662 introspection,
/// CONFORMANCE 32) with the verifier's [`RevocationCheck`](authgent_jwks::RevocationCheck):
/// for verifiers built with `RevocationCheck::new().every_request(false)`, so that only the
/// routes that need it (a destructive action, say) pay for the round trip. Revoked → 401
/// `invalid_token`; introspection unavailable → 503 with `Retry-After` (fail-closed unless the
/// check is fail-open); a verifier without a revocation check → 500 naming the fix.
///
/// ```
/// use tower_layer::Layer;
/// # #[derive(Clone)] struct Handler;
/// let guarded = authgent_tower::RequireActiveToken.layer(Handler);
/// # let _ = guarded;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct RequireActiveToken;

impl<S> Layer<S> for RequireActiveToken {
    type Service = RequireActiveTokenService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequireActiveTokenService { inner }
    }
}

/// The service of [`RequireActiveToken`].
#[derive(Clone, Debug)]
pub struct RequireActiveTokenService<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for RequireActiveTokenService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxResponseFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let context = request.extensions().get::<AuthContext>().cloned();
        // The layer already read and verified this header; here it is only the token's bytes.
        let authorization: Vec<&[u8]> = request
            .headers()
            .get_all(header::AUTHORIZATION)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        let token = Credentials::from_headers(&authorization, &[])
            .ok()
            .flatten()
            .map(|c| c.token().to_owned());
        Box::pin(async move {
            let Some(ctx) = context else {
                return Ok(missing_layer("RequireActiveToken"));
            };
            let (Some(identity), Some(token)) = (ctx.identity(), token) else {
                return Ok(ctx.reject(&AuthgentError::MissingCredentials));
            };
            match ctx.verifier().check_revocation(&token, identity).await {
                Ok(()) => inner.call(request).await,
                Err(e) => Ok(ctx.reject(&e)),
            }
        })
    }
}
