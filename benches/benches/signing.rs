//! Signing before and after issue 26, in one run: `signing/<ALG>/aws-lc-rs` is
//! [`SigningKey::sign`] now (aws-lc-rs), `signing/<ALG>/josekit` the same work on the josekit
//! (OpenSSL) signer the SDK used before — the same header and 2-hop claims serialized,
//! base64url-encoded and signed, as testkit minting and the client's assertions do.
//! `signing/dpop_proof/*` is one DPoP proof (RFC 9449 §4.2, with `ath`): [`DpopKey::proof`]
//! against the same proof built and signed through josekit.
//!
//! Run through `cargo xtask bench`, which reads the medians back into the report.

use std::hint::black_box;
use std::time::Duration;

use authgent_bench::Fixture;
use authgent_core::dpop::{DpopKey, access_token_hash};
use authgent_core::{Algorithm, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsSigner};
use serde_json::{Map, Value, json};

/// The measured algorithms: the three families.
const SIGNED: [Algorithm; 3] = [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa];

/// The josekit signer of `key`'s private JWK, as `SigningKey` built it before issue 26.
fn josekit_signer(key: &SigningKey) -> Box<dyn JwsSigner> {
    let jwk = Jwk::from_map(key.private_jwk().clone()).expect("a private JWK");
    match key.algorithm() {
        Algorithm::Es256 => Box::new(jws::ES256.signer_from_jwk(&jwk).expect("a signer")),
        Algorithm::Rs256 => Box::new(jws::RS256.signer_from_jwk(&jwk).expect("a signer")),
        Algorithm::EdDsa => Box::new(jws::EdDSA.signer_from_jwk(&jwk).expect("a signer")),
        other => panic!("not measured: {other}"),
    }
}

/// `SigningKey::sign`'s steps with josekit doing the signature: the header gets `alg` and
/// `kid`, then both parts are serialized, encoded and signed.
fn josekit_sign(
    signer: &dyn JwsSigner,
    key: &SigningKey,
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
) -> String {
    let mut h = Map::new();
    h.insert("alg".into(), Value::String(key.algorithm().as_str().into()));
    if let Some(kid) = key.kid() {
        h.insert("kid".into(), Value::String(kid.into()));
    }
    h.extend(header.iter().map(|(k, v)| (k.clone(), v.clone())));
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
    );
    let sig = signer.sign(input.as_bytes()).expect("a signature");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn signing(c: &mut Criterion) {
    let fixture = Fixture::load();
    let claims = authgent_bench::claims(fixture.issued_at, 2);
    let mut header = Map::new();
    header.insert("typ".into(), Value::String("at+jwt".into()));
    let mut group = c.benchmark_group("signing");
    for alg in SIGNED {
        let key = &fixture.get(alg).key;
        let signer = josekit_signer(key);
        // Both produce tokens the key's verification accepts.
        for token in [
            key.sign(&header, &claims).unwrap(),
            josekit_sign(signer.as_ref(), key, &header, &claims),
        ] {
            let (input, sig) = token.rsplit_once('.').unwrap();
            let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
            key.verification_key()
                .unwrap()
                .verify(alg, input.as_bytes(), &sig)
                .expect("a valid signature");
        }
        group.bench_function(BenchmarkId::new(alg.as_str(), "aws-lc-rs"), |b| {
            b.iter(|| key.sign(black_box(&header), black_box(&claims)).unwrap())
        });
        group.bench_function(BenchmarkId::new(alg.as_str(), "josekit"), |b| {
            b.iter(|| josekit_sign(signer.as_ref(), key, black_box(&header), black_box(&claims)))
        });
    }

    // One DPoP proof with `ath`, the client's per-request cost once it holds a token.
    let holder = DpopKey::generate_es256().unwrap();
    let token = fixture.get(Algorithm::Es256).token(2);
    let uri = "https://tools.bench.example/tools/search";
    let now = fixture.now();
    let holder_key =
        SigningKey::from_private_jwk(holder.private_jwk(), Some(Algorithm::Es256)).unwrap();
    let signer = josekit_signer(&holder_key);
    let josekit_proof = || {
        let mut jti = [0u8; 16];
        authgent_core::crypto::fill_random(&mut jti).unwrap();
        let iat = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti), "htm": "POST", "htu": uri, "iat": iat,
            "ath": access_token_hash(token),
        });
        let mut header = Map::new();
        header.insert("typ".into(), Value::String("dpop+jwt".into()));
        header.insert("jwk".into(), Value::Object(holder.public_jwk().clone()));
        josekit_sign(
            signer.as_ref(),
            &holder_key,
            &header,
            claims.as_object().unwrap(),
        )
    };
    group.bench_function(BenchmarkId::new("dpop_proof", "aws-lc-rs"), |b| {
        b.iter(|| {
            holder
                .proof("POST", uri, Some(black_box(token)), None, now)
                .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("dpop_proof", "josekit"), |b| {
        b.iter(josekit_proof)
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = signing
}
criterion_main!(benches);
