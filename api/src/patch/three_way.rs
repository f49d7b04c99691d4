//! The patches client-side `kubectl apply` sends, computed from three objects: the
//! last-applied configuration (`original`, from the `kubectl.kubernetes.io/last-applied-configuration`
//! annotation, absent on a first apply), the new configuration (`modified`) and the live object
//! (`current`).
//!
//! Deletions come from original -> modified: only what the configuration itself stopped
//! saying is removed, so fields set by other writers (defaults, controllers, an autoscaler's
//! `replicas`) survive. Additions and changes come from current -> modified: only what differs
//! from the live object is sent. The two are then combined into one patch, which is `{}`
//! exactly when kubectl reports `unchanged`.
//!
//! - [`create_three_way_merge_patch`]: the strategic merge patch, for built-in kinds.
//! - [`create_merge_patch`]: the JSON merge patch (RFC 7386), for custom resources.

use serde_json::{Map, Value};

use super::diff::{
    field, DiffOptions, Differ, DELETE_FROM_PRIMITIVE_LIST, DIRECTIVE, RETAIN_KEYS,
    SET_ELEMENT_ORDER,
};
use super::json::json_equal;
use super::strategic::order;
use super::{apply_merge_patch, go_format, PatchError, Result};
use crate::schema::Schemas;

/// Computes the strategic merge patch `kubectl apply` sends for an object of the kind whose
/// OpenAPI definition is `definition` (`io.k8s.api.apps.v1.Deployment`).
///
/// `original` is the last-applied configuration (`None` when the object has no annotation),
/// `modified` the new configuration as it will be stored (with its own last-applied
/// annotation), `current` the live object. Fields removed from the configuration since the
/// last apply become `null`, removed merge-list elements `{"$patch": "delete", <key>: ...}`
/// and removed scalars `$deleteFromPrimitiveList/<field>` entries, with
/// `$setElementOrder/<field>` and `$retainKeys` directives where Kubernetes emits them.
/// Additions and changes are only what `modified` sets differently from `current`. The result
/// is `{}` when nothing is to change.
///
/// An unknown `definition` diffs every list as a whole, as a JSON merge patch does.
///
/// # Errors
///
/// [`PatchError::Invalid`] when one of the three documents is not a JSON object;
/// [`PatchError::NotApplicable`] when a merge list cannot be diffed: an element without its
/// merge key, lists of lists, or elements of different types.
pub fn create_three_way_merge_patch(
    original: Option<&Value>,
    modified: &Value,
    current: &Value,
    schemas: &Schemas,
    definition: &str,
) -> Result<Value> {
    let empty = Map::new();
    let original = match original {
        None | Some(Value::Null) => &empty,
        Some(value) => as_object(value, "last-applied configuration")?,
    };
    let modified = as_object(modified, "modified configuration")?;
    let current = as_object(current, "current object")?;
    let schema = schemas.definition(definition);
    let differ = Differ { schemas };
    let delta = differ.diff_maps(
        current,
        modified,
        schema,
        DiffOptions {
            ignore_deletions: true,
            ..DiffOptions::default()
        },
    )?;
    let deletions = differ.diff_maps(
        original,
        modified,
        schema,
        DiffOptions {
            ignore_changes_and_additions: true,
            ..DiffOptions::default()
        },
    )?;
    let combiner = Combiner { schemas };
    combiner
        .combine(deletions, delta, schema)
        .map(Value::Object)
}

/// Computes the three-way JSON merge patch (RFC 7386) `kubectl apply` sends for objects without
/// patch markers (custom resources): keys removed from the configuration since `original`
/// become `null`, keys that `modified` sets differently from `current` are sent, lists whole.
/// `original` `None` means no last-applied configuration. The result is `{}` when nothing is
/// to change. A `modified` that is not an object is itself the patch (it replaces).
pub fn create_merge_patch(original: Option<&Value>, modified: &Value, current: &Value) -> Value {
    let Value::Object(modified_map) = modified else {
        return modified.clone();
    };
    let empty = Map::new();
    let object = |value: Option<&Value>| -> Map<String, Value> {
        match value {
            Some(Value::Object(map)) => map.clone(),
            _ => empty.clone(),
        }
    };
    let additions = keep_or_drop_nulls(&merge_diff(&object(Some(current)), modified_map), false);
    let deletions = keep_or_drop_nulls(&merge_diff(&object(original), modified_map), true);
    apply_merge_patch(&Value::Object(deletions), &Value::Object(additions))
}

