//! Extractors: [`AgentIdentity`], [`OptionalAgentIdentity`], [`TransactionToken`].
//!
//! `Option<AgentIdentity>` also works (actix-web's rule: `None` whenever extraction fails —
//! anonymous requests, but also a missing middleware). [`OptionalAgentIdentity`] is the strict
//! form that answers 500 when the middleware is missing.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use authgent_jwks::{AuthContext, Rejection};

use crate::{AgentIdentity, AuthRejection, TransactionToken};

pub(crate) fn context(req: &HttpRequest, what: &str) -> Result<AuthContext, AuthRejection> {
    req.extensions()
        .get::<AuthContext>()
        .cloned()
        .ok_or_else(|| {
            Rejection::missing_authentication(what, crate::MISSING_MIDDLEWARE_FIX).into()
        })
}

impl FromRequest for AgentIdentity {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, AuthRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            context(req, "AgentIdentity")
                .and_then(|c| c.caller().map(AgentIdentity).map_err(Into::into)),
        )
    }
}

/// `Some(identity)` or `None` for an anonymous request; 500 if the middleware is missing.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OptionalAgentIdentity(pub Option<AgentIdentity>);

impl FromRequest for OptionalAgentIdentity {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, AuthRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            context(req, "OptionalAgentIdentity")
                .map(|c| OptionalAgentIdentity(c.caller().ok().map(AgentIdentity))),
        )
    }
}

impl FromRequest for TransactionToken {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, AuthRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            context(req, "TransactionToken")
                .and_then(|c| TransactionToken::from_context(&c).map_err(Into::into)),
        )
    }
}
