//! The in-process replay store: exact, bounded, expiring (RFC 9449 §11.1, CONFORMANCE 16).
//!
//! Exact: every id recorded stays until its proof could no longer be accepted (the proof's
//! `iat` + window), whatever else arrives. Bounded: when the store is full of ids that are
//! all still live, a new id is **refused** ([`ReplayVerdict::Unavailable`], 503 with
//! `Retry-After`), never admitted unrecorded. Caches with an admission or eviction policy
//! (moka's TinyLFU, LRU) drop live ids under a flood and so are not replay stores.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_core::dpop::{ProofId, ReplayGuard, ReplayVerdict};

/// Independent locks: two cores rarely contend on one shard.
const SHARDS: usize = 16;

/// Remembers DPoP proof ids until their proofs expire, exactly, and refuses when full: the
/// default [`ReplayStore`](super::ReplayStore) of a [`Verifier`](crate::Verifier), right for
/// **one** process. Several replicas behind a load balancer each see only their own proofs, so
/// a proof accepted by one is accepted again by another: share a
/// `RedisReplayStore` between them instead (feature `redis`).
///
/// **Sizing**: a proof id lives until its `iat` + the DPoP window + 1 s, and `iat` may be up
/// to one window in the future, so an id is held at most `2 × window + 1 s` (121 s with the
/// default 60 s window). Give the store at least *peak proofs per second × 121*; at the
/// default 100 000 ids that is ~826 proofs/s sustained. Measured (`cargo run --release -p
/// authgent-jwks --example replay_sizing`): 1 M ids take ~73 bytes each resident (~70 MiB)
/// and ~1 µs each to record. Ids spread over 16 shards, so a shard may fill slightly before
/// the whole store does. Past capacity, new proofs get 503 until ids
/// expire; nothing already recorded is ever forgotten early.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use authgent_core::dpop::{ProofId, ReplayGuard, ReplayVerdict};
/// use authgent_jwks::MemoryReplayStore;
/// let store = MemoryReplayStore::new(10_000);
/// let now = SystemTime::now();
/// let until = now + Duration::from_secs(120);
/// assert_eq!(store.check_and_record(ProofId::new([7; 32]), now, until), ReplayVerdict::Fresh);
/// assert_eq!(store.check_and_record(ProofId::new([7; 32]), now, until), ReplayVerdict::Replayed);
/// ```
pub struct MemoryReplayStore {
    shards: Vec<Mutex<Shard>>,
    capacity_per_shard: usize,
}

/// Proof ids are SHA-256 outputs, uniform and not choosable: their own low bits are a good
/// hash, so no second hash (SipHash) is computed per proof.
#[derive(Clone, Copy, Default)]
struct IdHash(u64);

impl std::hash::Hasher for IdHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for other key types; fold the bytes in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

type IdMap = HashMap<u128, u64, std::hash::BuildHasherDefault<IdHash>>;

#[derive(Default)]
struct Shard {
    /// Truncated proof id → expiry (Unix seconds).
    ids: IdMap,
    /// While full: the earliest expiry among the held ids, before which no purge can free
    /// anything, so refusals cost a lookup rather than a scan.
    full_until: Option<u64>,
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

impl MemoryReplayStore {
    /// Default capacity: 100 000 ids (~7 MiB when full).
    pub const DEFAULT_CAPACITY: u64 = 100_000;

    /// A store holding at most `capacity` live ids (at least one per shard).
    pub fn new(capacity: u64) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        let capacity_per_shard = capacity.div_ceil(SHARDS).max(1);
        MemoryReplayStore {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            capacity_per_shard,
        }
    }

    /// The most ids the store holds.
    pub fn capacity(&self) -> u64 {
        (self.capacity_per_shard * SHARDS) as u64
    }

    /// Ids currently held (expired ones included until a full shard purges them).
    pub fn len(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.ids.len() as u64))
            .sum()
    }

    /// Whether the store holds no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl super::ReplayStore for MemoryReplayStore {
    fn check_and_record(
        &self,
        id: ProofId,
        now: SystemTime,
        expires_at: SystemTime,
    ) -> super::ReplayFuture<'_> {
        super::answer_now(self, id, now, expires_at)
    }
}

