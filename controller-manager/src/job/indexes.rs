//! `status.completedIndexes` of Indexed Jobs: a compressed list such as `1,3-5,7`.

use std::collections::BTreeSet;

/// Reads a completed-indexes list; entries that are not numbers or ranges are skipped.
pub(crate) fn parse(list: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((first, last)) => {
                if let (Ok(first), Ok(last)) = (first.parse::<i32>(), last.parse::<i32>()) {
                    out.extend(first..=last);
                }
            }
            None => {
                if let Ok(index) = part.parse() {
                    out.insert(index);
                }
            }
        }
    }
    out
}

/// Writes indexes in ascending order, runs of consecutive ones as `first-last`.
pub(crate) fn format(indexes: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(i32, i32)> = None;
    for &index in indexes {
        run = match run {
            Some((first, last)) if last.checked_add(1) == Some(index) => Some((first, index)),
            Some(done) => {
                parts.push(format_run(done));
                Some((index, index))
            }
            None => Some((index, index)),
        };
    }
    if let Some(done) = run {
        parts.push(format_run(done));
    }
    parts.join(",")
}

fn format_run((first, last): (i32, i32)) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let set = parse("1,3-5,7");
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), vec![1, 3, 4, 5, 7]);
        assert_eq!(format(&set), "1,3-5,7");
        assert_eq!(format(&parse("")), "");
        assert_eq!(format(&parse("0,1,2")), "0-2");
        assert_eq!(format(&parse("x,2")), "2");
    }
}
