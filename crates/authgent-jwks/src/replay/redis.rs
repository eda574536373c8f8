//! `RedisReplayStore`: one DPoP replay store for every replica of a service.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use authgent_core::ConfigError;
use authgent_core::dpop::{ProofId, ReplayVerdict};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{ReplayFuture, ReplayStore};

/// Records DPoP proof ids in Redis, so that every replica behind a load balancer refuses a
/// proof any of them accepted (RFC 9449 §11.1 across processes).
///
/// - **One atomic command per proof**: `SET <key> 1 NX PX <ms>`. Redis answers `OK` to
///   exactly one of any number of concurrent writers of a key; the others get nil, a replay.
/// - **Keys**: `authgent:dpop:<namespace>:<id>`, where `<id>` is the proof id — SHA-256 over
///   the key thumbprint and the `jti`, base64url — never the proof or the token. The
///   namespace (required; give every resource its own, e.g. its audience) keeps two services
///   sharing one Redis apart. A key expires when its proof could no longer be accepted by
///   any replica — the end of its window on the recording replica's clock **plus a clock-skew
///   margin** (default 60 s, [`clock_skew_margin`](RedisReplayStoreBuilder::clock_skew_margin)),
///   so a replica whose clock is behind still finds the key — and Redis holds at most
///   *proofs per second × (2 × DPoP window + 1 s + margin)* keys (~100 bytes each).
/// - **Nothing evicts a live id**: Redis must run with `maxmemory-policy noeviction` (a full
///   Redis then refuses writes, and the store refuses proofs with `503`; any other policy may
///   drop a live key under memory pressure, and the replay passes). The policy is read with
///   `CONFIG GET` at [`connect`](RedisReplayStoreBuilder::connect) — any other policy, or a
///   Redis where `CONFIG` is disabled, refuses to start unless
///   [`accept_eviction_risk`](RedisReplayStoreBuilder::accept_eviction_risk) — and read again
///   after every failed command (a reconnect may reach another server) and every 30 s
///   (`CONFIG SET` at run time); a policy found wrong then refuses proofs with `503`.
/// - **One multiplexed connection** per store (clone the store, or share it in an `Arc`, to
///   share the connection), re-established in the background when it breaks.
/// - **Fails closed**: when Redis does not answer within the timeout (default 250 ms) or
///   answers an error, the proof is refused with `503` and `Retry-After` (default 1 s),
///   never accepted unrecorded. [`fail_open`](RedisReplayStoreBuilder::fail_open) accepts
///   such proofs instead — replays then pass while Redis is down — for services that prefer
///   availability, explicitly.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use authgent_jwks::{RedisReplayStore, Verifier};
/// let store = RedisReplayStore::builder("redis://127.0.0.1:6379")
///     .namespace("https://tools.example.com")
///     .connect()
///     .await?;
/// let verifier = Verifier::builder()
///     .issuer("https://as.example.com")
///     .audience("https://tools.example.com")
///     .external_url("https://tools.example.com")
///     .replay_store(store)
///     .build()?;
/// # let _ = verifier; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisReplayStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
    retry_after: Duration,
    fail_open: bool,
    skew_margin: Duration,
    policy: Arc<PolicyCheck>,
    counters: Arc<Counters>,
}

/// When the eviction policy was last found safe, and whether it must be read again.
#[derive(Debug)]
struct PolicyCheck {
    started: Instant,
    /// Milliseconds since `started` of the last good reading; `u64::MAX`: read it again
    /// before the next proof.
    verified_at: AtomicU64,
    accept_risk: bool,
}

impl PolicyCheck {
    /// How often the policy is read again while everything works.
    const RECHECK: Duration = Duration::from_secs(30);

    fn due(&self) -> bool {
        let at = self.verified_at.load(Ordering::Relaxed);
        at == u64::MAX || self.elapsed_ms().saturating_sub(at) >= Self::RECHECK.as_millis() as u64
    }

