//! UTC timestamps as stored in the database, and today's date in France.
//!
//! Timestamps are stored as fixed-width RFC 3339 text in UTC
//! (`2026-11-22T14:22:17.123456Z`). The fixed width makes lexical order equal
//! to chronological order on both backends, and text decodes through the
//! `Any` driver, which has no portable timestamp type.

use chrono::{DateTime, SecondsFormat, Utc};

/// Current time, truncated to microseconds so that a stored and re-read value
/// compares equal to the original.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    let micros = now.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(now)
}

/// Today in France (Europe/Paris): the day of an invoice, a payment, a
/// decision, whatever the server's own zone.
pub fn today() -> chrono::NaiveDate {
    now().with_timezone(&chrono_tz::Europe::Paris).date_naive()
}

/// The day in France of a stored timestamp.
pub fn paris_day(t: DateTime<Utc>) -> chrono::NaiveDate {
    t.with_timezone(&chrono_tz::Europe::Paris).date_naive()
}

/// Formats a timestamp for storage.
pub fn to_db(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored timestamp. Returns `None` for text that is not one, which
/// only happens if someone wrote to the database by hand.
pub fn from_db(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact() {
        let t = now();
        assert_eq!(from_db(&to_db(t)), Some(t));
    }

    #[test]
    fn lexical_order_is_chronological() {
        let a = DateTime::from_timestamp(1_000_000_000, 0).expect("valid");
        let b = DateTime::from_timestamp(1_000_000_000, 1_000).expect("valid");
        let c = DateTime::from_timestamp(2_000_000_000, 0).expect("valid");
        let (sa, sb, sc) = (to_db(a), to_db(b), to_db(c));
        assert!(sa < sb && sb < sc, "{sa} {sb} {sc}");
        assert_eq!(sa.len(), sc.len());
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(from_db("hier"), None);
    }
}
