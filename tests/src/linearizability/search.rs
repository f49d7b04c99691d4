//! Wing-Gong-Lowe search for a linearization of one key's operations, with memoized states.
//!
//! The history of one key becomes a doubly linked list of call and return entries in real-time
//! order. From each configuration (the operations linearized so far and the register value), the
//! operations that may come next are those whose call precedes the first return left in the list.
//! The search tries them depth first: a legal one whose next configuration was never seen before
//! is linearized (its call and return are removed from the list); when none is left to try, the
//! search undoes the last choice and tries the next alternative there. Removal and re-insertion
//! are O(1) because undo happens in LIFO order (dancing links); the set of seen configurations
//! (the memo) makes the search visit each configuration at most once.
//!
//! One refinement over the plain algorithm keeps typical histories near linear time: a legal
//! read-only operation is linearized at once with no alternative tried (see
//! `Search::open_level`); this alone took a 5000-operation history from seconds to milliseconds.
//!
//! The search is exponential in the worst case (the problem is NP-complete): what grows is the
//! number of state-changing operations in flight at once, especially with duplicate values.
//! Histories whose writes carry unique values and whose clients number in the tens check fast;
//! failing histories take longer than passing ones, as every configuration before the violation
//! must be ruled out.

use std::collections::HashMap;

/// A register value: 0 is "absent", anything else an interned value of this key.
pub(crate) type State = u32;
/// The absent state.
pub(crate) const ABSENT: State = 0;

/// One operation of a key, reduced to what the search needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyOp {
    pub(crate) call: u64,
    /// `u64::MAX` for indeterminate operations.
    pub(crate) ret: u64,
    pub(crate) step: Step,
}

/// The effect of an operation on the register, with the observation it must agree with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A completed read that observed this state.
    Read(State),
    /// A write (completed or not): always legal.
    Write(State),
    /// A compare-and-set; `ok` is `None` if the outcome is unknown, in which case it swaps exactly
    /// when the register holds `expected`, as the store would have.
    Cas {
        expected: State,
        new: State,
        ok: Option<bool>,
    },
}

impl Step {
    /// Whether the step leaves the register unchanged whenever it is legal.
    fn is_read_only(self) -> bool {
        matches!(
            self,
            Step::Read(_)
                | Step::Cas {
                    ok: Some(false),
                    ..
                }
        )
    }

    /// The register after this step from `state`, or `None` if the step's observation is
    /// impossible from `state`.
    fn apply(self, state: State) -> Option<State> {
        match self {
            Step::Read(seen) => (seen == state).then_some(state),
            Step::Write(v) => Some(v),
            Step::Cas {
                expected,
                new,
                ok: Some(true),
            } => (state == expected).then_some(new),
            Step::Cas {
                expected,
                ok: Some(false),
                ..
            } => (state != expected).then_some(state),
            Step::Cas {
                expected,
                new,
                ok: None,
            } => Some(if state == expected { new } else { state }),
        }
    }
}

/// What the search concluded for one key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Linearizable,
    /// No linearization exists; `Stuck` describes the deepest point the search reached.
    Violation(Stuck),
    /// The step budget ran out first.
    Unknown,
}

/// The deepest dead end of a failed search: indices are into the key's operation slice.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stuck {
    /// The longest sequence of operations that could be linearized, in linearization order.
    pub(crate) prefix: Vec<usize>,
    /// The register after `prefix`.
    pub(crate) state: State,
    /// The operation whose completion came next and which could not be linearized in time.
    pub(crate) blocked: usize,
    /// Operations that could have been linearized next (invoked before `blocked` completed),
    /// `blocked` included; none of them led anywhere.
    pub(crate) candidates: Vec<usize>,
}

