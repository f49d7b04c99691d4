//! Cron schedules: the standard five fields (minute, hour, day of month, month, day of week),
//! the `@hourly`-style shorthands, an optional `CRON_TZ=`/`TZ=` prefix, and the next times
//! they fire in a time zone.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Why a schedule or time zone is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("expected exactly 5 fields, found {0}: {1}")]
    FieldCount(usize, String),
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
    #[error("failed to parse {field} field {value:?}: {why}")]
    Field {
        field: &'static str,
        value: String,
        why: String,
    },
    #[error("unknown time zone {0}")]
    TimeZone(String),
}

/// A parsed schedule: the allowed values of each field as bit sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Day of month or day of week given as `*` (or `?`): then both must match, else either.
    any_day: bool,
    any_weekday: bool,
    /// The zone named in the schedule itself (`CRON_TZ=...`), if any.
    zone: Option<String>,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const WEEKDAY: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl Schedule {
    /// Parses a schedule.
    ///
    /// # Errors
    /// When a field is malformed or out of range, or the `CRON_TZ=` zone is unknown.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut text = text.trim();
        let mut zone = None;
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = text.strip_prefix(prefix) {
                let (name, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                time_zone(name)?;
                zone = Some(name.to_owned());
                text = rest.trim();
            }
        }
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => return Err(Error::Descriptor(other.to_owned())),
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(Error::FieldCount(fields.len(), text.to_owned()));
        };
        let mut weekdays = parse_field(weekday, &WEEKDAY)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays & !(1 << 7)) | 1;
        }
        Ok(Self {
            minutes: parse_field(minute, &MINUTE)?,
            hours: parse_field(hour, &HOUR)?,
            days: parse_field(day, &DAY)?,
            months: parse_field(month, &MONTH)?,
            weekdays,
            any_day: day.starts_with('*') || day.starts_with('?'),
            any_weekday: weekday.starts_with('*') || weekday.starts_with('?'),
            zone,
        })
    }

    /// The zone the schedule names with `CRON_TZ=`, if any.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    /// The first time strictly after `after` at which the schedule fires in `tz`, within the
    /// next five years (`None` for schedules such as `0 0 30 2 *` that never fire).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(tz.clone()).datetime();
        let mut t = start
            .date()
            .at(start.hour(), start.minute(), 0, 0)
            .checked_add(1.minute())
            .ok()?;
        let last_year = start.year().saturating_add(5);
        while t.year() <= last_year {
            if !bit(self.months, t.month()) {
                t = midnight(t.date().first_of_month().checked_add(1.month()).ok()?);
                continue;
            }
            if !self.day_matches(t.date()) {
                t = midnight(t.date().tomorrow().ok()?);
                continue;
            }
            if !bit(self.hours, t.hour()) {
                t = t.date().at(t.hour(), 0, 0, 0).checked_add(1.hour()).ok()?;
                continue;
            }
            if !bit(self.minutes, t.minute()) {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            if let Ok(zoned) = tz.to_ambiguous_zoned(t).compatible() {
                if zoned.timestamp() > after {
                    return Some(zoned.timestamp());
                }
            }
            t = t.checked_add(1.minute()).ok()?;
        }
        None
    }

    fn day_matches(&self, date: Date) -> bool {
        let day = bit(self.days, date.day());
        let weekday = bit(self.weekdays, date.weekday().to_sunday_zero_offset());
        if self.any_day || self.any_weekday {
            day && weekday
        } else {
            day || weekday
        }
    }
}

/// The time zone named `name` (an IANA name such as `Europe/Paris`, or `UTC`/`Local`).
///
/// # Errors
/// When the name is not in the time zone database.
pub fn time_zone(name: &str) -> Result<TimeZone, Error> {
    match name {
        "" | "UTC" | "Etc/UTC" => Ok(TimeZone::UTC),
        "Local" => Ok(TimeZone::system()),
        _ => TimeZone::get(name).map_err(|_| Error::TimeZone(name.to_owned())),
    }
}

fn bit(set: u64, value: i8) -> bool {
    u32::try_from(value).is_ok_and(|v| v < 64 && set & (1 << v) != 0)
}

/// Midnight at the start of `date`.
fn midnight(date: Date) -> DateTime {
    date.at(0, 0, 0, 0)
}

