//! Field management: `metadata.managedFields` and server-side apply.
//!
//! Every write records which manager set which fields: an update gives its manager the fields
//! it changed (taking them from whoever had them); an apply makes its manager own exactly the
//! fields of its configuration, removes the fields it applied before and no longer applies
//! (unless someone else manages them), and fails with a conflict when it would change a field
//! another manager set to a different value, unless forced. Lists are merged the way the
//! schema's markers say: by key (`x-kubernetes-list-type: map`), as sets, or whole (atomic).

mod fieldset;

use rkube_api::registry::Subresource;
use rkube_api::schema::{PatchMeta, PatchStrategy, Schemas};
use serde_json::{json, Map, Value};

pub use fieldset::{path_string, Element, FieldSet, Path};

use crate::object;
use crate::resources::ServedResource;
use crate::status::ApiError;

/// Metadata fields nobody manages.
const UNMANAGED_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "name",
    "namespace",
];

/// The schema a resource's objects are tracked with, if known.
pub fn schema_of(resource: &ServedResource) -> Option<Value> {
    match &resource.custom {
        Some(c) => c.schema.clone(),
        None => {
            let s = Schemas::builtin();
            s.definition_for_kind(&resource.group, &resource.version, &resource.kind)
                .and_then(|d| s.definition(d))
                .cloned()
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum ListKind {
    Atomic,
    Set,
    Map(Vec<String>),
}

/// A list's semantics from its property schema's markers; lists Kubernetes merges by key for
/// strategic merge patch are keyed the same way for apply.
fn list_kind(prop: Option<&Value>) -> ListKind {
    let Some(prop) = prop else {
        return ListKind::Atomic;
    };
    let resolved = Schemas::builtin().resolve(prop);
    let marker = |k: &str| prop.get(k).or_else(|| resolved.get(k));
    match marker("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => return ListKind::Set,
        Some("map") => {
            let keys = marker("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            return ListKind::Map(keys);
        }
        Some(_) => return ListKind::Atomic,
        None => {}
    }
    let meta = PatchMeta::of(prop);
    match (meta.strategy, meta.merge_key) {
        (Some(s), Some(key)) if s.merges() => ListKind::Map(vec![key.to_owned()]),
        (Some(PatchStrategy::Merge | PatchStrategy::MergeRetainKeys), None) => ListKind::Set,
        _ => ListKind::Atomic,
    }
}

fn is_atomic_map(prop: Option<&Value>) -> bool {
    let Some(prop) = prop else { return false };
    let resolved = Schemas::builtin().resolve(prop);
    prop.get("x-kubernetes-map-type")
        .or_else(|| resolved.get("x-kubernetes-map-type"))
        == Some(&Value::String("atomic".into()))
}

/// The property schema of `key` under `schema` (declared property, or the map's values).
fn child_schema<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let resolved = Schemas::builtin().resolve(schema?);
    resolved
        .get("properties")
        .and_then(|p| p.get(key))
        .or_else(|| {
            resolved
                .get("additionalProperties")
                .filter(|a| a.is_object())
        })
}

fn item_schema(schema: Option<&Value>) -> Option<&Value> {
    Schemas::builtin().resolve(schema?).get("items")
}

/// The key of a list item. A missing key field takes its schema default, as Kubernetes'
/// structured merge does: among the built-in list-map keys only `protocol` has one (`TCP`).
fn key_of(item: &Value, keys: &[String]) -> Option<String> {
    let mut m = Map::new();
    for k in keys {
        let v = match item.get(k) {
            Some(v) => v.clone(),
            None if k == "protocol" => Value::String("TCP".into()),
            None => return None,
        };
        m.insert(k.clone(), v);
    }
    serde_json::to_string(&Value::Object(m)).ok()
}

/// The fields an object (or part of one) sets.
fn collect(schema: Option<&Value>, value: &Value, path: &mut Path, out: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() && !is_atomic_map(schema) => {
            for (k, v) in map {
                path.push(Element::Field(k.clone()));
                collect(child_schema(schema, k), v, path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match list_kind(schema) {
            ListKind::Atomic => out.insert(path),
            ListKind::Set => {
                for item in items {
                    path.push(Element::Value(item.to_string()));
                    out.insert(path);
                    path.pop();
                }
            }
            ListKind::Map(keys) => {
                for (i, item) in items.iter().enumerate() {
                    let element = key_of(item, &keys).map_or(Element::Index(i), Element::Key);
                    path.push(element);
                    out.insert(path);
                    collect(item_schema(schema), item, path, out);
                    path.pop();
                }
            }
        },
        _ => out.insert(path),
    }
}

/// What of an object field management covers: everything but system metadata, `apiVersion`
/// and `kind`; the status only for status writes, and only there.
fn tracked(resource: &ServedResource, subresource: Option<Subresource>, obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in UNMANAGED_METADATA {
                meta.remove(*f);
            }
        }
        if map
            .get("metadata")
            .is_some_and(|m| m.as_object().is_some_and(Map::is_empty))
        {
            map.remove("metadata");
        }
        match subresource {
            Some(Subresource::Status) => map.retain(|k, _| k == "status"),
            _ if resource.has(Subresource::Status) => {
                map.remove("status");
            }
            _ => {}
        }
    }
    v
}

fn fields_of(
    resource: &ServedResource,
    schema: Option<&Value>,
    subresource: Option<Subresource>,
    obj: &Value,
) -> FieldSet {
    let mut out = FieldSet::default();
    let v = tracked(resource, subresource, obj);
    if let Some(map) = v.as_object() {
        for (k, val) in map {
            let mut path = vec![Element::Field(k.clone())];
            let sub = if k == "metadata" {
                Schemas::builtin().definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
            } else {
                child_schema(schema, k)
            };
            collect(sub, val, &mut path, &mut out);
        }
    }
    out
}

/// The value at a path.
fn get<'a>(obj: &'a Value, path: &[Element]) -> Option<&'a Value> {
    let mut cur = obj;
    for e in path {
        cur = match e {
            Element::Field(f) => cur.get(f)?,
            Element::Index(i) => cur.get(*i)?,
            Element::Value(v) => {
                let want: Value = serde_json::from_str(v).ok()?;
                cur.as_array()?.iter().find(|x| **x == want)?
            }
            Element::Key(k) => {
                let want: Map<String, Value> = serde_json::from_str(k).ok()?;
                cur.as_array()?
                    .iter()
                    .find(|item| want.iter().all(|(kk, vv)| item.get(kk) == Some(vv)))?
            }
        };
    }
    Some(cur)
}

/// Removes the value at a path (a field, or a list item).
fn remove(obj: &mut Value, path: &[Element]) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for e in parent_path {
        let next = match e {
            Element::Field(f) => cur.get_mut(f),
            Element::Index(i) => cur.get_mut(*i),
            Element::Value(_) | Element::Key(_) => {
                let Some(found) = get(cur, std::slice::from_ref(e)).cloned() else {
                    return;
                };
                cur.as_array_mut()
                    .and_then(|a| a.iter_mut().find(|x| **x == found))
            }
        };
        let Some(next) = next else { return };
        cur = next;
    }
    match last {
        Element::Field(f) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(f);
            }
        }
        other => {
            let Some(found) = get(cur, std::slice::from_ref(other)).cloned() else {
                return;
            };
            if let Some(a) = cur.as_array_mut() {
                a.retain(|x| *x != found);
            }
        }
    }
}

