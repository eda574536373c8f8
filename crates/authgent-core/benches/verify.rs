//! The hot path, measured: token verification per algorithm, DPoP proof verification, a whole
//! request (credentials + token + DPoP binding), and the parts around the signature.
//!
//! `cargo bench -p authgent-core --bench verify`; figures go in docs/performance.md.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_core::dpop::{
    DpopKey, DpopRequest, DpopVerifier, ProofId, ReplayGuard, ReplayVerdict,
};
use authgent_core::request::{RequestParts, RequestVerifier};
use authgent_core::{Algorithm, ChainPolicy, KeySet, SigningKey, TokenValidator};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://as.example";
const NOW: u64 = 1_800_000_000;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn claims(extra: Value) -> Map<String, Value> {
    let mut c = json!({
        "iss": ISSUER, "sub": "user:alice", "aud": "https://tools.example", "exp": NOW + 300,
        "iat": NOW, "jti": "tok_1", "scope": "search:execute read", "client_id": "agnt_tool",
        "act": {"sub": "client:agnt_tool", "act": {"sub": "client:agnt_worker"}}
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
        c.extend(e);
    }
    match c {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// Accepts every proof id: measures verification, not the store.
struct NoStore;
impl ReplayGuard for NoStore {
    fn check_and_record(&self, _: ProofId, _: SystemTime, _: SystemTime) -> ReplayVerdict {
        ReplayVerdict::Fresh
    }
}

fn tokens(c: &mut Criterion) {
    let validator = TokenValidator::builder(ISSUER)
        .audience("https://tools.example")
        .build()
        .unwrap();
    let mut group = c.benchmark_group("verify_token");
    for alg in [
        Algorithm::Es256,
        Algorithm::EdDsa,
        Algorithm::Rs256,
        Algorithm::Ps256,
    ] {
        let key = SigningKey::generate(alg).unwrap().with_kid("k1");
        let keys = KeySet::from_keys([key.verification_key().unwrap()]);
        let token = key.sign(&Map::new(), &claims(json!({}))).unwrap();
        validator.verify(&token, &keys, now()).unwrap();
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| validator.verify(black_box(&token), &keys, now()).unwrap())
        });
    }
    group.finish();

    let key = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("k1");
    let token = key.sign(&Map::new(), &claims(json!({}))).unwrap();
    c.bench_function("parse_only (no signature)", |b| {
        b.iter(|| validator.parse(black_box(&token)).unwrap().kid().len())
    });
    let keys = KeySet::from_keys([key.verification_key().unwrap()]);
    let identity = validator.verify(&token, &keys, now()).unwrap();
    let policy = ChainPolicy::builder()
        .max_depth(3)
        .allowed_actors(["client:agnt_tool", "client:agnt_worker"])
        .require_human_root(true)
        .build();
    c.bench_function("chain_policy_check", |b| {
        b.iter(|| {
            policy
                .check(black_box(identity.delegation_chain()))
                .unwrap()
        })
    });
    let jwks = json!({"keys": [key.jwks_entry()]}).to_string();
    c.bench_function("jwks_parse_and_prepare (1 EC key)", |b| {
        b.iter(|| {
            KeySet::from_jwks_json(black_box(jwks.as_bytes()))
                .unwrap()
                .len()
        })
    });
}

fn dpop(c: &mut Criterion) {
    let issuer = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("k1");
    let keys = KeySet::from_keys([issuer.verification_key().unwrap()]);
    let holder = DpopKey::generate_es256().unwrap();
    let token = issuer
        .sign(&Map::new(), &claims(json!({"cnf": {"jkt": holder.jkt()}})))
        .unwrap();
    let uri = "https://tools.example/tools/search";
    let proof = holder
        .proof("POST", uri, Some(&token), None, now())
        .unwrap();
    let dpop = DpopVerifier::builder().build().unwrap();
    let req = DpopRequest::new("POST", uri).with_access_token(&token, holder.jkt());
    c.bench_function("dpop_proof_verify ES256", |b| {
        b.iter(|| {
            dpop.verify(black_box(&proof), &req, &NoStore, now())
                .unwrap()
        })
    });
    c.bench_function("dpop_proof_create ES256", |b| {
        b.iter(|| {
            holder
                .proof("POST", uri, Some(&token), None, now())
                .unwrap()
        })
    });

    let verifier = RequestVerifier::new(
        TokenValidator::builder(ISSUER)
            .audience("https://tools.example")
            .build()
            .unwrap(),
        dpop,
    );
    let auth = format!("DPoP {token}");
    let authorization: [&[u8]; 1] = [auth.as_bytes()];
    let proofs: [&[u8]; 1] = [proof.as_bytes()];
    let parts = RequestParts::new("POST", uri, &authorization, &proofs);
    c.bench_function("request_verify DPoP-bound ES256 (token + proof)", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&parts), &keys, &NoStore, now())
                .unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = tokens, dpop
}
criterion_main!(benches);
