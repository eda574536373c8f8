//! Two replicas of the example (real processes) behind one public URL, sharing one real Redis
//! replay store and one DPoP nonce secret, with tokens from the real authgent-server.
//!
//! Named `interop_*`: they need the real server `cargo xtask test` starts (and redis-server,
//! which it installs when missing).

use std::time::{Duration, SystemTime};

use authgent_core::dpop::DpopKey;
use authgent_harness::contract::{Response, ServerProcess, send};
use authgent_harness::observability;
use authgent_harness::real_server::RealServer;
use authgent_harness::redis::RedisServer;

const BIN: &str = env!("CARGO_BIN_EXE_axum-resource-server");
/// The load balancer's URL: what clients address, so what every DPoP `htu` names.
const PUBLIC_URL: &str = "https://api.replicas.test";
const ROUTE: &str = "/tools/search";
/// Both replicas' nonce secret (base64 of 32 bytes), as an operator would configure it.
const NONCE_SECRET: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

/// One replica: the example trusting the real server, behind `PUBLIC_URL`, with `extra` env.
async fn replica(real: &RealServer, extra: &[(&str, &str)]) -> ServerProcess {
    let mut env = vec![
        ("AUTHGENT_ISSUER", real.url.as_str()),
        // the real server's client-credentials tokens are issued for its own URL
        ("AUTHGENT_AUDIENCE", real.url.as_str()),
        ("PUBLIC_URL", PUBLIC_URL),
        ("BIND", "127.0.0.1:0"),
    ];
    env.extend_from_slice(extra);
    ServerProcess::start(BIN, &[], &env)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Two replicas sharing `redis` (when given) and the nonce secret (when `nonces`).
async fn replicas(
    real: &RealServer,
    redis: Option<&RedisServer>,
    nonces: bool,
) -> (ServerProcess, ServerProcess) {
    let url = redis.map(RedisServer::url);
    let mut env = Vec::new();
    if let Some(url) = &url {
        env.push(("AUTHGENT_REPLAY_REDIS", url.as_str()));
    }
    if nonces {
        env.push(("AUTHGENT_DPOP_NONCE_SECRET", NONCE_SECRET));
    }
    (replica(real, &env).await, replica(real, &env).await)
}

/// A DPoP-bound token from the real server, and its key.
async fn bound_token(real: &RealServer) -> (String, DpopKey) {
    let agent = real.register(&["search:execute"]).await;
    let key = DpopKey::generate_es256().expect("a DPoP key");
    let token = real.dpop_token(&agent, "search:execute", &key).await;
    (token, key)
}

fn proof(key: &DpopKey, token: &str, nonce: Option<&str>) -> String {
    key.proof(
        "POST",
        &format!("{PUBLIC_URL}{ROUTE}"),
        Some(token),
        nonce,
        SystemTime::now(),
    )
    .expect("a proof")
}

async fn call(replica: &ServerProcess, token: &str, proof: &str) -> Response {
    let authorization = format!("DPoP {token}");
    send(
        "POST",
        &format!("http://{}{ROUTE}", replica.addr),
        &[("authorization", &authorization), ("dpop", proof)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_replicas_a_proof_accepted_by_one_replica_is_refused_by_the_other() {
    let real = RealServer::default_instance();
    let redis = RedisServer::start();
    let (a, b) = replicas(&real, Some(&redis), false).await;
    let (token, key) = bound_token(&real).await;

    let p = proof(&key, &token, None);
    let r = call(&a, &token, &p).await;
    assert_eq!(r.status, 200, "replica A accepts a fresh proof: {}", r.body);
    let r = call(&b, &token, &p).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_dpop_proof")),
        "replica B refuses the proof replica A accepted: {}",
        r.body
    );
    let r = call(&a, &token, &p).await;
    assert_eq!(r.status, 401, "and so does replica A");
    // A fresh proof of the same key is good at either replica.
    assert_eq!(
        call(&b, &token, &proof(&key, &token, None)).await.status,
        200
    );

    // The control: the same scenario with each replica's own in-memory store lets the replay
    // through — which is what the shared store above prevents.
    let (c, d) = replicas(&real, None, false).await;
    let p = proof(&key, &token, None);
    assert_eq!(call(&c, &token, &p).await.status, 200);
    assert_eq!(
        call(&d, &token, &p).await.status,
        200,
        "two in-memory stores do not see each other's proofs"
    );
    for server in [a, b, c, d] {
        assert!(server.terminate().await, "a replica did not stop cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_replicas_a_nonce_issued_by_one_replica_is_accepted_by_the_other() {
    let real = RealServer::default_instance();
    let redis = RedisServer::start();
    let (a, b) = replicas(&real, Some(&redis), true).await;
    let (token, key) = bound_token(&real).await;

    let r = call(&a, &token, &proof(&key, &token, None)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("use_dpop_nonce")),
        "{}",
        r.body
    );
    let nonce = r
        .header("dpop-nonce")
        .expect("a DPoP-Nonce from replica A")
        .to_owned();
    let r = call(&b, &token, &proof(&key, &token, Some(&nonce))).await;
    assert_eq!(r.status, 200, "replica B accepts A's nonce: {}", r.body);
    let r = call(&a, &token, &proof(&key, &token, Some(&nonce))).await;
    assert_eq!(r.status, 200, "so does A itself: {}", r.body);

    // A replica with another secret does not: the nonce is the secret's, not the process's.
    let other = replica(
        &real,
        &[(
            "AUTHGENT_DPOP_NONCE_SECRET",
            "ESIzRFVmd4iZqrvM3e7/ABEiM0RVZneImaq7zN3u/wA=",
        )],
    )
    .await;
    let r = call(&other, &token, &proof(&key, &token, Some(&nonce))).await;
    assert_eq!(r.body["error"], "use_dpop_nonce", "{}", r.body);
    // During a rotation (new secret current, old one previous) the old nonce still passes.
    let rotating = replica(
        &real,
        &[
            (
                "AUTHGENT_DPOP_NONCE_SECRET",
                "ESIzRFVmd4iZqrvM3e7/ABEiM0RVZneImaq7zN3u/wA=",
            ),
            ("AUTHGENT_DPOP_NONCE_SECRET_PREVIOUS", NONCE_SECRET),
            ("AUTHGENT_REPLAY_REDIS", &redis.url()),
        ],
    )
    .await;
    let r = call(&rotating, &token, &proof(&key, &token, Some(&nonce))).await;
    assert_eq!(r.status, 200, "the previous secret's nonce: {}", r.body);
    for server in [a, b, other, rotating] {
        assert!(server.terminate().await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_replicas_the_same_proof_sent_to_both_at_once_is_accepted_exactly_once() {
    let real = RealServer::default_instance();
    let redis = RedisServer::start();
    let (a, b) = replicas(&real, Some(&redis), false).await;
    let (token, key) = bound_token(&real).await;
    for round in 0..25 {
        let p = proof(&key, &token, None);
        let (ra, rb) = tokio::join!(call(&a, &token, &p), call(&b, &token, &p));
        let mut statuses = [ra.status, rb.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 401],
            "round {round}: exactly one replica accepts ({} / {})",
            ra.body,
            rb.body
        );
    }
    assert!(a.terminate().await && b.terminate().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_replicas_refuse_with_503_while_redis_is_down_and_recover() {
    let real = RealServer::default_instance();
    let mut redis = RedisServer::start();
    // Each replica serves its metrics (issue 27): the outage is counted.
    let url = redis.url();
    let env = [
        ("AUTHGENT_REPLAY_REDIS", url.as_str()),
        ("METRICS_BIND", "127.0.0.1:0"),
    ];
    let (a, b) = (replica(&real, &env).await, replica(&real, &env).await);
    let (token, key) = bound_token(&real).await;
    let searcher = real.register(&["search:execute"]).await;
    let bearer = format!(
        "Bearer {}",
        real.client_credentials(&searcher, "search:execute").await
    );
    assert_eq!(
        call(&a, &token, &proof(&key, &token, None)).await.status,
        200
    );

    redis.stop();
    for replica in [&a, &b] {
        let r = call(replica, &token, &proof(&key, &token, None)).await;
        assert_eq!(
            r.status, 503,
            "no replay check, no admission (not 200, not 500): {}",
            r.body
        );
        assert_eq!(r.body["error"], "temporarily_unavailable", "{}", r.body);
        let retry_after: u64 = r
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .expect("Retry-After in seconds");
        assert!(retry_after >= 1);
        // A request that needs no replay check is served meanwhile.
        let url = format!("http://{}{ROUTE}", replica.addr);
        let r = send("POST", &url, &[("authorization", &bearer)]).await;
        assert_eq!(
            r.status, 200,
            "a bearer token needs no replay store: {}",
            r.body
        );
        // One failed Redis command, refused (not admitted), and its 503 decision.
        let (text, m) = observability::scrape(replica).await;
        let sample = |name, labels: &[(&str, &str)]| observability::sample(&m, name, labels);
        assert_eq!(
            sample(
                "authgent_replay_store_errors_total",
                &[("admitted", "false")]
            ),
            1.0,
            "{text}"
        );
        assert_eq!(
            sample(
                "authgent_replay_store_checks_total",
                &[("outcome", "unavailable")]
            ),
            1.0,
            "{text}"
        );
        assert_eq!(
            sample(
                "authgent_decisions_total",
                &[("outcome", "refused"), ("error", "temporarily_unavailable")]
            ),
            1.0,
            "{text}"
        );
    }

    redis.restart();
    for replica in [&a, &b] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let r = call(replica, &token, &proof(&key, &token, None)).await;
            if r.status == 200 {
                break;
            }
            assert_eq!(r.status, 503, "only 503 while reconnecting: {}", r.body);
            assert!(
                tokio::time::Instant::now() < deadline,
                "no recovery 15 s after Redis came back"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // And replays are refused again across replicas.
    let p = proof(&key, &token, None);
    assert_eq!(call(&a, &token, &p).await.status, 200);
    assert_eq!(call(&b, &token, &p).await.status, 401);
    assert!(a.terminate().await && b.terminate().await);
}

/// A replica that cannot have its shared state does not start (and so never serves with a
/// per-process nonce secret or an unshared replay store by accident).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_an_unusable_secret_or_redis_refuses_to_start() {
    for env in [
        [
            ("AUTHGENT_DPOP_NONCE_SECRET", "c2hvcnQ="),
            ("BIND", "127.0.0.1:0"),
        ],
        [
            ("AUTHGENT_DPOP_NONCE_SECRET", "not base64!"),
            ("BIND", "127.0.0.1:0"),
        ],
        // nothing listens on port 1
        [
            ("AUTHGENT_REPLAY_REDIS", "redis://127.0.0.1:1"),
            ("BIND", "127.0.0.1:0"),
        ],
        [
            ("AUTHGENT_REPLAY_REDIS", "http://not-redis"),
            ("BIND", "127.0.0.1:0"),
        ],
    ] {
        let started = ServerProcess::start(BIN, &["--embedded"], &env).await;
        let err = started.expect_err("a misconfigured replica must not start");
        assert!(
            err.contains("exited before printing LISTENING"),
            "{env:?}: {err}"
        );
    }
}
