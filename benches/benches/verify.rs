//! Cold verification, side by side with the floor and the peer, on the fixture's keys and
//! tokens: `verify/<ALG>/<hops>` (authgent-core), `floor/<ALG>` (the raw aws-lc-rs signature
//! check of the same token), `jsonwebtoken/<ALG>/<hops>` and `jsonwebtoken12/<ALG>/<hops>` (the
//! peer, majors 10 and 12, on their aws-lc backends), `jwks_keys/<n>` (verification
//! against a key set of n keys), `dpop/*` (a DPoP-bound request), `parts/*` (the work around
//! the signature), and `paired` (the same comparisons in adjacent blocks, see [`paired`]).
//!
//! Run through `cargo xtask bench`, which reads the medians back into the report.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use authgent_bench::{
    ALGORITHMS, AUDIENCE, AlgorithmFixture, Fixture, Floor, HOPS, ISSUER, split_jws,
};
use authgent_core::dpop::{
    DpopKey, DpopRequest, DpopVerifier, ProofId, ReplayGuard, ReplayVerdict,
};
use authgent_core::request::{RequestParts, RequestVerifier};
use authgent_core::{Algorithm, ChainPolicy, KeySet, SigningKey};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

/// Accepts every proof id: measures verification, not the store.
struct NoStore;
impl ReplayGuard for NoStore {
    fn check_and_record(&self, _: ProofId, _: SystemTime, _: SystemTime) -> ReplayVerdict {
        ReplayVerdict::Fresh
    }
}

/// What a jsonwebtoken user decodes into for the same checks: the claims authgent types.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct PeerClaims {
    iss: String,
    sub: String,
    aud: Value,
    exp: u64,
    iat: u64,
    jti: String,
    scope: String,
    client_id: String,
    act: Option<Value>,
}

/// jsonwebtoken's key (parsed once, as a user would) and the same checks authgent makes:
/// algorithm, issuer, audience, expiry with 60 s leeway.
fn peer(f: &AlgorithmFixture) -> (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(Value::Object(f.public_jwk().clone())).expect("a JWK");
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("a decoding key");
    let mut validation = jsonwebtoken::Validation::new(peer_algorithm(f.alg));
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.leeway = 60;
    (key, validation)
}

/// The same for jsonwebtoken 12.
fn peer12(f: &AlgorithmFixture) -> (jsonwebtoken12::DecodingKey, jsonwebtoken12::Validation) {
    let jwk: jsonwebtoken12::jwk::Jwk =
        serde_json::from_value(Value::Object(f.public_jwk().clone())).expect("a JWK");
    let key = jsonwebtoken12::DecodingKey::from_jwk(&jwk).expect("a decoding key");
    let alg = match f.alg {
        Algorithm::Rs256 => jsonwebtoken12::Algorithm::RS256,
        Algorithm::Ps256 => jsonwebtoken12::Algorithm::PS256,
        Algorithm::Es256 => jsonwebtoken12::Algorithm::ES256,
        Algorithm::EdDsa => jsonwebtoken12::Algorithm::EdDSA,
        other => panic!("not measured: {other}"),
    };
    let mut validation = jsonwebtoken12::Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.leeway = 60;
    (key, validation)
}

fn peer_algorithm(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::Ps256 => jsonwebtoken::Algorithm::PS256,
        Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        other => panic!("not measured: {other}"),
    }
}

