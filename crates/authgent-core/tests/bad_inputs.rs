//! CONFORMANCE.md "Bad inputs": each case is rejected with the right code and no panic.
//! (Unknown-kid storms and JWKS fetching are the jwks crate's; the key-set side is here.)

mod common;

use authgent_core::challenge::ErrorResponse;
use authgent_core::credentials::Scheme;
use authgent_core::dpop::{DpopKey, DpopVerifier};
use authgent_core::request::{RequestParts, RequestVerifier};
use authgent_core::{
    Algorithm, AuthgentError, DpopError, KeyError, KeySet, SigningKey, TokenError,
};
use common::*;
use serde_json::{Value, json};

const URI: &str = "https://api.example/tools/search";

struct Env {
    iss: Issuer,
    dpop: DpopKey,
    verifier: RequestVerifier,
}

impl Env {
    fn new() -> Self {
        Env {
            iss: Issuer::new(),
            dpop: DpopKey::generate_es256().unwrap(),
            verifier: RequestVerifier::new(validator(), DpopVerifier::builder().build().unwrap()),
        }
    }
    fn request(
        &self,
        authorization: &[&[u8]],
        dpop: &[&[u8]],
    ) -> Result<Option<authgent_core::AgentIdentity>, AuthgentError> {
        self.verifier.verify(
            &RequestParts::new("GET", URI, authorization, dpop),
            &self.iss.keys,
            &MemoryReplay::default(),
            now(),
        )
    }
    fn bearer(&self, token: &str) -> Result<Option<authgent_core::AgentIdentity>, AuthgentError> {
        let h = format!("Bearer {token}");
        self.request(&[h.as_bytes()], &[])
    }
    fn bound(&self) -> String {
        let mut c = self.iss.claims();
        c.insert("cnf".into(), json!({"jkt": self.dpop.jkt()}));
        self.iss.sign(&c)
    }
    fn dpop_call(
        &self,
        token: &str,
        proof: &str,
        replay: &MemoryReplay,
    ) -> Result<Option<authgent_core::AgentIdentity>, AuthgentError> {
        let h = format!("DPoP {token}");
        self.verifier.verify(
            &RequestParts::new("GET", URI, &[h.as_bytes()], &[proof.as_bytes()]),
            &self.iss.keys,
            replay,
            now(),
        )
    }
}

/// Asserts a 401 invalid_token and returns the inner error.
fn invalid_token(r: Result<Option<authgent_core::AgentIdentity>, AuthgentError>) -> TokenError {
    match r {
        Err(AuthgentError::Token(e)) => {
            let err = AuthgentError::Token(e.clone());
            assert_eq!((err.status(), err.code()), (401, "invalid_token"));
            e
        }
        other => panic!("expected invalid_token, got {other:?}"),
    }
}

fn invalid_proof(r: Result<Option<authgent_core::AgentIdentity>, AuthgentError>) -> DpopError {
    match r {
        Err(AuthgentError::Dpop(e)) => {
            assert_eq!(e.code(), "invalid_dpop_proof", "{e:?}");
            e
        }
        other => panic!("expected invalid_dpop_proof, got {other:?}"),
    }
}

fn header_payload(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let h = serde_json::from_slice(&unb64(parts.next().unwrap())).unwrap();
    let p = serde_json::from_slice(&unb64(parts.next().unwrap())).unwrap();
    (h, p)
}

fn assemble(header: &[u8], payload: &[u8], sig: &str) -> String {
    format!("{}.{}.{sig}", b64(header), b64(payload))
}

