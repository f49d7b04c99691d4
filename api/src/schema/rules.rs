//! The hand-written table of patch and list semantics Kubernetes declares on its API types.
//!
//! k8s-openapi's schemas carry field types and descriptions but not the `+patchStrategy`,
//! `+patchMergeKey`, `+listType`, `+listMapKeys` and `+mapType` markers of the Go types. This
//! table restates them for every type rkube serves (Kubernetes 1.33). It is the single source of
//! truth for the `x-kubernetes-*` extensions in the served OpenAPI documents and, through them,
//! for strategic merge patch.

/// A field's strategic-merge-patch strategy (`x-kubernetes-patch-strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchStrategy {
    /// `merge`: lists merge element-wise (by merge key for objects, as a union for primitives).
    Merge,
    /// `replace`: the patch value replaces the field wholesale.
    Replace,
    /// `retainKeys`: a `$retainKeys` directive clears the keys it does not list.
    RetainKeys,
    /// `merge,retainKeys`: both of the above.
    MergeRetainKeys,
}

impl PatchStrategy {
    /// The strategy as the OpenAPI extension spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            PatchStrategy::Merge => "merge",
            PatchStrategy::Replace => "replace",
            PatchStrategy::RetainKeys => "retainKeys",
            PatchStrategy::MergeRetainKeys => "merge,retainKeys",
        }
    }

    /// Parses the extension's value; unknown parts are ignored, as Kubernetes does.
    pub fn parse(s: &str) -> Option<PatchStrategy> {
        let mut merge = false;
        let mut replace = false;
        let mut retain = false;
        for part in s.split(',') {
            match part.trim() {
                "merge" => merge = true,
                "replace" => replace = true,
                "retainKeys" => retain = true,
                _ => {}
            }
        }
        match (merge, replace, retain) {
            (true, _, true) => Some(PatchStrategy::MergeRetainKeys),
            (true, _, false) => Some(PatchStrategy::Merge),
            (false, true, _) => Some(PatchStrategy::Replace),
            (false, false, true) => Some(PatchStrategy::RetainKeys),
            (false, false, false) => None,
        }
    }

    /// Whether lists under this strategy merge element-wise.
    pub const fn merges(self) -> bool {
        matches!(self, PatchStrategy::Merge | PatchStrategy::MergeRetainKeys)
    }
}

/// A list's server-side-apply semantics (`x-kubernetes-list-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value, replaced whole.
    Atomic,
    /// A set of unique scalars.
    Set,
    /// A map keyed by the given fields (`x-kubernetes-list-map-keys`).
    Map(&'static [&'static str]),
}

impl ListType {
    /// The list type as the OpenAPI extension spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ListType::Atomic => "atomic",
            ListType::Set => "set",
            ListType::Map(_) => "map",
        }
    }
}

/// A map's or struct's server-side-apply semantics (`x-kubernetes-map-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapType {
    /// The value is replaced whole.
    Atomic,
    /// Each key is owned separately (the default, written out where Kubernetes writes it).
    Granular,
}

impl MapType {
    /// The map type as the OpenAPI extension spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            MapType::Atomic => "atomic",
            MapType::Granular => "granular",
        }
    }
}

/// The markers of one field of one definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRule {
    /// The OpenAPI definition name, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub definition: &'static str,
    /// The JSON field name, e.g. `containers`.
    pub field: &'static str,
    /// The strategic-merge-patch strategy, if any.
    pub strategy: Option<PatchStrategy>,
    /// The strategic-merge-patch merge key of a merged list of objects.
    pub merge_key: Option<&'static str>,
    /// The server-side-apply list type, if declared.
    pub list_type: Option<ListType>,
    /// The server-side-apply map type, if declared.
    pub map_type: Option<MapType>,
}

const fn rule(definition: &'static str, field: &'static str) -> FieldRule {
    FieldRule {
        definition,
        field,
        strategy: None,
        merge_key: None,
        list_type: None,
        map_type: None,
    }
}

