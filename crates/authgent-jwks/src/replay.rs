//! A bounded, expiring store of DPoP proof ids (RFC 9449 §11.1).

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use authgent_core::dpop::{ProofId, ReplayGuard};
use moka::Expiry;

struct ProofExpiry;

impl Expiry<ProofId, Duration> for ProofExpiry {
    fn expire_after_create(&self, _: &ProofId, ttl: &Duration, _: Instant) -> Option<Duration> {
        Some(*ttl)
    }
}

/// Remembers DPoP proof ids (32 bytes each) until their proofs could no longer be accepted.
///
/// Bounded by `capacity`: under a flood beyond it, the least useful ids are evicted first —
/// size it for (proofs per second × the iat window × 2). Each entry lives at least
/// `min_ttl` so that replays are caught even when a verifier's clock is pinned in tests.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use authgent_core::dpop::{ProofId, ReplayGuard};
/// use authgent_jwks::ReplayStore;
/// let store = ReplayStore::new(10_000);
/// let id = ProofId([7; 32]);
/// let until = SystemTime::now() + Duration::from_secs(120);
/// assert!(store.check_and_record(id, until));
/// assert!(!store.check_and_record(id, until)); // replay
/// ```
pub struct ReplayStore {
    seen: moka::sync::Cache<ProofId, Duration>,
    min_ttl: Duration,
}

impl fmt::Debug for ReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayStore")
            .field("capacity", &self.seen.policy().max_capacity())
            .field("min_ttl", &self.min_ttl)
            .finish_non_exhaustive()
    }
}

impl ReplayStore {
    /// Default capacity: 100 000 ids (a few MiB).
    pub const DEFAULT_CAPACITY: u64 = 100_000;

    /// A store holding at most `capacity` ids.
    pub fn new(capacity: u64) -> Self {
        ReplayStore {
            seen: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(ProofExpiry)
                .build(),
            min_ttl: Duration::from_secs(120),
        }
    }

    /// Ids currently held (after pending evictions are applied).
    pub fn len(&self) -> u64 {
        self.seen.run_pending_tasks();
        self.seen.entry_count()
    }

    /// Whether the store holds no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for ReplayStore {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl ReplayGuard for ReplayStore {
    fn check_and_record(&self, id: ProofId, expires_at: SystemTime) -> bool {
        let ttl = expires_at
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .max(self.min_ttl);
        // `or_insert_with` coalesces concurrent initialisations of one key (plain `or_insert`
        // does not), so of two racing uses of one id exactly one is fresh.
        self.seen.entry(id).or_insert_with(|| ttl).is_fresh()
    }
}
