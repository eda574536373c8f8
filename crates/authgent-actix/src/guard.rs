//! [`Require`]: a [`Guard`] as actix middleware, for a scope or a resource.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage, ResponseError};
use authgent_jwks::{AuthContext, Guard, Rejection};

use crate::AuthRejection;

authgent_jwks::require_type! {
    /// Requires a [`Guard`]: `web::resource(…).wrap(Require::all([…]))`. Must run inside
    /// [`AgentAuthMiddleware`](crate::AgentAuthMiddleware) (otherwise 500, naming the fix).
    ///
    /// ```
    /// use authgent_actix::Require;
    /// let delete = Require::all(["db:delete"]);
    /// let live = Require::active_token();
    /// # let _ = (delete, live);
    /// ```
}

impl<S, B> Transform<S, ServiceRequest> for Require
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireService {
            service: Rc::new(service),
            guard: self.guard.clone(),
        }))
    }
}

/// The service of [`Require`].
#[derive(Debug)]
pub struct RequireService<S> {
    service: Rc<S>,
    guard: Guard,
}

impl<S, B> Service<ServiceRequest> for RequireService<S>
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
        let service = Rc::clone(&self.service);
        let guard = self.guard.clone();
        Box::pin(async move {
            let verdict = match &context {
                None => Err(Rejection::missing_authentication(
                    "Require",
                    crate::MISSING_MIDDLEWARE_FIX,
                )),
                Some(context) => context.check(&guard).await,
            };
            match verdict {
                Ok(()) => service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_left_body),
                Err(rejection) => Ok(req
                    .into_response(AuthRejection(rejection).error_response())
                    .map_into_right_body()),
            }
        })
    }
}
