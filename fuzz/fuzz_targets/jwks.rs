//! JWKS parsing: every key prepared (or skipped with a reason), thumbprints computed.
#![no_main]

use authgent_core::{KeyResolver, KeySet, VerificationKey, jwk_thumbprint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = KeySet::from_jwks_json(data) {
        for kid in set.kids().map(str::to_owned).collect::<Vec<_>>() {
            let _ = set.resolve(&kid).map(|k| k.thumbprint().len());
        }
    }
    if let Ok(serde_json::Value::Object(jwk)) = serde_json::from_slice(data) {
        let _ = VerificationKey::from_jwk(&jwk);
        let _ = jwk_thumbprint(&jwk);
    }
});