fn parse_field(text: &str, field: &Field) -> Result<u64, Error> {
    let fail = |why: &str| Error::Field {
        field: field.name,
        value: text.to_owned(),
        why: why.to_owned(),
    };
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().map_err(|_| fail("step is not a number"))?;
                if step == 0 {
                    return Err(fail("step must be positive"));
                }
                (range, Some(step))
            }
            None => (part, None),
        };
        let (first, last) = if range == "*" || range == "?" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, field).ok_or_else(|| fail("bad range start"))?,
                value(b, field).ok_or_else(|| fail("bad range end"))?,
            )
        } else {
            let v = value(range, field).ok_or_else(|| fail("not a number or name"))?;
            // `5/15` means from 5 to the end, every 15.
            (v, if step.is_some() { field.max } else { v })
        };
        if first < field.min || last > field.max || first > last {
            return Err(fail("out of range"));
        }
        let step = step.unwrap_or(1);
        let mut v = first;
        while v <= last {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

fn value(text: &str, field: &Field) -> Option<u32> {
    if let Ok(v) = text.parse::<u32>() {
        return Some(v);
    }
    let lower = text.to_ascii_lowercase();
    let position = field.names.iter().position(|n| *n == lower)?;
    u32::try_from(position).ok().map(|p| p + field.min)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn next(schedule: &str, after: &str) -> String {
        let s = Schedule::parse(schedule).unwrap();
        let tz = time_zone(s.zone().unwrap_or("UTC")).unwrap();
        s.next_after(ts(after), &tz).unwrap().to_string()
    }

    #[test]
    fn every_minute_and_steps() {
        assert_eq!(
            next("*/1 * * * *", "2026-01-01T10:00:30Z"),
            "2026-01-01T10:01:00Z"
        );
        assert_eq!(
            next("* * * * *", "2026-01-01T10:00:00Z"),
            "2026-01-01T10:01:00Z"
        );
        assert_eq!(
            next("*/15 * * * *", "2026-01-01T10:16:00Z"),
            "2026-01-01T10:30:00Z"
        );
        assert_eq!(
            next("5/20 * * * *", "2026-01-01T10:06:00Z"),
            "2026-01-01T10:25:00Z"
        );
        assert_eq!(
            next("0 9-17/4 * * *", "2026-01-01T10:00:00Z"),
            "2026-01-01T13:00:00Z"
        );
    }

    #[test]
    fn shorthands_names_and_days() {
        assert_eq!(
            next("@hourly", "2026-01-01T10:00:00Z"),
            "2026-01-01T11:00:00Z"
        );
        assert_eq!(
            next("@daily", "2026-01-01T10:00:00Z"),
            "2026-01-02T00:00:00Z"
        );
        assert_eq!(
            next("@monthly", "2026-01-31T10:00:00Z"),
            "2026-02-01T00:00:00Z"
        );
        assert_eq!(
            next("@yearly", "2026-01-31T10:00:00Z"),
            "2027-01-01T00:00:00Z"
        );
        // 2026-01-01 is a Thursday.
        assert_eq!(
            next("0 12 * * mon", "2026-01-01T00:00:00Z"),
            "2026-01-05T12:00:00Z"
        );
        assert_eq!(
            next("0 0 * * 7", "2026-01-01T00:00:00Z"),
            "2026-01-04T00:00:00Z"
        );
        assert_eq!(
            next("0 0 1 FEB *", "2026-01-01T00:00:00Z"),
            "2026-02-01T00:00:00Z"
        );
        // Day of month and day of week both given: either matches.
        assert_eq!(
            next("0 0 15 * fri", "2026-01-01T00:00:00Z"),
            "2026-01-02T00:00:00Z"
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-03-01T00:00:00Z"),
            "2028-02-29T00:00:00Z"
        );
        assert!(Schedule::parse("0 0 30 2 *")
            .unwrap()
            .next_after(ts("2026-01-01T00:00:00Z"), &TimeZone::UTC)
            .is_none());
    }

    #[test]
    fn time_zones() {
        assert_eq!(
            next("CRON_TZ=America/New_York 0 9 * * *", "2026-01-01T00:00:00Z"),
            "2026-01-01T14:00:00Z"
        );
        // Summer time in Paris: UTC+2.
        let s = Schedule::parse("30 8 * * *").unwrap();
        let paris = time_zone("Europe/Paris").unwrap();
        assert_eq!(
            s.next_after(ts("2026-07-01T00:00:00Z"), &paris)
                .unwrap()
                .to_string(),
            "2026-07-01T06:30:00Z"
        );
        assert_eq!(
            time_zone("Mars/Olympus"),
            Err(Error::TimeZone("Mars/Olympus".into()))
        );
    }

    #[test]
    fn rejects_bad_schedules() {
        assert!(matches!(
            Schedule::parse("* * * *"),
            Err(Error::FieldCount(4, _))
        ));
        assert!(matches!(
            Schedule::parse("60 * * * *"),
            Err(Error::Field { .. })
        ));
        assert!(matches!(
            Schedule::parse("*/0 * * * *"),
            Err(Error::Field { .. })
        ));
        assert!(matches!(
            Schedule::parse("@every 5m"),
            Err(Error::Descriptor(_))
        ));
        assert!(matches!(
            Schedule::parse("* * * foo *"),
            Err(Error::Field { .. })
        ));
        assert!(Schedule::parse("CRON_TZ=Nowhere/Nope * * * * *").is_err());
    }
}