/// A list of objects merged by `key` for patches and keyed by `keys` for apply.
const fn merge_map(
    definition: &'static str,
    field: &'static str,
    key: &'static str,
    keys: &'static [&'static str],
) -> FieldRule {
    FieldRule {
        strategy: Some(PatchStrategy::Merge),
        merge_key: Some(key),
        list_type: Some(ListType::Map(keys)),
        ..rule(definition, field)
    }
}

/// Like [`merge_map`], with `merge,retainKeys` (one-of members such as volume sources).
const fn merge_retain_map(
    definition: &'static str,
    field: &'static str,
    key: &'static str,
    keys: &'static [&'static str],
) -> FieldRule {
    FieldRule {
        strategy: Some(PatchStrategy::MergeRetainKeys),
        ..merge_map(definition, field, key, keys)
    }
}

/// A list of scalars merged as a union and applied as a set.
const fn merge_set(definition: &'static str, field: &'static str) -> FieldRule {
    FieldRule {
        strategy: Some(PatchStrategy::Merge),
        list_type: Some(ListType::Set),
        ..rule(definition, field)
    }
}

/// A list replaced whole.
const fn atomic(definition: &'static str, field: &'static str) -> FieldRule {
    FieldRule {
        list_type: Some(ListType::Atomic),
        ..rule(definition, field)
    }
}

/// A list of scalars applied as a set (patches replace it).
const fn set(definition: &'static str, field: &'static str) -> FieldRule {
    FieldRule {
        list_type: Some(ListType::Set),
        ..rule(definition, field)
    }
}

/// A list keyed for apply only (patches replace it).
const fn keyed(
    definition: &'static str,
    field: &'static str,
    keys: &'static [&'static str],
) -> FieldRule {
    FieldRule {
        list_type: Some(ListType::Map(keys)),
        ..rule(definition, field)
    }
}

/// A map field replaced whole.
const fn atomic_map(definition: &'static str, field: &'static str) -> FieldRule {
    FieldRule {
        map_type: Some(MapType::Atomic),
        ..rule(definition, field)
    }
}

const NAME: &[&str] = &["name"];
const TYPE: &[&str] = &["type"];