/// A quick necessary condition, checked before the search: every observed value must have been
/// written by an operation invoked no later than the observer completed (or be the initial
/// state). Returns the earliest-completing observer that breaks it.
pub(crate) fn unwritten_observation(ops: &[KeyOp], initial: State) -> Option<usize> {
    let mut first_write: HashMap<State, u64> = HashMap::new();
    first_write.insert(initial, 0);
    for op in ops {
        let produced = match op.step {
            Step::Write(v) => v,
            Step::Cas { new, ok, .. } if ok != Some(false) => new,
            _ => continue,
        };
        let at = first_write.entry(produced).or_insert(op.call);
        *at = (*at).min(op.call);
    }
    ops.iter()
        .enumerate()
        .filter(|(_, op)| {
            let observed = match op.step {
                Step::Read(v) => v,
                Step::Cas {
                    expected,
                    ok: Some(true),
                    ..
                } => expected,
                _ => return false,
            };
            first_write.get(&observed).is_none_or(|&at| at > op.ret)
        })
        .min_by_key(|(_, op)| op.ret)
        .map(|(i, _)| i)
}

/// Sentinel node of the circular entry list.
const HEAD: usize = 0;

/// Searches for a linearization of `ops` starting from `initial`, giving up after `budget` steps
/// (one step per operation tried at one point).
pub(crate) fn search(ops: &[KeyOp], initial: State, budget: Option<u64>) -> Verdict {
    if ops.is_empty() {
        return Verdict::Linearizable;
    }
    Search::new(ops, initial, budget).run()
}

/// A configuration on the current search path: the operations to try next from it, and the
/// operation that led into it.
#[derive(Clone, Copy, Debug)]
struct Level {
    /// Candidate call nodes are `arena[start..end]`; those from `next` on are untried.
    start: usize,
    next: usize,
    end: usize,
    /// The call node linearized to reach this configuration, and the register before it; `None`
    /// for the initial configuration.
    via: Option<(usize, State)>,
}

/// The state of one search over one key.
struct Search<'a> {
    ops: &'a [KeyOp],
    budget: Option<u64>,
    steps: u64,
    /// Circular doubly linked list of entries; node k (1-based) is the k-th entry in real-time
    /// order, node 0 the sentinel. Linearized operations are unlinked.
    next: Vec<usize>,
    prev: Vec<usize>,
    node_op: Vec<usize>,
    node_is_call: Vec<bool>,
    return_node: Vec<usize>,
    zobrist: Vec<u64>,
    cache: Cache,
    linearized: Bits,
    fingerprint: u64,
    state: State,
    /// The current path, one level per linearized operation plus the initial configuration.
    levels: Vec<Level>,
    /// Candidate lists of all levels, stacked.
    arena: Vec<usize>,
    deepest: Option<Stuck>,
}

/// The search ran out of its step budget.
struct OutOfSteps;

impl<'a> Search<'a> {
    fn new(ops: &'a [KeyOp], initial: State, budget: Option<u64>) -> Self {
        let n = ops.len();
        // On equal times calls come first, so that touching intervals count as concurrent (the
        // conservative reading of equal timestamps).
        let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
        for (i, op) in ops.iter().enumerate() {
            events.push((op.call, false, i));
            events.push((op.ret, true, i));
        }
        events.sort_unstable();
        let nodes = events.len() + 1;
        let mut node_op = vec![0usize; nodes];
        let mut node_is_call = vec![false; nodes];
        let mut return_node = vec![0usize; n];
        for (k, &(_, is_return, op)) in events.iter().enumerate() {
            node_op[k + 1] = op;
            node_is_call[k + 1] = !is_return;
            if is_return {
                return_node[op] = k + 1;
            }
        }
        Search {
            ops,
            budget,
            steps: 0,
            next: (0..nodes).map(|k| (k + 1) % nodes).collect(),
            prev: (0..nodes).map(|k| (k + nodes - 1) % nodes).collect(),
            node_op,
            node_is_call,
            return_node,
            zobrist: (0..n as u64).map(splitmix64).collect(),
            cache: Cache::default(),
            linearized: Bits::new(n),
            fingerprint: 0,
            state: initial,
            levels: Vec::with_capacity(n + 1),
            arena: Vec::new(),
            deepest: None,
        }
    }

