//! One test per CONFORMANCE.md item 1–21 and 25, named `cNN_…`, with keys generated here.

mod common;

use std::time::Duration;

use authgent_core::credentials::Credentials;
use authgent_core::dpop::{DpopKey, DpopRequest, DpopVerifier, NonceIssuer};
use authgent_core::request::{DpopMode, RequestParts, RequestVerifier};
use authgent_core::txn::{TxnDraft, TxnTokenValidator};
use authgent_core::{
    Algorithm, AuthgentError, ChainPolicy, DelegationError, DpopError, HumanRootRule, KeySet,
    RequestError, SigningKey, TokenError, TokenValidator, TypPolicy, VerificationKey,
    jwk_thumbprint,
};
use common::*;
use serde_json::{Value, json};

fn verify(iss: &Issuer, token: &str) -> Result<authgent_core::AgentIdentity, TokenError> {
    validator().verify(token, &iss.keys, now())
}

fn with_claim(iss: &Issuer, name: &str, value: Value) -> String {
    let mut c = iss.claims();
    c.insert(name.into(), value);
    iss.sign(&c)
}

fn without_claim(iss: &Issuer, name: &str) -> String {
    let mut c = iss.claims();
    c.remove(name);
    iss.sign(&c)
}

#[test]
fn c01_typ_acceptable_and_explicit_other_types_rejected() {
    let iss = Issuer::new();
    let c = iss.claims();
    for typ in ["at+jwt", "application/at+jwt", "JWT", "jwt", "AT+JWT"] {
        let t = iss.sign_with_header(json!({"typ": typ}), &c);
        assert!(verify(&iss, &t).is_ok(), "{typ}");
    }
    assert!(
        verify(&iss, &iss.sign(&c)).is_ok(),
        "no typ is accepted in compatible mode"
    );
    for typ in [
        "dpop+jwt",
        "txntoken+jwt",
        "application/dpop+jwt",
        "id_token+jwt",
        "secevent+jwt",
        "",
    ] {
        let t = iss.sign_with_header(json!({"typ": typ}), &c);
        assert_eq!(
            verify(&iss, &t).unwrap_err(),
            TokenError::UnacceptableType,
            "{typ}"
        );
    }
    let t = iss.sign_with_header(json!({"typ": 7}), &c);
    assert!(matches!(verify(&iss, &t), Err(TokenError::Malformed(_))));

    let strict = TokenValidator::builder(ISSUER)
        .audience(AUDIENCE)
        .typ_policy(TypPolicy::Strict)
        .build()
        .unwrap();
    let at = iss.sign_with_header(json!({"typ": "at+jwt"}), &c);
    assert!(strict.verify(&at, &iss.keys, now()).is_ok());
    for t in [
        iss.sign(&c),
        iss.sign_with_header(json!({"typ": "JWT"}), &c),
    ] {
        assert_eq!(
            strict.verify(&t, &iss.keys, now()).unwrap_err(),
            TokenError::UnacceptableType
        );
    }
}

#[test]
fn c02_alg_allow_list_asymmetric_only_and_bound_to_key_type() {
    // Every supported algorithm verifies end to end with its own key type.
    for alg in [
        Algorithm::Rs256,
        Algorithm::Ps384,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
        Algorithm::EdDsa,
    ] {
        let iss = Issuer::with(alg);
        assert!(verify(&iss, &iss.token()).is_ok(), "{alg}");
    }
    let iss = Issuer::new();
    // Not in the caller's allow-list.
    let rs_only = TokenValidator::builder(ISSUER)
        .audience(AUDIENCE)
        .algorithms([Algorithm::Rs256])
        .build()
        .unwrap();
    assert_eq!(
        rs_only.verify(&iss.token(), &iss.keys, now()).unwrap_err(),
        TokenError::AlgorithmNotAllowed
    );
    // none and HS* are never algorithms.
    for alg in ["none", "HS256", "HS384", "HS512", "es256", ""] {
        let t = iss.sign_with_header(json!({"alg": alg}), &iss.claims());
        assert_eq!(
            verify(&iss, &t).unwrap_err(),
            TokenError::AlgorithmNotAllowed,
            "{alg}"
        );
    }
    // A P-256 key verifies only ES256: a header claiming ES384 is refused before any math.
    let t = iss.sign_with_header(json!({"alg": "ES384"}), &iss.claims());
    assert_eq!(
        verify(&iss, &t).unwrap_err(),
        TokenError::KeyAlgorithmMismatch
    );
    let t = iss.sign_with_header(json!({"alg": "RS256"}), &iss.claims());
    assert_eq!(
        verify(&iss, &t).unwrap_err(),
        TokenError::KeyAlgorithmMismatch
    );
    // A JWK with an alg member binds that alg: an RSA key marked RS256 refuses PS256.
    let rsa = SigningKey::generate(Algorithm::Ps256)
        .unwrap()
        .with_kid("k1");
    let mut jwk = rsa.public_jwk().clone();
    jwk.insert("alg".into(), json!("RS256"));
    let keys = KeySet::from_keys([VerificationKey::from_jwk(&jwk).unwrap()]);
    let ps = rsa
        .sign(&Default::default(), &Issuer::new().claims())
        .unwrap();
    assert_eq!(
        validator().verify(&ps, &keys, now()).unwrap_err(),
        TokenError::KeyAlgorithmMismatch
    );
    // A JWK whose alg does not fit its type is not a key at all.
    let mut bad = iss.key.public_jwk().clone();
    bad.insert("alg".into(), json!("RS256"));
    assert!(VerificationKey::from_jwk(&bad).is_err());
}

