//! Linearizability checker for histories of concurrent key-value clients.
//!
//! Clients record each operation with its invocation and completion time ([`Recorder`], or
//! [`History`] built by hand), then [`check`] decides whether some total order of the operations,
//! consistent with real time, explains every answer under the semantics of a map of registers.
//!
//! Layout:
//! - `history`: the recorded operations ([`Op`], [`OpResult`], [`Operation`], [`History`]) and the
//!   thread-safe [`Recorder`].
//! - `search`: the Wing-Gong-Lowe search with memoization over one key, and a quick pre-check that
//!   every observed value was written by an operation invoked early enough.
//! - this module: splits a history per key (linearizability is compositional, so a map is
//!   linearizable iff every key is), interns values, runs the search and explains failures.
//!
//! ```
//! use rkube_tests::linearizability::{check, ClientId, Op, OpResult, Recorder};
//!
//! let recorder = Recorder::new();
//! let write = recorder.invoke(ClientId(1), Op::write("k", "v1"));
//! // ... send the request, get the answer ...
//! write.complete(OpResult::Write);
//! let read = recorder.invoke(ClientId(2), Op::read("k"));
//! read.complete(OpResult::read(Some("v1")));
//! assert!(check(&recorder.history()).is_linearizable());
//! ```
//!
//! Indeterminate operations (the client timed out or lost its connection) are given an infinite
//! completion time: they may take effect at any point after their invocation, or never (which the
//! search expresses by linearizing them after everything else). An indeterminate read constrains
//! nothing and is dropped.

mod history;
mod search;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

pub use history::{
    ClientId, History, Key, Op, OpHandle, OpResult, Operation, Outcome, Recorder, Value,
};

use history::ShowValue;
use search::{KeyOp, State, Step, Verdict, ABSENT};

/// The verdict on a whole history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// Every key's operations have a linearization.
    Linearizable,
    /// Some key's operations have none; the violation explains the first such key (in key order).
    NotLinearizable(Box<Violation>),
    /// No violation was found, but the search on `key` ran out of its step budget
    /// (see [`check_with_budget`]).
    Unknown { key: Key },
}

impl CheckResult {
    /// Whether the history was proven linearizable.
    pub fn is_linearizable(&self) -> bool {
        matches!(self, CheckResult::Linearizable)
    }
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckResult::Linearizable => write!(f, "linearizable"),
            CheckResult::NotLinearizable(v) => write!(f, "not linearizable: {v}"),
            CheckResult::Unknown { key } => write!(
                f,
                "unknown: the search on key {} ran out of steps",
                ShowValue(Some(key))
            ),
        }
    }
}

/// Why one key's operations cannot be linearized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The key whose operations are not linearizable.
    pub key: Key,
    /// How many operations the check considered on this key (indeterminate reads are not).
    pub ops_on_key: usize,
    /// The operation that cannot be explained.
    pub blocked: Operation,
    /// Why, in one sentence.
    pub reason: String,
    /// The longest sequence of operations that the search could linearize, in order (empty if a
    /// quick check found the violation before any search).
    pub prefix: Vec<Operation>,
    /// The key's value after `prefix` (`None`: absent).
    pub value_after_prefix: Option<Value>,
    /// The operations that could have come next after `prefix` (all invoked before `blocked`
    /// completed, `blocked` among them); none of them leads to a linearization.
    pub candidates: Vec<Operation>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 5;
        write!(
            f,
            "key {}: `{}` cannot be explained: {}",
            ShowValue(Some(&self.key)),
            self.blocked,
            self.reason,
        )?;
        if !self.candidates.is_empty() {
            write!(f, "\n  could come next after the prefix:")?;
            for op in self.candidates.iter().take(SHOWN) {
                write!(f, "\n    {op}")?;
            }
            if self.candidates.len() > SHOWN {
                write!(f, "\n    ... and {} more", self.candidates.len() - SHOWN)?;
            }
        }
        if !self.prefix.is_empty() {
            let skipped = self.prefix.len().saturating_sub(SHOWN);
            write!(f, "\n  end of the longest linearizable prefix:")?;
            if skipped > 0 {
                write!(f, "\n    ... {skipped} earlier operations")?;
            }
            for op in &self.prefix[skipped..] {
                write!(f, "\n    {op}")?;
            }
        }
        Ok(())
    }
}

/// Checks that `history` is linearizable, with no bound on the search.
///
/// Cost: a 5000-operation history of one key with about 20 operations in flight checks in under
/// 100 ms in a debug build. The search is exponential in the number of state-changing operations
/// in flight at once (about 30 in flight took a second, 40 can take minutes), duplicate written
/// values make it slower than unique ones, and a failing history costs more than a passing one,
/// since every way to linearize the operations before the violation must be ruled out. Use
/// [`check_with_budget`] where that matters, and unique values per write where possible.
pub fn check(history: &History) -> CheckResult {
    check_with_budget(history, None)
}

