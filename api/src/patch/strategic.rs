//! Strategic merge patch, driven by the `x-kubernetes-patch-*` markers of the schemas.
//!
//! The rules follow kube-apiserver's:
//!
//! - Objects merge key by key; `null` deletes a key; a value of another JSON type replaces.
//! - A field with the `replace` strategy is replaced whole.
//! - Lists replace unless their field has the `merge` strategy. Merged lists of objects match
//!   elements by the merge key (an element found is merged, a new one appended); merged lists
//!   of scalars are unions.
//! - Order: items named by the patch keep the patch's order, items only on the server keep
//!   theirs, and the two are interleaved where the server's order relates them;
//!   `$setElementOrder/<field>` gives the complete order explicitly.
//! - Directives: `$patch: replace` (in an object: it replaces the object; as a list element:
//!   the rest of the patch list replaces the list), `$patch: delete` (in an object: it is
//!   removed; as a list element: the element with that merge key is removed), `$retainKeys`
//!   (keys it does not list are cleared) and `$deleteFromPrimitiveList/<field>` (those values
//!   are removed from a scalar list). `$patch: merge` is refused, in objects ("unknown patch
//!   type") and in lists ("merging lists cannot yet be specified"), exactly as Kubernetes
//!   refuses it: merging is what happens without a directive.
//!
//! Where the schema says nothing (custom resources, unknown fields) lists simply replace, which
//! is JSON merge patch behaviour.

use serde_json::{Map, Value};

use super::json::json_equal;
use super::{go_format, PatchError, Result};
use crate::schema::{PatchMeta, PatchStrategy, Schemas};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// Applies a strategic merge patch to `doc`, an object of the kind whose OpenAPI definition is
/// `definition` in `schemas` (`io.k8s.api.apps.v1.Deployment`).
///
/// An unknown `definition` makes every list replace, as a JSON merge patch does.
///
/// # Errors
///
/// [`PatchError::Invalid`] when the patch is not an object or a directive is malformed
/// (`$retainKeys`, `$setElementOrder`, `$deleteFromPrimitiveList` not lists);
/// [`PatchError::NotApplicable`] when it cannot be applied: a merge-list element without its
/// merge key, an unknown `$patch` value, lists of lists, mixed element types, an order list
/// that contradicts the patch list, or keys outside `$retainKeys`.
pub fn apply_strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    schemas: &Schemas,
    definition: &str,
) -> Result<Value> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::Invalid(format!(
            "strategic merge patch must be a JSON object, not {}",
            go_format(patch)
        )));
    };
    let original = match doc {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let merger = Merger { schemas };
    merger
        .merge_map(original, patch.clone(), schemas.definition(definition))
        .map(Value::Object)
}

struct Merger<'a> {
    schemas: &'a Schemas,
}

/// What the schema says about one field: its markers and its (unresolved) schema.
#[derive(Default, Clone, Copy)]
struct Field<'a> {
    meta: PatchMeta<'a>,
    schema: Option<&'a Value>,
}

impl Field<'_> {
    fn merges(&self) -> bool {
        self.meta.strategy.is_some_and(PatchStrategy::merges)
    }

    fn replaces(&self) -> bool {
        self.meta.strategy == Some(PatchStrategy::Replace)
    }
}

