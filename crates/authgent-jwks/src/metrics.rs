//! Every metric this crate records, through the exporter-agnostic `metrics` facade: nothing is
//! recorded until the application installs a recorder (Prometheus, OpenTelemetry, StatsD, …).
//! Names are in one place here and listed with their labels in docs/operations.md;
//! [`describe_metrics`] gives them their help text.
//!
//! The series a cache-hit request updates are registered once per recorder ([`Bound`]): each
//! update is then an atomic increment, not a registry lookup (which clones the key and takes a
//! lock, ~300 ns each in the Prometheus exporter). Refusals, fetches and the replay store name
//! their series per call.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use metrics::{Counter, Histogram, Unit, counter, describe_counter, describe_histogram, histogram};

/// Per request: authentication and authorisation decisions (`outcome`, `error`).
pub(crate) const DECISIONS: &str = "authgent_decisions_total";
/// Per token verification (`outcome` = accepted / anonymous / refused, `error`).
pub(crate) const VERIFICATIONS: &str = "authgent_verifications_total";
/// Verification latency (`outcome`).
pub(crate) const VERIFICATION_SECONDS: &str = "authgent_verification_duration_seconds";
/// Verified-token cache lookups (`result` = hit / miss).
pub(crate) const TOKEN_CACHE: &str = "authgent_token_cache_lookups_total";
/// JWKS refreshes, discovery included (`issuer`, `outcome` = ok / error).
pub(crate) const FETCHES: &str = "authgent_jwks_fetches_total";
/// Tokens refused because their `kid` is unknown.
pub(crate) const UNKNOWN_KID: &str = "authgent_unknown_kid_rejections_total";
/// DPoP replay-store calls (`outcome` = fresh / replayed / unavailable).
pub(crate) const REPLAY: &str = "authgent_replay_store_checks_total";
/// Replay-store commands that failed (`admitted` = true when the store fails open).
pub(crate) const REPLAY_ERRORS: &str = "authgent_replay_store_errors_total";
/// DPoP replay-store latency.
pub(crate) const REPLAY_SECONDS: &str = "authgent_replay_store_duration_seconds";
/// Token revocation checks (`outcome` = active / revoked / cached_active / cached_revoked /
/// unavailable / unchecked (fail-open) / unsupported).
pub(crate) const REVOCATION: &str = "authgent_revocation_checks_total";
/// Requests refused for a missing or stale DPoP nonce (`use_dpop_nonce`).
pub(crate) const DPOP_NONCE: &str = "authgent_dpop_nonce_rejections_total";
/// Audit events a sink could not write.
pub(crate) const AUDIT_FAILURES: &str = "authgent_audit_write_failures_total";

/// Gives every authgent metric its help text and unit in the installed recorder (a Prometheus
/// scrape then shows `# HELP` lines). Call once, after installing the recorder; optional.
///
/// ```
/// authgent_jwks::describe_metrics(); // no recorder installed: does nothing
/// ```
pub fn describe_metrics() {
    describe_counter!(
        DECISIONS,
        "Requests decided by authgent, by outcome (allowed/refused) and error code"
    );
    describe_counter!(
        VERIFICATIONS,
        "Token verifications, by outcome (accepted/anonymous/refused) and error code"
    );
    describe_histogram!(
        VERIFICATION_SECONDS,
        Unit::Seconds,
        "Time to verify a request's credentials (token, DPoP proof, replay record)"
    );
    describe_counter!(
        TOKEN_CACHE,
        "Verified-token cache lookups, by result (hit/miss)"
    );
    describe_counter!(
        FETCHES,
        "JWKS refreshes (discovery included), by issuer and outcome (ok/error)"
    );
    describe_counter!(UNKNOWN_KID, "Tokens refused because their kid names no key");
    describe_counter!(
        REPLAY,
        "DPoP proof ids checked in the replay store, by outcome (fresh/replayed/unavailable)"
    );
    describe_counter!(
        REPLAY_ERRORS,
        "Replay-store (Redis) commands that failed; admitted=true when the store fails open"
    );
    describe_histogram!(
        REPLAY_SECONDS,
        Unit::Seconds,
        "Time to check and record a DPoP proof id in the replay store"
    );
    describe_counter!(REVOCATION, "Token revocation checks, by outcome");
    describe_counter!(
        DPOP_NONCE,
        "Requests answered use_dpop_nonce (no or a stale server nonce)"
    );
    describe_counter!(AUDIT_FAILURES, "Audit events an audit sink could not write");
}

/// The address of the recorder metrics go to now: the thread's local one, the global one, or
/// the no-op one.
fn recorder_id() -> usize {
    metrics::with_recorder(|recorder| std::ptr::from_ref(recorder).cast::<()>() as usize)
}