    fn verified(&self) {
        self.verified_at.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    fn read_again(&self) {
        self.verified_at.store(u64::MAX, Ordering::Relaxed);
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }
}

/// Redis's `maxmemory-policy`, as far as it could be read.
#[derive(Debug)]
enum EvictionPolicy {
    NoEviction,
    Evicting(String),
    /// `CONFIG GET` refused (renamed, disabled or denied by ACL, as on managed Redis).
    Unreadable(String),
}

async fn read_policy(
    connection: &mut ConnectionManager,
    timeout: Duration,
) -> Result<EvictionPolicy, String> {
    let mut command = redis::cmd("CONFIG");
    command.arg("GET").arg("maxmemory-policy");
    let answer = tokio::time::timeout(
        timeout,
        command.query_async::<std::collections::HashMap<String, String>>(connection),
    )
    .await;
    match answer {
        Err(_) => Err(format!("no answer to CONFIG GET within {timeout:?}")),
        Ok(Err(e)) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
            Err(e.to_string())
        }
        Ok(Err(e)) => Ok(EvictionPolicy::Unreadable(e.to_string())),
        Ok(Ok(values)) => Ok(match values.get("maxmemory-policy") {
            Some(policy) if policy == "noeviction" => EvictionPolicy::NoEviction,
            Some(policy) => EvictionPolicy::Evicting(policy.clone()),
            None => EvictionPolicy::Unreadable("CONFIG GET returned no maxmemory-policy".into()),
        }),
    }
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("RedisReplayStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
            .field("skew_margin", &self.skew_margin)
            .finish_non_exhaustive()
    }
}

/// What a [`RedisReplayStore`] has done since it connected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisReplayStats {
    /// Proof ids recorded for the first time.
    pub recorded: u64,
    /// Proofs refused as replays.
    pub replays: u64,
    /// Commands that failed or timed out (each one refused, or admitted when failing open).
    pub failures: u64,
    /// Proofs admitted without a replay check because the store fails open.
    pub admitted_unchecked: u64,
}

#[derive(Debug, Default)]
struct Counters {
    recorded: AtomicU64,
    replays: AtomicU64,
    failures: AtomicU64,
    admitted_unchecked: AtomicU64,
    /// Whether the last command failed: failures are logged when they start and end, not
    /// once per request.
    failing: AtomicBool,
}

impl RedisReplayStore {
    /// Default time to wait for Redis before the proof is refused (or admitted, failing open).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
    /// Default `Retry-After` of the `503` sent while Redis cannot record.
    pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
    /// Default clock-skew margin added to every key's lifetime: the default DPoP `iat`
    /// window, so replicas whose clocks differ by up to a minute share one record.
    pub const DEFAULT_CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(60);

    /// Starts a store on the Redis at `url` (`redis://[:password@]host[:port][/db]`, or
    /// `redis+unix:///path`). A namespace is required.
    pub fn builder(url: impl Into<String>) -> RedisReplayStoreBuilder {
        RedisReplayStoreBuilder {
            url: url.into(),
            namespace: None,
            timeout: Self::DEFAULT_TIMEOUT,
            retry_after: Self::DEFAULT_RETRY_AFTER,
            fail_open: false,
            skew_margin: Self::DEFAULT_CLOCK_SKEW_MARGIN,
            accept_eviction_risk: false,
        }
    }

    /// Counters since the store connected.
    pub fn stats(&self) -> RedisReplayStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let c = &self.counters;
        RedisReplayStats {
            recorded: get(&c.recorded),
            replays: get(&c.replays),
            failures: get(&c.failures),
            admitted_unchecked: get(&c.admitted_unchecked),
        }
    }

    fn key(&self, id: ProofId) -> String {
        let mut key = String::with_capacity(self.prefix.len() + 43);
        key.push_str(&self.prefix);
        key.push_str(&id.to_base64url());
        key
    }

    fn answered(&self, verdict: ReplayVerdict) -> ReplayVerdict {
        let c = &self.counters;
        if c.failing.swap(false, Ordering::Relaxed) {
            tracing::info!(
                prefix = &*self.prefix,
                "DPoP replay store: Redis answers again"
            );
        }
        match verdict {
            ReplayVerdict::Fresh => c.recorded.fetch_add(1, Ordering::Relaxed),
            _ => c.replays.fetch_add(1, Ordering::Relaxed),
        };
        verdict
    }

    fn failed(&self, why: &dyn fmt::Display) -> ReplayVerdict {
        let c = &self.counters;
        c.failures.fetch_add(1, Ordering::Relaxed);
        crate::metrics::replay_store_error(self.fail_open);
        // The connection may be re-established to another server: read its policy first.
        self.policy.read_again();
        if !c.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                prefix = &*self.prefix,
                fail_open = self.fail_open,
                "DPoP replay store: Redis cannot record proofs ({why}); {}",
                if self.fail_open {
                    "admitting proofs WITHOUT a replay check"
                } else {
                    "refusing DPoP requests with 503"
                }
            );
        }
        if self.fail_open {
            c.admitted_unchecked.fetch_add(1, Ordering::Relaxed);
            ReplayVerdict::Fresh
        } else {
            ReplayVerdict::Unavailable {
                retry_after: self.retry_after,
            }
        }
    }
}