    fn run(mut self) -> Verdict {
        match self.explore() {
            Ok(true) => Verdict::Linearizable,
            Ok(false) => match self.deepest {
                Some(stuck) => Verdict::Violation(stuck),
                // Unreachable: failing needs a dead end, and every dead end is recorded.
                None => Verdict::Unknown,
            },
            Err(OutOfSteps) => Verdict::Unknown,
        }
    }

    /// The depth-first search proper: true if a linearization exists.
    fn explore(&mut self) -> Result<bool, OutOfSteps> {
        self.open_level(None);
        loop {
            if self.next[HEAD] == HEAD {
                return Ok(true);
            }
            let Some(level) = self.levels.last_mut() else {
                return Ok(false);
            };
            if level.next < level.end {
                let call = self.arena[level.next];
                level.next += 1;
                self.count_step()?;
                let before = self.state;
                if let Some(after) = self.ops[self.node_op[call]].step.apply(before) {
                    if self.linearize(call, after) {
                        self.open_level(Some((call, before)));
                    }
                }
                continue;
            }
            // Every way on from here failed: so did this configuration.
            if self
                .deepest
                .as_ref()
                .is_none_or(|d| self.levels.len() - 1 > d.prefix.len())
            {
                self.deepest = Some(self.dead_end());
            }
            if let Some(level) = self.levels.pop() {
                self.arena.truncate(level.start);
                match level.via {
                    Some((call, before)) => self.undo(call, before),
                    None => return Ok(false),
                }
            }
        }
    }

    /// Pushes the level of the configuration just reached, with its candidates: the operations
    /// invoked before the first pending completion.
    ///
    /// If one of them is read-only and legal, it is the only candidate. Taking it at once loses
    /// nothing: it leaves the register unchanged, and any linearization from here that places it
    /// later stays valid with it moved to the front (every operation that must precede it in real
    /// time is already linearized, since its call comes before the first pending return). So the
    /// configuration is linearizable iff the one after it is.
    ///
    /// Otherwise the candidates are tried in invocation order. (Trying the earliest completion or
    /// the earliest interval midpoint first was measured to backtrack more on simulated
    /// histories.)
    fn open_level(&mut self, via: Option<(usize, State)>) {
        let start = self.arena.len();
        let mut entry = self.next[HEAD];
        while self.node_is_call[entry] {
            let step = self.ops[self.node_op[entry]].step;
            if !step.is_read_only() {
                self.arena.push(entry);
            } else if step.apply(self.state).is_some() {
                self.arena.truncate(start);
                self.arena.push(entry);
                break;
            }
            entry = self.next[entry];
        }
        self.levels.push(Level {
            start,
            next: start,
            end: self.arena.len(),
            via,
        });
    }

    /// Linearizes the operation of `call` next, leading to register `after`, unless that
    /// configuration was explored before; true if it was linearized.
    fn linearize(&mut self, call: usize, after: State) -> bool {
        let op = self.node_op[call];
        let print = self.fingerprint ^ self.zobrist[op];
        self.linearized.set(op);
        if !self.cache.insert(print, after, &self.linearized) {
            self.linearized.clear(op);
            return false;
        }
        self.state = after;
        self.fingerprint = print;
        self.unlink(call);
        self.unlink(self.return_node[op]);
        true
    }

    /// Undoes the linearization of the operation of `call`, the last one linearized.
    fn undo(&mut self, call: usize, before: State) {
        let op = self.node_op[call];
        self.linearized.clear(op);
        self.fingerprint ^= self.zobrist[op];
        self.state = before;
        // Re-insert in the reverse order of removal.
        self.relink(self.return_node[op]);
        self.relink(call);
    }

    fn count_step(&mut self) -> Result<(), OutOfSteps> {
        self.steps += 1;
        match self.budget {
            Some(budget) if self.steps > budget => Err(OutOfSteps),
            _ => Ok(()),
        }
    }