#[test]
fn c03_header_jwk_jku_x5u_x5c_never_select_the_key() {
    let iss = Issuer::new();
    let attacker = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("k1");
    let jwk = Value::Object(attacker.public_jwk().clone());
    for header in [
        json!({"jwk": jwk}),
        json!({"jku": "https://attacker.example/jwks.json"}),
        json!({"x5u": "https://attacker.example/cert.pem"}),
        json!({"x5c": ["MIIBattacker"]}),
    ] {
        let t = attacker
            .sign(&object(header.clone()), &iss.claims())
            .unwrap();
        assert_eq!(
            verify(&iss, &t).unwrap_err(),
            TokenError::InvalidSignature,
            "{header}"
        );
    }
    // Without a kid, an embedded key does not help either.
    let hb = serde_json::to_vec(&json!({"alg": "ES256", "jwk": attacker.public_jwk()})).unwrap();
    let t = attacker.sign_raw(&hb, &serde_json::to_vec(&iss.claims()).unwrap());
    assert_eq!(verify(&iss, &t).unwrap_err(), TokenError::MissingKeyId);
}

#[test]
fn c04_unknown_kid_is_rejected_without_fallback_key() {
    let iss = Issuer::new();
    let t = iss.sign_with_header(json!({"kid": "k2"}), &iss.claims());
    // The set has exactly one key, which did sign the token: still no fallback.
    assert_eq!(iss.keys.len(), 1);
    assert_eq!(verify(&iss, &t).unwrap_err(), TokenError::UnknownKeyId);
    let untrusted = validator().parse(&t).unwrap();
    assert_eq!(untrusted.kid(), "k2", "kid is an opaque lookup key");
}

#[test]
fn c05_iss_compared_exactly() {
    let iss = Issuer::new();
    for other in [
        "https://as.example/",
        "https://AS.example",
        "https://as.example ",
        "http://as.example",
    ] {
        assert_eq!(
            verify(&iss, &with_claim(&iss, "iss", json!(other))).unwrap_err(),
            TokenError::IssuerMismatch,
            "{other}"
        );
    }
    assert_eq!(
        verify(&iss, &without_claim(&iss, "iss")).unwrap_err(),
        TokenError::MissingClaim("iss")
    );
}

#[test]
fn c06_aud_string_or_array_contains_configured_audience() {
    let iss = Issuer::new();
    assert!(verify(&iss, &with_claim(&iss, "aud", json!(AUDIENCE))).is_ok());
    assert!(verify(&iss, &with_claim(&iss, "aud", json!(["x", AUDIENCE]))).is_ok());
    assert_eq!(
        verify(&iss, &with_claim(&iss, "aud", json!(["x", "y"]))).unwrap_err(),
        TokenError::AudienceMismatch
    );
    assert_eq!(
        verify(&iss, &without_claim(&iss, "aud")).unwrap_err(),
        TokenError::AudienceMismatch
    );
    assert_eq!(
        verify(
            &iss,
            &with_claim(&iss, "aud", json!(format!("{AUDIENCE}/")))
        )
        .unwrap_err(),
        TokenError::AudienceMismatch
    );
    // Not configured: a configuration error at build(), naming the fix (issue 9 finding 1).
    let err = TokenValidator::builder(ISSUER).build().unwrap_err();
    assert!(err.to_string().contains(".audience("), "{err}");
    assert!(err.to_string().contains(".any_audience()"), "{err}");
    // Missing aud with an audience configured: refused.
    assert_eq!(
        verify(&iss, &without_claim(&iss, "aud")).unwrap_err(),
        TokenError::AudienceMismatch
    );
    // The explicit opt-out: not checked.
    let any = TokenValidator::builder(ISSUER)
        .any_audience()
        .build()
        .unwrap();
    assert!(any.accepts_any_audience());
    assert!(
        any.verify(&without_claim(&iss, "aud"), &iss.keys, now())
            .is_ok()
    );
    // Several configured: any one matches.
    let two = TokenValidator::builder(ISSUER)
        .audiences(["a", "b"])
        .build()
        .unwrap();
    assert!(
        two.verify(&with_claim(&iss, "aud", json!("b")), &iss.keys, now())
            .is_ok()
    );
}

#[test]
fn c07_exp_nbf_iat_with_leeway_and_claim_types_strict() {
    let iss = Issuer::new();
    let n = NOW as i64;
    assert_eq!(
        verify(&iss, &without_claim(&iss, "exp")).unwrap_err(),
        TokenError::MissingClaim("exp")
    );
    assert!(
        verify(&iss, &with_claim(&iss, "exp", json!(n - 59))).is_ok(),
        "within leeway"
    );
    assert_eq!(
        verify(&iss, &with_claim(&iss, "exp", json!(n - 60))).unwrap_err(),
        TokenError::Expired
    );
    assert!(verify(&iss, &with_claim(&iss, "nbf", json!(n + 59))).is_ok());
    assert_eq!(
        verify(&iss, &with_claim(&iss, "nbf", json!(n + 61))).unwrap_err(),
        TokenError::NotYetValid
    );
    assert!(verify(&iss, &with_claim(&iss, "iat", json!(n + 59))).is_ok());
    assert_eq!(
        verify(&iss, &with_claim(&iss, "iat", json!(n + 61))).unwrap_err(),
        TokenError::IssuedInFuture
    );
    assert!(
        verify(&iss, &with_claim(&iss, "exp", json!(NOW as f64 + 100.5))).is_ok(),
        "fractional NumericDate"
    );
    let strict = TokenValidator::builder(ISSUER)
        .audience(AUDIENCE)
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(
        strict
            .verify(&with_claim(&iss, "exp", json!(n)), &iss.keys, now())
            .unwrap_err(),
        TokenError::Expired
    );

    for (claim, value) in [
        ("exp", json!("1800000300")),
        ("exp", json!(null)),
        ("exp", json!(true)),
        ("nbf", json!("0")),
        ("iat", json!([1])),
        ("sub", json!(42)),
        ("sub", json!({"id": 1})),
        ("iss", json!(["https://as.example"])),
        ("scope", json!({"read": true})),
        ("scope", json!(["read"])),
        ("aud", json!(5)),
        ("aud", json!([AUDIENCE, 5])),
        ("client_id", json!(1)),
        ("cnf", json!("jkt")),
        ("cnf", json!({"jkt": 1})),
        ("act", json!("client:x")),
        ("act", json!({"sub": 1})),
        ("act", json!({"client_id": "no sub"})),
        ("human_root", json!("true")),
        ("may_act", json!(["client:x"])),
        ("agent_version", json!(1.0)),
    ] {
        let err = verify(&iss, &with_claim(&iss, claim, value.clone())).unwrap_err();
        assert!(
            matches!(err, TokenError::InvalidClaim { .. }),
            "{claim}={value}: {err:?}"
        );
    }
    assert_eq!(
        verify(&iss, &without_claim(&iss, "sub")).unwrap_err(),
        TokenError::MissingClaim("sub")
    );
}