impl ReplayStore for RedisReplayStore {
    fn check_and_record(
        &self,
        id: ProofId,
        now: SystemTime,
        expires_at: SystemTime,
    ) -> ReplayFuture<'_> {
        let key = self.key(id);
        // Until the end of the proof's window on this replica's clock, plus the skew margin
        // for replicas whose clocks are behind; at least one second, like the in-memory store.
        let ttl = expires_at
            .duration_since(now)
            .unwrap_or_default()
            .max(Duration::from_secs(1))
            .saturating_add(self.skew_margin);
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Box::pin(async move {
            let mut connection = self.connection.clone();
            if self.policy.due() {
                match read_policy(&mut connection, self.timeout).await {
                    Err(e) => return self.failed(&e),
                    Ok(EvictionPolicy::NoEviction) => self.policy.verified(),
                    Ok(_) if self.policy.accept_risk => self.policy.verified(),
                    Ok(EvictionPolicy::Evicting(policy)) => {
                        return self.failed(&format_args!(
                            "maxmemory-policy is now {policy}: a live proof id could be evicted \
                             (set it to noeviction)"
                        ));
                    }
                    Ok(EvictionPolicy::Unreadable(why)) => {
                        return self.failed(&format_args!(
                            "maxmemory-policy cannot be read any more ({why})"
                        ));
                    }
                }
            }
            let mut command = redis::cmd("SET");
            command.arg(key).arg(1).arg("NX").arg("PX").arg(ttl_ms);
            let answer = tokio::time::timeout(
                self.timeout,
                command.query_async::<Option<String>>(&mut connection),
            )
            .await;
            match answer {
                Ok(Ok(Some(_))) => self.answered(ReplayVerdict::Fresh),
                Ok(Ok(None)) => self.answered(ReplayVerdict::Replayed),
                Ok(Err(e)) => self.failed(&e),
                Err(_) => self.failed(&format_args!("no answer within {:?}", self.timeout)),
            }
        })
    }
}

/// Configures a [`RedisReplayStore`].
#[must_use]
pub struct RedisReplayStoreBuilder {
    url: String,
    namespace: Option<String>,
    timeout: Duration,
    retry_after: Duration,
    fail_open: bool,
    skew_margin: Duration,
    accept_eviction_risk: bool,
}

impl fmt::Debug for RedisReplayStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStoreBuilder")
            .field("url", &"<redacted>")
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
            .field("skew_margin", &self.skew_margin)
            .field("accept_eviction_risk", &self.accept_eviction_risk)
            .finish_non_exhaustive()
    }
}

/// Why a [`RedisReplayStore`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisReplayError {
    /// A setting is missing or unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Redis did not answer at start-up: start it, or check the URL and its password.
    #[error("could not connect to the Redis replay store: {0}")]
    Connect(String),
    /// Redis may evict keys before they expire, and then forget a live proof id (a replay
    /// passes). Set `maxmemory-policy noeviction` on this Redis (`CONFIG SET
    /// maxmemory-policy noeviction`, and in its configuration file), or use a Redis of its
    /// own for the replay store.
    #[error(
        "the Redis replay store needs maxmemory-policy noeviction, but this Redis has \
         maxmemory-policy {policy}: under memory pressure it could evict a live DPoP proof id \
         and accept a replay. Set maxmemory-policy noeviction (or accept the risk explicitly \
         with RedisReplayStoreBuilder::accept_eviction_risk)"
    )]
    Eviction {
        /// The policy Redis reported.
        policy: String,
    },
    /// `CONFIG GET maxmemory-policy` is refused (disabled or renamed, as on many managed
    /// Redis services), so the store cannot know that live ids are never evicted.
    #[error(
        "cannot read this Redis's maxmemory-policy ({reason}): the replay store needs \
         noeviction and cannot check it. Make sure the service is set to noeviction, then \
         accept the risk explicitly with RedisReplayStoreBuilder::accept_eviction_risk(true)"
    )]
    PolicyUnknown {
        /// Redis's answer to `CONFIG GET`.
        reason: String,
    },
}

