//! The in-memory key index: for every key, the revisions at which it changed.
//!
//! Values live in the backend keyed by revision; the index answers "which revision of key K
//! was visible at store revision R" without touching the disk, and carries each key's
//! create revision and version so compares and counts are answered from memory.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::revision::Revision;

/// One change of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub rev: Revision,
    /// Revision (main) at which the key's current life began.
    pub create: i64,
    /// How many times the key was written in its current life (1 on creation).
    pub version: i64,
    /// The key was deleted at `rev`.
    pub tombstone: bool,
}

/// All retained changes of one key, oldest first.
#[derive(Debug, Clone, Default)]
struct KeyHistory {
    entries: Vec<IndexEntry>,
}

impl KeyHistory {
    /// The entry visible at store revision `rev`, if the key was live then.
    fn at(&self, rev: i64) -> Option<IndexEntry> {
        let pos = self.entries.partition_point(|e| e.rev.main <= rev);
        let e = *self.entries.get(pos.checked_sub(1)?)?;
        (!e.tombstone).then_some(e)
    }

    fn latest(&self) -> Option<IndexEntry> {
        self.entries.last().copied().filter(|e| !e.tombstone)
    }
}

/// A key range as etcd defines it: `end` empty means the single key; `end == [0]` means
/// every key at or after `key`.
#[derive(Debug, Clone, Copy)]
pub struct KeyRange<'a> {
    pub key: &'a [u8],
    pub end: &'a [u8],
}

impl<'a> KeyRange<'a> {
    pub fn new(key: &'a [u8], end: &'a [u8]) -> Self {
        Self { key, end }
    }

    pub fn is_single(&self) -> bool {
        self.end.is_empty()
    }

    fn bounds(&self) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
        if self.is_single() {
            (Bound::Included(self.key), Bound::Included(self.key))
        } else if self.end == [0] {
            (Bound::Included(self.key), Bound::Unbounded)
        } else {
            (Bound::Included(self.key), Bound::Excluded(self.end))
        }
    }

    pub fn contains(&self, k: &[u8]) -> bool {
        if self.is_single() {
            k == self.key
        } else if self.end == [0] {
            k >= self.key
        } else {
            k >= self.key && k < self.end
        }
    }

    /// An empty range (`end <= key`, end not the open-ended marker) matches nothing.
    fn is_empty(&self) -> bool {
        !self.is_single() && self.end != [0] && self.end <= self.key
    }
}

/// The index of every key. Not thread-safe by itself: the store guards it with a lock.
#[derive(Debug, Default)]
pub struct KeyIndex {
    keys: BTreeMap<Vec<u8>, KeyHistory>,
}

