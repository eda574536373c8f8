//! No input makes the verifiers panic: mutate valid tokens and proofs byte by byte, and feed
//! arbitrary strings to every parser; each must return cleanly (mostly `Err`).

mod common;

use authgent_core::challenge::Challenge;
use authgent_core::credentials::Credentials;
use authgent_core::dpop::{DpopKey, DpopRequest, DpopVerifier};
use authgent_core::txn::TxnTokenValidator;
use authgent_core::{KeySet, TokenValidator};
use common::*;
use proptest::prelude::*;
use std::sync::OnceLock;

struct Setup {
    iss: Issuer,
    token: String,
    proof: String,
    dpop_jkt: String,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let iss = Issuer::new();
        let dpop = DpopKey::generate_es256().unwrap();
        let mut c = iss.claims();
        c.insert(
            "act".into(),
            serde_json::json!({"sub": "client:a", "act": {"sub": "client:b"}}),
        );
        c.insert("cnf".into(), serde_json::json!({"jkt": dpop.jkt()}));
        let token = iss.sign(&c);
        let proof = dpop
            .proof("GET", "https://api.example/r", Some(&token), None, now())
            .unwrap();
        Setup {
            iss,
            dpop_jkt: dpop.jkt().to_owned(),
            token,
            proof,
        }
    })
}

fn mutate(base: &str, edits: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = base.as_bytes().to_vec();
    for (pos, byte) in edits {
        let i = pos % (bytes.len() + 1);
        match byte % 4 {
            0 if i < bytes.len() => bytes[i] = *byte,
            1 if i < bytes.len() => {
                bytes.remove(i);
            }
            _ => bytes.insert(i.min(bytes.len()), *byte),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn mutated_tokens_fail_cleanly(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let s = setup();
        let bytes = mutate(&s.token, &edits);
        let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(()) };
        let result = validator().verify(text, &s.iss.keys, now());
        if text != s.token {
            // Any change to a signed token must be caught (base64url is canonical here).
            prop_assert!(result.is_err(), "mutation accepted: {:?}", edits);
        }
    }

    #[test]
    fn mutated_proofs_fail_cleanly(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let s = setup();
        let bytes = mutate(&s.proof, &edits);
        let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(()) };
        let verifier = DpopVerifier::builder().build().unwrap();
        let req = DpopRequest::new("GET", "https://api.example/r").with_access_token(&s.token, &s.dpop_jkt);
        let result = verifier.verify(text, &req, &MemoryReplay::default(), now());
        if text != s.proof {
            prop_assert!(result.is_err(), "mutation accepted: {:?}", edits);
        }
    }

    #[test]
    fn arbitrary_strings_never_panic_any_parser(input in ".{0,300}", raw in proptest::collection::vec(any::<u8>(), 0..300)) {
        let s = setup();
        let _ = validator().verify(&input, &s.iss.keys, now());
        let _ = TokenValidator::builder(ISSUER).any_audience().build().unwrap().parse(&input);
        let _ = TxnTokenValidator::builder("d").build().unwrap().verify(&input, &s.iss.keys, now());
        let _ = DpopVerifier::builder().build().unwrap().verify(&input, &DpopRequest::new("GET", &input), &MemoryReplay::default(), now());
        let _ = Challenge::parse_all(&input);
        let _ = Credentials::from_headers(&[raw.as_slice()], &[raw.as_slice()]);
        let _ = KeySet::from_jwks_json(&raw);
        let _ = KeySet::from_jwks_json(input.as_bytes());
        let _ = authgent_core::metadata::well_known_url(&input, "oauth-protected-resource");
        let _ = authgent_core::metadata::AuthorizationServerMetadata::parse(input.as_bytes(), "x");
        let _ = DpopKey::from_jwk_json(&input);
    }

    #[test]
    fn structured_garbage_tokens_never_panic(
        header in "\\{[\"a-z:0-9,\\[\\]{} ]{0,60}\\}",
        payload in "\\{[\"a-z:0-9,\\[\\]{} ]{0,80}\\}",
        sig in proptest::collection::vec(any::<u8>(), 0..140),
    ) {
        let t = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&sig));
        let s = setup();
        prop_assert!(validator().verify(&t, &s.iss.keys, now()).is_err());
        let signed = s.iss.key.sign_raw(header.as_bytes(), payload.as_bytes());
        prop_assert!(validator().verify(&signed, &s.iss.keys, now()).is_err());
    }
}
