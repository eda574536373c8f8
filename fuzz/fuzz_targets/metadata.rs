//! RFC 9728 protected-resource and RFC 8414 authorization-server metadata parsing.
#![no_main]

use authgent_core::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ProtectedResourceMetadata::parse(data, "https://tools.example");
    let _ = AuthorizationServerMetadata::parse(data, "https://as.example");
    if let Ok(url) = std::str::from_utf8(data) {
        let _ = authgent_core::metadata::well_known_url(url, "oauth-protected-resource");
    }
});
