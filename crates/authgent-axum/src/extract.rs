//! Extractors ([`AgentIdentity`], [`TransactionToken`]) and their rejection.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use authgent_jwks::{AuthContext, Caller, Rejection};
use authgent_tower::{MISSING_LAYER_FIX, rejection_response};
use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

/// The verified caller, extracted from what [`AgentAuthLayer`](crate::AgentAuthLayer) found.
///
/// Derefs to [`Caller`] and through it to [`authgent_core::AgentIdentity`]: `subject()`,
/// `scopes()`, `delegation_chain()`, `dpop_jkt()`, `require_scopes(…)?`, …
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

/// A refusal, answered as status + every header + body. Keeps the [`Rejection`] (and through
/// it the [`AuthgentError`](authgent_core::AuthgentError), its `source()`).
///
/// ```no_run
/// use authgent_axum::{AgentIdentity, AuthRejection};
/// use authgent_core::ScopeRequirement;
/// async fn delete(identity: AgentIdentity) -> Result<&'static str, AuthRejection> {
///     identity.require_scopes(&ScopeRequirement::all(["db:delete"]))?;
///     Ok("deleted")
/// }
/// ```
#[derive(Clone)]
pub struct AuthRejection(pub Rejection);

impl From<Rejection> for AuthRejection {
    fn from(rejection: Rejection) -> Self {
        AuthRejection(rejection)
    }
}

impl AuthRejection {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.0.status()
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.0.code()
    }
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for AuthRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        rejection_response::<Body>(&self.0)
    }
}

fn context<'a>(parts: &'a Parts, what: &str) -> Result<&'a AuthContext, AuthRejection> {
    parts
        .extensions
        .get::<AuthContext>()
        .ok_or_else(|| Rejection::missing_authentication(what, MISSING_LAYER_FIX).into())
}

impl<S: Send + Sync> FromRequestParts<S> for AgentIdentity {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(AgentIdentity(context(parts, "AgentIdentity")?.caller()?))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AgentIdentity {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(context(parts, "AgentIdentity")?
            .caller()
            .ok()
            .map(AgentIdentity))
    }
}

/// The request's verified `Txn-Token` (configured with
/// [`AgentAuthBuilder::transaction_tokens`](authgent_jwks::AgentAuthBuilder::transaction_tokens)).
/// As `Option<TransactionToken>`, `None` when the request carried none.
#[derive(Clone, Debug)]
pub struct TransactionToken(pub Arc<authgent_core::txn::TransactionToken>);

impl Deref for TransactionToken {
    type Target = authgent_core::txn::TransactionToken;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TransactionToken {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = context(parts, "TransactionToken")?;
        match context.transaction_token() {
            Some(token) => Ok(TransactionToken(Arc::clone(token))),
            None => Err(context
                .reject(authgent_core::RequestError::MissingTxnToken.into())
                .into()),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for TransactionToken {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let context = context(parts, "TransactionToken")?;
        Ok(context.transaction_token().cloned().map(TransactionToken))
    }
}
