//! The async verifier and the framework adapters, in process: `cached/verify_token` (a
//! verified-token cache hit), `cached/dpop_request` (token cached, proof verified),
//! `axum/*` and `actix/*` (one request through the framework with and without the layer),
//! `scaling/*` (full verifications on one thread and on two, through one shared verifier), and
//! `dpop_paired` (a DPoP request with a cached token and the bare check of its proof's
//! signature in adjacent blocks; see [`dpop_paired`]).
//!
//! Each loop runs inside one `block_on`, so no runtime entry is counted per request.
//! Run through `cargo xtask bench`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use authgent_core::Algorithm;
use authgent_core::dpop::DpopKey;
use authgent_jwks::{AgentAuth, Verifier};
use authgent_testkit::TestIssuer;
use criterion::{Criterion, criterion_group, criterion_main};
use tower_service::Service;

const PUBLIC_URL: &str = "https://tools.bench.example";

/// Runs `step` `iters` times, one after the other, and returns the time taken: the loop every
/// in-process measurement here times, inside one `block_on`.
async fn timed<F, Fut>(iters: u64, mut step: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future,
{
    let start = Instant::now();
    for _ in 0..iters {
        black_box(step().await);
    }
    start.elapsed()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The test issuer runs on its own thread for the whole bench: verifiers fetch its JWKS once.
fn issuer() -> TestIssuer {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = runtime();
        rt.block_on(async {
            tx.send(TestIssuer::start().await.expect("start the issuer"))
                .expect("send the issuer");
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("the issuer")
}

fn verifier(issuer: &TestIssuer, cache: bool) -> Verifier {
    let mut b = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(PUBLIC_URL)
        .external_url(PUBLIC_URL);
    if !cache {
        b = b.token_cache_capacity(0);
    }
    b.build().expect("a verifier")
}

fn delegated_token(issuer: &TestIssuer) -> String {
    issuer
        .token()
        .subject("user:alice")
        .audience(PUBLIC_URL)
        .scopes(["search:execute"])
        .actors(["client:agnt_0", "client:agnt_1"])
        .sign()
}

/// `GET /data` with `authorization`, for the in-process axum routers.
fn axum_request(authorization: &str) -> http::Request<axum::body::Body> {
    http::Request::builder()
        .uri("/data")
        .header("authorization", authorization)
        .body(axum::body::Body::empty())
        .unwrap()
}

/// A DPoP-bound token (2 hops) for `PUBLIC_URL`, and `GET /data` requests carrying it.
struct DpopClient {
    key: DpopKey,
    token: String,
    authorization: String,
}

impl DpopClient {
    fn new(issuer: &TestIssuer) -> Self {
        let key = DpopKey::generate_es256().unwrap();
        let token = issuer
            .token()
            .audience(PUBLIC_URL)
            .actors(["client:agnt_0", "client:agnt_1"])
            .dpop_jkt(key.jkt())
            .sign();
        let authorization = format!("DPoP {token}");
        DpopClient {
            key,
            token,
            authorization,
        }
    }

    /// A fresh proof for `GET /data`.
    fn proof(&self) -> String {
        let url = format!("{PUBLIC_URL}/data");
        self.key
            .proof("GET", &url, Some(&self.token), None, SystemTime::now())
            .unwrap()
    }

    /// `GET /data` with the token and `proof`.
    fn request(&self, proof: &str) -> http::request::Parts {
        http::Request::builder()
            .method("GET")
            .uri("/data")
            .header("authorization", &self.authorization)
            .header("dpop", proof)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }
}

fn cached(c: &mut Criterion) {
    let issuer = issuer();
    let rt = runtime();
    let verifier = verifier(&issuer, true);
    let token = delegated_token(&issuer);
    rt.block_on(verifier.verify_token(&token)).expect("valid");
    let mut group = c.benchmark_group("cached");
    group.bench_function("verify_token", |b| {
        b.iter_custom(|iters| {
            rt.block_on(timed(iters, || async {
                black_box(verifier.verify_token(black_box(&token)).await.unwrap());
            }))
        })
    });

    // Token cached, a fresh proof verified on every request (proofs are never cached).
    let client = DpopClient::new(&issuer);
    rt.block_on(verifier.verify(&client.request(&client.proof())))
        .unwrap();
    group.bench_function("dpop_request", |b| {
        b.iter_batched(
            || client.request(&client.proof()),
            |p| rt.block_on(verifier.verify(&p)).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// The paired measurements of this bench (adjacent blocks, which a drifting machine cannot
/// move; criterion's medians are minutes apart), written to `AUTHGENT_BENCH_PAIRED_ADAPTERS`:
/// [`dpop_paired`] and [`observability_paired`].
fn paired(_: &mut Criterion) {
    let Some(out) = std::env::var_os("AUTHGENT_BENCH_PAIRED_ADAPTERS") else {
        return;
    };
    let seconds = authgent_bench::paired_seconds();
    let issuer = issuer();
    let rt = runtime();
    let (dpop, dpop_blocks) = dpop_paired(&issuer, &rt, seconds);
    let (added, added_blocks) = observability_paired(&issuer, &rt, seconds);
    let report = serde_json::json!({
        "dpop_cached_token_vs_proof_floor": dpop,
        "blocks": dpop_blocks,
        "audit_and_metrics_added_us": added,
        "audit_and_metrics_blocks": added_blocks,
    });
    std::fs::write(out, report.to_string()).expect("write the paired adapters report");
}

/// Back-to-back blocks of a DPoP request with a cached token (a fresh proof each, minted
/// before the block) and of the aws-lc-rs floor checking those same proofs' signatures with
/// the key parsed once: the median ratio of adjacent blocks, and how many.
fn dpop_paired(issuer: &TestIssuer, rt: &tokio::runtime::Runtime, seconds: f64) -> (f64, usize) {
    let verifier = verifier(issuer, true);
    let client = DpopClient::new(issuer);
    let floor = authgent_bench::Floor::for_key(Algorithm::Es256, client.key.public_jwk());
    const BLOCK: usize = 20;
    let mut ratios = Vec::new();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline || ratios.len() < 20 {
        let proofs: Vec<String> = (0..BLOCK).map(|_| client.proof()).collect();
        let requests: Vec<_> = proofs.iter().map(|proof| client.request(proof)).collect();
        let split: Vec<_> = proofs
            .iter()
            .map(|p| authgent_bench::split_jws(p))
            .collect();
        let ours = rt.block_on(async {
            let start = Instant::now();
            for parts in &requests {
                black_box(verifier.verify(parts).await.unwrap());
            }
            start.elapsed()
        });
        let start = Instant::now();
        for (input, signature) in &split {
            assert!(floor.verify(black_box(input), black_box(signature)));
        }
        let base = start.elapsed();
        ratios.push(ours.as_secs_f64() / base.as_secs_f64());
    }
    let blocks = ratios.len();
    (authgent_bench::median(&mut ratios), blocks)
}

/// Issue 27: back-to-back blocks of the same cache-hit axum request through the layer, plain
/// and with audit events written as JSON lines (to a sink that discards them: serialisation
/// counted, not the disk) and metrics recorded by a Prometheus recorder: the median of the
/// adjacent blocks' difference, in µs per request, and how many block pairs.
fn observability_paired(
    issuer: &TestIssuer,
    rt: &tokio::runtime::Runtime,
    seconds: f64,
) -> (f64, usize) {
    use axum::Router;
    use axum::routing::get;

    async fn protected(id: authgent_axum::AgentIdentity) -> &'static str {
        black_box(id.subject().len());
        "ok"
    }
    let router = |auth: AgentAuth| -> Router {
        Router::new()
            .route("/data", get(protected))
            .layer(authgent_axum::AgentAuthLayer::new(auth))
    };
    let mut plain = router(AgentAuth::builder(verifier(issuer, true)).build().unwrap());
    let mut observed = router(
        AgentAuth::builder(verifier(issuer, true))
            .audit_sink(authgent_jwks::audit::JsonLines::new(std::io::sink()))
            .build()
            .unwrap(),
    );
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let bearer = format!("Bearer {}", delegated_token(issuer));
    let request = || axum_request(&bearer);
    const BLOCK: u64 = 200;
    let block = |router: &mut Router| {
        rt.block_on(timed(BLOCK, || {
            let response = router.call(request());
            async { black_box(response.await.unwrap().status()) }
        }))
    };
    // Warm both (keys fetched, token cached, series registered).
    block(&mut plain);
    metrics::with_local_recorder(&recorder, || block(&mut observed));
    let mut added = Vec::new();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline || added.len() < 20 {
        let base = block(&mut plain);
        let with = metrics::with_local_recorder(&recorder, || block(&mut observed));
        added.push((with.as_secs_f64() - base.as_secs_f64()) * 1e6 / BLOCK as f64);
    }
    let pairs = added.len();
    (authgent_bench::median(&mut added), pairs)
}

fn axum_requests(c: &mut Criterion) {
    use axum::Router;
    use axum::routing::get;

    let issuer = issuer();
    let rt = runtime();
    let auth = AgentAuth::builder(verifier(&issuer, true)).build().unwrap();
    let token = delegated_token(&issuer);
    let bearer = format!("Bearer {token}");
    async fn plain() -> &'static str {
        "ok"
    }
    async fn protected(id: authgent_axum::AgentIdentity) -> &'static str {
        black_box(id.subject().len());
        "ok"
    }
    let without: Router = Router::new().route("/data", get(plain));
    let with: Router = Router::new()
        .route("/data", get(protected))
        .layer(authgent_axum::AgentAuthLayer::new(auth));
    let request = || axum_request(&bearer);
    // Issue 27: the same layer writing each request's audit event as a JSON line (to a sink
    // that discards it: the serialisation is counted, not the disk), and recording metrics in
    // a Prometheus recorder (this thread's only: later benches record nothing).
    let audited_auth = AgentAuth::builder(verifier(&issuer, true))
        .audit_sink(authgent_jwks::audit::JsonLines::new(std::io::sink()))
        .build()
        .unwrap();
    let audited: Router = Router::new()
        .route("/data", get(protected))
        .layer(authgent_axum::AgentAuthLayer::new(audited_auth));
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let mut group = c.benchmark_group("axum");
    for (name, router, metrics) in [
        ("without_layer", without, false),
        ("with_layer", with.clone(), false),
        ("with_layer_audit", audited.clone(), false),
        ("with_layer_metrics", with, true),
        ("with_layer_audit_metrics", audited, true),
    ] {
        let mut router = router;
        let recording = |f: &mut dyn FnMut() -> Duration| {
            if metrics {
                metrics::with_local_recorder(&recorder, f)
            } else {
                f()
            }
        };
        recording(&mut || {
            let status = rt.block_on(router.call(request())).unwrap().status();
            assert_eq!(status, 200, "{name}");
            Duration::ZERO
        });
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                recording(&mut || {
                    rt.block_on(timed(iters, || {
                        let response = router.call(request());
                        async { black_box(response.await.unwrap().status()) }
                    }))
                })
            })
        });
    }
    group.finish();
    assert!(
        handle.render().contains("authgent_decisions_total"),
        "the metrics runs recorded"
    );
}

fn actix_requests(c: &mut Criterion) {
    use actix_web::{App, HttpResponse, test, web};

    let issuer = issuer();
    let auth = AgentAuth::builder(verifier(&issuer, true)).build().unwrap();
    let token = delegated_token(&issuer);
    let bearer = format!("Bearer {token}");
    let request = || {
        test::TestRequest::get()
            .uri("/data")
            .insert_header(("authorization", bearer.as_str()))
            .to_request()
    };
    let system = actix_web::rt::System::new();
    let mut group = c.benchmark_group("actix");
    let without = system.block_on(test::init_service(App::new().route(
        "/data",
        web::get().to(|| async { HttpResponse::Ok().body("ok") }),
    )));
    actix_bench(&mut group, "without_layer", &system, &without, &request);
    let with = system.block_on(test::init_service(
        App::new()
            .wrap(authgent_actix::AgentAuthMiddleware::new(auth))
            .route(
                "/data",
                web::get().to(|id: authgent_actix::AgentIdentity| async move {
                    black_box(id.subject().len());
                    HttpResponse::Ok().body("ok")
                }),
            ),
    ));
    actix_bench(&mut group, "with_layer", &system, &with, &request);
    group.finish();
}

fn actix_bench<S, R, B>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    system: &actix_web::rt::SystemRunner,
    service: &S,
    request: &impl Fn() -> R,
) where
    S: actix_web::dev::Service<
            R,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
{
    let status = system
        .block_on(actix_web::test::call_service(service, request()))
        .status();
    assert_eq!(status, 200, "{name}");
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            system.block_on(timed(iters, || async {
                black_box(
                    actix_web::test::call_service(service, request())
                        .await
                        .status(),
                );
            }))
        })
    });
}