/// Every field marker of the served types, grouped by API group.
pub static FIELD_RULES: &[FieldRule] = &[
    // apps/v1
    merge_map(
        "io.k8s.api.apps.v1.DaemonSetStatus",
        "conditions",
        "type",
        TYPE,
    ),
    FieldRule {
        strategy: Some(PatchStrategy::RetainKeys),
        ..rule("io.k8s.api.apps.v1.DeploymentSpec", "strategy")
    },
    merge_map(
        "io.k8s.api.apps.v1.DeploymentStatus",
        "conditions",
        "type",
        TYPE,
    ),
    merge_map(
        "io.k8s.api.apps.v1.ReplicaSetStatus",
        "conditions",
        "type",
        TYPE,
    ),
    atomic("io.k8s.api.apps.v1.StatefulSetSpec", "volumeClaimTemplates"),
    merge_map(
        "io.k8s.api.apps.v1.StatefulSetStatus",
        "conditions",
        "type",
        TYPE,
    ),
    // authentication.k8s.io/v1
    atomic("io.k8s.api.authentication.v1.TokenRequestSpec", "audiences"),
    // autoscaling/v2
    atomic("io.k8s.api.autoscaling.v2.HPAScalingRules", "policies"),
    atomic(
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec",
        "metrics",
    ),
    merge_map(
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        "conditions",
        "type",
        TYPE,
    ),
    atomic(
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        "currentMetrics",
    ),
    // batch/v1
    atomic("io.k8s.api.batch.v1.CronJobStatus", "active"),
    FieldRule {
        strategy: Some(PatchStrategy::Merge),
        merge_key: Some("type"),
        list_type: Some(ListType::Atomic),
        ..rule("io.k8s.api.batch.v1.JobStatus", "conditions")
    },
    atomic("io.k8s.api.batch.v1.PodFailurePolicy", "rules"),
    set(
        "io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement",
        "values",
    ),
    atomic(
        "io.k8s.api.batch.v1.PodFailurePolicyRule",
        "onPodConditions",
    ),
    atomic("io.k8s.api.batch.v1.SuccessPolicy", "rules"),
    set("io.k8s.api.batch.v1.UncountedTerminatedPods", "failed"),
    set("io.k8s.api.batch.v1.UncountedTerminatedPods", "succeeded"),
    // core/v1: containers
    atomic("io.k8s.api.core.v1.Capabilities", "add"),
    atomic("io.k8s.api.core.v1.Capabilities", "drop"),
    atomic("io.k8s.api.core.v1.Container", "args"),
    atomic("io.k8s.api.core.v1.Container", "command"),
    merge_map("io.k8s.api.core.v1.Container", "env", "name", NAME),
    atomic("io.k8s.api.core.v1.Container", "envFrom"),
    merge_map(
        "io.k8s.api.core.v1.Container",
        "ports",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    atomic("io.k8s.api.core.v1.Container", "resizePolicy"),
    merge_map(
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        "devicePath",
        &["devicePath"],
    ),
    merge_map(
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    merge_map(
        "io.k8s.api.core.v1.ContainerStatus",
        "allocatedResourcesStatus",
        "name",
        NAME,
    ),
    merge_map(
        "io.k8s.api.core.v1.ContainerStatus",
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    atomic("io.k8s.api.core.v1.EphemeralContainer", "args"),
    atomic("io.k8s.api.core.v1.EphemeralContainer", "command"),
    merge_map("io.k8s.api.core.v1.EphemeralContainer", "env", "name", NAME),
    atomic("io.k8s.api.core.v1.EphemeralContainer", "envFrom"),
    merge_map(
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    atomic("io.k8s.api.core.v1.EphemeralContainer", "resizePolicy"),
    merge_map(
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeDevices",
        "devicePath",
        &["devicePath"],
    ),
    merge_map(
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    atomic("io.k8s.api.core.v1.ExecAction", "command"),
    atomic("io.k8s.api.core.v1.HTTPGetAction", "httpHeaders"),
    atomic(
        "io.k8s.api.core.v1.LinuxContainerUser",
        "supplementalGroups",
    ),
    keyed("io.k8s.api.core.v1.ResourceRequirements", "claims", NAME),
    keyed(
        "io.k8s.api.core.v1.ResourceStatus",
        "resources",
        &["resourceID"],
    ),
    // core/v1: pods
    atomic("io.k8s.api.core.v1.HostAlias", "hostnames"),
    atomic(
        "io.k8s.api.core.v1.NodeAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic("io.k8s.api.core.v1.NodeSelector", "nodeSelectorTerms"),
    atomic("io.k8s.api.core.v1.NodeSelectorRequirement", "values"),
    atomic("io.k8s.api.core.v1.NodeSelectorTerm", "matchExpressions"),
    atomic("io.k8s.api.core.v1.NodeSelectorTerm", "matchFields"),
    atomic(
        "io.k8s.api.core.v1.PodAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic(
        "io.k8s.api.core.v1.PodAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic("io.k8s.api.core.v1.PodAffinityTerm", "matchLabelKeys"),
    atomic("io.k8s.api.core.v1.PodAffinityTerm", "mismatchLabelKeys"),
    atomic("io.k8s.api.core.v1.PodAffinityTerm", "namespaces"),
    atomic(
        "io.k8s.api.core.v1.PodAntiAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic(
        "io.k8s.api.core.v1.PodAntiAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic("io.k8s.api.core.v1.PodDNSConfig", "nameservers"),
    atomic("io.k8s.api.core.v1.PodDNSConfig", "options"),
    atomic("io.k8s.api.core.v1.PodDNSConfig", "searches"),
    atomic(
        "io.k8s.api.core.v1.PodSecurityContext",
        "supplementalGroups",
    ),
    atomic("io.k8s.api.core.v1.PodSecurityContext", "sysctls"),
    merge_map("io.k8s.api.core.v1.PodSpec", "containers", "name", NAME),
    merge_map(
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        "name",
        NAME,
    ),
    merge_map("io.k8s.api.core.v1.PodSpec", "hostAliases", "ip", &["ip"]),
    merge_map(
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        "name",
        NAME,
    ),
    merge_map("io.k8s.api.core.v1.PodSpec", "initContainers", "name", NAME),
    atomic_map("io.k8s.api.core.v1.PodSpec", "nodeSelector"),
    atomic("io.k8s.api.core.v1.PodSpec", "readinessGates"),
    merge_retain_map("io.k8s.api.core.v1.PodSpec", "resourceClaims", "name", NAME),
    merge_map(
        "io.k8s.api.core.v1.PodSpec",
        "schedulingGates",
        "name",
        NAME,
    ),
    atomic("io.k8s.api.core.v1.PodSpec", "tolerations"),
    merge_map(
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        "topologyKey",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    merge_retain_map("io.k8s.api.core.v1.PodSpec", "volumes", "name", NAME),
    merge_map("io.k8s.api.core.v1.PodStatus", "conditions", "type", TYPE),
    atomic("io.k8s.api.core.v1.PodStatus", "containerStatuses"),
    atomic("io.k8s.api.core.v1.PodStatus", "ephemeralContainerStatuses"),
    FieldRule {
        strategy: Some(PatchStrategy::Merge),
        merge_key: Some("ip"),
        list_type: Some(ListType::Atomic),
        ..rule("io.k8s.api.core.v1.PodStatus", "hostIPs")
    },
    atomic("io.k8s.api.core.v1.PodStatus", "initContainerStatuses"),
    merge_map("io.k8s.api.core.v1.PodStatus", "podIPs", "ip", &["ip"]),
    merge_retain_map(
        "io.k8s.api.core.v1.PodStatus",
        "resourceClaimStatuses",
        "name",
        NAME,
    ),
    atomic(
        "io.k8s.api.core.v1.TopologySpreadConstraint",
        "matchLabelKeys",
    ),
    // core/v1: volumes
    atomic(
        "io.k8s.api.core.v1.CephFSPersistentVolumeSource",
        "monitors",
    ),
    atomic("io.k8s.api.core.v1.CephFSVolumeSource", "monitors"),
    atomic("io.k8s.api.core.v1.ConfigMapProjection", "items"),
    atomic("io.k8s.api.core.v1.ConfigMapVolumeSource", "items"),
    atomic("io.k8s.api.core.v1.DownwardAPIProjection", "items"),
    atomic("io.k8s.api.core.v1.DownwardAPIVolumeSource", "items"),
    atomic("io.k8s.api.core.v1.FCVolumeSource", "targetWWNs"),
    atomic("io.k8s.api.core.v1.FCVolumeSource", "wwids"),
    atomic("io.k8s.api.core.v1.ISCSIPersistentVolumeSource", "portals"),
    atomic("io.k8s.api.core.v1.ISCSIVolumeSource", "portals"),
    atomic("io.k8s.api.core.v1.ProjectedVolumeSource", "sources"),
    atomic("io.k8s.api.core.v1.RBDPersistentVolumeSource", "monitors"),
    atomic("io.k8s.api.core.v1.RBDVolumeSource", "monitors"),
    atomic("io.k8s.api.core.v1.SecretProjection", "items"),
    atomic("io.k8s.api.core.v1.SecretVolumeSource", "items"),
    atomic(
        "io.k8s.api.core.v1.PersistentVolumeClaimSpec",
        "accessModes",
    ),
    atomic(
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "accessModes",
    ),
    FieldRule {
        map_type: Some(MapType::Granular),
        ..rule(
            "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
            "allocatedResourceStatuses",
        )
    },
    merge_map(
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "conditions",
        "type",
        TYPE,
    ),
    atomic("io.k8s.api.core.v1.PersistentVolumeSpec", "accessModes"),
    FieldRule {
        map_type: Some(MapType::Granular),
        ..rule("io.k8s.api.core.v1.PersistentVolumeSpec", "claimRef")
    },
    atomic("io.k8s.api.core.v1.PersistentVolumeSpec", "mountOptions"),
    atomic(
        "io.k8s.api.core.v1.TopologySelectorLabelRequirement",
        "values",
    ),
    atomic(
        "io.k8s.api.core.v1.TopologySelectorTerm",
        "matchLabelExpressions",
    ),
    // core/v1: other kinds
    atomic("io.k8s.api.core.v1.ContainerImage", "names"),
    atomic("io.k8s.api.core.v1.EndpointSubset", "addresses"),
    atomic("io.k8s.api.core.v1.EndpointSubset", "notReadyAddresses"),
    atomic("io.k8s.api.core.v1.EndpointSubset", "ports"),
    atomic("io.k8s.api.core.v1.Endpoints", "subsets"),
    atomic("io.k8s.api.core.v1.LimitRangeSpec", "limits"),
    atomic("io.k8s.api.core.v1.LoadBalancerIngress", "ports"),
    atomic("io.k8s.api.core.v1.LoadBalancerStatus", "ingress"),
    atomic("io.k8s.api.core.v1.NamespaceSpec", "finalizers"),
    merge_map(
        "io.k8s.api.core.v1.NamespaceStatus",
        "conditions",
        "type",
        TYPE,
    ),
    merge_set("io.k8s.api.core.v1.NodeSpec", "podCIDRs"),
    atomic("io.k8s.api.core.v1.NodeSpec", "taints"),
    merge_map("io.k8s.api.core.v1.NodeStatus", "addresses", "type", TYPE),
    merge_map("io.k8s.api.core.v1.NodeStatus", "conditions", "type", TYPE),
    atomic("io.k8s.api.core.v1.NodeStatus", "images"),
    atomic("io.k8s.api.core.v1.NodeStatus", "runtimeHandlers"),
    atomic("io.k8s.api.core.v1.NodeStatus", "volumesAttached"),
    atomic("io.k8s.api.core.v1.NodeStatus", "volumesInUse"),
    atomic("io.k8s.api.core.v1.ResourceQuotaSpec", "scopes"),
    atomic("io.k8s.api.core.v1.ScopeSelector", "matchExpressions"),
    atomic(
        "io.k8s.api.core.v1.ScopedResourceSelectorRequirement",
        "values",
    ),
    atomic("io.k8s.api.core.v1.ServiceAccount", "imagePullSecrets"),
    merge_map("io.k8s.api.core.v1.ServiceAccount", "secrets", "name", NAME),
    atomic("io.k8s.api.core.v1.ServiceSpec", "clusterIPs"),
    atomic("io.k8s.api.core.v1.ServiceSpec", "externalIPs"),
    atomic("io.k8s.api.core.v1.ServiceSpec", "ipFamilies"),
    atomic("io.k8s.api.core.v1.ServiceSpec", "loadBalancerSourceRanges"),
    merge_map(
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        "port",
        &["port", "protocol"],
    ),
    atomic_map("io.k8s.api.core.v1.ServiceSpec", "selector"),
    merge_map(
        "io.k8s.api.core.v1.ServiceStatus",
        "conditions",
        "type",
        TYPE,
    ),
    // discovery.k8s.io/v1
    set("io.k8s.api.discovery.v1.Endpoint", "addresses"),
    atomic("io.k8s.api.discovery.v1.EndpointHints", "forNodes"),
    atomic("io.k8s.api.discovery.v1.EndpointHints", "forZones"),
    atomic("io.k8s.api.discovery.v1.EndpointSlice", "endpoints"),
    atomic("io.k8s.api.discovery.v1.EndpointSlice", "ports"),
    // networking.k8s.io/v1
    atomic("io.k8s.api.networking.v1.HTTPIngressRuleValue", "paths"),
    atomic("io.k8s.api.networking.v1.IPBlock", "except"),
    atomic(
        "io.k8s.api.networking.v1.IngressLoadBalancerIngress",
        "ports",
    ),
    atomic(
        "io.k8s.api.networking.v1.IngressLoadBalancerStatus",
        "ingress",
    ),
    atomic("io.k8s.api.networking.v1.IngressSpec", "rules"),
    atomic("io.k8s.api.networking.v1.IngressSpec", "tls"),
    atomic("io.k8s.api.networking.v1.IngressTLS", "hosts"),
    atomic("io.k8s.api.networking.v1.NetworkPolicyEgressRule", "ports"),
    atomic("io.k8s.api.networking.v1.NetworkPolicyEgressRule", "to"),
    atomic("io.k8s.api.networking.v1.NetworkPolicyIngressRule", "from"),
    atomic("io.k8s.api.networking.v1.NetworkPolicyIngressRule", "ports"),
    atomic("io.k8s.api.networking.v1.NetworkPolicySpec", "egress"),
    atomic("io.k8s.api.networking.v1.NetworkPolicySpec", "ingress"),
    atomic("io.k8s.api.networking.v1.NetworkPolicySpec", "policyTypes"),
    // policy/v1
    FieldRule {
        strategy: Some(PatchStrategy::Replace),
        ..rule("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "selector")
    },
    merge_map(
        "io.k8s.api.policy.v1.PodDisruptionBudgetStatus",
        "conditions",
        "type",
        TYPE,
    ),
    // rbac.authorization.k8s.io/v1
    atomic("io.k8s.api.rbac.v1.AggregationRule", "clusterRoleSelectors"),
    atomic("io.k8s.api.rbac.v1.ClusterRole", "rules"),
    atomic("io.k8s.api.rbac.v1.ClusterRoleBinding", "subjects"),
    atomic("io.k8s.api.rbac.v1.PolicyRule", "apiGroups"),
    atomic("io.k8s.api.rbac.v1.PolicyRule", "nonResourceURLs"),
    atomic("io.k8s.api.rbac.v1.PolicyRule", "resourceNames"),
    atomic("io.k8s.api.rbac.v1.PolicyRule", "resources"),
    atomic("io.k8s.api.rbac.v1.PolicyRule", "verbs"),
    atomic("io.k8s.api.rbac.v1.Role", "rules"),
    atomic("io.k8s.api.rbac.v1.RoleBinding", "subjects"),
    // storage.k8s.io/v1
    atomic("io.k8s.api.storage.v1.StorageClass", "allowedTopologies"),
    atomic("io.k8s.api.storage.v1.StorageClass", "mountOptions"),
    // apiextensions.k8s.io/v1
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames",
        "categories",
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames",
        "shortNames",
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec",
        "versions",
    ),
    keyed(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        "conditions",
        TYPE,
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        "storedVersions",
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion",
        "additionalPrinterColumns",
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion",
        "selectableFields",
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "allOf",
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "anyOf",
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "enum",
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "oneOf",
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "required",
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "x-kubernetes-list-map-keys",
    ),
    merge_map(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "x-kubernetes-validations",
        "rule",
        &["rule"],
    ),
    atomic(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.WebhookConversion",
        "conversionReviewVersions",
    ),
    // meta/v1
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
        "serverAddressByClientCIDRs",
    ),
    atomic("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", "versions"),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
        "groups",
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResource",
        "categories",
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResource",
        "shortNames",
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
        "resources",
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
        "serverAddressByClientCIDRs",
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
        "versions",
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "dryRun",
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
        "matchExpressions",
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
        "values",
    ),
    merge_set(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "managedFields",
    ),
    merge_map(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        "uid",
        &["uid"],
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails",
        "causes",
    ),
];

/// Definitions that are atomic as a whole (`x-kubernetes-map-type: atomic` on the type).
pub static ATOMIC_DEFINITIONS: &[&str] = &[
    "io.k8s.api.autoscaling.v1.CrossVersionObjectReference",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.EndpointAddress",
    "io.k8s.api.core.v1.EndpointPort",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.ScopeSelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.SecretReference",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.discovery.v1.EndpointPort",
    "io.k8s.api.networking.v1.ServiceBackendPort",
    "io.k8s.api.rbac.v1.RoleRef",
    "io.k8s.api.rbac.v1.Subject",
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
];
