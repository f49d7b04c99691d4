//! The pod-template-hash: FNV-32a over the template (and the collision count), written in
//! Kubernetes' "safe" alphabet, which names a Deployment's ReplicaSets.
//!
//! Kubernetes hashes Go's printed form of the template struct; we hash its canonical JSON
//! (keys sorted), so names have the same shape and stability but not the same letters.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

/// The label that ties pods and ReplicaSets to one template.
pub const LABEL: &str = "pod-template-hash";

/// Vowel-free alphabet so hashes never spell words (Kubernetes' `rand.SafeEncodeString`).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

struct Fnv32a(u32);

impl Fnv32a {
    fn new() -> Self {
        Self(0x811c_9dc5)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u32::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
}

/// Writes `value` as JSON with object keys sorted, whatever the map's own order.
fn write_canonical(value: &Value, out: &mut Fnv32a) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.write(b"{");
            for key in keys {
                out.write(Value::String(key.clone()).to_string().as_bytes());
                out.write(b":");
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
                out.write(b",");
            }
            out.write(b"}");
        }
        Value::Array(items) => {
            out.write(b"[");
            for item in items {
                write_canonical(item, out);
                out.write(b",");
            }
            out.write(b"]");
        }
        other => out.write(other.to_string().as_bytes()),
    }
}

/// The hash of `template` with `collision_count`, as a label value.
#[must_use]
pub fn compute(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut hasher = Fnv32a::new();
    let value = serde_json::to_value(template).unwrap_or(Value::Null);
    write_canonical(&value, &mut hasher);
    if let Some(count) = collision_count {
        hasher.write(&count.to_le_bytes());
    }
    hasher
        .0
        .to_string()
        .bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// The template as JSON without the hash label, for comparing a Deployment's template with a
/// ReplicaSet's (Kubernetes' `EqualIgnoreHash`).
fn without_hash(template: &PodTemplateSpec) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(LABEL);
    }
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Whether two templates are the same but for the hash label.
#[must_use]
pub fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    without_hash(a) == without_hash(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn fnv_matches_reference_vectors() {
        let mut h = Fnv32a::new();
        h.write(b"a");
        assert_eq!(h.0, 0xe40c_292c);
    }

    #[test]
    fn hash_is_stable_safe_and_changes_with_collisions() {
        let t = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_owned(), "web".to_owned())].into()),
                ..ObjectMeta::default()
            }),
            spec: None,
        };
        let a = compute(&t, None);
        assert_eq!(a, compute(&t, None));
        assert!(a.bytes().all(|b| ALPHANUMS.contains(&b)));
        assert_ne!(a, compute(&t, Some(1)));
        let mut hashed = t.clone();
        if let Some(l) = hashed.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            l.insert(LABEL.into(), a);
        }
        assert!(equal_ignoring_hash(&t, &hashed));
    }
}