/// Per algorithm, back to back so that a noisy machine's drift hits all three alike: the
/// floor, authgent-core at each depth, jsonwebtoken at each depth.
fn cold(c: &mut Criterion) {
    let fixture = Fixture::load();
    let keys = fixture.key_set();
    let validator = fixture.validator();
    let now = fixture.now();

    for alg in ALGORITHMS {
        let f = fixture.get(alg);

        let mut group = c.benchmark_group("floor");
        let floor = Floor::new(f);
        let (input, signature) = split_jws(f.token(2));
        assert!(floor.verify(input, &signature));
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| floor.verify(black_box(input), black_box(&signature)))
        });
        group.finish();

        let mut group = c.benchmark_group("verify");
        for hops in HOPS {
            let token = f.token(hops);
            let identity = validator.verify(token, &keys, now).expect("a valid token");
            assert_eq!(identity.delegation_chain().depth(), hops);
            group.bench_function(BenchmarkId::new(alg.as_str(), hops), |b| {
                b.iter(|| validator.verify(black_box(token), &keys, now).unwrap())
            });
        }
        group.finish();

        let mut group = c.benchmark_group("jsonwebtoken");
        let (key, validation) = peer(f);
        for hops in HOPS {
            let token = f.token(hops);
            jsonwebtoken::decode::<PeerClaims>(token, &key, &validation).expect("valid");
            group.bench_function(BenchmarkId::new(alg.as_str(), hops), |b| {
                b.iter(|| {
                    jsonwebtoken::decode::<PeerClaims>(black_box(token), &key, &validation).unwrap()
                })
            });
        }
        group.finish();

        let mut group = c.benchmark_group("jsonwebtoken12");
        let (key, validation) = peer12(f);
        for hops in HOPS {
            let token = f.token(hops);
            jsonwebtoken12::decode::<PeerClaims>(token, &key, &validation).expect("valid");
            group.bench_function(BenchmarkId::new(alg.as_str(), hops), |b| {
                b.iter(|| {
                    jsonwebtoken12::decode::<PeerClaims>(black_box(token), &key, &validation)
                        .unwrap()
                })
            });
        }
        group.finish();
    }
}

/// Verification against key sets of 1, 10 and 100 keys: the lookup is by `kid`, so the set's
/// size should not show.
fn jwks_size(c: &mut Criterion) {
    let fixture = Fixture::load();
    let f = fixture.get(Algorithm::Es256);
    let validator = fixture.validator();
    let now = fixture.now();
    let token = f.token(2);
    let mut group = c.benchmark_group("jwks_keys");
    for n in [1usize, 10, 100] {
        let others = (1..n).map(|i| {
            SigningKey::generate(Algorithm::EdDsa)
                .unwrap()
                .with_kid(format!("other-{i}"))
                .verification_key()
                .unwrap()
        });
        let keys =
            KeySet::from_keys(std::iter::once(f.key.verification_key().unwrap()).chain(others));
        assert_eq!(keys.len(), n);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| validator.verify(black_box(token), &keys, now).unwrap())
        });
    }
    group.finish();
}

/// A DPoP-bound request: token and proof, both ES256 (authgent-server's algorithm).
fn dpop(c: &mut Criterion) {
    let fixture = Fixture::load();
    let issuer = &fixture.get(Algorithm::Es256).key;
    let keys = KeySet::from_keys([issuer.verification_key().unwrap()]);
    let now = fixture.now();
    let holder = DpopKey::generate_es256().unwrap();
    let mut claims = authgent_bench::claims(fixture.issued_at, 2);
    claims.insert("cnf".into(), json!({ "jkt": holder.jkt() }));
    let mut header = Map::new();
    header.insert("typ".into(), Value::String("at+jwt".into()));
    let token = issuer.sign(&header, &claims).unwrap();
    let uri = "https://tools.bench.example/tools/search";
    let proof = holder.proof("POST", uri, Some(&token), None, now).unwrap();

    let mut group = c.benchmark_group("dpop");
    let dpop = DpopVerifier::builder().build().unwrap();
    let req = DpopRequest::new("POST", uri).with_access_token(&token, holder.jkt());
    group.bench_function("proof", |b| {
        b.iter(|| dpop.verify(black_box(&proof), &req, &NoStore, now).unwrap())
    });
    let verifier = RequestVerifier::new(fixture.validator(), dpop);
    let auth = format!("DPoP {token}");
    let authorization: [&[u8]; 1] = [auth.as_bytes()];
    let proofs: [&[u8]; 1] = [proof.as_bytes()];
    let parts = RequestParts::new("POST", uri, &authorization, &proofs);
    verifier.verify(&parts, &keys, &NoStore, now).unwrap();
    group.bench_function("request", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&parts), &keys, &NoStore, now)
                .unwrap()
        })
    });
    group.bench_function("proof_create", |b| {
        b.iter(|| holder.proof("POST", uri, Some(&token), None, now).unwrap())
    });
    group.finish();
}

