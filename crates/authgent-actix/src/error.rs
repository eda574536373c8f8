//! [`AuthRejection`] as actix-web answers it ([`ResponseError`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::AuthRejection;

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
