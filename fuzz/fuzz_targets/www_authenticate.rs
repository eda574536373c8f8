//! `WWW-Authenticate` parsing: core's RFC 9110 parser, and the client's readings of a
//! challenge (scope step-up, error codes, DPoP nonces).
#![no_main]

use authgent_client::{ScopeChallenge, ServerError};
use authgent_core::challenge::Challenge;
use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(challenges) = Challenge::parse_all(text) {
            for c in challenges {
                // Rendering what was parsed must not panic either.
                let _ = c.to_string();
            }
        }
    }
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append("www-authenticate", v);
        }
    }
    let _ = ScopeChallenge::from_response(StatusCode::FORBIDDEN, &headers);
    let _ = ServerError::from_response(401, &headers, b"");
});