impl RedisReplayStoreBuilder {
    /// The keyspace of this resource (required): every replica of one service uses the same
    /// namespace, distinct services distinct ones. Visible ASCII, at most 256 bytes; the
    /// resource's audience is a good choice.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// How long to wait for Redis (default 250 ms; between 1 ms and 10 s). Past it the proof
    /// is refused with `503` (or admitted, failing open).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `Retry-After` of the `503` sent while Redis cannot record (default 1 s).
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Admit proofs without a replay check while Redis cannot record (default: refuse them
    /// with `503`). Replayed proofs pass during an outage; every such admission is counted in
    /// [`RedisReplayStats::admitted_unchecked`] and the outage is logged at `warn`.
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    /// How much longer than its proof's window each key lives (default
    /// [`DEFAULT_CLOCK_SKEW_MARGIN`](RedisReplayStore::DEFAULT_CLOCK_SKEW_MARGIN), 60 s; at
    /// most 10 min). The window ends on the clock of the replica that recorded the proof; a
    /// replica whose clock is behind accepts the proof for that much longer, so the key must
    /// outlive it. Keep every replica's clock within this margin of the others (NTP).
    pub fn clock_skew_margin(mut self, margin: Duration) -> Self {
        self.skew_margin = margin;
        self
    }

    /// Start, and keep recording, even when Redis's `maxmemory-policy` is not `noeviction`
    /// or cannot be read (`CONFIG` disabled, as on many managed Redis services). Default:
    /// refuse to start. With it, a Redis under memory pressure may evict a live proof id and
    /// accept its replay; the policy found is logged at `warn` when the store connects. Use
    /// it where the service guarantees `noeviction` but hides `CONFIG`.
    pub fn accept_eviction_risk(mut self, accept: bool) -> Self {
        self.accept_eviction_risk = accept;
        self
    }

    /// Checks the settings and connects (waiting at most the timeout × 4 for the first
    /// connection, so a service does not start without its replay store), then reads Redis's
    /// `maxmemory-policy`: anything but `noeviction`, or a policy that cannot be read, is an
    /// error unless [`accept_eviction_risk`](Self::accept_eviction_risk).
    pub async fn connect(self) -> Result<RedisReplayStore, RedisReplayError> {
        let namespace = self.namespace.ok_or(ConfigError::Required {
            setting: "namespace",
            fix: "call .namespace(..) with this resource's identifier (e.g. its audience), the same on every replica",
        })?;
        if namespace.is_empty()
            || namespace.len() > 256
            || !namespace.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ConfigError::Invalid {
                setting: "namespace",
                reason: "1 to 256 bytes of visible ASCII",
            }
            .into());
        }
        if self.skew_margin > Duration::from_secs(600) {
            return Err(ConfigError::Invalid {
                setting: "clock_skew_margin",
                reason: "at most 10 min",
            }
            .into());
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(10) {
            return Err(ConfigError::Invalid {
                setting: "timeout",
                reason: "between 1 ms and 10 s",
            }
            .into());
        }
        let client = redis::Client::open(self.url.as_str()).map_err(|_| ConfigError::Invalid {
            setting: "Redis URL",
            reason: "redis://[:password@]host[:port][/db] or redis+unix:///path",
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout * 4))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let mut connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| RedisReplayError::Connect(e.to_string()))?;
        let policy = read_policy(&mut connection, self.timeout * 4)
            .await
            .map_err(RedisReplayError::Connect)?;
        match (policy, self.accept_eviction_risk) {
            (EvictionPolicy::NoEviction, _) => {}
            (EvictionPolicy::Evicting(policy), false) => {
                return Err(RedisReplayError::Eviction { policy });
            }
            (EvictionPolicy::Unreadable(reason), false) => {
                return Err(RedisReplayError::PolicyUnknown { reason });
            }
            (EvictionPolicy::Evicting(policy), true) => tracing::warn!(
                namespace,
                policy,
                "DPoP replay store: Redis has maxmemory-policy {policy}, not noeviction; \
                 under memory pressure a live proof id may be evicted and its replay accepted \
                 (accepted explicitly with accept_eviction_risk)"
            ),
            (EvictionPolicy::Unreadable(reason), true) => tracing::warn!(
                namespace,
                "DPoP replay store: cannot read Redis's maxmemory-policy ({reason}); make sure \
                 it is noeviction, or a live proof id may be evicted and its replay accepted \
                 (accepted explicitly with accept_eviction_risk)"
            ),
        }
        let policy = PolicyCheck {
            started: Instant::now(),
            verified_at: AtomicU64::new(0),
            accept_risk: self.accept_eviction_risk,
        };
        Ok(RedisReplayStore {
            connection,
            prefix: format!("authgent:dpop:{namespace}:").into(),
            timeout: self.timeout,
            retry_after: self.retry_after.max(Duration::from_secs(1)),
            fail_open: self.fail_open,
            skew_margin: self.skew_margin,
            policy: Arc::new(policy),
            counters: Arc::default(),
        })
    }
}
