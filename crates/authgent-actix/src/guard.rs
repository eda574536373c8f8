//! `Require`: scope and chain guards as actix middleware, for a scope or a resource.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage, ResponseError};
use authgent_core::{AgentIdentity, AuthgentError, ChainPolicy, ScopeRequirement};

use crate::error::AuthError;
use crate::middleware::AuthContext;

type Check = Arc<dyn Fn(&AgentIdentity) -> Result<(), AuthgentError> + Send + Sync>;

/// Requires scopes or a chain policy: `web::resource(…).wrap(Require::scopes(…))`. Must run
/// inside [`AgentAuth`](crate::AgentAuth) (otherwise 500, naming the fix).
#[derive(Clone)]
pub struct Require {
    check: Check,
}

impl fmt::Debug for Require {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Require(..)")
    }
}

impl Require {
    /// Requires scopes (403 `insufficient_scope` with the `scope` needed).
    pub fn scopes(requirement: ScopeRequirement) -> Self {
        Require {
            check: Arc::new(move |id: &AgentIdentity| Ok(requirement.check(id.scopes())?)),
        }
    }

    /// Requires a chain policy (403 with the delegation code).
    pub fn chain(policy: ChainPolicy) -> Self {
        Require {
            check: Arc::new(move |id: &AgentIdentity| Ok(policy.check(id.delegation_chain())?)),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Require
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireMiddleware {
            service: Rc::new(service),
            check: Arc::clone(&self.check),
        }))
    }
}

/// The service of [`Require`].
pub struct RequireMiddleware<S> {
    service: Rc<S>,
    check: Check,
}

impl<S> fmt::Debug for RequireMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequireMiddleware")
    }
}

impl<S, B> Service<ServiceRequest> for RequireMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let context = req.extensions().get::<AuthContext>().cloned();
        let verdict = match context {
            None => Err(AuthError::missing_middleware("Require")),
            Some(ctx) => match ctx.identity() {
                None => Err(ctx.reject(&AuthgentError::MissingCredentials)),
                Some(identity) => (self.check)(identity).map_err(|e| ctx.reject(&e)),
            },
        };
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            match verdict {
                Ok(()) => service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_left_body),
                Err(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
            }
        })
    }
}
