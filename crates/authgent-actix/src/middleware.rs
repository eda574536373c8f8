//! [`AgentAuthMiddleware`]: authenticate once per request with an [`AgentAuth`].

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, ResponseError};
use authgent_jwks::{AgentAuth, HeaderSource};

use crate::AuthRejection;

/// actix-web's header map, as [`AgentAuth::authenticate`] reads headers.
struct Headers<'a>(&'a actix_web::http::header::HeaderMap);

impl HeaderSource for Headers<'_> {
    fn header_values(&self, name: &str) -> Vec<&[u8]> {
        self.0.get_all(name).map(HeaderValue::as_bytes).collect()
    }
}

/// The middleware factory: `App::new().wrap(AgentAuthMiddleware::new(auth.clone()))`. Cheap to
/// clone. A success gets a `DPoP-Nonce` when nonces are on and the current one is about to
/// expire. Each request gets one audit event (`authgent::audit`): its refusal, or "allowed"
/// with the status once the app answered.
#[derive(Clone, Debug)]
pub struct AgentAuthMiddleware {
    auth: AgentAuth,
}

impl AgentAuthMiddleware {
    /// The middleware for `auth`.
    pub fn new(auth: AgentAuth) -> Self {
        AgentAuthMiddleware { auth }
    }
}

impl From<AgentAuth> for AgentAuthMiddleware {
    fn from(auth: AgentAuth) -> Self {
        AgentAuthMiddleware::new(auth)
    }
}

impl<S, B> Transform<S, ServiceRequest> for AgentAuthMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = AgentAuthService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AgentAuthService {
            service: Rc::new(service),
            auth: self.auth.clone(),
        }))
    }
}

/// The service [`AgentAuthMiddleware`] wraps around the app.
pub struct AgentAuthService<S> {
    service: Rc<S>,
    auth: AgentAuth,
}

impl<S> fmt::Debug for AgentAuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuthService").finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for AgentAuthService<S>
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
        let auth = self.auth.clone();
        Box::pin(async move {
            let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let outcome = auth
                .authenticate(req.method().as_str(), target, &Headers(req.headers()))
                .await;
            let context = match outcome {
                Ok(context) => context,
                Err(rejection) => {
                    let response = AuthRejection(rejection).error_response();
                    return Ok(req.into_response(response).map_into_right_body());
                }
            };
            let nonce = context
                .dpop_nonce()
                .and_then(|n| HeaderValue::from_str(n).ok());
            // Both, so that `extensions().get::<Caller>()` finds the caller too.
            if let Some(caller) = context.verified_caller() {
                req.extensions_mut().insert(caller);
            }
            req.extensions_mut().insert(context.clone());
            let mut response = service.call(req).await?;
            // The request's audit event, unless a guard already recorded its refusal.
            context.record_response(response.status().as_u16());
            if let Some(nonce) = nonce {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static("dpop-nonce"), nonce);
            }
            Ok(response.map_into_left_body())
        })
    }
}