/// Like [`check`], but gives up on a key after `steps_per_key` search steps (one step tries one
/// operation at one point), answering [`CheckResult::Unknown`] unless another key is proven
/// non-linearizable.
pub fn check_with_budget(history: &History, steps_per_key: Option<u64>) -> CheckResult {
    let mut by_key: BTreeMap<&[u8], Vec<&Operation>> = BTreeMap::new();
    for op in history.operations() {
        by_key.entry(op.op.key()).or_default().push(op);
    }
    let mut unknown = None;
    for (key, ops) in by_key {
        let compiled = KeyHistory::compile(&ops);
        let pick = |i: usize| compiled.source[i].clone();
        if let Some(observer) = search::unwritten_observation(&compiled.ops, ABSENT) {
            return CheckResult::NotLinearizable(Box::new(Violation {
                key: key.to_vec(),
                ops_on_key: compiled.ops.len(),
                blocked: pick(observer),
                reason: "it observed a value that no operation invoked before it completed \
                         writes"
                    .to_owned(),
                prefix: Vec::new(),
                value_after_prefix: None,
                candidates: Vec::new(),
            }));
        }
        match search::search(&compiled.ops, ABSENT, steps_per_key) {
            Verdict::Linearizable => {}
            Verdict::Unknown => {
                unknown.get_or_insert_with(|| key.to_vec());
            }
            Verdict::Violation(stuck) => {
                let value_after_prefix = compiled.value(stuck.state);
                return CheckResult::NotLinearizable(Box::new(Violation {
                    key: key.to_vec(),
                    ops_on_key: compiled.ops.len(),
                    blocked: pick(stuck.blocked),
                    reason: format!(
                        "at most {} of the {} operations can be linearized before it, leaving \
                         the value {}, and it must take effect before it completes, but no \
                         operation that could come next leads to a linearization",
                        stuck.prefix.len(),
                        compiled.ops.len(),
                        ShowValue(value_after_prefix.as_deref()),
                    ),
                    prefix: stuck.prefix.iter().map(|&i| pick(i)).collect(),
                    value_after_prefix,
                    candidates: stuck.candidates.iter().map(|&i| pick(i)).collect(),
                }));
            }
        }
    }
    match unknown {
        Some(key) => CheckResult::Unknown { key },
        None => CheckResult::Linearizable,
    }
}

/// One key's operations in the search's form, with the way back to the recorded operations.
struct KeyHistory<'a> {
    ops: Vec<KeyOp>,
    /// `source[i]` is the recorded operation behind `ops[i]`.
    source: Vec<&'a Operation>,
    /// `values[s - 1]` is the value of state `s`.
    values: Vec<&'a [u8]>,
}

impl<'a> KeyHistory<'a> {
    fn compile(recorded: &[&'a Operation]) -> Self {
        let mut interned: HashMap<&'a [u8], State> = HashMap::new();
        let mut values: Vec<&'a [u8]> = Vec::new();
        let mut intern = |v: &'a [u8]| -> State {
            *interned.entry(v).or_insert_with(|| {
                values.push(v);
                State::try_from(values.len()).unwrap_or(State::MAX)
            })
        };
        let mut ops = Vec::with_capacity(recorded.len());
        let mut source = Vec::with_capacity(recorded.len());
        for &rec in recorded {
            let (ret, result) = match &rec.outcome {
                Outcome::Completed {
                    completed_at,
                    result,
                } => (*completed_at, Some(result)),
                Outcome::Indeterminate => (u64::MAX, None),
            };
            let step = match (&rec.op, result) {
                (Op::Read { .. }, Some(OpResult::Read(seen))) => {
                    Step::Read(seen.as_deref().map_or(ABSENT, &mut intern))
                }
                // An unanswered read observed nothing.
                (Op::Read { .. }, _) => continue,
                (Op::Write { value, .. }, _) => Step::Write(intern(value)),
                (Op::Delete { .. }, _) => Step::Write(ABSENT),
                (Op::CompareAndSet { expected, new, .. }, result) => Step::Cas {
                    expected: expected.as_deref().map_or(ABSENT, &mut intern),
                    new: intern(new),
                    ok: match result {
                        Some(OpResult::CompareAndSet(ok)) => Some(*ok),
                        // History and Recorder reject mismatched results; treat any as unknown.
                        _ => None,
                    },
                },
            };
            ops.push(KeyOp {
                call: rec.invoked_at,
                ret,
                step,
            });
            source.push(rec);
        }
        KeyHistory {
            ops,
            source,
            values,
        }
    }

    fn value(&self, state: State) -> Option<Value> {
        let index = usize::try_from(state).ok()?.checked_sub(1)?;
        self.values.get(index).map(|v| v.to_vec())
    }
}