    fn unlink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn relink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = x;
        self.prev[n] = x;
    }

    /// Describes the current configuration, from which no way on succeeded.
    fn dead_end(&self) -> Stuck {
        let mut candidates = Vec::new();
        let mut entry = self.next[HEAD];
        while self.node_is_call[entry] {
            candidates.push(self.node_op[entry]);
            entry = self.next[entry];
        }
        Stuck {
            prefix: self
                .levels
                .iter()
                .filter_map(|l| l.via.map(|(call, _)| self.node_op[call]))
                .collect(),
            state: self.state,
            blocked: self.node_op[entry],
            candidates,
        }
    }
}

/// Fixed-size bit set over operation indices.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

/// Configurations (linearized set, register) already explored. Keyed by an incrementally
/// maintained Zobrist fingerprint of the set mixed with the register, so a lookup costs O(1)
/// unless fingerprints collide, and a bit set is copied only when a configuration is new.
#[derive(Debug, Default)]
struct Cache {
    seen: HashMap<u64, Vec<Config>>,
}

/// One explored configuration: the register and the linearized set.
type Config = (State, Box<[u64]>);

impl Cache {
    /// Inserts the configuration; false if it was already there.
    fn insert(&mut self, fingerprint: u64, state: State, bits: &Bits) -> bool {
        let key = fingerprint ^ splitmix64(u64::from(state) ^ 0x5bd1_e995_0000_0000);
        let bucket = self.seen.entry(key).or_default();
        if bucket
            .iter()
            .any(|(s, b)| *s == state && b[..] == bits.0[..])
        {
            return false;
        }
        bucket.push((state, bits.0.clone().into_boxed_slice()));
        true
    }
}

/// A well-mixed 64-bit hash of `x` (SplitMix64's finalizer).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(call: u64, ret: u64, step: Step) -> KeyOp {
        KeyOp { call, ret, step }
    }

    #[test]
    fn empty_is_linearizable() {
        assert_eq!(search(&[], ABSENT, None), Verdict::Linearizable);
    }

    #[test]
    fn concurrent_write_may_be_seen_or_not() {
        let ops = [
            op(0, 100, Step::Write(1)),
            op(10, 20, Step::Read(1)),
            op(30, 40, Step::Read(1)),
        ];
        assert_eq!(search(&ops, ABSENT, None), Verdict::Linearizable);
        let ops = [op(0, 100, Step::Write(1)), op(10, 20, Step::Read(ABSENT))];
        assert_eq!(search(&ops, ABSENT, None), Verdict::Linearizable);
    }

    #[test]
    fn read_going_back_in_time_is_reported() {
        let ops = [
            op(0, 100, Step::Write(1)),
            op(10, 20, Step::Read(1)),
            op(30, 40, Step::Read(ABSENT)),
        ];
        let Verdict::Violation(stuck) = search(&ops, ABSENT, None) else {
            panic!("expected a violation");
        };
        assert_eq!(stuck.prefix, vec![0, 1]);
        assert_eq!(stuck.state, 1);
        assert_eq!(stuck.blocked, 2);
        assert_eq!(stuck.candidates, vec![2]);
    }

    #[test]
    fn equal_timestamps_count_as_concurrent() {
        let ops = [op(0, 10, Step::Read(1)), op(10, 20, Step::Write(1))];
        assert_eq!(search(&ops, ABSENT, None), Verdict::Linearizable);
    }

    #[test]
    fn budget_exhaustion_is_unknown() {
        let mut ops: Vec<KeyOp> = (0..12).map(|_| op(0, 100, Step::Write(1))).collect();
        ops.push(op(200, 300, Step::Read(2)));
        assert_eq!(search(&ops, ABSENT, Some(5)), Verdict::Unknown);
        assert!(matches!(search(&ops, ABSENT, None), Verdict::Violation(_)));
    }

    #[test]
    fn indeterminate_cas_swaps_only_on_match() {
        let cas = Step::Cas {
            expected: 1,
            new: 2,
            ok: None,
        };
        assert_eq!(cas.apply(1), Some(2));
        assert_eq!(cas.apply(3), Some(3));
    }
}
