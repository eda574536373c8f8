//! What an authorization server answers: token responses, introspection (with its `act`
//! chain), step-up and exchange-check bodies, and error bodies of every shape.
#![no_main]

use authgent_client::{ExchangeCheck, Introspection, ServerError, StepUp, TokenResponse};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<TokenResponse>(data);
    if let Ok(i) = serde_json::from_slice::<Introspection>(data) {
        let _ = i.delegation_chain();
    }
    let _ = serde_json::from_slice::<StepUp>(data);
    let _ = serde_json::from_slice::<ExchangeCheck>(data);
    for status in [400, 401, 403, 429, 500] {
        let _ = ServerError::from_response(status, &HeaderMap::new(), data);
    }
});
