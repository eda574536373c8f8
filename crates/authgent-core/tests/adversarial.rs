//! The adversarial corpus (issue 9): untrusted input through the public API, each case with
//! its expected status and error code, and one test per review finding named after it.
//! Every input here was refused wrongly (or accepted) by some version of this code or by a
//! peer; none may panic.

mod common;

use std::time::Duration;

use authgent_core::dpop::{DpopKey, DpopRequest, DpopVerifier, NonceIssuer};
use authgent_core::request::{RequestParts, RequestVerifier};
use authgent_core::{
    Algorithm, DpopError, KeyError, KeySet, SigningKey, TokenError, TokenValidator, VerificationKey,
};
use common::*;
use serde_json::{Map, Value, json};

const URI: &str = "https://tools.example/tools/search";

/// A case: name, the raw `Authorization` values, the expected status and code.
type HeaderCase<'a> = (&'a str, Vec<Vec<u8>>, (u16, &'a str));

fn verifier() -> RequestVerifier {
    RequestVerifier::new(validator(), DpopVerifier::builder().build().unwrap())
}

/// Status and code of a request with these `Authorization` and `DPoP` header values.
fn outcome(iss: &Issuer, authorization: &[&[u8]], dpop: &[&[u8]]) -> (u16, &'static str) {
    let request = RequestParts::new("POST", URI, authorization, dpop);
    match verifier().verify(&request, &iss.keys, &MemoryReplay::default(), now()) {
        Ok(Some(_)) => (200, "ok"),
        Ok(None) => (200, "anonymous"),
        Err(e) => (e.status(), e.code()),
    }
}

fn bearer(iss: &Issuer, token: &str) -> (u16, &'static str) {
    let h = format!("Bearer {token}");
    outcome(iss, &[h.as_bytes()], &[])
}

fn claims_with(iss: &Issuer, name: &str, value: Value) -> Map<String, Value> {
    let mut c = iss.claims();
    c.insert(name.into(), value);
    c
}

fn raw_token(iss: &Issuer, header: &[u8], payload: &[u8]) -> String {
    iss.key.sign_raw(header, payload)
}

#[test]
fn adversarial_access_tokens_are_refused_with_the_right_code() {
    let iss = Issuer::new();
    let good_payload = serde_json::to_vec(&iss.claims()).unwrap();
    let header = br#"{"alg":"ES256","kid":"k1"}"#;
    let signed = |name: &str, v: Value| iss.sign(&claims_with(&iss, name, v));
    let with_header = |h: Value| iss.sign_with_header(h, &iss.claims());
    let cases: Vec<(&str, String, (u16, &str))> = vec![
        ("valid token", iss.token(), (200, "ok")),
        ("kid with control characters", with_header(json!({"kid": "k1\u{0}\n"})), (401, "invalid_token")),
        ("kid with unicode look-alike", with_header(json!({"kid": "k\u{0131}"})), (401, "invalid_token")),
        ("kid with ../", with_header(json!({"kid": "../../k1"})), (401, "invalid_token")),
        ("kid of 10 KiB", with_header(json!({"kid": "k".repeat(10 * 1024)})), (401, "invalid_token")),
        ("crit with unknown members", with_header(json!({"crit": ["exp", "x-unknown"], "x-unknown": 1})), (401, "invalid_token")),
        ("crit empty", with_header(json!({"crit": []})), (401, "invalid_token")),
        ("aud empty array", signed("aud", json!([])), (401, "invalid_token")),
        ("aud another resource", signed("aud", json!("https://elsewhere.example")), (401, "invalid_token")),
        ("aud number", signed("aud", json!(7)), (401, "invalid_token")),
        ("exp as string", signed("exp", json!("1800000300")), (401, "invalid_token")),
        ("exp as float in range", signed("exp", json!(1_800_000_300.5)), (200, "ok")),
        ("exp 1e300", signed("exp", json!(1e300)), (401, "invalid_token")),
        ("exp negative", signed("exp", json!(-1)), (401, "invalid_token")),
        ("exp near i64::MAX", signed("exp", json!(i64::MAX)), (200, "ok")),
        ("iat negative", signed("iat", json!(-5)), (401, "invalid_token")),
        ("nbf in the future", signed("nbf", json!(NOW + 3600)), (401, "invalid_token")),
        ("sub empty", signed("sub", json!("")), (401, "invalid_token")),
        ("sub number", signed("sub", json!(1)), (401, "invalid_token")),
        ("scope array", signed("scope", json!(["read"])), (401, "invalid_token")),
        ("cnf as a string", signed("cnf", json!("jkt")), (401, "invalid_token")),
        ("cnf x5t#S256 (RFC 8705)", signed("cnf", json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})), (401, "invalid_token")),
        ("cnf jwk (RFC 7800)", signed("cnf", json!({"jwk": {"kty": "OKP"}})), (401, "invalid_token")),
        ("cnf empty", signed("cnf", json!({})), (401, "invalid_token")),
        ("cnf jkt beside another method", signed("cnf", json!({"jkt": "abc", "x5t#S256": "def"})), (401, "invalid_token")),
        ("act as an array", signed("act", json!([{"sub": "client:a"}])), (401, "invalid_token")),
        ("act with empty sub", signed("act", json!({"sub": ""})), (401, "invalid_token")),
        ("act sub a number", signed("act", json!({"sub": 3})), (401, "invalid_token")),
        ("typ dpop+jwt", with_header(json!({"typ": "dpop+jwt"})), (401, "invalid_token")),
        ("typ txntoken+jwt", with_header(json!({"typ": "txntoken+jwt"})), (401, "invalid_token")),
        ("header with a BOM", raw_token(&iss, &[b"\xef\xbb\xbf".as_slice(), header].concat(), &good_payload), (401, "invalid_token")),
        ("payload with a BOM", raw_token(&iss, header, &[b"\xef\xbb\xbf".as_slice(), &good_payload].concat()), (401, "invalid_token")),
        ("header with trailing garbage", raw_token(&iss, &[header.as_slice(), b"x"].concat(), &good_payload), (401, "invalid_token")),
        ("payload with trailing garbage", raw_token(&iss, header, &[good_payload.as_slice(), b" {}"].concat()), (401, "invalid_token")),
        ("payload a JSON array", raw_token(&iss, header, b"[1]"), (401, "invalid_token")),
        ("duplicate claim", raw_token(&iss, header, br#"{"iss":"https://as.example","iss":"https://evil","sub":"a","aud":"https://tools.example","exp":1800000300}"#), (401, "invalid_token")),
        // The payload and header are typed in one pass that builds only what it reads; the
        // members it skips are held to the same rules.
        ("duplicate unknown claim", raw_token(&iss, header, br#"{"iss":"https://as.example","sub":"a","aud":"https://tools.example","exp":1800000300,"team":1,"team":2}"#), (401, "invalid_token")),
        ("duplicate inside an unknown claim", raw_token(&iss, header, br#"{"iss":"https://as.example","sub":"a","aud":"https://tools.example","exp":1800000300,"x":[{"y":1,"y":2}]}"#), (401, "invalid_token")),
        ("duplicate claim spelled with an escape", raw_token(&iss, header, br#"{"iss":"https://as.example","\u0069ss":"https://evil","sub":"a","aud":"https://tools.example","exp":1800000300}"#), (401, "invalid_token")),
        ("duplicate inside act", raw_token(&iss, header, br#"{"iss":"https://as.example","sub":"a","aud":"https://tools.example","exp":1800000300,"act":{"sub":"client:a","sub":"client:b"}}"#), (401, "invalid_token")),
        ("duplicate unknown header member", raw_token(&iss, br#"{"alg":"ES256","kid":"k1","x":1,"x":2}"#, &good_payload), (401, "invalid_token")),
        ("duplicate header alg", raw_token(&iss, br#"{"alg":"ES256","alg":"ES256","kid":"k1"}"#, &good_payload), (401, "invalid_token")),
        ("alg none", format!("{}.{}.", b64(br#"{"alg":"none","kid":"k1"}"#), b64(&good_payload)), (401, "invalid_token")),
        ("two segments", format!("{}.{}", b64(header), b64(&good_payload)), (401, "invalid_token")),
        ("padding", format!("{}=", iss.token()), (401, "invalid_token")),
    ];
    for (name, token, expected) in cases {
        assert_eq!(bearer(&iss, &token), expected, "{name}");
    }
}

#[test]
fn adversarial_authorization_headers_are_refused_with_the_right_code() {
    let iss = Issuer::new();
    let t = iss.token();
    let cases: Vec<HeaderCase<'_>> = vec![
        (
            "Bearer<TAB>token",
            vec![format!("Bearer\t{t}").into_bytes()],
            (401, "invalid_token"),
        ),
        (
            "Bearer<SP><TAB>token",
            vec![format!("Bearer \t{t}").into_bytes()],
            (401, "invalid_token"),
        ),
        (
            "Bearer and empty token",
            vec![b"Bearer ".to_vec()],
            (401, "invalid_token"),
        ),
        (
            "two Authorization headers",
            vec![
                format!("Bearer {t}").into_bytes(),
                format!("Bearer {t}").into_bytes(),
            ],
            (400, "invalid_request"),
        ),
        (
            "both schemes in one",
            vec![format!("Bearer {t}, DPoP {t}").into_bytes()],
            (400, "invalid_request"),
        ),
        (
            "non-ASCII bytes",
            vec![b"Bearer \xff\xfe".to_vec()],
            (400, "invalid_request"),
        ),
        (
            "NUL byte",
            vec![b"Bearer a\0b".to_vec()],
            (400, "invalid_request"),
        ),
        (
            "other scheme: no credentials",
            vec![b"Basic dXNlcjpwYXNz".to_vec()],
            (200, "anonymous"),
        ),
    ];
    for (name, headers, expected) in cases {
        let refs: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        assert_eq!(outcome(&iss, &refs, &[]), expected, "{name}");
    }
}

#[test]
fn adversarial_dpop_proofs_are_refused_with_the_right_code() {
    let iss = Issuer::new();
    let key = DpopKey::generate_es256().unwrap();
    let token = iss.sign(&claims_with(&iss, "cnf", json!({"jkt": key.jkt()})));
    let auth = format!("DPoP {token}");
    let proof_for = |htu: &str| key.proof("POST", htu, Some(&token), None, now()).unwrap();
    let cases: Vec<(&str, String, (u16, &str))> = vec![
        ("valid proof", proof_for(URI), (200, "ok")),
        (
            "htu with user-info",
            proof_for("https://user@tools.example/tools/search"),
            (401, "invalid_dpop_proof"),
        ),
        (
            "htu with an IDN host",
            proof_for("https://tööls.example/tools/search"),
            (401, "invalid_dpop_proof"),
        ),
        (
            "htu with punycode of another host",
            proof_for("https://xn--tls-xnaa.example/tools/search"),
            (401, "invalid_dpop_proof"),
        ),
        (
            "htu with two ports",
            proof_for("https://tools.example:443:443/tools/search"),
            (401, "invalid_dpop_proof"),
        ),
        (
            "htu with %+1",
            proof_for("https://tools.example/tools/search%+1"),
            (401, "invalid_dpop_proof"),
        ),
        (
            "htu of another host",
            proof_for("https://other.example/tools/search"),
            (401, "invalid_dpop_proof"),
        ),
        (
            "proof with trailing garbage",
            format!("{}x", proof_for(URI)),
            (401, "invalid_dpop_proof"),
        ),
        (
            "proof not a JWS",
            "not-a-proof".into(),
            (401, "invalid_dpop_proof"),
        ),
    ];
    for (name, proof, expected) in cases {
        assert_eq!(
            outcome(&iss, &[auth.as_bytes()], &[proof.as_bytes()]),
            expected,
            "{name}"
        );
    }
}

/// A JWK with a 3072-bit modulus and a 3071-bit public exponent: every verification with it
/// would cost milliseconds.
fn huge_exponent_jwk() -> Map<String, Value> {
    let mut n = vec![0xC5u8; 384];
    n[383] |= 1;
    let mut e = vec![0x7Fu8; 384];
    e[383] |= 1;
    object(json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)}))
}

fn proof_with_jwk(jwk: &Map<String, Value>, alg: &str, token: &str) -> String {
    let signer = SigningKey::generate(Algorithm::Es256).unwrap();
    let header = json!({"typ": "dpop+jwt", "alg": alg, "jwk": jwk});
    let payload = json!({"jti": "j1", "htm": "POST", "htu": URI, "iat": NOW,
        "ath": authgent_core::dpop::access_token_hash(token)});
    signer.sign_raw(
        header.to_string().as_bytes(),
        payload.to_string().as_bytes(),
    )
}

/// Finding 4: a foreign DPoP key was built and its signature checked before the cheap
/// `cnf.jkt` comparison (8.7 ms for a huge RSA exponent instead of 0.09 ms).
#[test]
fn finding_04_foreign_dpop_key_is_refused_before_any_key_work() {
    let dpop = DpopVerifier::builder().build().unwrap();
    let jwk = huge_exponent_jwk();
    let request = DpopRequest::new("POST", URI).with_access_token("t", "the-tokens-own-jkt");
    let proof = proof_with_jwk(&jwk, "RS256", "t");
    assert_eq!(
        dpop.verify(&proof, &request, &MemoryReplay::default(), now()),
        Err(DpopError::KeyMismatch),
        "refused on the thumbprint, not after a signature check"
    );
}

/// Finding 4: RSA public exponents are bounded (odd, ≥ 3, ≤ 2^32) for proofs and JWKS keys.
#[test]
fn finding_04_rsa_exponent_is_bounded_for_proofs_and_jwks_keys() {
    let jwk = huge_exponent_jwk();
    assert_eq!(
        VerificationKey::from_jwk(&jwk).unwrap_err(),
        KeyError::RsaExponent
    );
    let jkt = authgent_core::jwk_thumbprint(&jwk).unwrap();
    let dpop = DpopVerifier::builder().build().unwrap();
    let request = DpopRequest::new("POST", URI).with_access_token("t", &jkt);
    assert_eq!(
        dpop.verify(
            &proof_with_jwk(&jwk, "RS256", "t"),
            &request,
            &MemoryReplay::default(),
            now()
        ),
        Err(DpopError::InvalidJwk("RSA exponent out of bounds"))
    );
    let real = SigningKey::generate(Algorithm::Rs256).unwrap();
    for (e, ok) in [
        ("AQAB", true),
        ("Aw", true),
        ("AQ", false),
        ("Ag", false),
        ("AAAAAAE", false),
        ("AQAAAAE", false),
    ] {
        let mut jwk = real.public_jwk().clone();
        jwk.insert("e".into(), json!(e));
        let result = VerificationKey::from_jwk(&jwk);
        assert_eq!(
            !matches!(result, Err(KeyError::RsaExponent)),
            ok,
            "e = {e}: {:?}",
            result.err()
        );
    }
    let jwks = json!({"keys": [{"kid": "big-e", "kty": "RSA", "n": jwk["n"], "e": jwk["e"]}]});
    let set = KeySet::from_jwks_json(jwks.to_string().as_bytes()).unwrap();
    assert!(set.is_empty());
    assert_eq!(set.skipped()[0].reason, KeyError::RsaExponent);
}

/// Finding 5: a token bound by another confirmation method was accepted as plain Bearer.
#[test]
fn finding_05_tokens_bound_by_another_method_are_refused() {
    let iss = Issuer::new();
    for cnf in [
        json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        json!({"jwk": {"kty": "EC"}}),
    ] {
        let token = iss.sign(&claims_with(&iss, "cnf", cnf.clone()));
        assert_eq!(
            validator().verify(&token, &iss.keys, now()).unwrap_err(),
            TokenError::UnsupportedConfirmation,
            "{cnf}"
        );
        assert_eq!(bearer(&iss, &token), (401, "invalid_token"));
    }
}

/// Finding 7: `Debug` printed the signing input and signature of parsed tokens.
#[test]
fn finding_07_debug_of_every_token_proof_and_secret_holder_is_redacted() {
    let iss = Issuer::new();
    let token = iss.token();
    let signature = token.rsplit('.').next().unwrap().to_owned();
    let payload = token.split('.').nth(1).unwrap().to_owned();
    let key = DpopKey::generate_es256().unwrap();
    let proof = key.proof("POST", URI, Some(&token), None, now()).unwrap();
    let auth = format!("DPoP {token}");
    let authorization: [&[u8]; 1] = [auth.as_bytes()];
    let dpop: [&[u8]; 1] = [proof.as_bytes()];
    let parts = RequestParts::new("POST", URI, &authorization, &dpop);
    let v = verifier();
    let pending = v.begin(&parts).unwrap().unwrap();
    let untrusted = validator().parse(&token).unwrap();
    let credentials = authgent_core::credentials::Credentials::from_headers(&authorization, &dpop)
        .unwrap()
        .unwrap();
    let request = DpopRequest::new("POST", URI).with_access_token(&token, key.jkt());
    let nonces = NonceIssuer::with_key([0x5au8; 32]).unwrap();
    let signing = SigningKey::generate(Algorithm::Es256).unwrap();
    let private_d = signing.private_jwk()["d"].as_str().unwrap().to_owned();
    let dpop_d = key.private_jwk()["d"].as_str().unwrap().to_owned();
    let printed = [
        format!("{pending:?}"),
        format!("{untrusted:?}"),
        format!("{credentials:?}"),
        format!("{parts:?}"),
        format!("{request:?}"),
        format!("{nonces:?}"),
        format!("{signing:?}"),
        format!("{key:?}"),
        format!("{v:?}"),
    ];
    let proof_signature = proof.rsplit('.').next().unwrap();
    for text in &printed {
        for secret in [
            &signature,
            &payload,
            proof_signature,
            &private_d,
            &dpop_d,
            "5a5a5a",
        ] {
            assert!(!text.contains(secret), "{text} leaks {secret}");
        }
    }
    assert!(
        printed[1].contains("k1"),
        "kid and alg remain: {}",
        printed[1]
    );
}

/// Finding 8: sums on times the issuer signed must not overflow.
#[test]
fn finding_08_extreme_times_never_panic() {
    let iss = Issuer::new();
    for exp in [json!(i64::MAX), json!(9.9e14), json!(u64::MAX)] {
        let token = iss.sign(&claims_with(&iss, "exp", exp.clone()));
        if let Ok(id) = validator().verify(&token, &iss.keys, now()) {
            let exp = id.expires_at().unwrap();
            // exp + leeway, as caches compute it: representable, not a panic.
            assert!(exp.checked_add(Duration::from_secs(600)).is_some());
        }
    }
}

/// Finding 10: `%+1` read as `%01`, and `h:8080:443` as `h:8080`, in htu comparison.
#[test]
fn finding_10_htu_normalisation_refuses_sign_digits_and_two_ports() {
    let key = DpopKey::generate_es256().unwrap();
    let dpop = DpopVerifier::builder().build().unwrap();
    for (htu, uri) in [
        ("https://tools.example/a%+1", "https://tools.example/a%01"),
        (
            "https://tools.example:8080:443/a",
            "https://tools.example:8080/a",
        ),
    ] {
        let proof = key.proof("GET", htu, None, None, now()).unwrap();
        assert_eq!(
            dpop.verify(
                &proof,
                &DpopRequest::new("GET", uri),
                &MemoryReplay::default(),
                now()
            ),
            Err(DpopError::UriMismatch),
            "{htu}"
        );
    }
}

/// Finding 10: an empty `sub` was accepted.
#[test]
fn finding_10_empty_subject_is_refused() {
    let iss = Issuer::new();
    let token = iss.sign(&claims_with(&iss, "sub", json!("")));
    assert!(matches!(
        validator().verify(&token, &iss.keys, now()),
        Err(TokenError::InvalidClaim { claim: "sub", .. })
    ));
}

/// Finding 10: `Bearer<TAB>token` was read as no credentials (anonymous), not a bad one.
#[test]
fn finding_10_bearer_tab_token_is_a_malformed_credential() {
    let iss = Issuer::new();
    let h = format!("Bearer\t{}", iss.token());
    assert_eq!(outcome(&iss, &[h.as_bytes()], &[]), (401, "invalid_token"));
}

/// Finding 1 at the core: no audience is a build error, with the opt-out named.
#[test]
fn finding_01_audience_is_required_at_build() {
    let err = TokenValidator::builder(ISSUER).build().unwrap_err();
    assert!(err.to_string().contains("any_audience"), "{err}");
    assert!(
        TokenValidator::builder(ISSUER)
            .audience("")
            .build()
            .is_err()
    );
}

#[test]
fn claims_typed_in_one_pass_equal_the_claims_typed_from_a_map() {
    let iss = Issuer::new();
    let mut claims = iss.claims();
    claims.insert("team".into(), json!("blue"));
    claims.insert("nested".into(), json!({"a": [1, {"b": null}], "c": 1.5}));
    claims.insert("scope".into(), json!("read  write"));
    claims.insert(
        "act".into(),
        json!({"sub": "client:tool", "iss": "https://as.example", "act": {"sub": "client:orch"}}),
    );
    let token = iss.sign(&claims);
    let identity = validator().verify(&token, &iss.keys, now()).unwrap();
    let from_map = authgent_core::TokenClaims::from_json(claims.clone(), 32).unwrap();
    assert_eq!(identity.claims(), &from_map);
    assert_eq!(identity.claim("team"), Some(&json!("blue")));
    assert_eq!(identity.claims().extra().count(), 2);
    assert_eq!(identity.claims().raw(), &claims);
    assert_eq!(identity.scopes(), ["read", "write"]);
    let actors = identity.delegation_chain().actors();
    assert_eq!(actors.len(), 2);
    assert_eq!(actors[0].issuer(), Some("https://as.example"));
    assert!(
        actors[0].claim("act").is_none(),
        "the nested act is the next actor"
    );
    assert_eq!(actors[1].subject(), "client:orch");
}

#[test]
fn jwk_coordinates_and_members_are_checked_before_any_backend_sees_them() {
    let good = Issuer::new().key.public_jwk().clone();
    let x = unb64(good["x"].as_str().unwrap());
    let cases = [
        ("x one byte short", "x", json!(b64(&x[1..]))),
        (
            "x one byte long",
            "x",
            json!(b64([&[0u8][..], &x].concat())),
        ),
        ("x not base64url", "x", json!("a+b/")),
        ("kid a number", "kid", json!(7)),
        ("key_ops not an array", "key_ops", json!("verify")),
        ("key_ops without verify", "key_ops", json!(["sign"])),
        ("use enc", "use", json!("enc")),
    ];
    for (name, member, value) in cases {
        let mut jwk = good.clone();
        jwk.insert(member.into(), value);
        assert!(
            authgent_core::VerificationKey::from_jwk(&jwk).is_err(),
            "{name} must not be a usable key"
        );
    }
    assert!(authgent_core::VerificationKey::from_jwk(&good).is_ok());
}
