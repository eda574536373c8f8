//! The async verifier on the hot path: verified-token cache hit vs full verification, a
//! DPoP-bound request, and the replay store.
//!
//! `cargo bench -p authgent-jwks --bench verifier`; figures go in docs/performance.md.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use authgent_core::dpop::{DpopKey, ProofId, ReplayGuard};
use authgent_jwks::{ReplayStore, Verifier};
use authgent_testkit::TestIssuer;
use criterion::{Criterion, criterion_group, criterion_main};

fn parts(auth: &str, proof: &str) -> http::request::Parts {
    let req = http::Request::builder()
        .method("GET")
        .uri("/data")
        .header("authorization", auth)
        .header("dpop", proof)
        .body(())
        .unwrap();
    req.into_parts().0
}

fn verifier(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let issuer = rt.block_on(TestIssuer::start()).unwrap();
    let cached = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url("https://tools.example")
        .build()
        .unwrap();
    let uncached = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url("https://tools.example")
        .token_cache_capacity(0)
        .build()
        .unwrap();
    let token = issuer
        .token()
        .subject("user:alice")
        .actors(["client:tool", "client:orch"])
        .sign();
    rt.block_on(cached.verify_token(&token)).unwrap();
    rt.block_on(uncached.verify_token(&token)).unwrap();

    c.bench_function("verify_token ES256, token cache hit", |b| {
        b.iter(|| rt.block_on(cached.verify_token(black_box(&token))).unwrap())
    });
    c.bench_function("verify_token ES256, token cache off", |b| {
        b.iter(|| {
            rt.block_on(uncached.verify_token(black_box(&token)))
                .unwrap()
        })
    });

    let key = DpopKey::generate_es256().unwrap();
    let bound = issuer.token().dpop_jkt(key.jkt()).sign();
    let dpop = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url("https://api.example")
        .build()
        .unwrap();
    let auth = format!("DPoP {bound}");
    let url = "https://api.example/data";
    c.bench_function(
        "verify DPoP-bound request (token cached, proof verified)",
        |b| {
            b.iter_batched(
                || {
                    parts(
                        &auth,
                        &key.proof("GET", url, Some(&bound), None, SystemTime::now())
                            .unwrap(),
                    )
                },
                |p| rt.block_on(dpop.verify(&p)).unwrap(),
                criterion::BatchSize::SmallInput,
            )
        },
    );

    // Roomy enough that the measured path is always "record a new id", never "full".
    let store = ReplayStore::new(50_000_000);
    let now = SystemTime::now();
    let until = now + Duration::from_secs(120);
    let mut n: u64 = 0;
    c.bench_function("replay store check_and_record (new id)", |b| {
        b.iter(|| {
            n += 1;
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&n.to_be_bytes());
            id[16] = n as u8;
            store.check_and_record(ProofId::new(id), now, until)
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = verifier
}
criterion_main!(benches);