/// The work around the signature: parsing, the chain policy, preparing a JWKS.
fn parts(c: &mut Criterion) {
    let fixture = Fixture::load();
    let f = fixture.get(Algorithm::Es256);
    let validator = fixture.validator();
    let token = f.token(2);
    let mut group = c.benchmark_group("parts");
    group.bench_function("parse", |b| {
        b.iter(|| validator.parse(black_box(token)).unwrap().kid().len())
    });
    let identity = validator
        .verify(token, &fixture.key_set(), fixture.now())
        .unwrap();
    let policy = ChainPolicy::builder()
        .max_depth(3)
        .allowed_actors(["client:agnt_0", "client:agnt_1"])
        .build();
    group.bench_function("chain_policy", |b| {
        b.iter(|| {
            policy
                .check(black_box(identity.delegation_chain()))
                .unwrap()
        })
    });
    let jwks = json!({"keys": [f.key.jwks_entry()]}).to_string();
    group.bench_function("jwks_prepare_es256", |b| {
        b.iter(|| {
            KeySet::from_jwks_json(black_box(jwks.as_bytes()))
                .unwrap()
                .len()
        })
    });
    group.finish();
}

/// Back-to-back blocks of authgent, the floor and jsonwebtoken on the same token, timed one
/// block at a time: on a machine whose speed drifts between benchmarks (a shared VM), the
/// ratio of adjacent blocks is the comparison that drift cannot move. Writes the median ratio
/// per algorithm to the file named by `AUTHGENT_BENCH_PAIRED` (criterion does not see it).
fn paired(_: &mut Criterion) {
    let Some(out) = std::env::var_os("AUTHGENT_BENCH_PAIRED") else {
        return;
    };
    let seconds = authgent_bench::paired_seconds();
    let fixture = Fixture::load();
    let keys = fixture.key_set();
    let validator = fixture.validator();
    let now = fixture.now();
    let mut report = Map::new();
    for alg in ALGORITHMS {
        let f = fixture.get(alg);
        let token = f.token(2);
        let floor = Floor::new(f);
        let (input, signature) = split_jws(token);
        let (key, validation) = peer(f);
        let (key12, validation12) = peer12(f);
        const BLOCK: u32 = 20;
        let time = |f: &mut dyn FnMut()| {
            let start = std::time::Instant::now();
            for _ in 0..BLOCK {
                f();
            }
            start.elapsed().as_secs_f64() / f64::from(BLOCK)
        };
        let (mut vs_floor, mut vs_peer, mut vs_peer12) = (Vec::new(), Vec::new(), Vec::new());
        let deadline = std::time::Instant::now() + Duration::from_secs_f64(seconds);
        while std::time::Instant::now() < deadline || vs_floor.len() < 20 {
            let ours = time(&mut || {
                black_box(validator.verify(black_box(token), &keys, now).unwrap());
            });
            let base = time(&mut || {
                assert!(floor.verify(black_box(input), black_box(&signature)));
            });
            let peer = time(&mut || {
                black_box(
                    jsonwebtoken::decode::<PeerClaims>(black_box(token), &key, &validation)
                        .unwrap(),
                );
            });
            let peer12 = time(&mut || {
                black_box(
                    jsonwebtoken12::decode::<PeerClaims>(black_box(token), &key12, &validation12)
                        .unwrap(),
                );
            });
            vs_floor.push(ours / base);
            vs_peer.push(ours / peer);
            vs_peer12.push(ours / peer12);
        }
        report.insert(
            alg.as_str().into(),
            json!({
                "verify_vs_floor": authgent_bench::median(&mut vs_floor),
                "verify_vs_jsonwebtoken": authgent_bench::median(&mut vs_peer),
                "verify_vs_jsonwebtoken12": authgent_bench::median(&mut vs_peer12),
                "blocks": vs_floor.len(),
            }),
        );
    }
    std::fs::write(out, Value::Object(report).to_string()).expect("write the paired report");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = paired, cold, jwks_size, dpop, parts
}
criterion_main!(benches);
