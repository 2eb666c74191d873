//! Instants as Unix epoch milliseconds: what DynamoDB stores as a number, what `sentAt` carries,
//! and what every function here takes instead of reading the wall clock (which only a
//! [`crate::clock::Clock`] reads).

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EpochMillis(pub i64);

impl EpochMillis {
    /// The instant a [`std::time::SystemTime`] names (before the epoch: negative).
    #[must_use]
    pub fn from_system_time(at: std::time::SystemTime) -> Self {
        let millis = match at.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Self(millis)
    }

    /// Milliseconds from `earlier` to this instant (negative when `earlier` is later).
    #[must_use]
    pub fn millis_since(self, earlier: Self) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// From whole seconds since the epoch.
    #[must_use]
    pub fn from_seconds(seconds: i64) -> Self {
        Self(seconds.saturating_mul(1000))
    }

    /// Whole seconds since the epoch, rounded down (DynamoDB's TTL attribute unit).
    #[must_use]
    pub fn as_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant plus some seconds.
    #[must_use]
    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds.saturating_mul(1000)))
    }

    /// Parses an RFC 3339 timestamp (`2026-11-27T10:00:00Z`, offsets allowed).
    ///
    /// # Errors
    /// The parser's message when the text is not RFC 3339.
    pub fn parse_rfc3339(text: &str) -> Result<Self, time::error::Parse> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339)?;
        Ok(Self(
            i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
        ))
    }

    /// RFC 3339 in UTC with millisecond precision (`2026-11-27T10:00:00.000Z`).
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let (h, mi, s, ms) = (at.hour(), at.minute(), at.second(), at.millisecond());
        format!(
            "{:04}-{:02}-{:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z",
            at.year(),
            u8::from(at.month()),
            at.day()
        )
    }
}

impl fmt::Display for EpochMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl serde::Serialize for EpochMillis {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_milliseconds() {
        let at = EpochMillis::parse_rfc3339("2026-11-27T10:00:00.250Z").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-27T10:00:00.250Z");
        let offset = EpochMillis::parse_rfc3339("2026-11-27T11:00:00+01:00").unwrap();
        assert_eq!(offset.to_rfc3339(), "2026-11-27T10:00:00.000Z");
        assert!(EpochMillis::parse_rfc3339("yesterday").is_err());
        assert_eq!(EpochMillis(1999).as_seconds(), 1);
        assert_eq!(EpochMillis(-1).as_seconds(), -1);
    }
}
