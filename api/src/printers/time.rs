//! Human durations (`5m2s`, `3d4h`) and the RFC 3339 timestamps objects carry.
//!
//! Kubernetes prints ages with its own rounding: more precision for short durations, less for
//! long ones. The rules here reproduce them to the second.

/// Formats a duration in seconds as Kubernetes' `HumanDuration` does (the AGE column).
///
/// Up to two minutes: seconds (`45s`, `119s`). Under ten minutes: minutes and seconds, the
/// seconds dropped when zero (`5m`, `5m2s`). Under three hours: minutes (`150m`). Under eight
/// hours: hours and minutes (`3h`, `3h4m`). Under two days: hours (`47h`). Under eight days:
/// days and hours (`2d`, `2d3h`). Under two years: days (`400d`). Under eight years: years and
/// days (`2y`, `3y5d`). Beyond: years.
///
/// A duration of `-1` second counts as `0s` (clocks drift); anything more negative is
/// `<invalid>`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The time elapsed from the RFC 3339 `timestamp` to `now_unix_secs`, as [`human_duration`];
/// `<unknown>` for a missing or unparsable timestamp (Kubernetes prints that for a zero time).
pub fn age(timestamp: Option<&str>, now_unix_secs: i64) -> String {
    match timestamp.and_then(parse_rfc3339) {
        Some(t) => human_duration(now_unix_secs.saturating_sub(t)),
        None => "<unknown>".to_owned(),
    }
}

/// Parses an RFC 3339 timestamp (`2024-05-01T12:00:00Z`, with optional fraction and offset)
/// to Unix seconds, dropping the fraction. `None` if it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&month) || !(1..=month_days).contains(&day) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' {
                return None;
            }
            let sign = match rb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Formats Unix seconds as RFC 3339 in UTC (`2024-05-01T12:00:00Z`), as Go's `time.RFC3339`.
pub fn format_rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_round_like_kubernetes() {
        let m = 60;
        let h = 3600;
        let d = 86_400;
        let y = 365 * d;
        let cases = [
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (2 * m, "2m"),
            (5 * m + 2, "5m2s"),
            (9 * m + 59, "9m59s"),
            (10 * m + 30, "10m"),
            (179 * m + 59, "179m"),
            (3 * h, "3h"),
            (3 * h + 4 * m + 5, "3h4m"),
            (7 * h + 59 * m, "7h59m"),
            (8 * h + 30 * m, "8h"),
            (47 * h + 59 * m, "47h"),
            (2 * d, "2d"),
            (2 * d + 3 * h + 59 * m, "2d3h"),
            (7 * d + 23 * h, "7d23h"),
            (8 * d + 5 * h, "8d"),
            (400 * d, "400d"),
            (2 * y - d, "729d"),
            (2 * y, "2y"),
            (3 * y + 5 * d, "3y5d"),
            (8 * y + 100 * d, "8y"),
            (20 * y, "20y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }

    #[test]
    fn parses_and_formats_rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-29T12:34:56Z"), Some(1_709_210_096));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56.123456Z"),
            Some(1_709_210_096)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T14:34:56+02:00"),
            Some(1_709_210_096)
        );
        assert_eq!(parse_rfc3339("2024-02-29"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-04-31T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01T00:00:60Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00"), None);
        assert_eq!(parse_rfc3339("2024-01-01 00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00z"), None);
        assert_eq!(format_rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(-62_135_596_800), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn ages_from_timestamps() {
        let now = parse_rfc3339("2024-01-10T00:00:00Z").expect("valid");
        assert_eq!(age(Some("2024-01-09T23:55:00Z"), now), "5m");
        assert_eq!(age(Some("2024-01-07T21:00:00Z"), now), "2d3h");
        assert_eq!(age(None, now), "<unknown>");
        assert_eq!(age(Some("garbage"), now), "<unknown>");
    }

    mod safety {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn rfc3339_round_trip_safety(secs in -62_135_596_800_i64..253_402_300_799) {
                prop_assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Some(secs));
            }

            #[test]
            fn human_duration_safety(secs in any::<i64>()) {
                let text = human_duration(secs);
                prop_assert!(!text.is_empty());
            }

            #[test]
            fn age_safety(ts in "\\PC{0,30}", now in any::<i64>()) {
                let _ = age(Some(&ts), now);
            }
        }
    }
}
