//! Extractors ([`AgentIdentity`], [`TransactionToken`]) and their rejection ([`AuthRejection`]).
//!
//! ```no_run
//! use authgent_axum::{AgentIdentity, AuthRejection};
//! use authgent_core::ScopeRequirement;
//! async fn delete(identity: AgentIdentity) -> Result<&'static str, AuthRejection> {
//!     identity.require_scopes(&ScopeRequirement::all(["db:delete"]))?;
//!     Ok("deleted")
//! }
//! ```

use authgent_jwks::{AuthContext, Rejection};
use authgent_tower::{MISSING_LAYER_FIX, rejection_response};
use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

authgent_jwks::adapter_types!();

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

/// `None` for an anonymous request through an optional layer; invalid credentials never get
/// here (the layer refuses them).
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

impl<S: Send + Sync> FromRequestParts<S> for TransactionToken {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(TransactionToken::from_context(context(
            parts,
            "TransactionToken",
        )?)?)
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
