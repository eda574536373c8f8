//! Turning errors into HTTP responses: status, `WWW-Authenticate`, `DPoP-Nonce`,
//! `Retry-After`, and a JSON body `{error, error_description}`.

use authgent_core::challenge::ErrorResponse;
use authgent_core::metadata::ProtectedResourceMetadata;
use http::{HeaderValue, Response, StatusCode, header};

/// The full response for `error`: status, one `WWW-Authenticate` per challenge, `DPoP-Nonce`
/// and `Retry-After` when set, `Cache-Control: no-store`, and the response's body (JSON, or
/// what the configured body hook built).
pub fn error_response<B: From<String>>(error: &ErrorResponse) -> Response<B> {
    let mut response = Response::new(B::from(error.body.clone()));
    *response.status_mut() =
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for challenge in &error.challenges {
        // Challenge values are built from sanitised parts; a value that still fails is dropped
        // rather than turned into a panic.
        if let Ok(v) = HeaderValue::from_str(challenge) {
            headers.append(header::WWW_AUTHENTICATE, v);
        }
    }
    if let Some(nonce) = error
        .dpop_nonce
        .as_deref()
        .and_then(|n| HeaderValue::from_str(n).ok())
    {
        headers.insert("dpop-nonce", nonce);
    }
    if let Some(secs) = error.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A `200 application/json` response with an RFC 9728 protected resource metadata document.
pub fn resource_metadata_response<B: From<String>>(doc: &ProtectedResourceMetadata) -> Response<B> {
    let body = serde_json::to_string(doc).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(B::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
