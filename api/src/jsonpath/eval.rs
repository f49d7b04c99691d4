//! Evaluates parsed templates on JSON values, as kubectl's engine does.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::parser::{Node, Param, Segment};
use super::print::{go_type, go_value};
use super::Error;

type V<'a> = Cow<'a, Value>;
type Result<T, E = Error> = std::result::Result<T, E>;

/// Evaluation settings.
pub(super) struct Evaluator {
    pub allow_missing_keys: bool,
}

/// A child of `v` chosen by `pick`, borrowed when `v` is.
fn child<'a>(v: &V<'a>, pick: impl for<'x> Fn(&'x Value) -> Option<&'x Value>) -> Option<V<'a>> {
    match v {
        Cow::Borrowed(b) => pick(b).map(Cow::Borrowed),
        Cow::Owned(o) => pick(o).cloned().map(Cow::Owned),
    }
}

/// The direct children of an object (in key order) or array.
fn children<'a>(v: &V<'a>) -> Vec<V<'a>> {
    match v {
        Cow::Borrowed(Value::Object(m)) => m.values().map(Cow::Borrowed).collect(),
        Cow::Borrowed(Value::Array(a)) => a.iter().map(Cow::Borrowed).collect(),
        Cow::Owned(Value::Object(m)) => m.values().cloned().map(Cow::Owned).collect(),
        Cow::Owned(Value::Array(a)) => a.iter().cloned().map(Cow::Owned).collect(),
        _ => Vec::new(),
    }
}

impl Evaluator {
    /// Evaluates a template: one group of values per text piece, action, and range iteration.
    pub(super) fn run<'a>(&self, segments: &[Segment], data: &'a Value) -> Result<Vec<Vec<V<'a>>>> {
        let mut out = Vec::new();
        self.segments(segments, Cow::Borrowed(data), &mut out)?;
        Ok(out)
    }

    fn segments<'a>(
        &self,
        segments: &[Segment],
        data: V<'a>,
        out: &mut Vec<Vec<V<'a>>>,
    ) -> Result<()> {
        for seg in segments {
            match seg {
                Segment::Text(t) => out.push(vec![Cow::Owned(Value::String(t.clone()))]),
                Segment::Action(nodes) => out.push(self.list(vec![data.clone()], nodes)?),
                Segment::Range { expr, body } => {
                    for item in self.list(vec![data.clone()], expr)? {
                        self.segments(body, item, out)?;
                    }
                }
                Segment::End => return Err(Error::EndOutsideRange),
            }
        }
        Ok(())
    }

    /// Applies each node in turn to the values the previous one produced.
    fn list<'a>(&self, mut values: Vec<V<'a>>, nodes: &[Node]) -> Result<Vec<V<'a>>> {
        for node in nodes {
            values = self.node(values, node)?;
        }
        Ok(values)
    }

    fn node<'a>(&self, input: Vec<V<'a>>, node: &Node) -> Result<Vec<V<'a>>> {
        match node {
            Node::Field(name) => self.field(input, name),
            Node::Wildcard => Ok(input.iter().flat_map(children).collect()),
            Node::Recursive => Ok(recursive(input)),
            Node::Array(params) => array(input, params),
            Node::Union(alternatives) => {
                let mut out = Vec::new();
                for alt in alternatives {
                    out.extend(self.list(input.clone(), alt)?);
                }
                Ok(out)
            }
            Node::Filter { left, op, right } => self.filter(input, left, op, right),
            Node::Text(t) => Ok(vec![Cow::Owned(Value::String(t.clone()))]),
            Node::Int(i) => Ok(vec![Cow::Owned(Value::from(*i)); input.len()]),
            Node::Float(f) => Ok(vec![Cow::Owned(Value::from(*f)); input.len()]),
            Node::Bool(b) => Ok(vec![Cow::Owned(Value::Bool(*b)); input.len()]),
            Node::Identifier(word) => match word.as_str() {
                "range" => Ok(input),
                "end" => Err(Error::EndOutsideRange),
                other => Err(Error::UnknownIdentifier(other.to_owned())),
            },
        }
    }

    fn field<'a>(&self, input: Vec<V<'a>>, name: &str) -> Result<Vec<V<'a>>> {
        if input.is_empty() {
            return Ok(input);
        }
        if name.is_empty() {
            return Ok(input);
        }
        let found: Vec<V<'a>> = input
            .iter()
            .filter_map(|v| child(v, |x| x.as_object().and_then(|m| m.get(name))))
            .collect();
        if found.is_empty() && !self.allow_missing_keys {
            return Err(Error::NotFound(name.to_owned()));
        }
        Ok(found)
    }

    fn filter<'a>(
        &self,
        input: Vec<V<'a>>,
        left: &[Node],
        op: &str,
        right: &[Node],
    ) -> Result<Vec<V<'a>>> {
        let mut out = Vec::new();
        for v in &input {
            if v.is_null() {
                continue;
            }
            if !v.is_array() {
                return Err(Error::NotFilterable(go_value(v)));
            }
            for item in children(v) {
                let lefts = self.list(vec![item.clone()], left);
                if op == "exists" {
                    if lefts.is_ok_and(|l| !l.is_empty()) {
                        out.push(item);
                    }
                    continue;
                }
                let Some(l) = single(lefts?)? else { continue };
                let Some(r) = single(self.list(vec![item.clone()], right)?)? else {
                    continue;
                };
                if compare(&l, op, &r)? {
                    out.push(item);
                }
            }
        }
        Ok(out)
    }
}

