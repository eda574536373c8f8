//! Extractors: `AgentIdentity` and `OptionalAgentIdentity`.

use std::fmt;
use std::future::{Ready, ready};
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use authgent_core::{AuthgentError, ChainPolicy, ScopeRequirement};

use crate::error::AuthError;
use crate::middleware::AuthContext;

/// The verified caller. Derefs to [`authgent_core::AgentIdentity`].
///
/// `Option<AgentIdentity>` also works (actix-web's rule: `None` whenever extraction fails —
/// anonymous requests, but also a missing middleware). [`OptionalAgentIdentity`] is the strict
/// form that answers 500 when the middleware is missing.
#[derive(Clone)]
pub struct AgentIdentity {
    identity: Arc<authgent_core::AgentIdentity>,
    context: AuthContext,
}

impl fmt::Debug for AgentIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.identity, f)
    }
}

impl Deref for AgentIdentity {
    type Target = authgent_core::AgentIdentity;
    fn deref(&self) -> &Self::Target {
        &self.identity
    }
}

impl AgentIdentity {
    /// The shared identity.
    pub fn shared(&self) -> &Arc<authgent_core::AgentIdentity> {
        &self.identity
    }

    /// 403 `insufficient_scope` unless `requirement` is met.
    pub fn require_scopes(&self, requirement: &ScopeRequirement) -> Result<(), AuthError> {
        requirement
            .check(self.identity.scopes())
            .map_err(|e| self.context.reject(&e.into()))
    }

    /// 403 with the delegation code unless the chain satisfies `policy`.
    pub fn require_chain(&self, policy: &ChainPolicy) -> Result<(), AuthError> {
        policy
            .check(self.identity.delegation_chain())
            .map_err(|e| self.context.reject(&e.into()))
    }
}

fn context(req: &HttpRequest) -> Result<AuthContext, AuthError> {
    req.extensions()
        .get::<AuthContext>()
        .cloned()
        .ok_or(AuthError::missing_middleware("AgentIdentity"))
}

impl FromRequest for AgentIdentity {
    type Error = AuthError;
    type Future = Ready<Result<Self, AuthError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(req).and_then(|context| match context.identity() {
            Some(identity) => Ok(AgentIdentity {
                identity: Arc::clone(identity),
                context: context.clone(),
            }),
            None => Err(context.reject(&AuthgentError::MissingCredentials)),
        }))
    }
}

/// `Some(identity)` or `None` for an anonymous request; 500 if the middleware is missing.
#[derive(Clone, Debug)]
pub struct OptionalAgentIdentity(pub Option<AgentIdentity>);

impl FromRequest for OptionalAgentIdentity {
    type Error = AuthError;
    type Future = Ready<Result<Self, AuthError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(req).map(|context| {
            OptionalAgentIdentity(context.identity().map(|identity| AgentIdentity {
                identity: Arc::clone(identity),
                context: context.clone(),
            }))
        }))
    }
}
