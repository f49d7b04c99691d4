//! Operations recorded by concurrent key-value clients, and a thread-safe recorder that timestamps them.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// A key of the store under test. Keys are independent registers.
pub type Key = Vec<u8>;
/// A value of the store under test.
pub type Value = Vec<u8>;

/// Identifies the client (usually one task or connection) that issued an operation.
///
/// The checker does not order operations by client: real-time order already covers a client's own
/// sequence. The id is carried so that failure reports say who saw what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// What a client asked the store to do, on one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Read the key; completes with [`OpResult::Read`].
    Read { key: Key },
    /// Set the key; completes with [`OpResult::Write`].
    Write { key: Key, value: Value },
    /// Remove the key; completes with [`OpResult::Delete`].
    Delete { key: Key },
    /// Set the key to `new` if its current value is `expected` (`None`: the key is absent);
    /// completes with [`OpResult::CompareAndSet`] saying whether it did.
    CompareAndSet {
        key: Key,
        expected: Option<Value>,
        new: Value,
    },
}

impl Op {
    /// A read of `key`.
    pub fn read(key: impl Into<Key>) -> Self {
        Op::Read { key: key.into() }
    }

    /// A write of `value` to `key`.
    pub fn write(key: impl Into<Key>, value: impl Into<Value>) -> Self {
        Op::Write {
            key: key.into(),
            value: value.into(),
        }
    }

    /// A delete of `key`.
    pub fn delete(key: impl Into<Key>) -> Self {
        Op::Delete { key: key.into() }
    }

    /// A compare-and-set of `key` from `expected` (`None`: absent) to `new`.
    pub fn compare_and_set(
        key: impl Into<Key>,
        expected: Option<impl Into<Value>>,
        new: impl Into<Value>,
    ) -> Self {
        Op::CompareAndSet {
            key: key.into(),
            expected: expected.map(Into::into),
            new: new.into(),
        }
    }

    /// The key the operation acts on.
    pub fn key(&self) -> &[u8] {
        match self {
            Op::Read { key }
            | Op::Write { key, .. }
            | Op::Delete { key }
            | Op::CompareAndSet { key, .. } => key,
        }
    }

    /// Whether `result` is the kind of result this operation completes with.
    pub fn accepts(&self, result: &OpResult) -> bool {
        matches!(
            (self, result),
            (Op::Read { .. }, OpResult::Read(_))
                | (Op::Write { .. }, OpResult::Write)
                | (Op::Delete { .. }, OpResult::Delete)
                | (Op::CompareAndSet { .. }, OpResult::CompareAndSet(_))
        )
    }
}

/// What the store answered to a completed operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OpResult {
    /// The value read, `None` if the key was absent.
    Read(Option<Value>),
    /// The write was acknowledged.
    Write,
    /// The delete was acknowledged (whether or not the key existed).
    Delete,
    /// Whether the compare-and-set swapped.
    CompareAndSet(bool),
}

impl OpResult {
    /// A read that observed `value` (`None`: absent).
    pub fn read(value: Option<impl Into<Value>>) -> Self {
        OpResult::Read(value.map(Into::into))
    }
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The store answered `result`; the client saw the answer at `completed_at` (nanoseconds, same
    /// clock as the invocation).
    Completed { completed_at: u64, result: OpResult },
    /// The client never learned the outcome (timeout, connection error, or still in flight when the
    /// history was taken). The operation may have taken effect at any time after its invocation, or
    /// never; the checker treats its completion time as infinite.
    Indeterminate,
}

/// One operation of a history: who invoked what, when, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub client: ClientId,
    pub op: Op,
    /// When the client invoked the operation, in nanoseconds from an arbitrary origin shared by
    /// the whole history. Must not be later than the moment the request left the client.
    pub invoked_at: u64,
    pub outcome: Outcome,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.client)?;
        match &self.op {
            Op::Read { .. } => write!(f, "read")?,
            Op::Write { value, .. } => write!(f, "write({})", ShowValue(Some(value)))?,
            Op::Delete { .. } => write!(f, "delete")?,
            Op::CompareAndSet { expected, new, .. } => write!(
                f,
                "cas({} -> {})",
                ShowValue(expected.as_deref()),
                ShowValue(Some(new))
            )?,
        }
        match &self.outcome {
            Outcome::Completed {
                completed_at,
                result,
            } => {
                match result {
                    OpResult::Read(v) => write!(f, " = {}", ShowValue(v.as_deref()))?,
                    OpResult::CompareAndSet(ok) => write!(f, " = {ok}")?,
                    OpResult::Write | OpResult::Delete => write!(f, " ok")?,
                }
                write!(f, " [{}ns..{}ns]", self.invoked_at, completed_at)
            }
            Outcome::Indeterminate => write!(f, " ? [{}ns..]", self.invoked_at),
        }
    }
}

