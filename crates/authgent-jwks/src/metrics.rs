//! Every metric this crate records, through the exporter-agnostic `metrics` facade: nothing is
//! recorded until the application installs a recorder (Prometheus, OpenTelemetry, StatsD, …),
//! and then each is one counter or histogram update. Names are in one place here and listed
//! with their labels in docs/operations.md; [`describe_metrics`] gives them their help text.

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};

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

/// One request's decision.
pub(crate) fn decision(outcome: &'static str, error: &'static str) {
    counter!(DECISIONS, "outcome" => outcome, "error" => error).increment(1);
}

/// One verification: its outcome, error code (`""` on success) and duration.
pub(crate) fn verification(outcome: &'static str, error: &'static str, took: Duration) {
    counter!(VERIFICATIONS, "outcome" => outcome, "error" => error).increment(1);
    histogram!(VERIFICATION_SECONDS, "outcome" => outcome).record(took);
    if error == "use_dpop_nonce" {
        counter!(DPOP_NONCE).increment(1);
    }
}

/// One verified-token cache lookup.
pub(crate) fn token_cache(hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    counter!(TOKEN_CACHE, "result" => result).increment(1);
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

/// One revocation check.
pub(crate) fn revocation(outcome: &'static str) {
    counter!(REVOCATION, "outcome" => outcome).increment(1);
}

/// One audit event a sink could not write.
pub(crate) fn audit_failure() {
    counter!(AUDIT_FAILURES).increment(1);
}
