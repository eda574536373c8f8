//! Time is an argument in this crate: callers pass `now`, tests pin it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (negative before 1970), saturating.
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Latest time this crate represents: 9999-12-31T23:59:59Z. Later NumericDates saturate here,
/// so sums on the result (`exp + leeway`) stay far from `SystemTime`'s overflow.
pub(crate) const MAX_UNIX_SECONDS: i64 = 253_402_300_799;

/// The `SystemTime` for a NumericDate, saturating at year 0 and year 9999 (CONFORMANCE 30).
pub(crate) fn from_unix_seconds(secs: i64) -> SystemTime {
    let secs = secs.clamp(-62_135_596_800, MAX_UNIX_SECONDS);
    let d = Duration::from_secs(secs.unsigned_abs());
    let t = if secs >= 0 {
        UNIX_EPOCH.checked_add(d)
    } else {
        UNIX_EPOCH.checked_sub(d)
    };
    t.unwrap_or(UNIX_EPOCH)
}

/// Whole seconds of a duration as i64, saturating.
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
