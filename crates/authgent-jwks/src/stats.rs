//! Counters: what the cache did, for dashboards and tests.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub(crate) struct Stats {
    jwks_fetches: AtomicU64,
    metadata_fetches: AtomicU64,
    fetch_failures: AtomicU64,
    unknown_kid_rejections: AtomicU64,
    token_cache_hits: AtomicU64,
    token_cache_misses: AtomicU64,
    /// The series a verified request updates, bound to the current metrics recorder.
    pub(crate) series: crate::metrics::Bound<crate::metrics::VerifierSeries>,
}

// Each counter, and the metric it also records (crate::metrics) where there is one.
macro_rules! bump {
    ($($name:ident => $field:ident $(; $metric:expr)?),* $(,)?) => {
        impl Stats {
            $(pub(crate) fn $name(&self) {
                self.$field.fetch_add(1, Ordering::Relaxed);
                $(($metric)(self);)?
            })*
        }
    };
}

bump! {
    jwks_fetched => jwks_fetches,
    metadata_fetched => metadata_fetches,
    fetch_failed => fetch_failures,
    unknown_kid_rejected => unknown_kid_rejections; |_: &Stats| crate::metrics::unknown_kid(),
    token_cache_hit => token_cache_hits; |s: &Stats| crate::metrics::token_cache(&s.series, true),
    token_cache_miss => token_cache_misses; |s: &Stats| crate::metrics::token_cache(&s.series, false),
}

impl Stats {
    pub(crate) fn snapshot(&self) -> VerifierStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        VerifierStats {
            jwks_fetches: get(&self.jwks_fetches),
            metadata_fetches: get(&self.metadata_fetches),
            fetch_failures: get(&self.fetch_failures),
            unknown_kid_rejections: get(&self.unknown_kid_rejections),
            token_cache_hits: get(&self.token_cache_hits),
            token_cache_misses: get(&self.token_cache_misses),
        }
    }
}

/// A verifier's counters since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifierStats {
    /// JWKS requests sent.
    pub jwks_fetches: u64,
    /// Metadata (discovery) requests sent.
    pub metadata_fetches: u64,
    /// Refreshes that failed (network, status, size, document).
    pub fetch_failures: u64,
    /// Tokens refused because their `kid` is unknown.
    pub unknown_kid_rejections: u64,
    /// Requests whose token was served from the verified-token cache.
    pub token_cache_hits: u64,
    /// Requests whose token had to be verified.
    pub token_cache_misses: u64,
}