fn as_object<'v>(value: &'v Value, what: &str) -> Result<&'v Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(PatchError::Invalid(format!(
            "the {what} must be a JSON object, not {}",
            go_format(other)
        ))),
    }
}

/// The two-way JSON merge patch from `source` to `target`: changed and added keys with their
/// new values (objects diffed recursively, anything else whole), removed keys as `null`.
fn merge_diff(source: &Map<String, Value>, target: &Map<String, Value>) -> Map<String, Value> {
    let mut patch = Map::new();
    for (key, new) in target {
        match (source.get(key), new) {
            (None, _) => {
                patch.insert(key.clone(), new.clone());
            }
            (Some(Value::Object(old)), Value::Object(new_map)) => {
                let nested = merge_diff(old, new_map);
                if !nested.is_empty() {
                    patch.insert(key.clone(), Value::Object(nested));
                }
            }
            (Some(old), _) => {
                if !json_equal(old, new) {
                    patch.insert(key.clone(), new.clone());
                }
            }
        }
    }
    for key in source.keys() {
        if !target.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    patch
}

/// Keeps only the deletions (`keep_nulls`) or only the additions and changes of a merge patch.
/// An explicitly empty object is a value (kept with the changes); a nested object that ends up
/// empty is dropped.
fn keep_or_drop_nulls(patch: &Map<String, Value>, keep_nulls: bool) -> Map<String, Value> {
    let mut kept = Map::new();
    for (key, value) in patch {
        match value {
            Value::Null => {
                if keep_nulls {
                    kept.insert(key.clone(), Value::Null);
                }
            }
            Value::Object(map) if map.is_empty() => {
                if !keep_nulls {
                    kept.insert(key.clone(), value.clone());
                }
            }
            Value::Object(map) => {
                let nested = keep_or_drop_nulls(map, keep_nulls);
                if !nested.is_empty() {
                    kept.insert(key.clone(), Value::Object(nested));
                }
            }
            _ => {
                if !keep_nulls {
                    kept.insert(key.clone(), value.clone());
                }
            }
        }
    }
    kept
}

/// Merges the additions-and-changes patch into the deletions patch, keeping both patches'
/// directives (`null`s included) instead of applying them.
struct Combiner<'a> {
    schemas: &'a Schemas,
}

impl<'a> Combiner<'a> {
    fn combine(
        &self,
        mut base: Map<String, Value>,
        mut patch: Map<String, Value>,
        schema: Option<&'a Value>,
    ) -> Result<Map<String, Value>> {
        // A `$patch` can only come from the file itself; it is honoured as a patch would be.
        if let Some(directive) = patch.get(DIRECTIVE) {
            return match directive.as_str() {
                Some("replace") => {
                    patch.remove(DIRECTIVE);
                    Ok(patch)
                }
                Some("delete") => Ok(Map::new()),
                _ => Err(PatchError::NotApplicable(format!(
                    "unknown patch type: {} in map: {}",
                    go_format(directive),
                    go_format(&Value::Object(patch.clone()))
                ))),
            };
        }
        if let Some(retain) = patch.remove(RETAIN_KEYS) {
            match base.get(RETAIN_KEYS) {
                Some(existing) if !json_equal(existing, &retain) => {
                    return Err(PatchError::NotApplicable(format!(
                        "{} and {} are not deep equal: this may happen when calculating the 3-way diff patch",
                        go_format(existing),
                        go_format(&retain)
                    )));
                }
                Some(_) => {}
                None => {
                    base.insert(RETAIN_KEYS.to_owned(), retain);
                }
            }
        }
        self.combine_ordered_lists(&mut base, &mut patch, schema)?;
        for (key, value) in patch {
            if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || value.is_null() {
                base.insert(key, value);
                continue;
            }
            let field = field(self.schemas, schema, &key);
            let combined = match (base.remove(&key), value) {
                (Some(Value::Object(b)), Value::Object(p)) if !field.replaces() => {
                    Value::Object(self.combine(b, p, field.schema)?)
                }
                (Some(Value::Array(b)), Value::Array(p)) if field.merges() => {
                    Value::Array(self.combine_lists(b, p, &field)?)
                }
                (_, value) => value,
            };
            base.insert(key, combined);
        }
        Ok(base)
    }

