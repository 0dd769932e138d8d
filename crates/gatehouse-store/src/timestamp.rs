//! One precision for every stored time. PostgreSQL keeps microseconds, SQLite keeps whatever
//! text it is given; truncating to microseconds before writing makes both backends return
//! exactly the value that was stored, so tests and callers can compare times for equality.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time at storage precision.
pub(crate) fn now() -> DateTime<Utc> {
    stored(Utc::now())
}

/// `at` at storage precision (microseconds).
pub(crate) fn stored(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}
