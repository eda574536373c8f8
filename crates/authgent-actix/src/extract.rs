//! Extractors: [`AgentIdentity`], [`OptionalAgentIdentity`], [`TransactionToken`].

use std::fmt;
use std::future::{Ready, ready};
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use authgent_jwks::{AuthContext, Caller, Rejection};

use crate::error::AuthRejection;

/// The verified caller. Derefs to [`Caller`] and through it to
/// [`authgent_core::AgentIdentity`].
///
/// `Option<AgentIdentity>` also works (actix-web's rule: `None` whenever extraction fails —
/// anonymous requests, but also a missing middleware). [`OptionalAgentIdentity`] is the strict
/// form that answers 500 when the middleware is missing.
#[derive(Clone)]
pub struct AgentIdentity(pub Caller);

impl fmt::Debug for AgentIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Deref for AgentIdentity {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

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

/// The request's verified `Txn-Token` (configured with
/// [`AgentAuthBuilder::transaction_tokens`](authgent_jwks::AgentAuthBuilder::transaction_tokens));
/// 400 when the request carried none (use `Option<TransactionToken>` where it is optional).
#[derive(Clone, Debug)]
pub struct TransactionToken(pub Arc<authgent_core::txn::TransactionToken>);

impl Deref for TransactionToken {
    type Target = authgent_core::txn::TransactionToken;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequest for TransactionToken {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, AuthRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(req, "TransactionToken").and_then(|c| {
            match c.transaction_token() {
                Some(token) => Ok(TransactionToken(Arc::clone(token))),
                None => Err(c
                    .reject(authgent_core::RequestError::MissingTxnToken.into())
                    .into()),
            }
        }))
    }
}
