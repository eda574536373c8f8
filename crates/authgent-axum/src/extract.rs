//! The `AgentIdentity` extractor and its rejection.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use authgent_core::challenge::ErrorResponse;
use authgent_core::{AuthgentError, ChainPolicy, ScopeRequirement};
use authgent_tower::{AuthContext, error_response};
use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

/// The verified caller, extracted from what [`AgentAuthLayer`](crate::AgentAuthLayer) found.
///
/// Derefs to [`authgent_core::AgentIdentity`]: `subject()`, `scopes()`,
/// `delegation_chain()`, `dpop_jkt()`, …
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

    /// Refuses (403 `insufficient_scope`, with the challenge) unless `requirement` is met.
    ///
    /// ```no_run
    /// # use authgent_axum::{AgentIdentity, AuthRejection};
    /// use authgent_core::ScopeRequirement;
    /// async fn delete(identity: AgentIdentity) -> Result<&'static str, AuthRejection> {
    ///     identity.require_scopes(&ScopeRequirement::all(["db:delete"]))?;
    ///     Ok("deleted")
    /// }
    /// ```
    pub fn require_scopes(&self, requirement: &ScopeRequirement) -> Result<(), AuthRejection> {
        requirement
            .check(self.identity.scopes())
            .map_err(|e| AuthRejection::refused(&self.context, &e.into()))
    }

    /// Refuses (403 with the delegation code) unless the chain satisfies `policy`.
    pub fn require_chain(&self, policy: &ChainPolicy) -> Result<(), AuthRejection> {
        policy
            .check(self.identity.delegation_chain())
            .map_err(|e| AuthRejection::refused(&self.context, &e.into()))
    }
}

/// Why an [`AgentIdentity`] could not be extracted, answered as status + challenge + JSON.
pub struct AuthRejection {
    kind: Kind,
}

enum Kind {
    MissingLayer,
    // Boxed: rejections travel in `Result`s and should stay small.
    Refused { response: Box<ErrorResponse> },
}

impl AuthRejection {
    fn refused(context: &AuthContext, error: &AuthgentError) -> Self {
        AuthRejection {
            kind: Kind::Refused {
                response: Box::new(context.error_response(error)),
            },
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match &self.kind {
            Kind::MissingLayer => 500,
            Kind::Refused { response, .. } => response.status,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match &self.kind {
            Kind::MissingLayer => "server_error",
            Kind::Refused { response, .. } => response.code,
        }
    }
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRejection")
            .field("status", &self.status())
            .field("code", &self.code())
            .finish()
    }
}

const MISSING_LAYER: &str =
    "AgentIdentity needs AgentAuthLayer: add .layer(AgentAuthLayer) to the router";

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::MissingLayer => f.write_str(MISSING_LAYER),
            Kind::Refused { response, .. } => write!(f, "{} {}", response.status, response.code),
        }
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self.kind {
            Kind::MissingLayer => {
                let body = serde_json::json!({"error": "server_error", "error_description": MISSING_LAYER});
                let mut r = Response::new(Body::from(body.to_string()));
                *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                r
            }
            Kind::Refused { response } => error_response::<Body>(&response),
        }
    }
}

fn context(parts: &Parts) -> Result<&AuthContext, AuthRejection> {
    parts.extensions.get::<AuthContext>().ok_or(AuthRejection {
        kind: Kind::MissingLayer,
    })
}

impl<S: Send + Sync> FromRequestParts<S> for AgentIdentity {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = context(parts)?;
        match context.identity() {
            Some(identity) => Ok(AgentIdentity {
                identity: Arc::clone(identity),
                context: context.clone(),
            }),
            None => Err(AuthRejection::refused(
                context,
                &AuthgentError::MissingCredentials,
            )),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AgentIdentity {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let context = context(parts)?;
        Ok(context.identity().map(|identity| AgentIdentity {
            identity: Arc::clone(identity),
            context: context.clone(),
        }))
    }
}
