//! Resource amounts: what a pod requests (as Kubernetes computes it, init containers and
//! overhead included) and what a node offers.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// CPU a container without a CPU request is taken to use when scoring (kube-scheduler's 100m).
pub const DEFAULT_MILLI_CPU: i64 = 100;
/// Memory a container without a memory request is taken to use when scoring (200 MB).
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// Amounts of the resources the scheduler accounts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Extended and other named resources (hugepages, `example.com/gpu`, ...), in units.
    pub scalar: BTreeMap<String, i64>,
}

/// Parses a quantity as an integer amount of `resource` (millicores for CPU, units otherwise);
/// unparsable quantities count as zero, as the API server validates them on the way in.
fn amount(resource: &str, quantity: &Quantity) -> i64 {
    let Ok(q) = rkube_api::quantity::Quantity::parse(&quantity.0) else {
        return 0;
    };
    let value = if resource == "cpu" {
        q.milli_value()
    } else {
        q.value()
    };
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

impl Resources {
    /// The amounts named in a resource list (`requests`, `allocatable`, `overhead`); `pods`
    /// is returned separately since pods are counted, not requested.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> (Self, i64) {
        let mut out = Self::default();
        let mut pods = 0;
        for (name, quantity) in list {
            let value = amount(name, quantity);
            match name.as_str() {
                "cpu" => out.milli_cpu = value,
                "memory" => out.memory = value,
                "ephemeral-storage" => out.ephemeral_storage = value,
                "pods" => pods = value,
                _ => {
                    out.scalar.insert(name.clone(), value);
                }
            }
        }
        (out, pods)
    }

    /// Adds `other` to these amounts.
    pub fn add(&mut self, other: &Self) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        for (name, value) in &other.scalar {
            let slot = self.scalar.entry(name.clone()).or_insert(0);
            *slot = slot.saturating_add(*value);
        }
    }

    /// Takes `other` away from these amounts.
    pub fn sub(&mut self, other: &Self) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        for (name, value) in &other.scalar {
            let slot = self.scalar.entry(name.clone()).or_insert(0);
            *slot = slot.saturating_sub(*value);
        }
    }

    /// Raises each amount to at least `other`'s.
    fn max_with(&mut self, other: &Self) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, value) in &other.scalar {
            let slot = self.scalar.entry(name.clone()).or_insert(0);
            *slot = (*slot).max(*value);
        }
    }

    /// The amount of a named scalar resource (zero when absent).
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar.get(name).copied().unwrap_or(0)
    }
}

fn container_requests(container: &Container) -> Resources {
    container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .map(|list| Resources::from_list(list).0)
        .unwrap_or_default()
}

/// CPU and memory of a container for scoring: its requests, or the defaults where it has none.
fn container_non_zero(container: &Container) -> (i64, i64) {
    let requests = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let cpu = requests
        .and_then(|r| r.get("cpu"))
        .map_or(DEFAULT_MILLI_CPU, |q| amount("cpu", q));
    let memory = requests
        .and_then(|r| r.get("memory"))
        .map_or(DEFAULT_MEMORY, |q| amount("memory", q));
    (cpu, memory)
}

fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// What a pod requests, as Kubernetes computes it: the sum of its containers (sidecar init
/// containers included, since they keep running) or the largest step of its init sequence,
/// whichever is larger, plus the pod overhead.
pub fn pod_requests(spec: &PodSpec) -> Resources {
    let mut running = Resources::default();
    for container in &spec.containers {
        running.add(&container_requests(container));
    }
    let (init_peak, sidecars) = init_peak(spec, container_requests);
    running.add(&sidecars);
    running.max_with(&init_peak);
    if let Some(overhead) = &spec.overhead {
        running.add(&Resources::from_list(overhead).0);
    }
    running
}

/// CPU and memory of a pod for scoring, with the defaults for containers lacking requests.
pub fn pod_non_zero_requests(spec: &PodSpec) -> (i64, i64) {
    let as_resources = |c: &Container| {
        let (milli_cpu, memory) = container_non_zero(c);
        Resources {
            milli_cpu,
            memory,
            ..Resources::default()
        }
    };
    let mut running = Resources::default();
    for container in &spec.containers {
        running.add(&as_resources(container));
    }
    let (peak, sidecars) = init_peak(spec, as_resources);
    running.add(&sidecars);
    running.max_with(&peak);
    if let Some(overhead) = &spec.overhead {
        running.add(&Resources::from_list(overhead).0);
    }
    (running.milli_cpu, running.memory)
}

/// The largest amount in use during the init sequence, and the sum of the sidecars (init
/// containers with `restartPolicy: Always`, which stay up beside the app containers).
fn init_peak(spec: &PodSpec, requests: impl Fn(&Container) -> Resources) -> (Resources, Resources) {
    let mut peak = Resources::default();
    let mut sidecars = Resources::default();
    for container in spec.init_containers.iter().flatten() {
        let own = requests(container);
        if is_sidecar(container) {
            sidecars.add(&own);
            peak.max_with(&sidecars);
        } else {
            let mut step = own;
            step.add(&sidecars);
            peak.max_with(&step);
        }
    }
    (peak, sidecars)
}

/// What a node offers pods: its allocatable resources (capacity when allocatable is not
/// reported) and how many pods it takes.
pub fn node_allocatable(node: &Node) -> (Resources, i64) {
    let status = node.status.as_ref();
    status
        .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
        .map(Resources::from_list)
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> PodSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn sums_containers_and_adds_overhead() {
        let s = spec(json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "1", "example.com/gpu": "1"}}},
            ],
            "overhead": {"cpu": "50m"},
        }));
        let r = pod_requests(&s);
        assert_eq!(r.milli_cpu, 1300);
        assert_eq!(r.memory, 1 << 30);
        assert_eq!(r.scalar("example.com/gpu"), 1);
    }

    #[test]
    fn init_containers_take_the_maximum() {
        let s = spec(json!({
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}}],
        }));
        assert_eq!(pod_requests(&s).milli_cpu, 2000);
    }

    #[test]
    fn sidecars_add_to_the_app_containers() {
        let s = spec(json!({
            "initContainers": [
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "300m"}}},
                {"name": "init", "resources": {"requests": {"cpu": "1"}}},
            ],
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}}],
        }));
        // The init step runs beside the sidecar: 1300m; afterwards 500m + 300m.
        assert_eq!(pod_requests(&s).milli_cpu, 1300);
    }

    #[test]
    fn non_zero_defaults_apply_to_containers_without_requests() {
        let s = spec(
            json!({"containers": [{"name": "a"}, {"name": "b", "resources": {"requests": {"cpu": "1"}}}]}),
        );
        assert_eq!(pod_non_zero_requests(&s), (1100, 2 * DEFAULT_MEMORY));
    }
}
