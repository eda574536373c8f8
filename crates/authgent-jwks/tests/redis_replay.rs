//! `RedisReplayStore` against a real `redis-server` (started per test; `cargo xtask test`
//! installs it when missing).
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authgent_core::dpop::{ProofId, ReplayVerdict};
use authgent_harness::redis::RedisServer;
use authgent_jwks::{RedisReplayError, RedisReplayStore, ReplayStore};

fn id(n: u8) -> ProofId {
    ProofId::new(authgent_core::crypto::sha256(&[n]))
}

async fn store(redis: &RedisServer, namespace: &str) -> RedisReplayStore {
    RedisReplayStore::builder(redis.url())
        .namespace(namespace)
        .connect()
        .await
        .expect("connects")
}

/// Once Redis can record again (within 15 s; every answer until then is `unavailable`), `id`
/// is recorded fresh, and then refused as a replay.
async fn records_again(
    store: &RedisReplayStore,
    id: ProofId,
    now: SystemTime,
    until: SystemTime,
    unavailable: &ReplayVerdict,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match store.check_and_record(id, now, until).await {
            ReplayVerdict::Fresh => break,
            v => assert_eq!(&v, unavailable),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not recording again within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        store.check_and_record(id, now, until).await,
        ReplayVerdict::Replayed
    );
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
        ttl > 175_000 && ttl <= 181_000,
        "expires with the proof, plus the 60 s clock-skew margin: {ttl} ms"
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
    records_again(&store, id(9), now, until, &unavailable).await;
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

/// Issue 23, item 4: with `maxmemory-policy volatile-ttl` and memory pressure, a live proof's
/// key was evicted and another replica accepted the replay. A policy other than `noeviction`
/// refuses to start, naming the setting; found at run time (after a reconnect, or `CONFIG
/// SET`), it refuses proofs until it is fixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_eviction_policy_other_than_noeviction_refuses() {
    let redis = RedisServer::start();
    for policy in [
        "volatile-ttl",
        "allkeys-lru",
        "volatile-lru",
        "allkeys-random",
    ] {
        redis.cli(&["CONFIG", "SET", "maxmemory-policy", policy]);
        let err = RedisReplayStore::builder(redis.url())
            .namespace("ns")
            .connect()
            .await
            .expect_err("an evicting Redis");
        assert!(
            matches!(&err, RedisReplayError::Eviction { policy: p } if p == policy),
            "{err}"
        );
        assert!(
            err.to_string().contains("maxmemory-policy noeviction"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("maxmemory-policy {policy}")),
            "{err}"
        );
    }
    // Accepted explicitly, it starts and records.
    let risky = RedisReplayStore::builder(redis.url())
        .namespace("ns")
        .accept_eviction_risk(true)
        .connect()
        .await
        .expect("the risk accepted");
    let now = SystemTime::now();
    let until = now + Duration::from_secs(60);
    assert_eq!(
        risky.check_and_record(id(1), now, until).await,
        ReplayVerdict::Fresh
    );

    // Started on noeviction; the policy changes, and the connection breaks (a failover): the
    // store reads the policy again before it records, and refuses meanwhile.
    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    let store = store(&redis, "ns").await;
    assert_eq!(
        store.check_and_record(id(2), now, until).await,
        ReplayVerdict::Fresh
    );
    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"]);
    redis.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    let unavailable = ReplayVerdict::Unavailable {
        retry_after: RedisReplayStore::DEFAULT_RETRY_AFTER,
    };
    // The first command after the kill fails (the connection is gone); every one after it
    // reads the policy and refuses.
    let _ = store.check_and_record(id(3), now, until).await;
    for n in 4..7 {
        assert_eq!(store.check_and_record(id(n), now, until).await, unavailable);
    }
    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    // Fixed: recorded again once the connection is back (it may still be reconnecting).
    records_again(&store, id(7), now, until, &unavailable).await;
}

/// Issue 23, item 4: where `CONFIG` is disabled (managed Redis), the policy cannot be checked:
/// the store refuses to start and says so, unless the risk is accepted explicitly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_unreadable_eviction_policy_needs_accepting_the_risk() {
    let redis = RedisServer::start_with(&["--rename-command", "CONFIG", ""]);
    let err = RedisReplayStore::builder(redis.url())
        .namespace("ns")
        .connect()
        .await
        .expect_err("CONFIG is disabled");
    assert!(
        matches!(err, RedisReplayError::PolicyUnknown { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("accept_eviction_risk"), "{err}");
    let store = RedisReplayStore::builder(redis.url())
        .namespace("ns")
        .accept_eviction_risk(true)
        .connect()
        .await
        .expect("the risk accepted");
    let now = SystemTime::now();
    let until = now + Duration::from_secs(60);
    assert_eq!(
        store.check_and_record(id(1), now, until).await,
        ReplayVerdict::Fresh
    );
    assert_eq!(
        store.check_and_record(id(1), now, until).await,
        ReplayVerdict::Replayed
    );
}

/// Issue 23, item 5: the key's lifetime was the proof's expiry minus the recording replica's
/// own clock. With that replica ahead, the key expired while a replica whose clock is right
/// still accepted the proof, and took the replay. The lifetime now adds a clock-skew margin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_replay_ttl_outlives_the_clock_skew_between_replicas() {
    let redis = RedisServer::start();
    // Wide enough that a loaded machine's pauses never expire the key within the test.
    let margin = Duration::from_secs(30);
    let connect = || {
        RedisReplayStore::builder(redis.url())
            .namespace("ns")
            .clock_skew_margin(margin)
            .connect()
    };
    let (ahead, right) = (connect().await.unwrap(), connect().await.unwrap());
    let real = SystemTime::now();
    // The proof's window ends 2 s from now. Replica A's clock is 1.5 s ahead: it records the
    // proof with 0.5 s of the window left on its clock.
    let expires_at = real + Duration::from_secs(2);
    let skew = Duration::from_millis(1_500);
    assert_eq!(
        ahead.check_and_record(id(1), real + skew, expires_at).await,
        ReplayVerdict::Fresh
    );
    // 1.2 s later the window is still open on replica B's (right) clock: the replay must be
    // refused (before the fix, the 1 s key was gone by now). B sees the proof at most at the
    // end of its window, whatever pauses the machine takes.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let now_b = SystemTime::now().min(expires_at);
    assert_eq!(
        right.check_and_record(id(1), now_b, expires_at).await,
        ReplayVerdict::Replayed
    );
    let bad = RedisReplayStore::builder(redis.url())
        .namespace("ns")
        .clock_skew_margin(Duration::from_secs(601))
        .connect()
        .await;
    assert!(matches!(bad, Err(RedisReplayError::Config(_))));
}
