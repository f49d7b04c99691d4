//! The two-way strategic diff: the strategic merge patch that turns one object into another,
//! restricted to deletions or to additions and changes, as kubectl's three-way patch needs.
//!
//! Rules (those of Kubernetes' strategic patch creation):
//!
//! - A key of the target missing from the source is an addition (its whole value); a key of the
//!   source missing from the target is a deletion (`null`); a value whose JSON type changed is
//!   replaced whole; equal scalars produce nothing.
//! - Objects are diffed key by key, unless their field has the `replace` strategy: then the
//!   target's object is sent whole, even when unchanged (as Kubernetes does, which is why a
//!   `PodDisruptionBudget`'s `selector` is never `unchanged`).
//! - Lists are replaced whole when they differ, unless their field has the `merge` strategy:
//!   - lists of objects are matched by the merge key: matched elements are diffed (the patch
//!     element carries the merge key), new elements are added whole, elements gone become
//!     `{"$patch": "delete", <key>: <value>}` at the end of the patch list, and
//!     `$setElementOrder/<field>` lists the target's merge keys in order whenever the patch
//!     list is not empty or (for additions) the order differs;
//!   - a list with nothing on the source side is added whole (no order directive);
//!   - lists of scalars: new values are listed in the patch list, removed values in
//!     `$deleteFromPrimitiveList/<field>`, and `$setElementOrder/<field>` is the whole target
//!     list when something was removed or (for additions) the lists differ.
//! - Under a field with the `retainKeys` strategy, `$retainKeys` lists the target's non-null
//!   keys (sorted) whenever the patch is not empty or the source has keys the target lacks.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::json::json_equal;
use super::{go_format, PatchError, Result};
use crate::schema::{PatchMeta, PatchStrategy, Schemas};

pub(super) const DIRECTIVE: &str = "$patch";
pub(super) const RETAIN_KEYS: &str = "$retainKeys";
pub(super) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
pub(super) const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// What a diff keeps.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DiffOptions {
    /// Leave out deletions (keys and elements only in the source).
    pub ignore_deletions: bool,
    /// Leave out additions and changes (what the target adds or changes).
    pub ignore_changes_and_additions: bool,
    /// Emit `$retainKeys` for this object (set from the field's strategy while descending).
    pub retain_keys: bool,
}

/// What the schema says about one field: its markers and its (unresolved) schema.
#[derive(Default, Clone, Copy)]
pub(super) struct Field<'a> {
    pub meta: PatchMeta<'a>,
    pub schema: Option<&'a Value>,
}

impl Field<'_> {
    pub(super) fn merges(&self) -> bool {
        self.meta.strategy.is_some_and(PatchStrategy::merges)
    }

    pub(super) fn replaces(&self) -> bool {
        self.meta.strategy == Some(PatchStrategy::Replace)
    }

    pub(super) fn retains_keys(&self) -> bool {
        matches!(
            self.meta.strategy,
            Some(PatchStrategy::RetainKeys | PatchStrategy::MergeRetainKeys)
        )
    }
}

/// The field `key` of an object described by `parent`; map values share one schema.
pub(super) fn field<'a>(schemas: &'a Schemas, parent: Option<&'a Value>, key: &str) -> Field<'a> {
    let Some(parent) = parent.map(|p| schemas.resolve(p)) else {
        return Field::default();
    };
    if let Some(property) = parent.get("properties").and_then(|p| p.get(key)) {
        return Field {
            meta: PatchMeta::of(property),
            schema: Some(property),
        };
    }
    match parent.get("additionalProperties") {
        Some(values) if values.is_object() => Field {
            meta: PatchMeta::default(),
            schema: Some(values),
        },
        _ => Field::default(),
    }
}

