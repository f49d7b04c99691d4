//! From the rules programmed to the rules wanted: one nft script, applied as a single atomic
//! transaction holding only what changed (the first sync replaces the whole table).
//!
//! Order matters within the script: new sets, maps and chains are declared first; changed
//! chains are flushed and refilled; map and set elements are removed, then added; chains and
//! collections no longer wanted go last, once nothing refers to them.

use std::fmt::Write as _;

use crate::rules::{Collection, Ruleset, TABLE};

/// The nft script turning `prev` (what the kernel has, `None` when unknown) into `next`.
/// Empty when nothing changed.
pub fn script(prev: Option<&Ruleset>, next: &Ruleset) -> String {
    let mut out = String::new();
    let empty = Ruleset::default();
    let prev = match prev {
        Some(p) => p,
        None => {
            // Unknown state: replace the table whole, atomically.
            let _ = writeln!(out, "add table ip {TABLE}");
            let _ = writeln!(out, "delete table ip {TABLE}");
            let _ = writeln!(out, "add table ip {TABLE}");
            &empty
        }
    };

    for (name, c) in &next.collections {
        if !prev.collections.contains_key(name) {
            let _ = writeln!(out, "add {} ip {TABLE} {name} {}", kind(c), c.declaration);
        }
    }
    for (name, (hook, _)) in &next.chains {
        if !prev.chains.contains_key(name) {
            match hook {
                Some(h) => {
                    let _ = writeln!(out, "add chain ip {TABLE} {name} {{ {h} }}");
                }
                None => {
                    let _ = writeln!(out, "add chain ip {TABLE} {name}");
                }
            }
        }
    }
    for (name, (_, rules)) in &next.chains {
        let old = prev.chains.get(name).map(|(_, r)| r);
        if old == Some(rules) {
            continue;
        }
        if old.is_some() {
            let _ = writeln!(out, "flush chain ip {TABLE} {name}");
        }
        for rule in rules {
            let _ = writeln!(out, "add rule ip {TABLE} {name} {rule}");
        }
    }
    for (name, c) in &next.collections {
        let Some(old) = prev.collections.get(name) else {
            continue;
        };
        for (key, value) in &old.elements {
            if c.elements.get(key) != Some(value) {
                let _ = writeln!(out, "delete element ip {TABLE} {name} {{ {key} }}");
            }
        }
    }
    for (name, c) in &next.collections {
        let old = prev.collections.get(name);
        for (key, value) in &c.elements {
            if old.and_then(|o| o.elements.get(key)) == Some(value) {
                continue;
            }
            if c.is_map {
                let _ = writeln!(out, "add element ip {TABLE} {name} {{ {key} : {value} }}");
            } else {
                let _ = writeln!(out, "add element ip {TABLE} {name} {{ {key} }}");
            }
        }
    }
    let gone: Vec<&String> = prev
        .chains
        .keys()
        .filter(|n| !next.chains.contains_key(*n))
        .collect();
    // Flush them all before deleting any: they may jump to one another.
    for name in &gone {
        let _ = writeln!(out, "flush chain ip {TABLE} {name}");
    }
    for name in &gone {
        let _ = writeln!(out, "delete chain ip {TABLE} {name}");
    }
    for (name, c) in &prev.collections {
        if !next.collections.contains_key(name) {
            let _ = writeln!(out, "delete {} ip {TABLE} {name}", kind(c));
        }
    }
    out
}

fn kind(c: &Collection) -> &'static str {
    if c.is_map {
        "map"
    } else {
        "set"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;
    use crate::rules::{build, tests::node, tests::port};

    #[test]
    fn first_sync_replaces_the_table() {
        let rs = build(&[port(&[("10.42.0.5", true)])], &node());
        let s = script(None, &rs);
        assert!(s.starts_with("add table ip rkube\ndelete table ip rkube\nadd table ip rkube\n"));
        assert!(s.contains("add chain ip rkube nat-prerouting { type nat hook prerouting priority dstnat; policy accept; }"));
        assert!(
            s.contains("add element ip rkube service-ips { 10.96.0.20 . tcp . 80 : goto service-")
        );
    }

    #[test]
    fn a_change_touches_only_what_changed() {
        let before = build(
            &[port(&[("10.42.0.5", true), ("10.42.1.5", true)])],
            &node(),
        );
        assert_eq!(script(Some(&before), &before), "");
        let after = build(&[port(&[("10.42.0.5", true)])], &node());
        let s = script(Some(&before), &after);
        let lines: Vec<&str> = s.lines().collect();
        // The service chains are rewritten to one endpoint, the gone endpoint's chain removed,
        // and nothing else is touched.
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("flush chain ip rkube service-")),
            "{s}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("flush chain ip rkube external-")),
            "{s}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("delete chain ip rkube endpoint-")
                    && l.ends_with("__10.42.1.5/8000")),
            "{s}"
        );
        assert_eq!(lines.len(), 8, "{s}");
        assert!(!s.contains("nat-prerouting"), "{s}");
        // Deleting the Service leaves only the skeleton.
        let none = build(&[], &node());
        let s = script(Some(&after), &none);
        assert!(
            s.contains("delete element ip rkube service-ips { 10.96.0.20 . tcp . 80 }"),
            "{s}"
        );
        assert!(s.contains("delete chain ip rkube service-"), "{s}");
        assert!(s.contains("delete chain ip rkube external-"), "{s}");
        assert_eq!(script(Some(&none), &build(&[], &node())), "");
    }
}