impl KeyIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry of `key` visible at `rev`.
    pub fn get(&self, key: &[u8], rev: i64) -> Option<IndexEntry> {
        self.keys.get(key)?.at(rev)
    }

    /// The newest entry of `key` if the key exists now.
    pub fn latest(&self, key: &[u8]) -> Option<IndexEntry> {
        self.keys.get(key)?.latest()
    }

    /// Keys live at `rev` within `range`, in key order.
    pub fn range<'s>(
        &'s self,
        range: KeyRange<'s>,
        rev: i64,
    ) -> impl Iterator<Item = (&'s [u8], IndexEntry)> + 's {
        let iter = if range.is_empty() {
            None
        } else {
            Some(self.keys.range::<[u8], _>(range.bounds()))
        };
        iter.into_iter()
            .flatten()
            .filter_map(move |(k, h)| h.at(rev).map(|e| (k.as_slice(), e)))
    }

    /// Records a write of `key` at `rev` and returns its entry.
    pub fn put(&mut self, key: &[u8], rev: Revision) -> IndexEntry {
        let history = self.keys.entry(key.to_vec()).or_default();
        let entry = match history.latest() {
            Some(prev) => IndexEntry {
                rev,
                create: prev.create,
                version: prev.version + 1,
                tombstone: false,
            },
            None => IndexEntry {
                rev,
                create: rev.main,
                version: 1,
                tombstone: false,
            },
        };
        history.entries.push(entry);
        entry
    }

    /// Records the deletion of `key` at `rev`. Returns false (and records nothing) when the
    /// key does not exist.
    pub fn tombstone(&mut self, key: &[u8], rev: Revision) -> bool {
        let Some(history) = self.keys.get_mut(key) else {
            return false;
        };
        if history.latest().is_none() {
            return false;
        }
        history.entries.push(IndexEntry {
            rev,
            create: 0,
            version: 0,
            tombstone: true,
        });
        true
    }

    /// Re-inserts a stored entry while rebuilding the index from the backend; entries must
    /// arrive in revision order.
    pub fn restore(&mut self, key: &[u8], entry: IndexEntry) {
        self.keys
            .entry(key.to_vec())
            .or_default()
            .entries
            .push(entry);
    }

    /// The newest live entry of `key` strictly before `rev` (the "previous value" of a
    /// change at `rev`).
    pub fn before(&self, key: &[u8], rev: Revision) -> Option<IndexEntry> {
        let h = self.keys.get(key)?;
        let pos = h.entries.partition_point(|e| e.rev < rev);
        let e = *h.entries.get(pos.checked_sub(1)?)?;
        (!e.tombstone).then_some(e)
    }

    /// Drops history older than `rev`: for every key the changes made at `rev` itself are
    /// kept (a watcher may start there), else only the newest change before it, and not
    /// even that if it is a deletion. Returns the revisions whose stored values are no
    /// longer reachable.
    pub fn compact(&mut self, rev: i64) -> Vec<Revision> {
        let mut dropped = Vec::new();
        self.keys.retain(|_, h| {
            let upto = h.entries.partition_point(|e| e.rev.main <= rev);
            let Some(last) = upto.checked_sub(1).map(|i| h.entries[i]) else {
                return true;
            };
            let drop_n = if last.rev.main == rev {
                // Every change made at the compaction revision stays: watchers may start there.
                h.entries.partition_point(|e| e.rev.main < rev)
            } else if last.tombstone {
                upto
            } else {
                upto - 1
            };
            dropped.extend(h.entries.drain(..drop_n).map(|e| e.rev));
            !h.entries.is_empty()
        });
        dropped
    }

    /// Number of distinct keys with retained history (live or not).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(main: i64) -> Revision {
        Revision::new(main, 0)
    }

    #[test]
    fn versions_and_generations() {
        let mut idx = KeyIndex::new();
        assert_eq!(idx.put(b"a", r(2)).version, 1);
        let e = idx.put(b"a", r(3));
        assert_eq!((e.create, e.version), (2, 2));
        assert!(idx.tombstone(b"a", r(4)));
        assert!(!idx.tombstone(b"a", r(5)));
        assert!(idx.latest(b"a").is_none());
        let e = idx.put(b"a", r(6));
        assert_eq!((e.create, e.version), (6, 1));
        assert_eq!(idx.get(b"a", 3).map(|e| e.version), Some(2));
        assert_eq!(idx.get(b"a", 4), None);
        assert_eq!(idx.get(b"a", 1), None);
        assert_eq!(idx.before(b"a", r(6)), None);
        assert_eq!(idx.before(b"a", r(4)).map(|e| e.rev), Some(r(3)));
    }

    #[test]
    fn ranges() {
        let mut idx = KeyIndex::new();
        for (i, k) in [&b"a"[..], b"ab", b"b", b"c"].iter().enumerate() {
            idx.put(k, r(i as i64 + 1));
        }
        let keys = |k: &[u8], e: &[u8]| -> Vec<Vec<u8>> {
            idx.range(KeyRange::new(k, e), 10)
                .map(|(k, _)| k.to_vec())
                .collect()
        };
        assert_eq!(keys(b"a", b"b"), vec![b"a".to_vec(), b"ab".to_vec()]);
        assert_eq!(keys(b"b", &[0]).len(), 2);
        assert_eq!(keys(&[0], &[0]).len(), 4);
        assert_eq!(keys(b"ab", b""), vec![b"ab".to_vec()]);
        assert!(keys(b"c", b"a").is_empty());
    }

    #[test]
    fn compaction_keeps_the_visible_revision() {
        let mut idx = KeyIndex::new();
        idx.put(b"a", r(1));
        idx.put(b"a", r(2));
        idx.put(b"b", r(3));
        idx.tombstone(b"b", r(4));
        idx.put(b"a", r(5));
        let mut dropped = idx.compact(4);
        dropped.sort();
        assert_eq!(
            dropped,
            vec![r(1), r(3)],
            "a deletion at the compaction revision stays"
        );
        assert_eq!(idx.get(b"a", 4).map(|e| e.rev), Some(r(2)));
        let mut dropped = idx.compact(5);
        dropped.sort();
        assert_eq!(dropped, vec![r(2), r(4)]);
        assert_eq!(idx.len(), 1);
    }
}