impl<'a> Merger<'a> {
    /// The field `key` of an object described by `parent`; map values share one schema.
    fn field(&self, parent: Option<&'a Value>, key: &str) -> Field<'a> {
        let Some(parent) = parent.map(|p| self.schemas.resolve(p)) else {
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

    fn element(&self, field: &Field<'a>) -> Option<&'a Value> {
        field.schema.and_then(|s| self.schemas.element(s))
    }

    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        mut patch: Map<String, Value>,
        schema: Option<&'a Value>,
    ) -> Result<Map<String, Value>> {
        if let Some(directive) = patch.get(DIRECTIVE) {
            match directive.as_str() {
                Some("replace") => {
                    patch.remove(DIRECTIVE);
                    return Ok(patch);
                }
                Some("delete") => return Ok(Map::new()),
                _ => return Err(bad_patch_type(directive, &patch)),
            }
        }
        retain_keys(&mut original, &mut patch)?;
        self.set_element_orders(&mut original, &mut patch, schema)?;
        for (key, value) in patch {
            if let Some(name) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
                delete_from_primitive_list(&mut original, name, &value)?;
                continue;
            }
            if value.is_null() {
                original.remove(&key);
                continue;
            }
            let field = self.field(schema, &key);
            let merged = match (original.remove(&key), value) {
                (Some(Value::Object(o)), Value::Object(p)) if !field.replaces() => {
                    Value::Object(self.merge_map(o, p, field.schema)?)
                }
                (Some(Value::Array(o)), Value::Array(p)) => {
                    Value::Array(self.merge_list(o, p, &field)?)
                }
                (_, value) => self.fresh(value, &field)?,
            };
            original.insert(key, merged);
        }
        Ok(original)
    }

    /// A patch value with nothing to merge into: directives are applied and `null`s dropped.
    fn fresh(&self, value: Value, field: &Field<'a>) -> Result<Value> {
        Ok(match value {
            Value::Object(p) if !field.replaces() => {
                Value::Object(self.merge_map(Map::new(), p, field.schema)?)
            }
            Value::Array(p) if field.merges() => {
                Value::Array(self.merge_list(Vec::new(), p, field)?)
            }
            other => other,
        })
    }

    fn merge_list(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        field: &Field<'a>,
    ) -> Result<Vec<Value>> {
        if !field.merges() {
            return Ok(patch);
        }
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        if element_kind(&original, &patch)? != Kind::Object {
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for v in original.iter().chain(&patch) {
                if !merged.iter().any(|m| json_equal(m, v)) {
                    merged.push(v.clone());
                }
            }
            return Ok(order(merged, &patch, &original, None));
        }
        let Some(key) = field.meta.merge_key else {
            return Err(PatchError::NotApplicable(
                "cannot merge lists without merge key for type struct".to_owned(),
            ));
        };
        let element = self.element(field);
        let mut original = original;
        let mut plain = Vec::with_capacity(patch.len());
        let mut replace = false;
        for item in patch {
            let Value::Object(map) = &item else {
                continue; // element_kind checked every item is an object
            };
            let Some(directive) = map.get(DIRECTIVE) else {
                plain.push(item);
                continue;
            };
            match directive.as_str() {
                Some("delete") => {
                    let value = map.get(key).ok_or_else(|| no_merge_key(map, key))?;
                    original.retain(|o| !has_key_value(o, key, value));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(PatchError::NotApplicable(
                        "merging lists cannot yet be specified in the patch".to_owned(),
                    ))
                }
                _ => return Err(bad_patch_type(directive, map)),
            }
        }
        if replace {
            return Ok(plain);
        }
        let mut merged = original.clone();
        for item in &plain {
            let Value::Object(patch_item) = item else {
                continue;
            };
            let value = patch_item
                .get(key)
                .ok_or_else(|| no_merge_key(patch_item, key))?;
            match merged.iter().position(|o| has_key_value(o, key, value)) {
                Some(i) => {
                    let existing = match std::mem::take(&mut merged[i]) {
                        Value::Object(map) => map,
                        _ => Map::new(),
                    };
                    merged[i] =
                        Value::Object(self.merge_map(existing, patch_item.clone(), element)?);
                }
                None => merged.push(Value::Object(self.merge_map(
                    Map::new(),
                    patch_item.clone(),
                    element,
                )?)),
            }
        }
        Ok(order(merged, &plain, &original, Some(key)))
    }

    /// Applies each `$setElementOrder/<field>` together with the patch of `<field>`.
    fn set_element_orders(
        &self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
        schema: Option<&'a Value>,
    ) -> Result<()> {
        let directives: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
            .cloned()
            .collect();
        for directive in directives {
            let Some(Value::Array(order_list)) = patch.remove(&directive) else {
                return Err(PatchError::Invalid(
                    "invalid patch format of setElementOrder list".to_owned(),
                ));
            };
            let name = &directive[SET_ELEMENT_ORDER.len()..];
            let field = self.field(schema, name);
            let original_list = match original.get(name) {
                None => None,
                Some(Value::Array(list)) => Some(list.clone()),
                Some(other) => return Err(not_a_list(other)),
            };
            let patch_list = match patch.remove(name) {
                None => None,
                Some(Value::Array(list)) => Some(list),
                Some(other) => return Err(not_a_list(&other)),
            };
            let key = field.meta.merge_key;
            validate_order(patch_list.as_deref().unwrap_or_default(), &order_list, key)?;
            let merged = match (&original_list, patch_list) {
                (Some(o), None) => o.clone(),
                (None, Some(p)) => self.merge_list(Vec::new(), p, &field)?,
                (Some(o), Some(p)) => self.merge_list(o.clone(), p, &field)?,
                (None, None) => continue,
            };
            let key = merged.first().filter(|v| v.is_object()).and(key);
            let server = original_list.unwrap_or_default();
            original.insert(
                name.to_owned(),
                Value::Array(order(merged, &order_list, &server, key)),
            );
        }
        Ok(())
    }
}

/// Applies `$retainKeys`: every key of `original` it does not list is cleared.
fn retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::Invalid(
            "invalid patch format of retainKeys".to_owned(),
        ));
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(key) {
            return Err(PatchError::NotApplicable(
                "patch content doesn't match retainKeys list".to_owned(),
            ));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    name: &str,
    values: &Value,
) -> Result<()> {
    let Value::Array(values) = values else {
        return Err(PatchError::Invalid(
            "invalid patch format of primitive list".to_owned(),
        ));
    };
    if let Some(Value::Array(list)) = original.get_mut(name) {
        list.retain(|item| !values.iter().any(|v| json_equal(item, v)));
    }
    Ok(())
}

/// Checks that the patch list names its items in the order `$setElementOrder` gives.
fn validate_order(patch: &[Value], order: &[Value], key: Option<&str>) -> Result<()> {
    let items: Vec<&Value> = patch
        .iter()
        .filter(|v| v.get(DIRECTIVE).is_none())
        .collect();
    let mut p = 0;
    let mut o = 0;
    while p < items.len() && o < order.len() {
        if same_identity(items[p], &order[o], key)? {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() {
        return Err(PatchError::NotApplicable(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            go_format(&Value::Array(patch.to_vec())),
            go_format(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn same_identity(a: &Value, b: &Value, key: Option<&str>) -> Result<bool> {
    let Some(key) = key else {
        return Ok(json_equal(a, b));
    };
    let value = |v: &Value| -> Result<Value> {
        match v {
            Value::Object(map) => map.get(key).cloned().ok_or_else(|| no_merge_key(map, key)),
            other => Err(PatchError::NotApplicable(format!(
                "expected a map, but received {}",
                go_format(other)
            ))),
        }
    };
    Ok(json_equal(&value(a)?, &value(b)?))
}

fn has_key_value(item: &Value, key: &str, value: &Value) -> bool {
    item.get(key).is_some_and(|v| json_equal(v, value))
}

/// Orders a merged list: the items named in `patch_order` in that order, the rest in
/// `server_order`, interleaved where the server's order relates a server item to a patch item.
pub(super) fn order(
    merged: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let position = |list: &[Value], item: &Value| -> Option<usize> {
        list.iter().position(|x| match key {
            Some(k) => item.get(k).is_some_and(|v| has_key_value(x, k, v)),
            None => json_equal(x, item),
        })
    };
    let (mut from_patch, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| position(patch_order, item).is_some());
    from_patch.sort_by_key(|item| position(patch_order, item).unwrap_or(usize::MAX));
    server_only.sort_by_key(|item| position(server_order, item).unwrap_or(usize::MAX));

    let mut result = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l), position(server_order, r)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        result.extend(next);
    }
    result
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    String,
    Object,
}

/// The common element kind of two lists; lists of lists and mixed kinds are rejected.
fn element_kind(original: &[Value], patch: &[Value]) -> Result<Kind> {
    let mut kind = None;
    for value in original.iter().chain(patch) {
        let this = match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Object(_) => Kind::Object,
            Value::Array(_) => {
                return Err(PatchError::NotApplicable(
                    "lists of lists are not supported".to_owned(),
                ))
            }
        };
        match kind {
            None => kind = Some(this),
            Some(k) if k != this => {
                return Err(PatchError::NotApplicable(format!(
                    "list element types are not identical: [{} {}]",
                    go_format(&Value::Array(original.to_vec())),
                    go_format(&Value::Array(patch.to_vec()))
                )))
            }
            Some(_) => {}
        }
    }
    kind.ok_or_else(|| {
        PatchError::NotApplicable("no elements in any of the given slices".to_owned())
    })
}

fn no_merge_key(map: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::NotApplicable(format!(
        "map: {} does not contain declared merge key: {key}",
        go_format(&Value::Object(map.clone()))
    ))
}

fn bad_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    PatchError::NotApplicable(format!(
        "unknown patch type: {} in map: {}",
        go_format(directive),
        go_format(&Value::Object(map.clone()))
    ))
}

fn not_a_list(value: &Value) -> PatchError {
    PatchError::NotApplicable(format!(
        "expected a list, but received {}",
        go_format(value)
    ))
}
