//! Revisions: the global logical clock of the store.

/// A point in the store's history. `main` is the store revision a write created (the value
/// clients see as `mod_revision`); `sub` orders the changes inside one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
}

impl Revision {
    pub const fn new(main: i64, sub: i64) -> Self {
        Self { main, sub }
    }

    /// The storage key: big-endian order equals revision order for non-negative revisions.
    pub fn to_key(self) -> (u64, u64) {
        (self.main.max(0) as u64, self.sub.max(0) as u64)
    }

    pub fn from_key(key: (u64, u64)) -> Self {
        Self::new(key.0 as i64, key.1 as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_follows_revision_order() {
        let a = Revision::new(3, 9);
        let b = Revision::new(4, 0);
        assert!(a < b);
        assert!(a.to_key() < b.to_key());
        assert_eq!(Revision::from_key(b.to_key()), b);
    }
}