/// The one operand value; `None` when there is none.
fn single(values: Vec<V<'_>>) -> Result<Option<V<'_>>> {
    match values.len() {
        0 => Ok(None),
        1 => Ok(values.into_iter().next()),
        _ => Err(Error::MultipleOperands),
    }
}

/// Every non-empty object and array, depth first, each before its contents.
fn recursive(input: Vec<V<'_>>) -> Vec<V<'_>> {
    let mut out = Vec::new();
    for v in input {
        let kids = children(&v);
        if !kids.is_empty() {
            out.push(v);
            out.extend(recursive(kids));
        }
    }
    out
}

fn array<'a>(input: Vec<V<'a>>, params: &[Param; 3]) -> Result<Vec<V<'a>>> {
    let mut out = Vec::new();
    for v in &input {
        if v.is_null() {
            continue;
        }
        let Some(items) = v.as_array() else {
            return Err(Error::NotArray(go_type(v).to_owned()));
        };
        let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
        let mut start = if params[0].known { params[0].value } else { 0 };
        if start < 0 {
            start = start.saturating_add(len);
        }
        let mut end = if params[1].known {
            params[1].value
        } else {
            len
        };
        if end < 0 || (end == 0 && params[1].derived) {
            end = end.saturating_add(len);
        }
        if start == end {
            // Asking for no element is allowed, and ends the walk as kubectl does.
            return Ok(out);
        }
        if start >= len || start < 0 {
            return Err(Error::IndexOutOfBounds {
                index: start,
                length: items.len(),
            });
        }
        if end > len || end < 0 {
            return Err(Error::IndexOutOfBounds {
                index: end.saturating_sub(1),
                length: items.len(),
            });
        }
        if start > end {
            return Err(Error::StartAfterEnd { start, end });
        }
        let step = if params[2].known {
            if params[2].value <= 0 {
                return Err(Error::BadStep);
            }
            params[2].value
        } else {
            1
        };
        let (start, end, step) = (
            usize::try_from(start).unwrap_or(0),
            usize::try_from(end).unwrap_or(0),
            usize::try_from(step).unwrap_or(1),
        );
        for i in (start..end).step_by(step) {
            if let Some(item) = child(v, |x| x.get(i)) {
                out.push(item);
            }
        }
    }
    Ok(out)
}

/// A value as the comparison functions see it.
enum Operand<'v> {
    Int(i64),
    Float(f64),
    Str(&'v str),
    Bool(bool),
    /// Objects, arrays, null, and integers beyond `i64`: not comparable.
    Other,
}

fn operand(v: &Value) -> Operand<'_> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Operand::Int(i),
            None if n.is_f64() => n.as_f64().map_or(Operand::Other, Operand::Float),
            None => Operand::Other,
        },
        Value::String(s) => Operand::Str(s),
        Value::Bool(b) => Operand::Bool(*b),
        _ => Operand::Other,
    }
}

fn equal(l: &Value, r: &Value) -> Result<bool> {
    match (operand(l), operand(r)) {
        (Operand::Other, _) | (_, Operand::Other) => Err(Error::InvalidComparisonType),
        (Operand::Int(a), Operand::Int(b)) => Ok(a == b),
        (Operand::Float(a), Operand::Float(b)) => Ok(a == b),
        (Operand::Str(a), Operand::Str(b)) => Ok(a == b),
        (Operand::Bool(a), Operand::Bool(b)) => Ok(a == b),
        _ => Err(Error::IncompatibleTypes),
    }
}

fn less(l: &Value, r: &Value) -> Result<bool> {
    let ordering = match (operand(l), operand(r)) {
        (Operand::Other, _) | (_, Operand::Other) | (Operand::Bool(_), Operand::Bool(_)) => {
            return Err(Error::InvalidComparisonType)
        }
        (Operand::Int(a), Operand::Int(b)) => a.cmp(&b),
        (Operand::Float(a), Operand::Float(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        (Operand::Str(a), Operand::Str(b)) => a.cmp(b),
        _ => return Err(Error::IncompatibleTypes),
    };
    Ok(ordering == Ordering::Less)
}

fn compare(l: &Value, op: &str, r: &Value) -> Result<bool> {
    match op {
        "==" => equal(l, r),
        "!=" => equal(l, r).map(|e| !e),
        "<" => less(l, r),
        "<=" => Ok(less(l, r)? || equal(l, r)?),
        ">" => Ok(!(less(l, r)? || equal(l, r)?)),
        ">=" => less(l, r).map(|lt| !lt),
        other => Err(Error::UnknownOperator(other.to_owned())),
    }
}
