//! DPoP proof verification: every RFC 9449 §4.3 check, `htu` normalisation, `ath`, `cnf.jkt`
//! binding, nonces and the replay guard.
#![no_main]

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_core::dpop::{DpopRequest, DpopVerifier, NonceIssuer, ProofId, ReplayGuard, ReplayVerdict};
use libfuzzer_sys::fuzz_target;

#[derive(Default)]
struct Seen(Mutex<HashSet<ProofId>>);

impl ReplayGuard for Seen {
    fn check_and_record(&self, id: ProofId, _: SystemTime, _: SystemTime) -> ReplayVerdict {
        let mut seen = self.0.lock().unwrap();
        if seen.len() > 10_000 {
            seen.clear();
        }
        if seen.insert(id) { ReplayVerdict::Fresh } else { ReplayVerdict::Replayed }
    }
}

static PLAIN: LazyLock<DpopVerifier> = LazyLock::new(|| DpopVerifier::builder().build().unwrap());
static NONCED: LazyLock<DpopVerifier> = LazyLock::new(|| {
    DpopVerifier::builder()
        .require_nonce(NonceIssuer::with_key([7u8; 32]).unwrap())
        .build()
        .unwrap()
});
static SEEN: LazyLock<Seen> = LazyLock::new(Seen::default);

fuzz_target!(|data: &[u8]| {
    // First line: the request URI the proof is checked against; the rest: the proof.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (uri, proof) = text.split_once('\n').unwrap_or(("https://tools.example/x", text));
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let bare = DpopRequest::new("POST", uri);
    let bound = DpopRequest::new("POST", uri)
        .with_access_token("token", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    for verifier in [&*PLAIN, &*NONCED] {
        let _ = verifier.verify(proof, &bare, &*SEEN, now);
        let _ = verifier.verify(proof, &bound, &*SEEN, now);
    }
});