#[test]
fn alg_none() {
    let e = Env::new();
    let payload = serde_json::to_vec(&e.iss.claims()).unwrap();
    for sig in ["", "AAAA"] {
        let t = assemble(br#"{"alg":"none","kid":"k1"}"#, &payload, sig);
        invalid_token(e.bearer(&t));
    }
}

#[test]
fn hs256_signed_with_the_issuers_public_key_as_secret() {
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
    let e = Env::new();
    let payload = serde_json::to_vec(&e.iss.claims()).unwrap();
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","kid":"k1"}"#),
        b64(&payload)
    );
    for secret in [
        serde_json::to_vec(e.iss.key.public_jwk()).unwrap(),
        e.iss.key.public_jwk()["x"]
            .as_str()
            .unwrap()
            .as_bytes()
            .to_vec(),
    ] {
        let key = PKey::hmac(&secret).unwrap();
        let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
        signer.update(input.as_bytes()).unwrap();
        let t = format!("{input}.{}", b64(signer.sign_to_vec().unwrap()));
        assert_eq!(invalid_token(e.bearer(&t)), TokenError::AlgorithmNotAllowed);
    }
}

#[test]
fn header_jwk_jku_x5u_pointing_at_attacker_key() {
    let e = Env::new();
    let attacker = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("k1");
    for h in [
        json!({"jwk": attacker.public_jwk()}),
        json!({"jku": "https://attacker.example/jwks"}),
        json!({"x5u": "https://attacker.example/x5u"}),
    ] {
        let t = attacker.sign(&object(h), &e.iss.claims()).unwrap();
        assert_eq!(invalid_token(e.bearer(&t)), TokenError::InvalidSignature);
    }
}

#[test]
fn unknown_and_random_kids() {
    let e = Env::new();
    for i in 0..200 {
        let t = e
            .iss
            .sign_with_header(json!({"kid": format!("random-{i}")}), &e.iss.claims());
        assert_eq!(invalid_token(e.bearer(&t)), TokenError::UnknownKeyId);
    }
}

#[test]
fn kid_with_path_traversal_or_10_kib() {
    let e = Env::new();
    let t = e
        .iss
        .sign_with_header(json!({"kid": "../../etc/passwd"}), &e.iss.claims());
    assert_eq!(invalid_token(e.bearer(&t)), TokenError::UnknownKeyId);
    let t = e
        .iss
        .sign_with_header(json!({"kid": "k".repeat(10 * 1024)}), &e.iss.claims());
    assert!(matches!(
        invalid_token(e.bearer(&t)),
        TokenError::Malformed(_)
    ));
    for kid in [json!(""), json!(1), json!(null), json!(["k1"])] {
        let t = e.iss.sign_with_header(json!({"kid": kid}), &e.iss.claims());
        invalid_token(e.bearer(&t));
    }
}

#[test]
fn two_or_four_segments_and_empty_segments() {
    let e = Env::new();
    let t = e.iss.token();
    let p: Vec<&str> = t.split('.').collect();
    for bad in [
        format!("{}.{}", p[0], p[1]),
        format!("{t}.{}", p[2]),
        format!(".{}.{}", p[1], p[2]),
        format!("{}..{}", p[0], p[2]),
        format!("{}.{}.", p[0], p[1]),
        "..".to_owned(),
        ".".to_owned(),
    ] {
        assert!(
            matches!(
                invalid_token(e.bearer(&bad)),
                TokenError::Malformed(_) | TokenError::InvalidSignature
            ),
            "{bad}"
        );
    }
}

#[test]
fn non_base64url_characters_and_padding() {
    let e = Env::new();
    let t = e.iss.token();
    let (hp, sig) = t.rsplit_once('.').unwrap();
    let (h, p) = hp.split_once('.').unwrap();
    // These pass the b64token header syntax but are not base64url.
    for bad in [
        format!("{h}.{p}.{sig}="),
        format!("{h}=.{p}.{sig}"),
        format!("{}.{p}.{sig}", h.replace('-', "+").replacen('e', "+", 1)),
        format!("{h}.{p}/.{sig}"),
    ] {
        assert!(
            matches!(
                invalid_token(e.bearer(&bad)),
                TokenError::Malformed(_) | TokenError::InvalidSignature
            ),
            "{bad}"
        );
    }
    // Characters outside b64token are refused at the header level.
    for bad in [
        format!("{h}.{p}.{sig}!"),
        format!("{h}.{p}.{sig}*"),
        format!("{h}.{p}.{sig} x"),
    ] {
        invalid_token(e.bearer(&bad));
    }
}

