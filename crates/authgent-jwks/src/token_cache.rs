//! The verified-token cache: a token → its identity, until the token expires.
//!
//! Keyed by the token itself: a lookup is a fast keyed hash of the token (foldhash, seeded at
//! random per cache) and a full comparison of the token on a hit — no cryptographic hash per
//! request. Only tokens that passed verification are ever inserted, so a client cannot fill
//! the cache with colliding entries; a lookup for a forged token costs one hash and a compare. Memory is bounded by
//! the capacity (entries) times the token size the parser accepts.
//!
//! A hit skips the signature, never the DPoP proof (proofs are checked on every request) and
//! never the key: an entry whose key has left the JWKS is dropped on its next hit.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use authgent_core::AgentIdentity;
use moka::Expiry;

pub(crate) struct CachedToken {
    pub(crate) identity: Arc<AgentIdentity>,
    pub(crate) kid: String,
    pub(crate) key_thumbprint: String,
    /// The token's DPoP `ath` when the token is DPoP-bound: its proofs are checked on every
    /// request, and this spares hashing the token each time.
    pub(crate) access_token_hash: Option<String>,
    /// `exp` plus leeway: the last instant the token verifies, by the verifier's clock.
    pub(crate) valid_until: SystemTime,
    ttl: Duration,
}

struct TokenExpiry;

impl Expiry<Arc<str>, Arc<CachedToken>> for TokenExpiry {
    fn expire_after_create(
        &self,
        _: &Arc<str>,
        value: &Arc<CachedToken>,
        _: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

pub(crate) struct TokenCache {
    cache: moka::sync::Cache<Arc<str>, Arc<CachedToken>, foldhash::fast::RandomState>,
    max_ttl: Duration,
}

impl TokenCache {
    pub(crate) fn new(capacity: u64, max_ttl: Duration) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .expire_after(TokenExpiry)
            .build_with_hasher(foldhash::fast::RandomState::default());
        TokenCache { cache, max_ttl }
    }

    /// A cached identity still valid at `now`, whose key `key_still_published` confirms.
    pub(crate) fn get(
        &self,
        token: &str,
        now: SystemTime,
        key_still_published: impl FnOnce(&str, &str) -> bool,
    ) -> Option<Arc<CachedToken>> {
        let hit = self.cache.get(token)?;
        if now < hit.valid_until && key_still_published(&hit.kid, &hit.key_thumbprint) {
            Some(hit)
        } else {
            self.cache.invalidate(token);
            None
        }
    }

    pub(crate) fn insert(
        &self,
        token: &str,
        identity: Arc<AgentIdentity>,
        kid: &str,
        key_thumbprint: &str,
        now: SystemTime,
        leeway: Duration,
    ) {
        let Some(exp) = identity.expires_at() else {
            return;
        };
        // Checked: an `exp` near the end of time must not overflow (CONFORMANCE 30).
        let Some(valid_until) = exp.checked_add(leeway) else {
            return;
        };
        let Ok(remaining) = valid_until.duration_since(now) else {
            return;
        };
        let ttl = remaining.min(self.max_ttl);
        if ttl.is_zero() {
            return;
        }
        let access_token_hash = identity
            .dpop_jkt()
            .map(|_| authgent_core::dpop::access_token_hash(token));
        let entry = CachedToken {
            access_token_hash,
            identity,
            kid: kid.to_owned(),
            key_thumbprint: key_thumbprint.to_owned(),
            valid_until,
            ttl,
        };
        self.cache.insert(Arc::from(token), Arc::new(entry));
    }
}