#[test]
fn c08_crit_rejected_unless_understood() {
    let iss = Issuer::new();
    for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("x")] {
        let t = iss.sign_with_header(json!({"crit": crit, "exp": 1}), &iss.claims());
        assert_eq!(
            verify(&iss, &t).unwrap_err(),
            TokenError::UnsupportedCritical
        );
    }
}

#[test]
fn c09_caps_before_work() {
    let iss = Issuer::new();
    // Size.
    let big = with_claim(&iss, "pad", json!("x".repeat(20_000)));
    assert_eq!(
        verify(&iss, &big).unwrap_err(),
        TokenError::TooLarge { limit: 16 * 1024 }
    );
    let small = TokenValidator::builder(ISSUER)
        .audience(AUDIENCE)
        .max_token_bytes(300)
        .build()
        .unwrap();
    assert!(matches!(
        small.verify(&iss.token(), &iss.keys, now()),
        Err(TokenError::TooLarge { .. })
    ));
    // Segments.
    let t = iss.token();
    let parts: Vec<&str> = t.split('.').collect();
    for bad in [
        parts[..2].join("."),
        format!("{t}.x"),
        format!("{t}."),
        parts.join(".."),
    ] {
        assert!(
            matches!(verify(&iss, &bad), Err(TokenError::Malformed(_))),
            "{bad}"
        );
    }
    // Header JSON size.
    let t = iss.sign_with_header(json!({"x": "h".repeat(5000)}), &iss.claims());
    assert!(matches!(verify(&iss, &t), Err(TokenError::Malformed(_))));
    // act depth: 33 > 32 is refused by the cap, 5000 by the JSON nesting limit; no recursion blow-up.
    let mut act = json!({"sub": "client:a"});
    for _ in 0..32 {
        act = json!({"sub": "client:a", "act": act});
    }
    assert_eq!(
        verify(&iss, &with_claim(&iss, "act", act)).unwrap_err(),
        TokenError::ActTooDeep { limit: 32 }
    );
    let lenient = TokenValidator::builder(ISSUER)
        .audience(AUDIENCE)
        .max_act_depth(2)
        .build()
        .unwrap();
    let mut c = iss.claims();
    c.insert(
        "act".into(),
        json!({"sub": "a", "act": {"sub": "b", "act": {"sub": "c"}}}),
    );
    assert_eq!(
        lenient.verify(&iss.sign(&c), &iss.keys, now()).unwrap_err(),
        TokenError::ActTooDeep { limit: 2 }
    );
    let deep = format!(
        r#"{{"iss":"{ISSUER}","sub":"s","exp":{},"act":{}"x"{}}}"#,
        NOW + 60,
        r#"{"sub":"a","act":"#.repeat(5000),
        "}".repeat(5000)
    );
    let t = iss
        .key
        .sign_raw(br#"{"alg":"ES256","kid":"k1"}"#, deep.as_bytes());
    let small_enough = TokenValidator::builder(ISSUER)
        .audience(AUDIENCE)
        .max_token_bytes(200_000)
        .build()
        .unwrap();
    assert!(matches!(
        small_enough.verify(&t, &iss.keys, now()),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn c10_ecdsa_wrong_length_and_zero_signatures_rejected() {
    let iss = Issuer::new();
    let t = iss.token();
    let (input, sig) = t.rsplit_once('.').unwrap();
    let sig = unb64(sig);
    let mut longer = sig.clone();
    longer.push(0);
    let cases = [
        vec![0u8; 64],                                // r = s = 0 (CVE-2022-21449)
        [vec![0u8; 32], sig[32..].to_vec()].concat(), // r = 0
        [sig[..32].to_vec(), vec![0u8; 32]].concat(), // s = 0
        sig[..63].to_vec(),                           // 63 bytes
        longer,                                       // 65 bytes
        vec![],
    ];
    for bad in cases {
        let forged = format!("{input}.{}", b64(&bad));
        let err = verify(&iss, &forged).unwrap_err();
        assert!(
            matches!(err, TokenError::InvalidSignature | TokenError::Malformed(_)),
            "{}: {err:?}",
            bad.len()
        );
    }
    // DER-encoded signatures (what some libraries emit) are not JWS signatures either.
    let der = [
        vec![0x30, 0x44, 0x02, 0x20],
        sig[..32].to_vec(),
        vec![0x02, 0x20],
        sig[32..].to_vec(),
    ]
    .concat();
    assert_eq!(
        verify(&iss, &format!("{input}.{}", b64(der))).unwrap_err(),
        TokenError::InvalidSignature
    );
}

fn chained(
    iss: &Issuer,
    sub: &str,
    act: Value,
    human_root: Option<bool>,
) -> authgent_core::AgentIdentity {
    let mut c = iss.claims();
    c.insert("sub".into(), json!(sub));
    c.insert("act".into(), act);
    if let Some(h) = human_root {
        c.insert("human_root".into(), json!(h));
    }
    verify(iss, &iss.sign(&c)).unwrap()
}

#[test]
fn c11_act_chain_newest_outermost() {
    let iss = Issuer::new();
    let id = chained(
        &iss,
        "user:alice",
        json!({"sub": "client:c", "iss": "https://as.example", "act": {"sub": "client:b", "act": {"sub": "client:a"}}}),
        None,
    );
    let chain = id.delegation_chain();
    assert_eq!(chain.depth(), 3);
    let subs: Vec<&str> = chain.actors().iter().map(|a| a.subject()).collect();
    assert_eq!(subs, ["client:c", "client:b", "client:a"]);
    assert_eq!(chain.current_actor().unwrap().subject(), "client:c");
    assert_eq!(
        chain.current_actor().unwrap().issuer(),
        Some("https://as.example")
    );
    assert!(
        chain.current_actor().unwrap().claim("act").is_none(),
        "nested act is not an actor claim"
    );
    assert_eq!(chain.root_subject(), "user:alice");
    assert!(chain.has_actor("client:b") && !chain.has_actor("user:alice"));
    let plain = verify(&iss, &iss.token()).unwrap();
    assert_eq!(plain.delegation_chain().depth(), 0);
    assert!(plain.delegation_chain().current_actor().is_none());
}

#[test]
fn c12_chain_policy_depth_actors_current_actor_human_root_may_act() {
    let iss = Issuer::new();
    let id = chained(
        &iss,
        "client:orch",
        json!({"sub": "client:tool", "act": {"sub": "client:worker"}}),
        None,
    );
    let chain = id.delegation_chain();
    let check = |p: ChainPolicy| p.check(chain);
    assert!(check(ChainPolicy::builder().max_depth(2).build()).is_ok());
    assert!(check(ChainPolicy::builder().max_depth(1).build()).is_err());
    // allowed_actors: every actor (Python SDK rule).
    assert!(
        check(
            ChainPolicy::builder()
                .allowed_actors(["client:tool", "client:worker"])
                .build()
        )
        .is_ok()
    );
    assert_eq!(
        check(
            ChainPolicy::builder()
                .allowed_actors(["client:tool"])
                .build()
        ),
        Err(DelegationError::UnauthorizedActor {
            actor: "client:worker".into()
        })
    );
    // allowed_current_actor: only the outermost (RFC 8693 rule).
    assert!(
        check(
            ChainPolicy::builder()
                .allowed_current_actor(["client:tool"])
                .build()
        )
        .is_ok()
    );
    assert_eq!(
        check(
            ChainPolicy::builder()
                .allowed_current_actor(["client:worker"])
                .build()
        ),
        Err(DelegationError::UnauthorizedActor {
            actor: "client:tool".into()
        })
    );
    // require_human_root: default rule looks at the root subject and the human_root claim.
    assert_eq!(
        check(ChainPolicy::builder().require_human_root(true).build()),
        Err(DelegationError::NoHumanRoot)
    );
    let human = chained(&iss, "user:alice", json!({"sub": "client:tool"}), None);
    assert!(
        ChainPolicy::builder()
            .require_human_root(true)
            .build()
            .check(human.delegation_chain())
            .is_ok()
    );
    let claimed = chained(&iss, "alice@idp", json!({"sub": "client:tool"}), Some(true));
    assert!(claimed.delegation_chain().human_root());
    let denied = chained(
        &iss,
        "alice@idp",
        json!({"sub": "client:tool"}),
        Some(false),
    );
    assert!(!denied.delegation_chain().human_root());
    // A configurable predicate.
    let custom = ChainPolicy::builder()
        .require_human_root(true)
        .human_root_rule(HumanRootRule::custom(|c| {
            c.root_subject().ends_with("@idp")
        }))
        .build();
    assert!(custom.check(claimed.delegation_chain()).is_ok());
    assert!(custom.check(human.delegation_chain()).is_err());
    // may_act exposed.
    let mut c = iss.claims();
    c.insert("may_act".into(), json!({"sub": "client:tool"}));
    let id = verify(&iss, &iss.sign(&c)).unwrap();
    assert!(id.claims().may_act().unwrap().permits("client:tool"));
}

#[test]
fn c13_policy_failures_are_403_with_python_sdk_codes() {
    let cases = [
        (
            AuthgentError::from(DelegationError::DepthExceeded { depth: 2, max: 1 }),
            "delegation_depth_exceeded",
        ),
        (
            DelegationError::UnauthorizedActor { actor: "x".into() }.into(),
            "unauthorized_actor",
        ),
        (DelegationError::NoHumanRoot.into(), "no_human_root"),
    ];
    for (err, code) in cases {
        assert_eq!((err.status(), err.code()), (403, code));
    }
}

/// A DPoP proof with full control over header and claims, signed by `key`.
fn raw_proof(key: &SigningKey, header: Value, claims: Value) -> String {
    key.sign(&object(header), &object(claims)).unwrap()
}

fn proof_parts(key: &SigningKey) -> (Value, Value) {
    (
        json!({"typ": "dpop+jwt", "jwk": key.public_jwk()}),
        json!({"jti": "j-1", "htm": "GET", "htu": "https://api.example/r", "iat": NOW}),
    )
}

fn check_proof(proof: &str) -> Result<authgent_core::dpop::VerifiedProof, DpopError> {
    let verifier = DpopVerifier::builder().build().unwrap();
    verifier.verify(
        proof,
        &DpopRequest::new("GET", "https://api.example/r"),
        &MemoryReplay::default(),
        now(),
    )
}

#[test]
fn c14_dpop_proof_structure_typ_alg_signature_public_jwk_required_claims() {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let (h, c) = proof_parts(&key);
    assert!(check_proof(&raw_proof(&key, h.clone(), c.clone())).is_ok());
    // One DPoP header only (400 at the request level).
    assert_eq!(
        Credentials::from_headers(&[b"DPoP t"], &[b"a", b"b"]).unwrap_err(),
        AuthgentError::Request(RequestError::MultipleDpop)
    );
    // Well-formed JWS.
    for bad in ["", "a.b", "a.b.c.d", "not a jws"] {
        assert!(
            matches!(check_proof(bad), Err(DpopError::Malformed(_))),
            "{bad}"
        );
    }
    // typ.
    for typ in [json!("JWT"), json!("at+jwt"), json!(null)] {
        let mut h = h.clone();
        h["typ"] = typ;
        assert_eq!(
            check_proof(&raw_proof(&key, h, c.clone())),
            Err(DpopError::InvalidType)
        );
    }
    let mut no_typ = h.clone();
    no_typ.as_object_mut().unwrap().remove("typ");
    assert_eq!(
        check_proof(&raw_proof(&key, no_typ, c.clone())),
        Err(DpopError::InvalidType)
    );
    // alg: asymmetric and allowed.
    for alg in ["none", "HS256"] {
        let mut h = h.clone();
        h["alg"] = json!(alg);
        assert_eq!(
            check_proof(&raw_proof(&key, h, c.clone())),
            Err(DpopError::AlgorithmNotAllowed)
        );
    }
    let es384_only = DpopVerifier::builder()
        .algorithms([Algorithm::Es384])
        .build()
        .unwrap();
    assert_eq!(
        es384_only.verify(
            &raw_proof(&key, h.clone(), c.clone()),
            &DpopRequest::new("GET", "https://api.example/r"),
            &MemoryReplay::default(),
            now()
        ),
        Err(DpopError::AlgorithmNotAllowed)
    );
    // Signature verifies with the header jwk (another key's jwk fails).
    let other = SigningKey::generate(Algorithm::Es256).unwrap();
    let mut h2 = h.clone();
    h2["jwk"] = Value::Object(other.public_jwk().clone());
    assert_eq!(
        check_proof(&raw_proof(&key, h2, c.clone())),
        Err(DpopError::InvalidSignature)
    );
    // jwk missing / not an object.
    let mut h3 = h.clone();
    h3.as_object_mut().unwrap().remove("jwk");
    assert!(matches!(
        check_proof(&raw_proof(&key, h3, c.clone())),
        Err(DpopError::InvalidJwk(_))
    ));
    // No private members.
    for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        let mut h = h.clone();
        h["jwk"][member] = json!("AAAA");
        assert_eq!(
            check_proof(&raw_proof(&key, h, c.clone())),
            Err(DpopError::PrivateKeyInJwk),
            "{member}"
        );
    }
    // Required claims.
    for claim in ["jti", "htm", "htu", "iat"] {
        let mut c = c.clone();
        c.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            check_proof(&raw_proof(&key, h.clone(), c)),
            Err(DpopError::InvalidClaim(claim))
        );
    }
}

#[test]
fn c15_htm_exact_and_htu_normalised_without_query_or_fragment() {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let (h, c) = proof_parts(&key);
    let with = |claim: &str, v: &str| {
        let mut c = c.clone();
        c[claim] = json!(v);
        check_proof(&raw_proof(&key, h.clone(), c))
    };
    assert_eq!(with("htm", "get"), Err(DpopError::MethodMismatch));
    assert_eq!(with("htm", "POST"), Err(DpopError::MethodMismatch));
    for same in [
        "HTTPS://API.EXAMPLE/r",
        "https://api.example:443/r",
        "https://api.example/%72",
        "https://api.example/./r",
        "https://api.example/r?x=1",
        "https://api.example/r#frag",
    ] {
        assert!(with("htu", same).is_ok(), "{same}");
    }
    for different in [
        "https://other.example/r",
        "https://api.example/r/",
        "https://api.example/R",
        "http://api.example/r",
        "https://api.example:8443/r",
        "/r",
        "not a uri",
    ] {
        assert_eq!(
            with("htu", different),
            Err(DpopError::UriMismatch),
            "{different}"
        );
    }
}

#[test]
fn c16_iat_window_replay_and_jti_size() {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let (h, c) = proof_parts(&key);
    let with_iat = |iat: u64| {
        let mut c = c.clone();
        c["iat"] = json!(iat);
        check_proof(&raw_proof(&key, h.clone(), c))
    };
    assert!(with_iat(NOW - 60).is_ok());
    assert!(with_iat(NOW + 60).is_ok());
    assert_eq!(with_iat(NOW - 61), Err(DpopError::IatOutOfWindow));
    assert_eq!(with_iat(NOW + 61), Err(DpopError::IatOutOfWindow));
    let mut c2 = c.clone();
    c2["iat"] = json!("1800000000");
    assert_eq!(
        check_proof(&raw_proof(&key, h.clone(), c2)),
        Err(DpopError::InvalidClaim("iat"))
    );

    let verifier = DpopVerifier::builder().build().unwrap();
    let replay = MemoryReplay::default();
    let req = DpopRequest::new("GET", "https://api.example/r");
    let proof = raw_proof(&key, h.clone(), c.clone());
    assert!(verifier.verify(&proof, &req, &replay, now()).is_ok());
    assert_eq!(
        verifier.verify(&proof, &req, &replay, now()),
        Err(DpopError::Replayed)
    );
    // A different proof (new jti) from the same key is fine.
    let mut c3 = c.clone();
    c3["jti"] = json!("j-2");
    assert!(
        verifier
            .verify(&raw_proof(&key, h.clone(), c3), &req, &replay, now())
            .is_ok()
    );

    let mut long = c.clone();
    long["jti"] = json!("j".repeat(257));
    assert_eq!(
        check_proof(&raw_proof(&key, h, long)),
        Err(DpopError::JtiTooLong)
    );
}

#[test]
fn c17_ath_required_with_token_and_jkt_equals_cnf() {
    let key = DpopKey::generate_es256().unwrap();
    let verifier = DpopVerifier::builder().build().unwrap();
    let uri = "https://api.example/r";
    let req = DpopRequest::new("GET", uri).with_access_token("tok", key.jkt());
    let good = key.proof("GET", uri, Some("tok"), None, now()).unwrap();
    assert!(
        verifier
            .verify(&good, &req, &MemoryReplay::default(), now())
            .is_ok()
    );
    let no_ath = key.proof("GET", uri, None, None, now()).unwrap();
    assert_eq!(
        verifier.verify(&no_ath, &req, &MemoryReplay::default(), now()),
        Err(DpopError::AthMismatch)
    );
    let other_ath = key.proof("GET", uri, Some("other"), None, now()).unwrap();
    assert_eq!(
        verifier.verify(&other_ath, &req, &MemoryReplay::default(), now()),
        Err(DpopError::AthMismatch)
    );
    let stranger = DpopKey::generate_es256().unwrap();
    let wrong_key = stranger
        .proof("GET", uri, Some("tok"), None, now())
        .unwrap();
    assert_eq!(
        verifier.verify(&wrong_key, &req, &MemoryReplay::default(), now()),
        Err(DpopError::KeyMismatch)
    );
}

struct Resource {
    iss: Issuer,
    dpop_key: DpopKey,
    verifier: RequestVerifier,
}

const URI: &str = "https://api.example/tools/search";

impl Resource {
    fn new(dpop: DpopVerifier) -> Self {
        Resource {
            iss: Issuer::new(),
            dpop_key: DpopKey::generate_es256().unwrap(),
            verifier: RequestVerifier::new(validator(), dpop),
        }
    }
    fn bound_token(&self) -> String {
        let mut c = self.iss.claims();
        c.insert("cnf".into(), json!({"jkt": self.dpop_key.jkt()}));
        self.iss.sign(&c)
    }
    fn call(
        &self,
        authorization: &[&str],
        dpop: &[&str],
        replay: &MemoryReplay,
    ) -> Result<Option<authgent_core::AgentIdentity>, AuthgentError> {
        let a: Vec<&[u8]> = authorization.iter().map(|s| s.as_bytes()).collect();
        let d: Vec<&[u8]> = dpop.iter().map(|s| s.as_bytes()).collect();
        self.verifier.verify(
            &RequestParts::new("POST", URI, &a, &d),
            &self.iss.keys,
            replay,
            now(),
        )
    }
}

#[test]
fn c18_bound_token_as_bearer_rejected_and_duplicate_credentials_are_400() {
    let r = Resource::new(DpopVerifier::builder().build().unwrap());
    let replay = MemoryReplay::default();
    let token = r.bound_token();
    let err = r
        .call(&[&format!("Bearer {token}")], &[], &replay)
        .unwrap_err();
    assert_eq!(err, AuthgentError::Token(TokenError::DpopBoundAsBearer));
    assert_eq!(err.status(), 401);
    // Even with a valid proof alongside, Bearer is the wrong scheme for a bound token.
    let proof = r
        .dpop_key
        .proof("POST", URI, Some(&token), None, now())
        .unwrap();
    assert_eq!(
        r.call(&[&format!("Bearer {token}")], &[&proof], &replay)
            .unwrap_err(),
        err
    );
    // The right scheme works.
    assert!(
        r.call(&[&format!("DPoP {token}")], &[&proof], &replay)
            .unwrap()
            .is_some()
    );
    // Two Authorization headers / both schemes in one: 400 invalid_request.
    let plain = r.iss.token();
    for headers in [
        vec![format!("Bearer {plain}"), format!("Bearer {plain}")],
        vec![format!("Bearer {plain}"), format!("DPoP {token}")],
    ] {
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        let err = r.call(&h, &[], &replay).unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "invalid_request"));
    }
    let err = r
        .call(&[&format!("Bearer {plain}, DPoP {token}")], &[], &replay)
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (400, "invalid_request"));
    // DPoP scheme with an unbound token, or without a proof.
    assert_eq!(
        r.call(&[&format!("DPoP {plain}")], &[&proof], &replay)
            .unwrap_err(),
        AuthgentError::Token(TokenError::NotDpopBound)
    );
    assert_eq!(
        r.call(&[&format!("DPoP {token}")], &[], &replay)
            .unwrap_err(),
        AuthgentError::Dpop(DpopError::Missing)
    );
    // Modes.
    let required = RequestVerifier::new(validator(), DpopVerifier::builder().build().unwrap())
        .with_dpop_mode(DpopMode::Required);
    let bearer = format!("Bearer {plain}");
    let a2: [&[u8]; 1] = [bearer.as_bytes()];
    assert_eq!(
        required
            .verify(
                &RequestParts::new("POST", URI, &a2, &[]),
                &r.iss.keys,
                &replay,
                now()
            )
            .unwrap_err(),
        AuthgentError::Token(TokenError::DpopRequired)
    );
}