#[test]
fn header_not_json_or_a_json_array_and_duplicate_keys() {
    let e = Env::new();
    let payload = serde_json::to_vec(&e.iss.claims()).unwrap();
    for header in [
        &b"not json"[..],
        b"[\"ES256\"]",
        b"\"ES256\"",
        b"{}",
        br#"{"alg":"ES256","kid":"k1","kid":"k2"}"#,
    ] {
        let t = e.iss.key.sign_raw(header, &payload);
        invalid_token(e.bearer(&t));
    }
    // Duplicate claim names in the (validly signed) payload.
    let dup = format!(
        r#"{{"iss":"{ISSUER}","sub":"client:a","sub":"user:admin","aud":"{AUDIENCE}","exp":{}}}"#,
        NOW + 60
    );
    let t = e
        .iss
        .key
        .sign_raw(br#"{"alg":"ES256","kid":"k1"}"#, dup.as_bytes());
    assert!(matches!(
        invalid_token(e.bearer(&t)),
        TokenError::Malformed(_)
    ));
    // Payload not an object.
    let t = e
        .iss
        .key
        .sign_raw(br#"{"alg":"ES256","kid":"k1"}"#, b"[1,2]");
    assert!(matches!(
        invalid_token(e.bearer(&t)),
        TokenError::Malformed(_)
    ));
}

#[test]
fn payload_of_one_mebibyte() {
    let e = Env::new();
    let mut c = e.iss.claims();
    c.insert("pad".into(), json!("x".repeat(1 << 20)));
    assert!(matches!(
        invalid_token(e.bearer(&e.iss.sign(&c))),
        TokenError::TooLarge { .. }
    ));
}

#[test]
fn act_nested_ten_thousand_deep() {
    let e = Env::new();
    let deep = format!(
        r#"{{"iss":"{ISSUER}","sub":"s","aud":"{AUDIENCE}","exp":{},"act":{}"x"{}}}"#,
        NOW + 60,
        r#"{"sub":"a","act":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    let t = e
        .iss
        .key
        .sign_raw(br#"{"alg":"ES256","kid":"k1"}"#, deep.as_bytes());
    invalid_token(e.bearer(&t)); // too large at the default cap
    let roomy = authgent_core::TokenValidator::builder(ISSUER)
        .audience(AUDIENCE)
        .max_token_bytes(1 << 20)
        .build()
        .unwrap();
    assert!(roomy.verify(&t, &e.iss.keys, now()).is_err());
}

#[test]
fn exp_as_string_aud_as_number_scope_as_array() {
    let e = Env::new();
    for (claim, value) in [
        ("exp", json!("1800000300")),
        ("aud", json!(42)),
        ("scope", json!(["read"])),
    ] {
        let mut c = e.iss.claims();
        c.insert(claim.into(), value);
        assert!(
            matches!(
                invalid_token(e.bearer(&e.iss.sign(&c))),
                TokenError::InvalidClaim { .. }
            ),
            "{claim}"
        );
    }
}

#[test]
fn es256_signature_all_zero_63_or_65_bytes() {
    let e = Env::new();
    let t = e.iss.token();
    let (input, sig) = t.rsplit_once('.').unwrap();
    let sig = unb64(sig);
    let mut s65 = sig.clone();
    s65.push(1);
    for bad in [vec![0u8; 64], sig[..63].to_vec(), s65] {
        assert_eq!(
            invalid_token(e.bearer(&format!("{input}.{}", b64(&bad)))),
            TokenError::InvalidSignature
        );
    }
}

#[test]
fn rsa_key_under_2048_bits_in_jwks_is_skipped() {
    // A 1024-bit modulus (the RFC 7515 A.2 key truncated would not be a key; build one).
    let rsa = openssl::rsa::Rsa::generate(1024).unwrap();
    let n = b64(rsa.n().to_vec());
    let e_ = b64(rsa.e().to_vec());
    let good = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("good");
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "weak", "n": n, "e": e_},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "EC", "crv": "secp256k1", "kid": "k256", "x": "AA", "y": "AA"},
        {"kty": "EC", "kid": "enc", "use": "enc", "crv": "P-256", "x": good.public_jwk()["x"], "y": good.public_jwk()["y"]},
        "not an object",
        good.jwks_entry(),
    ]});
    let set = KeySet::from_jwks_json(jwks.to_string().as_bytes()).unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["good"]);
    let reasons: Vec<(Option<&str>, &KeyError)> = set
        .skipped()
        .iter()
        .map(|s| (s.kid.as_deref(), &s.reason))
        .collect();
    assert!(reasons.contains(&(Some("weak"), &KeyError::RsaKeySize)));
    assert!(reasons.contains(&(Some("hmac"), &KeyError::Symmetric)));
    assert!(reasons.contains(&(Some("k256"), &KeyError::UnsupportedKeyType)));
    assert!(reasons.contains(&(Some("enc"), &KeyError::NotForSignatures)));
    assert_eq!(set.skipped().len(), 5);
    assert!(KeySet::from_jwks_json(b"{}").is_err());
    assert!(KeySet::from_jwks_json(b"[]").is_err());
}