/// A set of series handles, registered with the current recorder.
pub(crate) trait Register {
    /// Registers every handle of the set.
    fn register() -> Self;
}

/// Handles registered with the recorder in use at first update, and again whenever another
/// recorder is in use (one installed later, a test's local recorder): never stale.
pub(crate) struct Bound<H> {
    slot: RwLock<Option<(usize, Arc<H>)>>,
}

impl<H> Default for Bound<H> {
    fn default() -> Self {
        Bound {
            slot: RwLock::new(None),
        }
    }
}

impl<H> std::fmt::Debug for Bound<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bound")
    }
}

impl<H: Register> Bound<H> {
    /// Runs `update` on the handles bound to the current recorder.
    pub(crate) fn with(&self, update: impl FnOnce(&H)) {
        let current = recorder_id();
        if let Ok(slot) = self.slot.read()
            && let Some((bound, handles)) = slot.as_ref()
            && *bound == current
        {
            return update(handles);
        }
        let handles = Arc::new(H::register());
        update(&handles);
        if let Ok(mut slot) = self.slot.write() {
            *slot = Some((current, handles));
        }
    }
}

/// What a verified request updates.
pub(crate) struct VerifierSeries {
    cache_hit: Counter,
    cache_miss: Counter,
    accepted: Counter,
    accepted_seconds: Histogram,
    anonymous: Counter,
}

impl Register for VerifierSeries {
    fn register() -> Self {
        VerifierSeries {
            cache_hit: counter!(TOKEN_CACHE, "result" => "hit"),
            cache_miss: counter!(TOKEN_CACHE, "result" => "miss"),
            accepted: counter!(VERIFICATIONS, "outcome" => "accepted", "error" => ""),
            accepted_seconds: histogram!(VERIFICATION_SECONDS, "outcome" => "accepted"),
            anonymous: counter!(VERIFICATIONS, "outcome" => "anonymous", "error" => ""),
        }
    }
}

/// What an allowed request updates.
pub(crate) struct DecisionSeries {
    allowed: Counter,
}

impl Register for DecisionSeries {
    fn register() -> Self {
        DecisionSeries {
            allowed: counter!(DECISIONS, "outcome" => "allowed", "error" => ""),
        }
    }
}

/// One allowed request.
pub(crate) fn allowed(series: &Bound<DecisionSeries>) {
    series.with(|s| s.allowed.increment(1));
}

/// One refused request.
pub(crate) fn refused(error: &'static str) {
    counter!(DECISIONS, "outcome" => "refused", "error" => error).increment(1);
}

/// One verification that accepted a token, or found none (`identity` false), and its
/// duration.
pub(crate) fn verified(series: &Bound<VerifierSeries>, identity: bool, took: Duration) {
    series.with(|s| {
        if identity {
            s.accepted.increment(1);
            s.accepted_seconds.record(took);
        } else {
            s.anonymous.increment(1);
        }
    });
}

/// One verification that refused the credentials with `error`, and its duration.
pub(crate) fn verification_refused(error: &'static str, took: Duration) {
    counter!(VERIFICATIONS, "outcome" => "refused", "error" => error).increment(1);
    histogram!(VERIFICATION_SECONDS, "outcome" => "refused").record(took);
    if error == "use_dpop_nonce" {
        counter!(DPOP_NONCE).increment(1);
    }
}

/// One verified-token cache lookup.
pub(crate) fn token_cache(series: &Bound<VerifierSeries>, hit: bool) {
    series.with(|s| match hit {
        true => s.cache_hit.increment(1),
        false => s.cache_miss.increment(1),
    });
}

/// One JWKS refresh of `issuer`'s keys.
pub(crate) fn fetch(issuer: &str, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    counter!(FETCHES, "issuer" => issuer.to_owned(), "outcome" => outcome).increment(1);
}

/// One token refused for an unknown `kid`.
pub(crate) fn unknown_kid() {
    counter!(UNKNOWN_KID).increment(1);
}

/// One replay-store call.
pub(crate) fn replay(outcome: &'static str, took: Duration) {
    counter!(REPLAY, "outcome" => outcome).increment(1);
    histogram!(REPLAY_SECONDS).record(took);
}

/// One replay-store command that failed; `admitted`: the store fails open.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn replay_store_error(admitted: bool) {
    let admitted = if admitted { "true" } else { "false" };
    counter!(REPLAY_ERRORS, "admitted" => admitted).increment(1);
}

/// One revocation check.
pub(crate) fn revocation(outcome: &'static str) {
    counter!(REVOCATION, "outcome" => outcome).increment(1);
}

/// One audit event a sink could not write.
pub(crate) fn audit_failure() {
    counter!(AUDIT_FAILURES).increment(1);
}
