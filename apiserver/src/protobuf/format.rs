//! Kubernetes' JSON spellings of times and durations.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

const SECONDS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const MICROS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// A `metav1.Time` (whole seconds) or `metav1.MicroTime` (six fraction digits) in UTC, as
/// Kubernetes writes them: `2024-05-01T10:00:00Z`, `2024-05-01T10:00:00.123456Z`. `None` when
/// the instant is outside years 0 to 9999, which RFC 3339 cannot spell.
pub(crate) fn rfc3339(seconds: i64, nanos: i64, micro: bool) -> Option<String> {
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    let at = OffsetDateTime::from_unix_timestamp_nanos(total).ok()?;
    if !(0..=9999).contains(&at.year()) {
        return None;
    }
    at.format(if micro { MICROS } else { SECONDS }).ok()
}

/// A duration in nanoseconds as Go's `time.Duration.String` spells it: `1h0m0s`, `1m30s`,
/// `1.5s`, `250ms`, `1.5µs`, `10ns`, `0s`.
pub(crate) fn go_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let body = if n == 0 {
        "0s".to_owned()
    } else if n < 1_000 {
        format!("{n}ns")
    } else if n < 1_000_000 {
        format!("{}µs", decimal(n, 1_000, 3))
    } else if n < 1_000_000_000 {
        format!("{}ms", decimal(n, 1_000_000, 6))
    } else {
        let secs = n / 1_000_000_000;
        let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
        let mut out = String::new();
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        if hours > 0 || minutes > 0 {
            out.push_str(&format!("{minutes}m"));
        }
        let whole = seconds * 1_000_000_000 + n % 1_000_000_000;
        out.push_str(&format!("{}s", decimal(whole, 1_000_000_000, 9)));
        out
    };
    format!("{sign}{body}")
}

/// `value / unit` with the fraction written out and its trailing zeros dropped.
fn decimal(value: u64, unit: u64, digits: usize) -> String {
    let (whole, fraction) = (value / unit, value % unit);
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:0digits$}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

    use super::*;

    #[test]
    fn durations_read_as_go_writes_them() {
        let s = 1_000_000_000;
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(10), "10ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(250_000_000), "250ms");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(90 * s), "1m30s");
        assert_eq!(go_duration(3600 * s), "1h0m0s");
        assert_eq!(go_duration(3600 * s + 1), "1h0m0.000000001s");
        assert_eq!(go_duration(-5 * s), "-5s");
        assert_eq!(go_duration(i64::MIN), "-2562047h47m16.854775808s");
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0, 0, false).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_714_557_600, 123_456_789, false).unwrap(),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(
            rfc3339(1_714_557_600, 123_456_789, true).unwrap(),
            "2024-05-01T10:00:00.123456Z"
        );
        assert_eq!(
            rfc3339(1_714_557_600, 0, true).unwrap(),
            "2024-05-01T10:00:00.000000Z"
        );
        assert_eq!(
            rfc3339(-62_167_219_200, 0, false).unwrap(),
            "0000-01-01T00:00:00Z"
        );
        assert_eq!(rfc3339(-62_167_219_201, 0, false), None);
        assert_eq!(rfc3339(i64::MAX, 0, false), None);
    }
}