/// Merges an applied configuration into an object, as the schema says lists merge.
fn merge(schema: Option<&Value>, cur: &mut Value, applied: &Value) {
    match (cur, applied) {
        (Value::Object(c), Value::Object(a)) if !is_atomic_map(schema) => {
            for (k, v) in a {
                let sub = child_schema(schema, k);
                match c.get_mut(k) {
                    Some(existing) => merge(sub, existing, v),
                    None => {
                        c.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(c), Value::Array(a)) => match list_kind(schema) {
            ListKind::Atomic => *c = a.clone(),
            ListKind::Set => {
                for item in a {
                    if !c.contains(item) {
                        c.push(item.clone());
                    }
                }
            }
            ListKind::Map(keys) => {
                for item in a {
                    let key = key_of(item, &keys);
                    match c
                        .iter_mut()
                        .find(|x| key.is_some() && key_of(x, &keys) == key)
                    {
                        Some(existing) => merge(item_schema(schema), existing, item),
                        None => c.push(item.clone()),
                    }
                }
            }
        },
        (c, a) => *c = a.clone(),
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: FieldSet,
}

impl Entry {
    fn from_json(v: &Value) -> Option<Entry> {
        Some(Entry {
            manager: v.get("manager")?.as_str()?.to_owned(),
            operation: v
                .get("operation")
                .and_then(Value::as_str)
                .unwrap_or("Update")
                .to_owned(),
            api_version: v
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            time: v
                .get("time")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            subresource: v
                .get("subresource")
                .and_then(Value::as_str)
                .map(str::to_owned),
            fields: FieldSet::from_fields_v1(v.get("fieldsV1").unwrap_or(&Value::Null)),
        })
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if let Some(s) = &self.subresource {
            v["subresource"] = json!(s);
        }
        v
    }

    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }
}

fn entries(obj: &Value) -> Vec<Entry> {
    obj.get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

fn store_entries(obj: &mut Value, list: Vec<Entry>) {
    if let Ok(meta) = object::meta_mut(obj) {
        let kept: Vec<Value> = list
            .iter()
            .filter(|e| !e.fields.is_empty())
            .map(Entry::to_json)
            .collect();
        if kept.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(kept));
        }
    }
}

fn subresource_name(subresource: Option<Subresource>) -> Option<&'static str> {
    match subresource {
        Some(Subresource::Status) => Some("status"),
        Some(Subresource::Scale) => Some("scale"),
        _ => None,
    }
}

/// Records an update (or create, when `old` is `None`) by `manager`: it now manages every
/// field it changed; fields it removed are managed by nobody.
pub fn record_update(
    resource: &ServedResource,
    subresource: Option<Subresource>,
    manager: &str,
    old: Option<&Value>,
    new: &mut Value,
) {
    let schema = schema_of(resource);
    let schema = schema.as_ref();
    let new_set = fields_of(resource, schema, subresource, new);
    let old_set = old
        .map(|o| fields_of(resource, schema, subresource, o))
        .unwrap_or_default();
    let empty = Value::Null;
    let old_obj = old.unwrap_or(&empty);
    let mut changed = FieldSet::default();
    for p in new_set.paths() {
        let leaf = !has_children(&new_set, &p);
        let differs = match (get(old_obj, &p), get(new, &p)) {
            (None, _) => true,
            (Some(a), Some(b)) => leaf && a != b,
            (Some(_), None) => false,
        };
        if differs {
            changed.insert(&p);
        }
    }
    let removed = old_set.difference(&new_set);
    let mut list = old.map(entries).unwrap_or_default();
    let sub = subresource_name(subresource);
    for e in list.iter_mut() {
        e.fields = e.fields.difference(&changed).difference(&removed);
    }
    let api_version = resource.api_version();
    match list.iter_mut().find(|e| e.is(manager, "Update", sub)) {
        Some(e) => {
            e.fields = e.fields.union(&changed);
            if !changed.is_empty() {
                e.time = object::now_rfc3339();
                e.api_version = api_version;
            }
        }
        None if !changed.is_empty() => list.push(Entry {
            manager: manager.to_owned(),
            operation: "Update".into(),
            api_version,
            time: object::now_rfc3339(),
            subresource: sub.map(str::to_owned),
            fields: changed,
        }),
        None => {}
    }
    store_entries(new, list);
}

fn has_children(set: &FieldSet, path: &[Element]) -> bool {
    let mut cur = set;
    for e in path {
        match cur.children.get(e) {
            Some(c) => cur = c,
            None => return false,
        }
    }
    !cur.children.is_empty()
}

/// One field another manager set to another value.
#[derive(Debug, Clone)]
struct Conflict {
    manager: String,
    api_version: String,
    path: String,
}

fn conflict_error(resource: &ServedResource, name: &str, conflicts: &[Conflict]) -> ApiError {
    let mut by_manager: Vec<(String, String, Vec<String>)> = Vec::new();
    for c in conflicts {
        match by_manager
            .iter_mut()
            .find(|(m, v, _)| *m == c.manager && *v == c.api_version)
        {
            Some((_, _, paths)) => paths.push(c.path.clone()),
            None => by_manager.push((
                c.manager.clone(),
                c.api_version.clone(),
                vec![c.path.clone()],
            )),
        }
    }
    let n = conflicts.len();
    let mut message = format!(
        "Apply failed with {n} conflict{}: ",
        if n == 1 { "" } else { "s" }
    );
    let parts: Vec<String> = by_manager
        .iter()
        .map(|(m, v, paths)| {
            if paths.len() == 1 {
                format!("conflict with \"{m}\" using {v}: {}", paths[0])
            } else {
                let list: Vec<String> = paths.iter().map(|p| format!("- {p}")).collect();
                format!("conflicts with \"{m}\" using {v}:\n{}", list.join("\n"))
            }
        })
        .collect();
    message.push_str(&parts.join("\n"));
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with \"{}\" using {}", c.manager, c.api_version),
                "field": c.path,
            })
        })
        .collect();
    let mut details = json!({"name": name, "kind": resource.plural, "causes": causes});
    if !resource.group.is_empty() {
        details["group"] = json!(resource.group);
    }
    let mut e = ApiError::new(http::StatusCode::CONFLICT, "Conflict", message);
    e.details = Some(details);
    e
}

