//! RFC test vectors (see data/README.md for sources): thumbprints, JWS signatures, DPoP proofs.

mod common;

use authgent_core::dpop::{DpopRequest, DpopVerifier, access_token_hash};
use authgent_core::{
    Algorithm, DpopError, KeyError, KeySet, TokenError, TokenValidator, VerificationKey,
    jwk_thumbprint,
};
use common::*;

fn verify_vector(id: &str) -> Result<(), TokenError> {
    let v = vector(id);
    let alg: Algorithm = v["alg"].as_str().unwrap().parse().unwrap();
    let key = VerificationKey::from_jwk(v["jwk"].as_object().unwrap()).unwrap();
    let compact = v["compact"].as_str().unwrap();
    let (input, sig) = compact.rsplit_once('.').unwrap();
    key.verify(alg, input.as_bytes(), &unb64(sig))
}

#[test]
fn rfc7638_3_1_rsa_thumbprint() {
    let v = vector("rfc7638-3.1-rsa-thumbprint");
    let tp = jwk_thumbprint(v["jwk"].as_object().unwrap()).unwrap();
    assert_eq!(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_eq!(tp, v["thumbprint_b64url"]);
}

#[test]
fn rfc8037_a3_okp_thumbprint_public_and_private() {
    let v = vector("rfc8037-A.3-okp-thumbprint");
    let expected = v["thumbprint_b64url"].as_str().unwrap();
    assert_eq!(
        jwk_thumbprint(v["jwk"].as_object().unwrap()).unwrap(),
        expected
    );
    // RFC 7638 §3.2.1: the private key's thumbprint is the public key's.
    assert_eq!(
        jwk_thumbprint(v["private_jwk"].as_object().unwrap()).unwrap(),
        expected
    );
}

#[test]
fn rfc9449_6_1_jkt_thumbprint() {
    let v = vector("rfc9449-6.1-jkt");
    assert_eq!(
        jwk_thumbprint(v["jwk"].as_object().unwrap()).unwrap(),
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
}

#[test]
fn rfc9449_7_1_ath() {
    let v = vector("rfc9449-7.1-ath");
    assert_eq!(
        access_token_hash(v["access_token"].as_str().unwrap()),
        v["ath"].as_str().unwrap()
    );
}

#[test]
fn rfc8037_a4_eddsa_signature_verifies() {
    verify_vector("rfc8037-A.4-eddsa-jws").unwrap();
}

#[test]
fn rfc8037_a4_eddsa_signature_is_deterministic_from_private_key() {
    let v = vector("rfc8037-A.4-eddsa-jws");
    let key =
        authgent_core::SigningKey::from_private_jwk(v["private_jwk"].as_object().unwrap(), None)
            .unwrap();
    let signed = key.sign_raw(br#"{"alg":"EdDSA"}"#, b"Example of Ed25519 signing");
    assert_eq!(signed, v["compact"].as_str().unwrap());
}

/// Signs a vector's exact signing input with its private JWK (imported by this build's
/// backend) and returns the compact JWS.
fn sign_vector(id: &str) -> String {
    let v = vector(id);
    let alg: Algorithm = v["alg"].as_str().unwrap().parse().unwrap();
    let key = authgent_core::SigningKey::from_private_jwk(
        v["private_jwk"].as_object().unwrap(),
        Some(alg),
    )
    .unwrap();
    let compact = v["compact"].as_str().unwrap();
    let mut parts = compact.split('.');
    let (header, payload) = (parts.next().unwrap(), parts.next().unwrap());
    key.sign_raw(&unb64(header), &unb64(payload))
}

/// RSASSA-PKCS1-v1_5 is deterministic: the RFCs' RSA private keys, imported, sign their
/// examples to the very bytes the RFCs print.
#[test]
fn rfc7515_a2_and_rfc7520_4_1_rs256_signatures_are_reproduced_from_private_keys() {
    for id in ["rfc7515-A.2-rs256", "rfc7520-4.1-rs256"] {
        assert_eq!(
            sign_vector(id),
            vector(id)["compact"].as_str().unwrap(),
            "{id}"
        );
    }
}

/// PSS and ECDSA are randomised: the RFCs' private keys sign their examples to signatures
/// the RFCs' public keys accept.
#[test]
fn rfc7515_a3_and_rfc7520_ps384_es512_private_keys_sign_what_their_public_keys_accept() {
    for id in [
        "rfc7515-A.3-es256",
        "rfc7520-4.2-ps384",
        "rfc7520-4.3-es512",
    ] {
        let v = vector(id);
        let alg: Algorithm = v["alg"].as_str().unwrap().parse().unwrap();
        let key = VerificationKey::from_jwk(v["jwk"].as_object().unwrap()).unwrap();
        let signed = sign_vector(id);
        assert_ne!(signed, v["compact"].as_str().unwrap(), "{id}: randomised");
        let (input, sig) = signed.rsplit_once('.').unwrap();
        key.verify(alg, input.as_bytes(), &unb64(sig))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
    }
}

#[test]
fn rfc7515_a2_rs256_signature_verifies() {
    verify_vector("rfc7515-A.2-rs256").unwrap();
}

#[test]
fn rfc7515_a3_es256_signature_verifies() {
    verify_vector("rfc7515-A.3-es256").unwrap();
}

#[test]
fn rfc7520_signatures_verify_rs256_ps384_es512() {
    verify_vector("rfc7520-4.1-rs256").unwrap();
    verify_vector("rfc7520-4.2-ps384").unwrap();
    verify_vector("rfc7520-4.3-es512").unwrap();
}

#[test]
fn tampered_vector_signatures_fail() {
    for id in [
        "rfc7515-A.3-es256",
        "rfc7520-4.2-ps384",
        "rfc8037-A.4-eddsa-jws",
    ] {
        let v = vector(id);
        let alg: Algorithm = v["alg"].as_str().unwrap().parse().unwrap();
        let key = VerificationKey::from_jwk(v["jwk"].as_object().unwrap()).unwrap();
        let (input, sig) = v["compact"].as_str().unwrap().rsplit_once('.').unwrap();
        let tampered = format!("{input}x");
        assert_eq!(
            key.verify(alg, tampered.as_bytes(), &unb64(sig)),
            Err(TokenError::InvalidSignature),
            "{id}"
        );
    }
}

#[test]
fn rfc7520_4_4_hs256_key_is_never_a_verification_key() {
    let v = vector("rfc7520-4.4-hs256");
    assert_eq!(
        VerificationKey::from_jwk(v["jwk"].as_object().unwrap()).unwrap_err(),
        KeyError::Symmetric
    );
    let validator = TokenValidator::builder("joe")
        .any_audience()
        .build()
        .unwrap();
    assert_eq!(
        validator.parse(v["compact"].as_str().unwrap()).unwrap_err(),
        TokenError::AlgorithmNotAllowed
    );
}

#[test]
fn rfc7515_a5_alg_none_rejected() {
    let v = vector("rfc7515-A.5-unsecured-none");
    let validator = TokenValidator::builder("joe")
        .any_audience()
        .build()
        .unwrap();
    let err = validator
        .verify(v["compact"].as_str().unwrap(), &KeySet::default(), now())
        .unwrap_err();
    // The unsecured JWS has an empty third part; either check refuses it.
    assert!(
        matches!(
            err,
            TokenError::AlgorithmNotAllowed | TokenError::Malformed(_)
        ),
        "{err:?}"
    );
    // And with a signature part present, alg none is still refused.
    let (hp, _) = v["compact"].as_str().unwrap().rsplit_once('.').unwrap();
    assert_eq!(
        validator.parse(&format!("{hp}.AAAA")).unwrap_err(),
        TokenError::AlgorithmNotAllowed
    );
}

fn dpop_vector(id: &str) -> (serde_json::Value, DpopVerifier) {
    (vector(id), DpopVerifier::builder().build().unwrap())
}

#[test]
fn rfc9449_figure2_and_7_token_request_proofs() {
    for id in ["rfc9449-fig2-dpop-proof", "rfc9449-fig7-dpop-proof"] {
        let (v, verifier) = dpop_vector(id);
        let iat = v["payload"]["iat"].as_u64().unwrap();
        let req = DpopRequest::new("POST", "https://server.example.com/token");
        let replay = MemoryReplay::default();
        let proof = verifier
            .verify(v["compact"].as_str().unwrap(), &req, &replay, at(iat + 5))
            .unwrap();
        assert_eq!(proof.jkt, v["expected_jkt"].as_str().unwrap(), "{id}");
        // Unpinned (today) the 2019 proof is stale.
        assert_eq!(
            verifier.verify(
                v["compact"].as_str().unwrap(),
                &req,
                &MemoryReplay::default(),
                now()
            ),
            Err(DpopError::IatOutOfWindow)
        );
    }
}

#[test]
fn rfc9449_figure13_resource_request_proof_with_ath_and_jkt() {
    let (v, verifier) = dpop_vector("rfc9449-fig13-dpop-proof");
    let iat = v["payload"]["iat"].as_u64().unwrap();
    let token = v["request"]["access_token"].as_str().unwrap();
    let jkt = v["expected_jkt"].as_str().unwrap();
    let uri = "https://resource.example.org/protectedresource";
    let proof = v["compact"].as_str().unwrap();
    let ok = DpopRequest::new("GET", uri).with_access_token(token, jkt);
    verifier
        .verify(proof, &ok, &MemoryReplay::default(), at(iat))
        .unwrap();

    let other_token = DpopRequest::new("GET", uri).with_access_token("another-token", jkt);
    assert_eq!(
        verifier.verify(proof, &other_token, &MemoryReplay::default(), at(iat)),
        Err(DpopError::AthMismatch)
    );
    let other_key = DpopRequest::new("GET", uri).with_access_token(token, "AAAA");
    assert_eq!(
        verifier.verify(proof, &other_key, &MemoryReplay::default(), at(iat)),
        Err(DpopError::KeyMismatch)
    );
}

#[test]
fn rfc9449_6_1_access_token_cnf_parses_but_unknown_key_is_refused() {
    let v = vector("rfc9449-6.1-jwt-at-with-cnf");
    let validator = TokenValidator::builder("https://server.example.com")
        .audience("https://resource.example.org")
        .build()
        .unwrap();
    let untrusted = validator.parse(v["compact"].as_str().unwrap()).unwrap();
    assert_eq!(untrusted.kid(), "BeALkb");
    assert_eq!(
        untrusted.unverified_issuer().as_deref(),
        Some("https://server.example.com")
    );
    // The AS key is not published: no fallback key may verify it.
    assert_eq!(
        validator.verify(
            v["compact"].as_str().unwrap(),
            &KeySet::default(),
            at(1_562_262_700)
        ),
        Err(TokenError::UnknownKeyId)
    );
}

#[test]
fn identity_chaining_grant_verifies_with_pinned_clock() {
    let v = vector("identity-chaining-17-2.3.4-grant");
    let jwks = serde_json::json!({"keys": [v["jwk"]]}).to_string();
    let keys = KeySet::from_jwks_json(jwks.as_bytes()).unwrap();
    let validator = TokenValidator::builder("https://as.a.example/auth")
        .audience("https://as.b.example/auth")
        .build()
        .unwrap();
    let compact = v["compact"].as_str().unwrap();
    let identity = validator.verify(compact, &keys, at(1_695_287_700)).unwrap();
    assert_eq!(identity.subject(), "johndoe@a.example");
    assert_eq!(
        validator.verify(compact, &keys, now()),
        Err(TokenError::Expired)
    );
}

/// Issue 23, item 1: on the OpenSSL backend, preparing keys while other threads used OpenSSL
/// refused a valid key now and then (OpenSSL 3.0's DER decoder under concurrency). Every
/// vector key with a signature to check, prepared and checked from 8 threads × 500 times.
#[test]
fn every_vector_key_prepares_and_verifies_from_eight_threads() {
    let signed = signed_vectors();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let signed = &signed;
            scope.spawn(move || {
                for round in 0..500 {
                    prepare_and_verify(signed, thread, round);
                }
            });
        }
    });
}