/// Full verifications (token cache off) through one shared verifier: one thread, then two
/// threads at once, each on its own runtime. The time is per verification.
fn scaling(c: &mut Criterion) {
    let issuer = issuer();
    let verifier = Arc::new(verifier(&issuer, false));
    let token = Arc::new(delegated_token(&issuer));
    runtime().block_on(verifier.verify_token(&token)).unwrap();
    let mut group = c.benchmark_group("scaling");
    for threads in [1u32, 2] {
        group.bench_function(format!("{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        let (verifier, token) = (&verifier, &token);
                        s.spawn(move || {
                            runtime().block_on(timed(iters, || async {
                                black_box(verifier.verify_token(token).await.unwrap());
                            }))
                        });
                    }
                });
                start.elapsed() / threads
            })
        });
    }
    group.finish();
}

/// The in-memory replay store, recording a new proof id (the path every DPoP request takes).
fn replay(c: &mut Criterion) {
    use authgent_core::dpop::{ProofId, ReplayGuard};
    // Roomy enough that the measured path is always "record a new id", never "full".
    let store = authgent_jwks::MemoryReplayStore::new(50_000_000);
    let now = SystemTime::now();
    let until = now + Duration::from_secs(120);
    let mut n: u64 = 0;
    c.bench_function("replay/check_and_record", |b| {
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
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = paired, cached, axum_requests, actix_requests, scaling, replay
}
criterion_main!(benches);
