//! The options of a log request, from the query string the API server forwards.

use jiff::Timestamp;

/// What a log request asks for (Kubernetes' `PodLogOptions`, less the container name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep reading what the container writes until it exits.
    pub follow: bool,
    /// The log of the previous attempt of the container.
    pub previous: bool,
    /// Only the last N lines.
    pub tail_lines: Option<u64>,
    /// Only entries at or after this time (from `sinceTime`, or `sinceSeconds` before now).
    pub since: Option<Timestamp>,
    /// Prefix each line with its RFC 3339 time.
    pub timestamps: bool,
    /// Stop after this many bytes.
    pub limit_bytes: Option<u64>,
}

/// A query parameter that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    #[error("invalid value for {name}: {value:?}: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: &'static str,
    },
}

impl LogOptions {
    /// Reads the options from a query string (`follow=true&tailLines=10...`), relative to `now`
    /// for `sinceSeconds`.
    pub fn from_query(query: &str, now: Timestamp) -> Result<Self, OptionsError> {
        let mut out = LogOptions::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let invalid = |name: &'static str, why: &'static str| OptionsError::Invalid {
                name,
                value: value.to_string(),
                why,
            };
            match key.as_ref() {
                "follow" => out.follow = flag(&value),
                "previous" => out.previous = flag(&value),
                "timestamps" => out.timestamps = flag(&value),
                "tailLines" => {
                    let n: i64 = value
                        .parse()
                        .map_err(|_| invalid("tailLines", "not an integer"))?;
                    // A negative count asks for everything, as the kubelet reads it.
                    out.tail_lines = u64::try_from(n).ok();
                }
                "limitBytes" => {
                    let n: u64 = value
                        .parse()
                        .map_err(|_| invalid("limitBytes", "not a positive integer"))?;
                    out.limit_bytes = Some(n);
                }
                "sinceSeconds" => {
                    let n: i64 = value
                        .parse()
                        .map_err(|_| invalid("sinceSeconds", "not an integer"))?;
                    let since = now
                        .checked_sub(jiff::SignedDuration::from_secs(n))
                        .map_err(|_| invalid("sinceSeconds", "out of range"))?;
                    out.since = Some(since);
                }
                "sinceTime" => {
                    let t: Timestamp = value
                        .parse()
                        .map_err(|_| invalid("sinceTime", "not an RFC 3339 time"))?;
                    out.since = Some(t);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

fn flag(value: &str) -> bool {
    matches!(value, "true" | "1" | "True" | "TRUE")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn reads_what_kubectl_sends() {
        let now: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        let o = LogOptions::from_query(
            "follow=true&tailLines=10&timestamps=true&limitBytes=100&sinceSeconds=60&container=x",
            now,
        )
        .unwrap();
        assert!(o.follow && o.timestamps && !o.previous);
        assert_eq!(o.tail_lines, Some(10));
        assert_eq!(o.limit_bytes, Some(100));
        assert_eq!(o.since, Some("2026-11-23T09:59:00Z".parse().unwrap()));
        let o = LogOptions::from_query("sinceTime=2026-11-23T09%3A00%3A00Z&previous=true", now)
            .unwrap();
        assert!(o.previous);
        assert_eq!(o.since, Some("2026-11-23T09:00:00Z".parse().unwrap()));
        assert_eq!(
            LogOptions::from_query("tailLines=-1", now)
                .unwrap()
                .tail_lines,
            None
        );
    }

    #[test]
    fn rejects_garbage() {
        let now = Timestamp::UNIX_EPOCH;
        let err = LogOptions::from_query("tailLines=ten", now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for tailLines: \"ten\": not an integer"
        );
        assert!(LogOptions::from_query("sinceTime=yesterday", now).is_err());
    }
}
