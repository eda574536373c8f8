//! Rendering: a [`Rejection`] or the metadata document as an `http::Response`.

use authgent_jwks::{MetadataDocument, Rejection};
use http::{HeaderName, HeaderValue, Response, StatusCode, header};

/// The response for `rejection`: its status, every header
/// ([`ErrorResponse::headers`](authgent_core::challenge::ErrorResponse::headers)) and its body.
pub fn rejection_response<B: From<String>>(rejection: &Rejection) -> Response<B> {
    let error = rejection.response();
    let mut response = Response::new(B::from(error.body.clone()));
    *response.status_mut() =
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in error.headers() {
        // Values are built from sanitised parts; one that still fails is dropped, not a panic.
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(HeaderName::from_static(name), value);
        }
    }
    response
}

/// A `200 application/json` response with the RFC 9728 document.
pub fn metadata_response<B: From<String>>(document: &MetadataDocument) -> Response<B> {
    let mut response = Response::new(B::from(document.json.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