#[test]
fn token_signed_by_a_rotated_out_key_after_it_left_the_jwks() {
    let old = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("old");
    let new = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("new");
    let claims = Issuer::new().claims();
    let t = old.sign(&Default::default(), &claims).unwrap();
    let both = KeySet::from_keys([
        old.verification_key().unwrap(),
        new.verification_key().unwrap(),
    ]);
    assert!(validator().verify(&t, &both, now()).is_ok());
    let rotated = KeySet::from_keys([new.verification_key().unwrap()]);
    assert_eq!(
        validator().verify(&t, &rotated, now()).unwrap_err(),
        TokenError::UnknownKeyId
    );
}

#[test]
fn dpop_proof_with_private_d_in_jwk_or_hs256_or_replayed() {
    let e = Env::new();
    let token = e.bound();
    let replay = MemoryReplay::default();
    let proof = e.dpop.proof("GET", URI, Some(&token), None, now()).unwrap();
    let (mut h, p) = header_payload(&proof);
    h["jwk"]["d"] = e.dpop.private_jwk()["d"].clone();
    let signer = SigningKey::from_private_jwk(e.dpop.private_jwk(), None).unwrap();
    let with_d = signer.sign_raw(
        &serde_json::to_vec(&h).unwrap(),
        &serde_json::to_vec(&p).unwrap(),
    );
    assert_eq!(
        invalid_proof(e.dpop_call(&token, &with_d, &replay)),
        DpopError::PrivateKeyInJwk
    );

    let (mut h, p) = header_payload(&proof);
    h["alg"] = json!("HS256");
    let hs = assemble(
        &serde_json::to_vec(&h).unwrap(),
        &serde_json::to_vec(&p).unwrap(),
        "AAAA",
    );
    assert_eq!(
        invalid_proof(e.dpop_call(&token, &hs, &replay)),
        DpopError::AlgorithmNotAllowed
    );

    assert!(e.dpop_call(&token, &proof, &replay).is_ok());
    assert_eq!(
        invalid_proof(e.dpop_call(&token, &proof, &replay)),
        DpopError::Replayed
    );
}

fn proof_with(e: &Env, token: &str, change: impl FnOnce(&mut Value)) -> String {
    let proof = e.dpop.proof("GET", URI, Some(token), None, now()).unwrap();
    let (h, mut p) = header_payload(&proof);
    change(&mut p);
    let signer = SigningKey::from_private_jwk(e.dpop.private_jwk(), None).unwrap();
    signer.sign_raw(
        &serde_json::to_vec(&h).unwrap(),
        &serde_json::to_vec(&p).unwrap(),
    )
}