/// The diff of one merged list.
struct ListDiff {
    /// The patch list: additions and changes (and, for objects, delete directives last).
    list: Vec<Value>,
    /// Scalars to remove: `$deleteFromPrimitiveList/<field>`.
    deletions: Vec<Value>,
    /// `$setElementOrder/<field>`, when it is to be sent.
    set_order: Option<Vec<Value>>,
}

/// A merge-list element with its merge key, printed (for sorting) and raw.
type Keyed<'v> = (String, &'v Value, &'v Map<String, Value>);

/// Computes strategic diffs against one set of schemas.
pub(super) struct Differ<'a> {
    pub schemas: &'a Schemas,
}

impl<'a> Differ<'a> {
    /// The patch turning `source` into `target`, objects described by `schema`.
    pub(super) fn diff_maps(
        &self,
        source: &Map<String, Value>,
        target: &Map<String, Value>,
        schema: Option<&'a Value>,
        options: DiffOptions,
    ) -> Result<Map<String, Value>> {
        let mut patch = Map::new();
        let mut retain: Vec<Value> = Vec::new();
        for (key, new) in target {
            if options.retain_keys && !new.is_null() {
                retain.push(Value::String(key.clone()));
            }
            let Some(old) = source.get(key) else {
                if !options.ignore_changes_and_additions {
                    patch.insert(key.clone(), new.clone());
                }
                continue;
            };
            if key == DIRECTIVE {
                if old != new {
                    patch.insert(key.clone(), new.clone());
                }
                continue;
            }
            match (old, new) {
                (Value::Object(o), Value::Object(n)) => {
                    let field = field(self.schemas, schema, key);
                    if field.replaces() {
                        // Kubernetes sends a `replace` object whole, even when unchanged.
                        if !options.ignore_changes_and_additions {
                            patch.insert(key.clone(), new.clone());
                        }
                        continue;
                    }
                    let nested = DiffOptions {
                        retain_keys: field.retains_keys(),
                        ..options
                    };
                    let value = self.diff_maps(o, n, field.schema, nested)?;
                    if !value.is_empty() {
                        patch.insert(key.clone(), Value::Object(value));
                    }
                }
                (Value::Array(o), Value::Array(n)) => {
                    let field = field(self.schemas, schema, key);
                    if field.merges() {
                        let nested = DiffOptions {
                            retain_keys: field.retains_keys(),
                            ..options
                        };
                        self.diff_merged_lists(key, o, n, &field, nested, &mut patch)?;
                    } else if !options.ignore_changes_and_additions && !json_equal(old, new) {
                        patch.insert(key.clone(), new.clone());
                    }
                }
                _ => {
                    if !options.ignore_changes_and_additions && !json_equal(old, new) {
                        patch.insert(key.clone(), new.clone());
                    }
                }
            }
        }
        if !options.ignore_deletions {
            for key in source.keys() {
                if !target.contains_key(key) {
                    patch.insert(key.clone(), Value::Null);
                }
            }
        }
        let source_has_more = source
            .iter()
            .any(|(k, v)| !v.is_null() && !target.contains_key(k));
        if !retain.is_empty() && (!patch.is_empty() || source_has_more) {
            sort_scalars(&mut retain);
            patch.insert(RETAIN_KEYS.to_owned(), Value::Array(retain));
        }
        Ok(patch)
    }