/// Server-side apply of `applied` by `manager` onto `current`.
///
/// # Errors
/// A 409 naming every conflicting field and its manager, unless `force`.
pub fn apply(
    resource: &ServedResource,
    subresource: Option<Subresource>,
    manager: &str,
    force: bool,
    current: &Value,
    applied: &Value,
) -> Result<Value, ApiError> {
    let schema = schema_of(resource);
    let schema = schema.as_ref();
    let applied_tracked = tracked(resource, subresource, applied);
    let applied_set = fields_of(resource, schema, subresource, applied);
    let sub = subresource_name(subresource);
    let mut list = entries(current);
    let mut conflicts = Vec::new();
    for e in list.iter().filter(|e| !e.is(manager, "Apply", sub)) {
        for p in e.fields.intersection(&applied_set).paths() {
            if has_children(&applied_set, &p) {
                continue;
            }
            if get(current, &p) != get(applied, &p) {
                conflicts.push(Conflict {
                    manager: e.manager.clone(),
                    api_version: e.api_version.clone(),
                    path: path_string(&p),
                });
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(conflict_error(resource, object::name(current), &conflicts));
        }
        for e in list.iter_mut().filter(|e| !e.is(manager, "Apply", sub)) {
            e.fields = e.fields.difference(&applied_set);
        }
    }
    let previous = list
        .iter()
        .find(|e| e.is(manager, "Apply", sub))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut others = FieldSet::default();
    for e in list.iter().filter(|e| !e.is(manager, "Apply", sub)) {
        others = others.union(&e.fields);
    }
    let mut result = current.clone();
    let mut stale = previous
        .difference(&applied_set)
        .difference(&others)
        .paths();
    // Deepest first, so a removed list item is not looked up after its parent is gone.
    stale.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in stale {
        remove(&mut result, &p);
        // Maps and lists emptied by the removal go too, as Kubernetes' JSON omits them.
        for depth in (1..p.len()).rev() {
            let ancestor = &p[..depth];
            let emptied = get(&result, ancestor).is_some_and(|v| {
                v.as_object().is_some_and(Map::is_empty) || v.as_array().is_some_and(Vec::is_empty)
            });
            if !emptied {
                break;
            }
            remove(&mut result, ancestor);
        }
    }
    if let (Some(r), Some(a)) = (result.as_object_mut(), applied_tracked.as_object()) {
        for (k, v) in a {
            let sub_schema = if k == "metadata" {
                Schemas::builtin().definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
            } else {
                child_schema(schema, k)
            };
            match r.get_mut(k) {
                Some(existing) => merge(sub_schema, existing, v),
                None => {
                    r.insert(k.clone(), v.clone());
                }
            }
        }
    }
    let api_version = resource.api_version();
    match list.iter_mut().find(|e| e.is(manager, "Apply", sub)) {
        Some(e) => {
            e.fields = applied_set;
            e.time = object::now_rfc3339();
            e.api_version = api_version;
        }
        None => list.push(Entry {
            manager: manager.to_owned(),
            operation: "Apply".into(),
            api_version,
            time: object::now_rfc3339(),
            subresource: sub.map(str::to_owned),
            fields: applied_set,
        }),
    }
    store_entries(&mut result, list);
    Ok(result)
}

/// The field manager of a request: `fieldManager`, else the client's name from its
/// User-Agent (`kubectl/v1.32.5 (linux/amd64) ...` -> `kubectl`), as Kubernetes derives it.
pub fn manager_name(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    if let Some(m) = field_manager.filter(|m| !m.is_empty()) {
        return m.chars().take(128).collect();
    }
    user_agent
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .chars()
        .take(128)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Catalog;

    fn deployments() -> ServedResource {
        (*Catalog::builtin()
            .lookup("apps", "v1", "deployments")
            .unwrap())
        .clone()
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": image}]},
                },
            },
        })
    }

    #[test]
    fn apply_owns_its_fields_and_conflicts_with_others() {
        let r = deployments();
        let first = apply(
            &r,
            None,
            "ci",
            false,
            &json!({"metadata": {"name": "web"}}),
            &deployment(2, "web:1"),
        )
        .unwrap();
        let fields = &first["metadata"]["managedFields"][0];
        assert_eq!(fields["manager"], "ci");
        assert_eq!(fields["operation"], "Apply");
        assert!(
            fields["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
                .get("k:{\"name\":\"web\"}")
                .is_some()
        );

        // Someone scales with an update: they now manage replicas.
        let mut scaled = first.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(&r, None, "kubectl", Some(&first), &mut scaled);

        // Applying the old replicas again conflicts, naming the field and the manager.
        let err = apply(&r, None, "ci", false, &scaled, &deployment(2, "web:2")).unwrap_err();
        assert_eq!(err.code, http::StatusCode::CONFLICT);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"
        );
        // Forced, it takes the field back.
        let forced = apply(&r, None, "ci", true, &scaled, &deployment(2, "web:2")).unwrap();
        assert_eq!(forced["spec"]["replicas"], 2);
        assert_eq!(
            forced["spec"]["template"]["spec"]["containers"][0]["image"],
            "web:2"
        );
        assert_eq!(
            forced["metadata"]["managedFields"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn apply_removes_what_it_no_longer_applies() {
        let r = deployments();
        let mut with_label = deployment(1, "web:1");
        with_label["metadata"]["labels"]["tier"] = json!("front");
        let first = apply(&r, None, "ci", false, &json!({}), &with_label).unwrap();
        assert_eq!(first["metadata"]["labels"]["tier"], "front");
        let second = apply(&r, None, "ci", false, &first, &deployment(1, "web:1")).unwrap();
        assert!(
            second["metadata"]["labels"].get("tier").is_none(),
            "{second}"
        );
        assert_eq!(second["metadata"]["labels"]["app"], "web");
    }

    #[test]
    fn managers_from_user_agents() {
        assert_eq!(
            manager_name(None, Some("kubectl/v1.32.5 (linux/amd64) kubernetes/abc")),
            "kubectl"
        );
        assert_eq!(manager_name(Some("helm"), Some("x/1")), "helm");
    }
}
