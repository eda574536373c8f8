//! [`AuthRejection`]: a refusal as actix-web answers it.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use authgent_jwks::Rejection;

/// A refusal: status, every header and the body of its
/// [`ErrorResponse`](authgent_core::challenge::ErrorResponse). Implements [`ResponseError`];
/// keeps the [`Rejection`] and its `source()`.
#[derive(Clone)]
pub struct AuthRejection(pub Rejection);

impl From<Rejection> for AuthRejection {
    fn from(rejection: Rejection) -> Self {
        AuthRejection(rejection)
    }
}

impl AuthRejection {
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

impl ResponseError for AuthRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        let response = self.0.response();
        for (name, value) in response.headers() {
            builder.append_header((name, value.as_ref()));
        }
        builder.body(response.body.clone())
    }
}
