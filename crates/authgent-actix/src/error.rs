//! `AuthError`: a refusal as actix-web answers it.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use authgent_core::challenge::ErrorResponse;

/// A refusal: status, challenges and body per CONFORMANCE.md. Implements [`ResponseError`].
pub struct AuthError {
    kind: Kind,
}

enum Kind {
    MissingMiddleware(&'static str),
    Refused { response: Box<ErrorResponse> },
}

impl AuthError {
    pub(crate) fn refused(response: ErrorResponse) -> Self {
        AuthError {
            kind: Kind::Refused {
                response: Box::new(response),
            },
        }
    }

    pub(crate) fn missing_middleware(what: &'static str) -> Self {
        AuthError {
            kind: Kind::MissingMiddleware(what),
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match &self.kind {
            Kind::MissingMiddleware(_) => "server_error",
            Kind::Refused { response, .. } => response.code,
        }
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("status", &self.status_code().as_u16())
            .field("code", &self.code())
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::MissingMiddleware(what) => {
                write!(
                    f,
                    "{what} needs the AgentAuth middleware: add .wrap(AgentAuth) to the App"
                )
            }
            Kind::Refused { response, .. } => write!(f, "{} {}", response.status, response.code),
        }
    }
}

impl std::error::Error for AuthError {}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match &self.kind {
            Kind::MissingMiddleware(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Kind::Refused { response, .. } => {
                StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        builder
            .content_type("application/json")
            .insert_header(("cache-control", "no-store"));
        match &self.kind {
            Kind::MissingMiddleware(_) => builder.body(
                serde_json::json!({"error": "server_error", "error_description": self.to_string()})
                    .to_string(),
            ),
            Kind::Refused { response } => {
                for challenge in &response.challenges {
                    builder.append_header(("www-authenticate", challenge.as_str()));
                }
                if let Some(nonce) = &response.dpop_nonce {
                    builder.insert_header(("dpop-nonce", nonce.as_str()));
                }
                if let Some(secs) = response.retry_after {
                    builder.insert_header(("retry-after", secs.to_string()));
                }
                builder.body(response.body.clone())
            }
        }
    }
}
