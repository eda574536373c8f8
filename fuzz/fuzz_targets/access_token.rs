//! Access-token verification: the `Authorization` header through credentials extraction,
//! structural parsing, key lookup, signature and claims, against a real ES256 key set.
#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use authgent_core::credentials::Credentials;
use authgent_core::{Algorithm, KeySet, SigningKey, TokenValidator};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    keys: KeySet,
    validator: TokenValidator,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let es = SigningKey::generate(Algorithm::Es256).unwrap().with_kid("k1");
    let ed = SigningKey::generate(Algorithm::EdDsa).unwrap().with_kid("k2");
    Fixture {
        keys: KeySet::from_keys([es.verification_key().unwrap(), ed.verification_key().unwrap()]),
        validator: TokenValidator::builder("https://as.example")
            .audience("https://tools.example")
            .build()
            .unwrap(),
    }
});

fuzz_target!(|data: &[u8]| {
    let f = &*FIXTURE;
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = f.validator.verify(token, &f.keys, now);
        let _ = authgent_core::validator::unverified_issuer(token);
    }
    // The same bytes as an Authorization header value.
    if let Ok(Some(c)) = Credentials::from_headers(&[data], &[]) {
        let _ = f.validator.verify(c.token(), &f.keys, now);
    }
});