    /// Diffs two lists of a field with the `merge` strategy into `patch`: the patch list,
    /// `$deleteFromPrimitiveList/<key>` and `$setElementOrder/<key>`.
    fn diff_merged_lists(
        &self,
        key: &str,
        source: &[Value],
        target: &[Value],
        field: &Field<'a>,
        options: DiffOptions,
        patch: &mut Map<String, Value>,
    ) -> Result<()> {
        if source.is_empty() {
            // Nothing to match against: the whole target list is the addition, in its order.
            if !target.is_empty() && !options.ignore_changes_and_additions {
                patch.insert(key.to_owned(), Value::Array(target.to_vec()));
            }
            return Ok(());
        }
        let objects = element_kind_is_object(source, target)?;
        let ListDiff {
            list,
            deletions,
            set_order,
        } = if objects {
            let merge_key = field.meta.merge_key.ok_or_else(|| {
                PatchError::NotApplicable(
                    "cannot merge lists without merge key for type struct".to_owned(),
                )
            })?;
            self.diff_lists_of_maps(source, target, field, merge_key, options)?
        } else {
            diff_lists_of_scalars(source, target, options)
        };
        if !list.is_empty() {
            patch.insert(key.to_owned(), Value::Array(list));
        }
        if !deletions.is_empty() {
            patch.insert(
                format!("{DELETE_FROM_PRIMITIVE_LIST}{key}"),
                Value::Array(deletions),
            );
        }
        if let Some(set_order) = set_order {
            if !set_order.is_empty() {
                patch.insert(format!("{SET_ELEMENT_ORDER}{key}"), Value::Array(set_order));
            }
        }
        Ok(())
    }