impl ReplayGuard for MemoryReplayStore {
    fn check_and_record(
        &self,
        id: ProofId,
        now: SystemTime,
        expires_at: SystemTime,
    ) -> ReplayVerdict {
        // 128 bits of a SHA-256 output: a collision needs ~2^64 work and would only make its
        // maker's own proof look replayed.
        let mut key = [0u8; 16];
        key.copy_from_slice(&id.0[..16]);
        let key = u128::from_le_bytes(key);
        let shard_index = (id.0[16] as usize) % SHARDS;
        let (now, expiry) = (unix_secs(now), unix_secs(expires_at));
        // A poisoned lock means a thread panicked mid-update: refuse rather than guess.
        let Ok(mut shard) = self.shards[shard_index].lock() else {
            return ReplayVerdict::Unavailable {
                retry_after: Duration::from_secs(1),
            };
        };
        if let Some(&held_until) = shard.ids.get(&key) {
            if held_until > now {
                return ReplayVerdict::Replayed;
            }
            shard.ids.remove(&key);
        }
        if shard.ids.len() >= self.capacity_per_shard {
            if let Some(until) = shard.full_until.filter(|until| now < *until) {
                return ReplayVerdict::Unavailable {
                    retry_after: Duration::from_secs(until - now),
                };
            }
            shard.ids.retain(|_, held_until| *held_until > now);
            shard.full_until = None;
            if shard.ids.len() >= self.capacity_per_shard {
                let earliest = shard.ids.values().copied().min().unwrap_or(now + 1);
                shard.full_until = Some(earliest);
                return ReplayVerdict::Unavailable {
                    retry_after: Duration::from_secs(earliest.saturating_sub(now).max(1)),
                };
            }
        }
        shard.ids.insert(key, expiry.max(now + 1));
        ReplayVerdict::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> ProofId {
        let digest = authgent_core::crypto::sha256(&n.to_le_bytes());
        ProofId::new(digest)
    }

    /// Issue 9 finding 3: moka's TinyLFU admission dropped new ids once the store was full, so
    /// 199 of 200 new proofs were accepted twice in a 1 000-id store filled with 2 000 ids.
    #[test]
    fn replay_store_full_refuses_and_never_forgets_a_live_id() {
        let store = MemoryReplayStore::new(1_000);
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let until = now + Duration::from_secs(121);
        let mut fresh = 0;
        let mut refused = 0;
        for n in 0..2_000 {
            match store.check_and_record(id(n), now, until) {
                ReplayVerdict::Fresh => fresh += 1,
                ReplayVerdict::Unavailable { retry_after } => {
                    assert!(retry_after >= Duration::from_secs(1));
                    refused += 1;
                }
                other => panic!("distinct ids are not replays: {other:?}"),
            }
        }
        assert!(fresh >= 900 && fresh <= store.capacity(), "{fresh}");
        assert_eq!(fresh + refused, 2_000);
        // Every id admitted is still refused as a replay; none is admitted twice.
        let mut replayed = 0;
        for n in 0..2_000 {
            match store.check_and_record(id(n), now, until) {
                ReplayVerdict::Replayed => replayed += 1,
                ReplayVerdict::Unavailable { .. } => {}
                other => panic!("id {n} admitted twice: {other:?}"),
            }
        }
        assert_eq!(replayed, fresh);
        // Once the ids expire, the store accepts again.
        let later = until + Duration::from_secs(1);
        assert_eq!(
            store.check_and_record(id(5_000), later, later + Duration::from_secs(121)),
            ReplayVerdict::Fresh
        );
    }

    #[test]
    fn an_expired_id_may_be_used_again_and_a_live_one_may_not() {
        let store = MemoryReplayStore::new(16);
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let until = now + Duration::from_secs(10);
        assert_eq!(
            store.check_and_record(id(1), now, until),
            ReplayVerdict::Fresh
        );
        let just_before = until - Duration::from_secs(1);
        assert_eq!(
            store.check_and_record(id(1), just_before, until),
            ReplayVerdict::Replayed
        );
        assert_eq!(
            store.check_and_record(id(1), until, until + Duration::from_secs(10)),
            ReplayVerdict::Fresh
        );
    }
}
