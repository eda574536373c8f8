//! Measures the replay store: time and resident memory for one million distinct proof ids
//! (the figures in docs/security.md). `cargo run --release -p authgent-jwks --example replay_sizing`
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant, SystemTime};

use authgent_core::dpop::{ProofId, ReplayGuard, ReplayVerdict};
use authgent_jwks::MemoryReplayStore;

/// Resident set size in KiB, from /proc (Linux); 0 elsewhere.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

fn main() {
    const IDS: u64 = 1_000_000;
    let before = rss_kib();
    let store = MemoryReplayStore::new(IDS);
    let now = SystemTime::now();
    let until = now + Duration::from_secs(121);
    let started = Instant::now();
    let (mut fresh, mut refused) = (0u64, 0u64);
    for n in 0..IDS {
        let id = ProofId::new(authgent_core::crypto::sha256(&n.to_le_bytes()));
        match store.check_and_record(id, now, until) {
            ReplayVerdict::Fresh => fresh += 1,
            _ => refused += 1,
        }
    }
    let elapsed = started.elapsed();
    let after = rss_kib();
    println!(
        "{IDS} distinct ids into a {}-id store: {fresh} recorded, {refused} refused (full shards), \
         {:.0} ns per id, {:.1} MiB resident ({:.0} bytes per id)",
        store.capacity(),
        elapsed.as_nanos() as f64 / IDS as f64,
        (after - before) as f64 / 1024.0,
        (after - before) as f64 * 1024.0 / fresh as f64,
    );
    let replays = (0..1000u64)
        .filter(|n| {
            let id = ProofId::new(authgent_core::crypto::sha256(&n.to_le_bytes()));
            store.check_and_record(id, now, until) == ReplayVerdict::Replayed
        })
        .count();
    println!("first 1000 ids replayed: {replays} refused as replays");
}
