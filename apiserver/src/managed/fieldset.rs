//! Sets of field paths, and their `FieldsV1` form (`{"f:spec": {"f:replicas": {}}}`), as
//! server-side apply records who manages what.
//!
//! A path steps through object fields (`f:name`), list items identified by their key fields
//! (`k:{"name":"web"}`), set members (`v:"value"`) or, for lists without keys, positions
//! (`i:0`). A node that is itself a member and also has members below is written with a `.`
//! entry, as Kubernetes writes it.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Element {
    /// An object field.
    Field(String),
    /// A list item by its key fields (a JSON object, serialized with sorted keys).
    Key(String),
    /// A set member (its JSON).
    Value(String),
    /// A list position.
    Index(usize),
}

impl Element {
    fn encode(&self) -> String {
        match self {
            Element::Field(f) => format!("f:{f}"),
            Element::Key(k) => format!("k:{k}"),
            Element::Value(v) => format!("v:{v}"),
            Element::Index(i) => format!("i:{i}"),
        }
    }

    fn decode(s: &str) -> Option<Element> {
        let (kind, rest) = s.split_once(':')?;
        Some(match kind {
            "f" => Element::Field(rest.to_owned()),
            "k" => Element::Key(rest.to_owned()),
            "v" => Element::Value(rest.to_owned()),
            "i" => Element::Index(rest.parse().ok()?),
            _ => return None,
        })
    }
}

impl fmt::Display for Element {
    /// The form conflict messages use: `.spec`, `[name="web"]`, `[=value]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Element::Field(name) => write!(f, ".{name}"),
            Element::Key(k) => {
                let keys: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", parts.join(","))
            }
            Element::Value(v) => write!(f, "[={v}]"),
            Element::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the object's root.
pub type Path = Vec<Element>;

/// Renders a path as conflict messages do: `.spec.template.spec.containers[name="web"].image`.
pub fn path_string(path: &[Element]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of paths, as a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// This node is itself in the set.
    pub member: bool,
    pub children: BTreeMap<Element, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    pub fn insert(&mut self, path: &[Element]) {
        match path.split_first() {
            None => self.member = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn contains(&self, path: &[Element]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((first, rest)) => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Every member path.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (e, child) in &self.children {
            prefix.push(e.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        for p in other.paths() {
            out.insert(&p);
        }
        out
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for p in self.paths() {
            if !other.contains(&p) {
                out.insert(&p);
            }
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for p in self.paths() {
            if other.contains(&p) {
                out.insert(&p);
            }
        }
        out
    }

    /// The `FieldsV1` JSON form.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (e, child) in &self.children {
            map.insert(e.encode(), child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Reads the `FieldsV1` JSON form; unknown entries are skipped.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Some(map) = v.as_object() {
            for (k, child) in map {
                if k == "." {
                    set.member = true;
                    continue;
                }
                if let Some(e) = Element::decode(k) {
                    let mut sub = FieldSet::from_fields_v1(child);
                    if child.as_object().is_some_and(Map::is_empty) {
                        sub.member = true;
                    }
                    set.children.insert(e, sub);
                }
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trip() {
        let v = json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}},
            },
        });
        let set = FieldSet::from_fields_v1(&v);
        assert!(set.contains(&[
            Element::Field("spec".into()),
            Element::Field("replicas".into())
        ]));
        let item = [
            Element::Field("spec".into()),
            Element::Field("containers".into()),
            Element::Key("{\"name\":\"web\"}".into()),
        ];
        assert!(set.contains(&item));
        assert_eq!(set.to_fields_v1(), v);
        assert_eq!(path_string(&item), ".spec.containers[name=\"web\"]");
        let other = FieldSet::from_fields_v1(&json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(set.intersection(&other), other);
        assert!(!set.difference(&other).contains(&[
            Element::Field("spec".into()),
            Element::Field("replicas".into())
        ]));
    }
}
