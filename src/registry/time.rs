//! Times as the store keeps them (milliseconds since the Unix epoch, UTC) and as the
//! doors show them.
use chrono::{DateTime, TimeZone, Utc};

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A stored time; out-of-range values (never written by the registry) read as the epoch.
pub fn datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub fn millis(t: &DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}