#[test]
fn dpop_htu_other_host_with_query_trailing_slash() {
    let e = Env::new();
    let token = e.bound();
    let replay = MemoryReplay::default();
    for htu in [
        "https://evil.example/tools/search",
        "https://api.example/tools/search/",
        "https://api.example/tools",
    ] {
        let p = proof_with(&e, &token, |c| c["htu"] = json!(htu));
        assert_eq!(
            invalid_proof(e.dpop_call(&token, &p, &replay)),
            DpopError::UriMismatch,
            "{htu}"
        );
    }
    // A query in htu is ignored, as is the request's (RFC 9449 §4.3 (9)).
    let p = proof_with(&e, &token, |c| c["htu"] = json!(format!("{URI}?q=1")));
    assert!(e.dpop_call(&token, &p, &replay).is_ok());
}

#[test]
fn dpop_htm_lower_case_mismatch() {
    let e = Env::new();
    let token = e.bound();
    let p = proof_with(&e, &token, |c| c["htm"] = json!("get"));
    assert_eq!(
        invalid_proof(e.dpop_call(&token, &p, &MemoryReplay::default())),
        DpopError::MethodMismatch
    );
}

#[test]
fn dpop_iat_ten_minutes_ahead_or_behind() {
    let e = Env::new();
    let token = e.bound();
    for iat in [NOW + 600, NOW - 600] {
        let p = proof_with(&e, &token, |c| c["iat"] = json!(iat));
        assert_eq!(
            invalid_proof(e.dpop_call(&token, &p, &MemoryReplay::default())),
            DpopError::IatOutOfWindow
        );
    }
}

#[test]
fn dpop_ath_of_another_token() {
    let e = Env::new();
    let token = e.bound();
    let other = e.iss.token();
    let p = e.dpop.proof("GET", URI, Some(&other), None, now()).unwrap();
    assert_eq!(
        invalid_proof(e.dpop_call(&token, &p, &MemoryReplay::default())),
        DpopError::AthMismatch
    );
}

#[test]
fn bearer_presented_bound_token() {
    let e = Env::new();
    assert_eq!(
        invalid_token(e.bearer(&e.bound())),
        TokenError::DpopBoundAsBearer
    );
}

#[test]
fn two_authorization_headers() {
    let e = Env::new();
    let a = format!("Bearer {}", e.iss.token());
    let err = e.request(&[a.as_bytes(), a.as_bytes()], &[]).unwrap_err();
    assert_eq!((err.status(), err.code()), (400, "invalid_request"));
    let r = ErrorResponse::new(
        &err,
        Some(Scheme::Bearer),
        &e.verifier.challenge_config(None),
    );
    assert!(r.challenges[0].contains(r#"error="invalid_request""#));
}

#[test]
fn bearer_with_empty_token() {
    let e = Env::new();
    for h in [&b"Bearer"[..], b"Bearer ", b"Bearer    ", b"DPoP"] {
        assert!(matches!(
            invalid_token(e.request(&[h], &[])),
            TokenError::Malformed(_)
        ));
    }
}

#[test]
fn non_ascii_header_bytes() {
    let e = Env::new();
    let mut bytes = format!("Bearer {}", e.iss.token()).into_bytes();
    bytes.push(0xff);
    for h in [
        bytes.as_slice(),
        b"Bearer \xc3\xa9t\xc3\xa9",
        b"Bearer a\x00b",
        b"Bearer a\nb",
    ] {
        let err = e.request(&[h], &[]).unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (400, "invalid_request"),
            "{h:?}"
        );
    }
    let token = e.bound();
    let a = format!("DPoP {token}");
    let err = e.request(&[a.as_bytes()], &[b"proof\xff"]).unwrap_err();
    assert_eq!(err.status(), 400);
}