    /// Moves each `$setElementOrder/<field>` of `patch` into `base` and combines the two
    /// `<field>` lists with it: the elements it names in its order, the others (deletions) in
    /// `base`'s order, interleaved where `base` relates them.
    fn combine_ordered_lists(
        &self,
        base: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
        schema: Option<&'a Value>,
    ) -> Result<()> {
        let directives: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
            .cloned()
            .collect();
        for directive in directives {
            let Some(set_order) = patch.remove(&directive) else {
                continue;
            };
            match base.get(&directive) {
                Some(existing) if !json_equal(existing, &set_order) => {
                    return Err(PatchError::Invalid(
                        "invalid patch format of setElementOrder list".to_owned(),
                    ));
                }
                Some(_) => {}
                None => {
                    base.insert(directive.clone(), set_order.clone());
                }
            }
            let Value::Array(set_order) = set_order else {
                return Err(PatchError::Invalid(
                    "invalid patch format of setElementOrder list".to_owned(),
                ));
            };
            let name = &directive[SET_ELEMENT_ORDER.len()..];
            let field = field(self.schemas, schema, name);
            let list = |value: Value| match value {
                Value::Array(items) => Ok(items),
                other => Err(PatchError::NotApplicable(format!(
                    "expected a list, but received {}",
                    go_format(&other)
                ))),
            };
            let base_list = base.remove(name).map(list).transpose()?;
            let patch_list = patch.remove(name).map(list).transpose()?;
            let merged = match (base_list.clone(), patch_list) {
                (Some(b), None) => b,
                (None, Some(p)) => without_directives(p),
                (Some(b), Some(p)) if field.merges() => self.combine_lists(b, p, &field)?,
                (Some(_), Some(p)) => p,
                (None, None) => continue,
            };
            let key = field
                .meta
                .merge_key
                .filter(|_| merged.iter().any(Value::is_object));
            let ordered = order(merged, &set_order, base_list.as_deref().unwrap_or(&[]), key);
            base.insert(name.to_owned(), Value::Array(ordered));
        }
        Ok(())
    }

    fn combine_lists(
        &self,
        base: Vec<Value>,
        patch: Vec<Value>,
        field: &super::diff::Field<'a>,
    ) -> Result<Vec<Value>> {
        if base.is_empty() && patch.is_empty() {
            return Ok(base);
        }
        let objects = base.iter().chain(&patch).any(Value::is_object);
        if !objects {
            let mut merged: Vec<Value> = Vec::with_capacity(base.len() + patch.len());
            for v in base.iter().chain(&patch) {
                if !merged.iter().any(|m| json_equal(m, v)) {
                    merged.push(v.clone());
                }
            }
            return Ok(order(merged, &patch, &base, None));
        }
        let Some(key) = field.meta.merge_key else {
            return Err(PatchError::NotApplicable(
                "cannot merge lists without merge key for type struct".to_owned(),
            ));
        };
        let element = field.schema.and_then(|s| self.schemas.element(s));
        let mut merged = base.clone();
        for item in &patch {
            let Value::Object(patch_item) = item else {
                merged.push(item.clone());
                continue;
            };
            let found = patch_item.get(key).and_then(|value| {
                merged
                    .iter()
                    .position(|m| m.get(key).is_some_and(|v| json_equal(v, value)))
            });
            match found {
                Some(i) => {
                    let existing = match std::mem::take(&mut merged[i]) {
                        Value::Object(map) => map,
                        _ => Map::new(),
                    };
                    merged[i] =
                        Value::Object(self.combine(existing, patch_item.clone(), element)?);
                }
                None => merged.push(item.clone()),
            }
        }
        Ok(order(merged, &patch, &base, Some(key)))
    }
}

/// A patch list without the elements carrying a `$patch` directive (at any depth).
fn without_directives(list: Vec<Value>) -> Vec<Value> {
    list.into_iter()
        .filter_map(|item| match item {
            Value::Object(map) => strip_directives(map).map(Value::Object),
            Value::Array(items) => Some(Value::Array(without_directives(items))),
            other => Some(other),
        })
        .collect()
}

fn strip_directives(map: Map<String, Value>) -> Option<Map<String, Value>> {
    if map.contains_key(DIRECTIVE) {
        return None;
    }
    Some(
        map.into_iter()
            .filter_map(|(k, v)| match v {
                Value::Object(inner) => strip_directives(inner).map(|m| (k, Value::Object(m))),
                Value::Array(items) => Some((k, Value::Array(without_directives(items)))),
                other => Some((k, other)),
            })
            .collect(),
    )
}
