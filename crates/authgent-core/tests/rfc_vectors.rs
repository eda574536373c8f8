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