    /// Lists of objects matched by `merge_key` (never primitive deletions).
    fn diff_lists_of_maps(
        &self,
        source: &[Value],
        target: &[Value],
        field: &Field<'a>,
        merge_key: &str,
        options: DiffOptions,
    ) -> Result<ListDiff> {
        let element = field.schema.and_then(|s| self.schemas.element(s));
        let source_sorted = sorted_by_key(source, merge_key)?;
        let target_sorted = sorted_by_key(target, merge_key)?;
        let mut list = Vec::new();
        let mut deletes = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < source_sorted.len() || j < target_sorted.len() {
            let step = match (source_sorted.get(i), target_sorted.get(j)) {
                (Some((sk, _, _)), Some((tk, _, _))) => sk.cmp(tk),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match step {
                Ordering::Equal => {
                    let (_, key_value, old) = &source_sorted[i];
                    let (_, _, new) = &target_sorted[j];
                    let mut value = self.diff_maps(old, new, element, options)?;
                    if !value.is_empty() {
                        value.insert(merge_key.to_owned(), (*key_value).clone());
                        list.push(Value::Object(value));
                    }
                    i += 1;
                    j += 1;
                }
                Ordering::Greater => {
                    if !options.ignore_changes_and_additions {
                        list.push(Value::Object(target_sorted[j].2.clone()));
                    }
                    j += 1;
                }
                Ordering::Less => {
                    if !options.ignore_deletions {
                        let mut directive = Map::new();
                        directive.insert(DIRECTIVE.to_owned(), Value::from("delete"));
                        directive.insert(merge_key.to_owned(), source_sorted[i].1.clone());
                        deletes.push(Value::Object(directive));
                    }
                    i += 1;
                }
            }
        }
        // The patch list follows the target's order; deletions go last.
        let position = |item: &Value| {
            target
                .iter()
                .position(|t| same_key(t, item, merge_key))
                .unwrap_or(usize::MAX)
        };
        list.sort_by_key(position);
        let order_same = source.len() == target.len()
            && source
                .iter()
                .zip(target)
                .all(|(s, t)| same_key(s, t, merge_key));
        list.extend(deletes);
        let wants_order = (!options.ignore_changes_and_additions
            && (!list.is_empty() || !order_same))
            || (!options.ignore_deletions && !list.is_empty());
        let set_order = wants_order.then(|| {
            target
                .iter()
                .map(|t| {
                    let mut entry = Map::new();
                    entry.insert(
                        merge_key.to_owned(),
                        t.get(merge_key).cloned().unwrap_or(Value::Null),
                    );
                    Value::Object(entry)
                })
                .collect()
        });
        Ok(ListDiff {
            list,
            deletions: Vec::new(),
            set_order,
        })
    }
}

/// Lists of scalars as sets.
fn diff_lists_of_scalars(source: &[Value], target: &[Value], options: DiffOptions) -> ListDiff {
    let mut source_sorted = source.to_vec();
    let mut target_sorted = target.to_vec();
    sort_scalars(&mut source_sorted);
    sort_scalars(&mut target_sorted);
    let mut added = Vec::new();
    let mut removed: Vec<Value> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < source_sorted.len() || j < target_sorted.len() {
        let step = match (source_sorted.get(i), target_sorted.get(j)) {
            (Some(s), Some(t)) => go_format(s).cmp(&go_format(t)),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match step {
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
            Ordering::Less => {
                if !options.ignore_deletions {
                    removed.push(source_sorted[i].clone());
                }
                i += 1;
            }
            Ordering::Greater => {
                if !options.ignore_changes_and_additions {
                    added.push(target_sorted[j].clone());
                }
                j += 1;
            }
        }
    }
    deduplicate_scalars(&mut removed);
    // Additions follow the target's order.
    let position = |item: &Value| {
        target
            .iter()
            .position(|t| json_equal(t, item))
            .unwrap_or(usize::MAX)
    };
    added.sort_by_key(position);
    let wants_order = (!options.ignore_deletions && !removed.is_empty())
        || (!options.ignore_changes_and_additions && !json_equal_lists(source, target));
    let set_order = wants_order.then(|| target.to_vec());
    ListDiff {
        list: added,
        deletions: removed,
        set_order,
    }
}

/// Removes repeated values the way Kubernetes does: a repeat is overwritten by the last
/// element and the list shortened, so the order after a repeat changes.
fn deduplicate_scalars(values: &mut Vec<Value>) {
    let mut i = 0;
    while i < values.len() {
        let mut j = i + 1;
        while j < values.len() {
            if json_equal(&values[i], &values[j]) {
                values.swap_remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
}

fn json_equal_lists(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_equal(x, y))
}

/// Sorts scalars by their printed form, as Kubernetes does before comparing sets.
pub(super) fn sort_scalars(values: &mut [Value]) {
    values.sort_by_cached_key(go_format);
}

/// The elements of a merge list with their merge key (printed and raw), sorted by it.
fn sorted_by_key<'v>(list: &'v [Value], merge_key: &str) -> Result<Vec<Keyed<'v>>> {
    let mut sorted = Vec::with_capacity(list.len());
    for item in list {
        let Value::Object(map) = item else {
            return Err(PatchError::NotApplicable(format!(
                "expected a map, but received {}",
                go_format(item)
            )));
        };
        let value = map.get(merge_key).ok_or_else(|| {
            PatchError::NotApplicable(format!(
                "map: {} does not contain declared merge key: {merge_key}",
                go_format(item)
            ))
        })?;
        sorted.push((go_format(value), value, map));
    }
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(sorted)
}

fn same_key(a: &Value, b: &Value, merge_key: &str) -> bool {
    match (a.get(merge_key), b.get(merge_key)) {
        (Some(x), Some(y)) => json_equal(x, y),
        _ => false,
    }
}

/// Whether the elements of two lists are objects (`true`) or scalars (`false`); lists of lists
/// and mixed element types are refused.
fn element_kind_is_object(source: &[Value], target: &[Value]) -> Result<bool> {
    let mut kind: Option<u8> = None;
    for value in source.iter().chain(target) {
        let this = match value {
            Value::Array(_) => {
                return Err(PatchError::NotApplicable(
                    "lists of lists are not supported".to_owned(),
                ))
            }
            Value::Object(_) => 0,
            Value::String(_) => 1,
            Value::Number(_) => 2,
            Value::Bool(_) => 3,
            Value::Null => 4,
        };
        match kind {
            None => kind = Some(this),
            Some(k) if k != this => {
                return Err(PatchError::NotApplicable(format!(
                    "list element types are not identical: [{} {}]",
                    go_format(&Value::Array(source.to_vec())),
                    go_format(&Value::Array(target.to_vec()))
                )))
            }
            Some(_) => {}
        }
    }
    Ok(kind == Some(0))
}