/// The failure showed at a process's first use of OpenSSL from several threads (lazy
/// provider and decoder set-up), which a long-running test meets only once: this one starts
/// 40 fresh processes of this test binary, each preparing every vector key from 8 threads
/// released together by a barrier.
#[test]
fn first_use_from_eight_threads_in_fresh_processes() {
    const CHILD: &str = "AUTHGENT_FIRST_USE_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let signed = signed_vectors();
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let (signed, start) = (&signed, &start);
                scope.spawn(move || {
                    start.wait();
                    if thread % 2 == 0 {
                        prepare_and_verify(signed, thread, 0);
                    } else {
                        sign_and_verify(thread);
                    }
                });
            }
        });
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for run in 0..40 {
        let out = std::process::Command::new(&exe)
            .args(["--exact", "first_use_from_eight_threads_in_fresh_processes"])
            .args(["--test-threads", "1", "--nocapture"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "fresh process {run} refused a valid key:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Imports every vector's private key, signs with it and checks the signature.
fn sign_and_verify(thread: usize) {
    for v in vectors() {
        let (Some(private), Some(alg)) = (v["private_jwk"].as_object(), v["alg"].as_str()) else {
            continue;
        };
        let Ok(alg) = alg.parse::<Algorithm>() else {
            continue; // HS256
        };
        let key = authgent_core::SigningKey::from_private_jwk(private, Some(alg))
            .unwrap_or_else(|e| panic!("thread {thread}, {alg} private key: {e}"));
        let jws = key.sign(&Default::default(), &Default::default()).unwrap();
        let (input, sig) = jws.rsplit_once('.').unwrap();
        key.verification_key()
            .unwrap()
            .verify(alg, input.as_bytes(), &unb64(sig))
            .unwrap_or_else(|e| panic!("thread {thread}, {alg} signature: {e}"));
    }
}

type Signed = Vec<(
    Algorithm,
    serde_json::Map<String, serde_json::Value>,
    String,
)>;

fn prepare_and_verify(signed: &Signed, thread: usize, round: usize) {
    for (alg, jwk, compact) in signed {
        let key = VerificationKey::from_jwk(jwk)
            .unwrap_or_else(|e| panic!("thread {thread}, round {round}, {alg}: {e}"));
        let (input, sig) = compact.rsplit_once('.').unwrap();
        key.verify(*alg, input.as_bytes(), &unb64(sig))
            .unwrap_or_else(|e| panic!("thread {thread}, round {round}, {alg}: {e}"));
    }
}

/// Every vector with a key and a valid signature by it.
fn signed_vectors() -> Signed {
    let signed: Signed = vectors()
        .into_iter()
        .filter(|v| v["expect"].as_str().is_some_and(|e| e.starts_with("valid")))
        .filter_map(|v| {
            // The key is the vector's JWK, or the one in a DPoP proof's header.
            let jwk = v["jwk"]
                .as_object()
                .or(v["header"]["jwk"].as_object())?
                .clone();
            let alg = v["alg"].as_str().or(v["header"]["alg"].as_str())?;
            let alg = alg.parse().ok()?; // HS256 is no verification algorithm
            Some((alg, jwk, v["compact"].as_str()?.to_owned()))
        })
        .collect();
    assert!(
        signed.len() >= 10,
        "vectors with a key and a signature: {}",
        signed.len()
    );
    signed
}
