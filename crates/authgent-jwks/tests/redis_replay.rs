//! `RedisReplayStore` against a real `redis-server` (started per test; `cargo xtask test`
//! installs it when missing).
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authgent_core::dpop::{ProofId, ReplayVerdict};
use authgent_harness::redis::RedisServer;
use authgent_jwks::{RedisReplayError, RedisReplayStore, ReplayStore};

fn id(n: u8) -> ProofId {
    ProofId::new(openssl::sha::sha256(&[n]))
}

async fn store(redis: &RedisServer, namespace: &str) -> RedisReplayStore {
    RedisReplayStore::builder(redis.url())
        .namespace(namespace)
        .connect()
        .await
        .expect("connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_once_per_namespace_under_a_hashed_expiring_key() {
    let redis = RedisServer::start();
    let a = store(&redis, "https://a.example").await;
    let now = SystemTime::now();
    let until = now + Duration::from_secs(121);
    assert_eq!(
        a.check_and_record(id(1), now, until).await,
        ReplayVerdict::Fresh
    );
    assert_eq!(
        a.check_and_record(id(1), now, until).await,
        ReplayVerdict::Replayed
    );
    // A second connection (another replica) sees the first one's record.
    let a2 = store(&redis, "https://a.example").await;
    assert_eq!(
        a2.check_and_record(id(1), now, until).await,
        ReplayVerdict::Replayed
    );
    // Another resource sharing the Redis has its own keyspace.
    let b = store(&redis, "https://b.example").await;
    assert_eq!(
        b.check_and_record(id(1), now, until).await,
        ReplayVerdict::Fresh
    );

    let key = format!("authgent:dpop:https://a.example:{}", id(1).to_base64url());
    assert_eq!(
        redis.cli(&["EXISTS", &key]).trim(),
        "1",
        "the key is H(jkt, jti)"
    );
    let ttl: u64 = redis.cli(&["PTTL", &key]).trim().parse().expect("a TTL");
    assert!(
        ttl > 115_000 && ttl <= 121_000,
        "expires with the proof: {ttl} ms"
    );
    assert_eq!(redis.cli(&["DBSIZE"]).trim(), "2");
    // An id whose window already closed is still held for a second, never zero.
    assert_eq!(
        a.check_and_record(id(2), now, now).await,
        ReplayVerdict::Fresh
    );
    assert_eq!(
        a.check_and_record(id(2), now, now).await,
        ReplayVerdict::Replayed
    );
    let stats = a.stats();
    assert_eq!((stats.recorded, stats.replays, stats.failures), (2, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_of_one_id_get_exactly_one_fresh() {
    let redis = RedisServer::start();
    let replicas = [
        Arc::new(store(&redis, "ns").await),
        Arc::new(store(&redis, "ns").await),
    ];
    let now = SystemTime::now();
    for round in 0..20u8 {
        let tasks: Vec<_> = (0..16)
            .map(|n| {
                let store = Arc::clone(&replicas[n % 2]);
                tokio::spawn(async move {
                    store
                        .check_and_record(id(round), now, now + Duration::from_secs(60))
                        .await
                })
            })
            .collect();
        let mut fresh = 0;
        for task in tasks {
            match task.await.expect("task") {
                ReplayVerdict::Fresh => fresh += 1,
                ReplayVerdict::Replayed => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(fresh, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_closed_when_redis_is_down_or_frozen_and_recovers() {
    let mut redis = RedisServer::start();
    let store = RedisReplayStore::builder(redis.url())
        .namespace("ns")
        .timeout(Duration::from_millis(200))
        .retry_after(Duration::from_secs(2))
        .connect()
        .await
        .expect("connects");
    let now = SystemTime::now();
    let until = now + Duration::from_secs(60);
    let unavailable = ReplayVerdict::Unavailable {
        retry_after: Duration::from_secs(2),
    };

    // Frozen (connection open, no answer): the timeout bounds the wait.
    redis.pause();
    let started = std::time::Instant::now();
    assert_eq!(store.check_and_record(id(1), now, until).await, unavailable);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    redis.resume();

    // Gone: refused, never admitted.
    redis.stop();
    for n in 2..5 {
        assert_eq!(store.check_and_record(id(n), now, until).await, unavailable);
    }
    assert!(store.stats().failures >= 4);
    assert_eq!(store.stats().admitted_unchecked, 0);

    redis.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match store.check_and_record(id(9), now, until).await {
            ReplayVerdict::Fresh => break,
            v => assert_eq!(v, unavailable),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reconnect within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        store.check_and_record(id(9), now, until).await,
        ReplayVerdict::Replayed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_open_only_when_asked_and_counts_what_it_let_through() {
    let mut redis = RedisServer::start();
    let store = RedisReplayStore::builder(redis.url())
        .namespace("ns")
        .fail_open(true)
        .connect()
        .await
        .expect("connects");
    let now = SystemTime::now();
    redis.stop();
    let until = now + Duration::from_secs(60);
    assert_eq!(
        store.check_and_record(id(1), now, until).await,
        ReplayVerdict::Fresh
    );
    assert_eq!(
        store.check_and_record(id(1), now, until).await,
        ReplayVerdict::Fresh
    );
    assert_eq!(store.stats().admitted_unchecked, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_are_explicit_and_never_print_the_password() {
    let redis = RedisServer::start();
    let missing = RedisReplayStore::builder(redis.url()).connect().await;
    assert!(
        matches!(missing, Err(RedisReplayError::Config(_))),
        "a namespace is required"
    );
    for bad in ["", "has space", &"x".repeat(257)] {
        let r = RedisReplayStore::builder(redis.url())
            .namespace(bad)
            .connect()
            .await;
        assert!(matches!(r, Err(RedisReplayError::Config(_))), "{bad:?}");
    }
    let r = RedisReplayStore::builder("http://not-redis")
        .namespace("ns")
        .connect()
        .await;
    assert!(matches!(r, Err(RedisReplayError::Config(_))));
    // Nothing listens on port 1: a connection error at start-up, not a store that admits.
    let r = RedisReplayStore::builder("redis://:hunter2@127.0.0.1:1")
        .namespace("ns")
        .connect()
        .await;
    let err = r.expect_err("no Redis on port 1");
    assert!(matches!(err, RedisReplayError::Connect(_)));
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let builder = RedisReplayStore::builder("redis://:hunter2@127.0.0.1:1").namespace("ns");
    assert!(!format!("{builder:?}").contains("hunter2"));
    let connected = store(&redis, "ns").await;
    assert!(!format!("{connected:?}").contains("redis://"));
}