#[test]
fn c19_server_nonce_required_issued_and_checked() {
    let nonces = NonceIssuer::generate().unwrap();
    let r = Resource::new(
        DpopVerifier::builder()
            .require_nonce(nonces.clone())
            .build()
            .unwrap(),
    );
    let replay = MemoryReplay::default();
    let token = r.bound_token();
    let auth = format!("DPoP {token}");
    let proof = r
        .dpop_key
        .proof("POST", URI, Some(&token), None, now())
        .unwrap();
    let err = r.call(&[&auth], &[&proof], &replay).unwrap_err();
    let AuthgentError::Dpop(DpopError::UseNonce { nonce }) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((err.status(), err.code()), (401, "use_dpop_nonce"));
    let resp = authgent_core::challenge::ErrorResponse::new(
        &err,
        Some(authgent_core::credentials::Scheme::Dpop),
        &r.verifier.challenge_config(None),
    );
    assert_eq!(resp.dpop_nonce.as_deref(), Some(nonce.as_str()));
    assert!(
        resp.challenges[0].starts_with("DPoP ")
            && resp.challenges[0].contains(r#"error="use_dpop_nonce""#)
    );
    // Retry with the nonce passes.
    let retry = r
        .dpop_key
        .proof("POST", URI, Some(&token), Some(nonce), now())
        .unwrap();
    assert!(r.call(&[&auth], &[&retry], &replay).unwrap().is_some());
    // A nonce from another server, or a stale one, is refused with a fresh nonce.
    let foreign = NonceIssuer::generate().unwrap().issue(now());
    let p = r
        .dpop_key
        .proof("POST", URI, Some(&token), Some(&foreign), now())
        .unwrap();
    assert!(matches!(
        r.call(&[&auth], &[&p], &replay),
        Err(AuthgentError::Dpop(DpopError::UseNonce { .. }))
    ));
    let stale = nonces.issue(now() - Duration::from_secs(600));
    let p = r
        .dpop_key
        .proof("POST", URI, Some(&token), Some(&stale), now())
        .unwrap();
    assert!(matches!(
        r.call(&[&auth], &[&p], &replay),
        Err(AuthgentError::Dpop(DpopError::UseNonce { .. }))
    ));
    // Unpredictable: two nonces for the same instant differ.
    assert_ne!(nonces.issue(now()), nonces.issue(now()));
}

#[test]
fn c20_client_proofs_fresh_jti_iat_ath_nonce_htu() {
    let key = DpopKey::generate_ed25519().unwrap();
    let a = key
        .proof(
            "POST",
            "https://as.example/token?x=1#f",
            Some("tok"),
            Some("n-1"),
            now(),
        )
        .unwrap();
    let b = key
        .proof("POST", "https://as.example/token", None, None, now())
        .unwrap();
    let claims = |p: &str| -> Value {
        serde_json::from_slice(&unb64(p.split('.').nth(1).unwrap())).unwrap()
    };
    let header = |p: &str| -> Value {
        serde_json::from_slice(&unb64(p.split('.').next().unwrap())).unwrap()
    };
    let (ca, cb) = (claims(&a), claims(&b));
    assert_ne!(ca["jti"], cb["jti"]);
    assert!(
        unb64(ca["jti"].as_str().unwrap()).len() * 8 >= 96,
        "jti has at least 96 bits"
    );
    assert_eq!(ca["iat"], json!(NOW));
    assert_eq!(ca["htm"], "POST");
    assert_eq!(
        ca["htu"], "https://as.example/token",
        "query and fragment dropped"
    );
    assert_eq!(ca["ath"], authgent_core::dpop::access_token_hash("tok"));
    assert_eq!(ca["nonce"], "n-1");
    assert!(cb.get("ath").is_none() && cb.get("nonce").is_none());
    let h = header(&a);
    assert_eq!(h["typ"], "dpop+jwt");
    assert_eq!(h["alg"], "EdDSA");
    assert!(h["jwk"].get("d").is_none(), "public key only");
    assert_eq!(
        jwk_thumbprint(h["jwk"].as_object().unwrap()).unwrap(),
        key.jkt()
    );
    // A proof carrying the server's nonce passes a nonce-requiring verifier.
    let nonces = NonceIssuer::generate().unwrap();
    let verifier = DpopVerifier::builder()
        .require_nonce(nonces.clone())
        .build()
        .unwrap();
    let nonce = nonces.issue(now());
    let p = key
        .proof(
            "POST",
            "https://as.example/token",
            None,
            Some(&nonce),
            now(),
        )
        .unwrap();
    assert!(
        verifier
            .verify(
                &p,
                &DpopRequest::new("POST", "https://as.example/token"),
                &MemoryReplay::default(),
                now()
            )
            .is_ok()
    );
    // Keys survive export/import, and Debug never shows the private key.
    let again = DpopKey::from_jwk(key.private_jwk()).unwrap();
    assert_eq!(again.jkt(), key.jkt());
    let d = key.private_jwk()["d"].as_str().unwrap();
    assert!(!format!("{key:?}").contains(d));
}

#[test]
fn c21_thumbprints_for_ec_rsa_okp_match_vectors() {
    for id in [
        "rfc9449-6.1-jkt",
        "rfc7638-3.1-rsa-thumbprint",
        "rfc8037-A.3-okp-thumbprint",
    ] {
        let v = vector(id);
        assert_eq!(
            jwk_thumbprint(v["jwk"].as_object().unwrap()).unwrap(),
            v["thumbprint_b64url"].as_str().unwrap(),
            "{id}"
        );
    }
    assert!(jwk_thumbprint(&object(json!({"kty": "EC", "crv": "P-256", "x": "a"}))).is_err());
    assert!(jwk_thumbprint(&object(json!({"kty": "XYZ"}))).is_err());
}

#[test]
fn c25_transaction_tokens() {
    let iss = Issuer::new();
    let domain = "https://trust.example";
    let txn_validator = TxnTokenValidator::builder(domain)
        .issuer(ISSUER)
        .build()
        .unwrap();
    let claims = || {
        object(json!({
            "iss": ISSUER, "aud": domain, "iat": NOW, "exp": NOW + 60, "txn": "tx-1",
            "sub": "user:alice", "scope": "read", "tctx": {"action": "pay"},
            "rctx": {"req_ip": "10.0.0.1"}, "req_wl": "client:worker", "future_claim": 1
        }))
    };
    let sign = |c| iss.sign_with_header(json!({"typ": "txntoken+jwt"}), &c);
    let txn = txn_validator
        .verify(&sign(claims()), &iss.keys, now())
        .unwrap();
    assert_eq!(
        (txn.txn.as_str(), txn.subject.as_str()),
        ("tx-1", "user:alice")
    );
    assert_eq!(txn.tctx["action"], "pay");
    // Header: exactly one.
    assert_eq!(TxnTokenValidator::from_headers(&[]).unwrap(), None);
    assert_eq!(TxnTokenValidator::from_headers(&[b"a"]).unwrap(), Some("a"));
    assert_eq!(
        TxnTokenValidator::from_headers(&[b"a", b"b"]).unwrap_err(),
        RequestError::MultipleTxnToken
    );
    // typ.
    for typ in [None, Some("JWT"), Some("at+jwt")] {
        let h = typ.map_or(json!({}), |t| json!({"typ": t}));
        let t = iss.sign_with_header(h, &claims());
        assert_eq!(
            txn_validator.verify(&t, &iss.keys, now()).unwrap_err(),
            TokenError::UnacceptableType
        );
    }
    // aud = trust domain.
    let mut c = claims();
    c.insert("aud".into(), json!("https://other.example"));
    assert_eq!(
        txn_validator
            .verify(&sign(c), &iss.keys, now())
            .unwrap_err(),
        TokenError::AudienceMismatch
    );
    // Required claims.
    for claim in ["txn", "sub", "scope", "req_wl", "iat", "exp"] {
        let mut c = claims();
        c.remove(claim);
        assert_eq!(
            txn_validator
                .verify(&sign(c), &iss.keys, now())
                .unwrap_err(),
            TokenError::MissingClaim(match claim {
                "txn" => "txn",
                "sub" => "sub",
                "scope" => "scope",
                "req_wl" => "req_wl",
                "iat" => "iat",
                _ => "exp",
            }),
            "{claim}"
        );
    }
    // -11 by default; -10 (no `req_wl`, as authgent-server 0.3.4 issues) only when asked for.
    assert_eq!(txn_validator.draft(), TxnDraft::Draft11);
    let draft10 = TxnTokenValidator::builder(domain)
        .issuer(ISSUER)
        .draft(TxnDraft::Draft10)
        .build()
        .unwrap();
    let mut without = claims();
    without.remove("req_wl");
    let txn = draft10.verify(&sign(without), &iss.keys, now()).unwrap();
    assert_eq!(txn.req_wl, None);
    let txn = draft10.verify(&sign(claims()), &iss.keys, now()).unwrap();
    assert_eq!(txn.req_wl.as_deref(), Some("client:worker"));
    // `req_wl` is a non-empty string under both; `purp` means nothing special under -11.
    for bad in [json!(""), json!(7), json!(["client:worker"])] {
        let mut c = claims();
        c.insert("req_wl".into(), bad.clone());
        for v in [&txn_validator, &draft10] {
            assert!(
                matches!(
                    v.verify(&sign(c.clone()), &iss.keys, now()),
                    Err(TokenError::InvalidClaim {
                        claim: "req_wl",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
    let mut c = claims();
    c.insert("purp".into(), json!(42));
    assert!(txn_validator.verify(&sign(c), &iss.keys, now()).is_ok());
    // tctx / rctx objects.
    for claim in ["tctx", "rctx"] {
        let mut c = claims();
        c.insert(claim.into(), json!("flat"));
        assert!(matches!(
            txn_validator.verify(&sign(c), &iss.keys, now()),
            Err(TokenError::InvalidClaim { .. })
        ));
    }
    // Never an access token, and no access token is a txn token.
    let mut as_access = claims();
    as_access.insert("aud".into(), json!(AUDIENCE));
    assert_eq!(
        verify(&iss, &sign(as_access)).unwrap_err(),
        TokenError::UnacceptableType
    );
    assert_eq!(
        txn_validator
            .verify(&iss.token(), &iss.keys, now())
            .unwrap_err(),
        TokenError::UnacceptableType
    );
    let at = iss.sign_with_header(json!({"typ": "at+jwt"}), &iss.claims());
    assert_eq!(
        txn_validator.verify(&at, &iss.keys, now()).unwrap_err(),
        TokenError::UnacceptableType
    );
}

#[test]
fn c14_prepared_proof_key_cache_never_mixes_keys() {
    // One verifier (one cache) across keys: a cached key must not verify another key's proofs.
    let verifier = DpopVerifier::builder().build().unwrap();
    let req = DpopRequest::new("GET", "https://api.example/r");
    let a = SigningKey::generate(Algorithm::Es256).unwrap();
    let b = SigningKey::generate(Algorithm::Es256).unwrap();
    let (ha, ca) = proof_parts(&a);
    let (hb, _) = proof_parts(&b);
    let replay = MemoryReplay::default();
    assert!(
        verifier
            .verify(&raw_proof(&a, ha.clone(), ca.clone()), &req, &replay, now())
            .is_ok()
    );
    let mut c2 = ca.clone();
    c2["jti"] = json!("j-2");
    assert_eq!(
        verifier.verify(&raw_proof(&a, hb, c2.clone()), &req, &replay, now()),
        Err(DpopError::InvalidSignature)
    );
    assert_eq!(
        verifier.verify(&raw_proof(&b, ha.clone(), c2), &req, &replay, now()),
        Err(DpopError::InvalidSignature)
    );
    // The same RSA key first with a JWK alg of RS256, then without alg for PS256: both right.
    let rsa = SigningKey::generate(Algorithm::Ps256).unwrap();
    let rs = SigningKey::from_private_jwk(rsa.private_jwk(), Some(Algorithm::Rs256)).unwrap();
    let mut bound = rsa.public_jwk().clone();
    bound.insert("alg".into(), json!("RS256"));
    let (_, c) = proof_parts(&rsa);
    let p1 = raw_proof(&rs, json!({"typ": "dpop+jwt", "jwk": bound}), c.clone());
    assert!(
        verifier
            .verify(&p1, &req, &MemoryReplay::default(), now())
            .is_ok()
    );
    let p2 = raw_proof(&rsa, json!({"typ": "dpop+jwt", "jwk": bound}), c.clone());
    assert!(
        matches!(
            verifier.verify(&p2, &req, &MemoryReplay::default(), now()),
            Err(DpopError::InvalidJwk(_))
        ),
        "alg-bound JWK refuses PS256"
    );
    let p3 = raw_proof(&rsa, json!({"typ": "dpop+jwt", "jwk": rsa.public_jwk()}), c);
    assert!(
        verifier
            .verify(&p3, &req, &MemoryReplay::default(), now())
            .is_ok()
    );
}