/// Displays a value (or absence) compactly: UTF-8 lossily, truncated, quoted.
pub(crate) struct ShowValue<'a>(pub(crate) Option<&'a [u8]>);

impl fmt::Display for ShowValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 24;
        match self.0 {
            None => write!(f, "nil"),
            Some(v) if v.len() > MAX => {
                write!(
                    f,
                    "{:?}..({}B)",
                    String::from_utf8_lossy(&v[..MAX]),
                    v.len()
                )
            }
            Some(v) => write!(f, "{:?}", String::from_utf8_lossy(v)),
        }
    }
}

/// A finite history of operations on a key-value store, in any order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    ops: Vec<Operation>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an operation whose answer the client received.
    ///
    /// # Panics
    ///
    /// If `result` is not the kind of result `op` completes with, or `completed_at < invoked_at`:
    /// both are bugs in the harness that built the history.
    pub fn push_completed(
        &mut self,
        client: ClientId,
        op: Op,
        invoked_at: u64,
        completed_at: u64,
        result: OpResult,
    ) {
        assert!(
            op.accepts(&result),
            "result {result:?} does not belong to operation {op:?}"
        );
        assert!(
            completed_at >= invoked_at,
            "operation completed at {completed_at}ns before it was invoked at {invoked_at}ns"
        );
        self.ops.push(Operation {
            client,
            op,
            invoked_at,
            outcome: Outcome::Completed {
                completed_at,
                result,
            },
        });
    }

    /// Adds an operation whose outcome the client never learned.
    pub fn push_indeterminate(&mut self, client: ClientId, op: Op, invoked_at: u64) {
        self.ops.push(Operation {
            client,
            op,
            invoked_at,
            outcome: Outcome::Indeterminate,
        });
    }

    /// The operations, in the order they were added.
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// How many operations the history holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the history holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Records operations of concurrent clients into one history. Cheap to clone; clones share the
/// history and the clock.
///
/// Call [`Recorder::invoke`] just before sending a request and [`OpHandle::complete`] just after
/// the answer arrives, so that the recorded interval contains the real one.
#[derive(Clone, Debug)]
pub struct Recorder {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    origin: Instant,
    /// Operations in invocation order; `outcome` is `None` while the operation is in flight.
    slots: Mutex<Vec<Slot>>,
}

#[derive(Debug)]
struct Slot {
    client: ClientId,
    op: Op,
    invoked_at: u64,
    outcome: Option<Outcome>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder with an empty history; its clock starts now.
    pub fn new() -> Self {
        Recorder {
            shared: Arc::new(Shared {
                origin: Instant::now(),
                slots: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Records that `client` invokes `op` now. Until the returned handle is completed, the operation
    /// counts as indeterminate, so dropping the handle (a cancelled task) is safe.
    pub fn invoke(&self, client: ClientId, op: Op) -> OpHandle {
        let mut slots = self.shared.lock();
        let index = slots.len();
        slots.push(Slot {
            client,
            op,
            invoked_at: self.shared.now(),
            outcome: None,
        });
        OpHandle {
            shared: Arc::clone(&self.shared),
            index,
        }
    }

    /// A snapshot of the history so far; operations still in flight are indeterminate.
    pub fn history(&self) -> History {
        let slots = self.shared.lock();
        History {
            ops: slots
                .iter()
                .map(|s| Operation {
                    client: s.client,
                    op: s.op.clone(),
                    invoked_at: s.invoked_at,
                    outcome: s.outcome.clone().unwrap_or(Outcome::Indeterminate),
                })
                .collect(),
        }
    }
}

impl Shared {
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// A panicking client thread cannot leave a slot half-written (each update is one assignment),
    /// so a poisoned lock is still consistent.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An operation in flight, returned by [`Recorder::invoke`].
#[must_use = "complete the handle when the answer arrives, or the operation stays indeterminate"]
#[derive(Debug)]
pub struct OpHandle {
    shared: Arc<Shared>,
    index: usize,
}

impl OpHandle {
    /// Records that the answer `result` arrived now.
    ///
    /// # Panics
    ///
    /// If `result` is not the kind of result the invoked operation completes with.
    pub fn complete(self, result: OpResult) {
        let completed_at = self.shared.now();
        let mut slots = self.shared.lock();
        let slot = &mut slots[self.index];
        assert!(
            slot.op.accepts(&result),
            "result {result:?} does not belong to operation {:?}",
            slot.op
        );
        slot.outcome = Some(Outcome::Completed {
            completed_at,
            result,
        });
    }

    /// Records that the client will never learn the outcome (timeout, connection error).
    pub fn indeterminate(self) {
        let mut slots = self.shared.lock();
        slots[self.index].outcome = Some(Outcome::Indeterminate);
    }
}
