//! `RedisReplayStore`: one DPoP replay store for every replica of a service.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

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
///   sharing one Redis apart. A key expires when its proof could no longer be accepted, so
///   Redis holds at most *proofs per second × (2 × DPoP window + 1 s)* keys (~100 bytes each).
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
    counters: Arc<Counters>,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("RedisReplayStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
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

    /// Starts a store on the Redis at `url` (`redis://[:password@]host[:port][/db]`, or
    /// `redis+unix:///path`). A namespace is required.
    pub fn builder(url: impl Into<String>) -> RedisReplayStoreBuilder {
        RedisReplayStoreBuilder {
            url: url.into(),
            namespace: None,
            timeout: Self::DEFAULT_TIMEOUT,
            retry_after: Self::DEFAULT_RETRY_AFTER,
            fail_open: false,
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
        // At least one second, like the in-memory store: an id is never held for less.
        let ttl = expires_at
            .duration_since(now)
            .unwrap_or_default()
            .max(Duration::from_secs(1));
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Box::pin(async move {
            let mut connection = self.connection.clone();
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
}

impl fmt::Debug for RedisReplayStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStoreBuilder")
            .field("url", &"<redacted>")
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
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

    /// Checks the settings and connects (waiting at most the timeout × 4 for the first
    /// connection, so a service does not start without its replay store).
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
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| RedisReplayError::Connect(e.to_string()))?;
        Ok(RedisReplayStore {
            connection,
            prefix: format!("authgent:dpop:{namespace}:").into(),
            timeout: self.timeout,
            retry_after: self.retry_after.max(Duration::from_secs(1)),
            fail_open: self.fail_open,
            counters: Arc::default(),
        })
    }
}
