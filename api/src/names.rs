//! Object name validation (DNS-1123, qualified names), `generateName`, and well-known names.
//!
//! Validation messages are Kubernetes' own (from `k8s.io/apimachinery/pkg/util/validation`), so
//! clients see the text they know. Where Kubernetes reports several problems at once, these
//! functions report the first one: length before format.

use rand::Rng;

/// The longest DNS-1123 label (namespace names, most object names that end up in DNS).
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// The longest DNS-1123 subdomain (most object names).
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// The longest name part of a qualified name (label and annotation keys).
pub const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
/// The longest label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;

/// The characters `generateName` suffixes are drawn from: no vowels (no accidental words) and
/// no look-alikes such as `0`/`o`, `1`/`l`, `3`/`e`.
pub const GENERATE_NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// How many random characters `generateName` appends.
pub const GENERATE_NAME_SUFFIX_LENGTH: usize = 5;
/// `generateName` bases are cut to this length so the result is at most 63 characters.
pub const GENERATE_NAME_MAX_BASE_LENGTH: usize =
    DNS1123_LABEL_MAX_LENGTH - GENERATE_NAME_SUFFIX_LENGTH;

/// The namespace objects land in when none is given.
pub const NAMESPACE_DEFAULT: &str = "default";
/// The namespace of the control plane's own objects.
pub const NAMESPACE_KUBE_SYSTEM: &str = "kube-system";
/// The namespace readable by everyone, including unauthenticated users.
pub const NAMESPACE_KUBE_PUBLIC: &str = "kube-public";
/// The namespace holding one heartbeat `Lease` per node.
pub const NAMESPACE_KUBE_NODE_LEASE: &str = "kube-node-lease";
/// Namespaces that exist from the start and cannot be deleted.
pub const SYSTEM_NAMESPACES: &[&str] = &[
    NAMESPACE_DEFAULT,
    NAMESPACE_KUBE_SYSTEM,
    NAMESPACE_KUBE_PUBLIC,
    NAMESPACE_KUBE_NODE_LEASE,
];

/// Node label: the node's hostname.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// Node label: the node's operating system (`linux`).
pub const LABEL_OS: &str = "kubernetes.io/os";
/// Node label: the node's architecture (`amd64`, `arm64`).
pub const LABEL_ARCH: &str = "kubernetes.io/arch";
/// Node label: the node runs the control plane.
pub const LABEL_NODE_ROLE_CONTROL_PLANE: &str = "node-role.kubernetes.io/control-plane";
/// Node label: the node's failure zone.
pub const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";
/// Node label: the node's region.
pub const LABEL_TOPOLOGY_REGION: &str = "topology.kubernetes.io/region";
/// Namespace label set to the namespace's own name.
pub const LABEL_METADATA_NAME: &str = "kubernetes.io/metadata.name";
/// Pod and ReplicaSet label: the hash of the Deployment's pod template.
pub const LABEL_POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// Pod label: the ControllerRevision of a StatefulSet or DaemonSet the pod was made from.
pub const LABEL_CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";
/// Pod label: the StatefulSet pod's own name.
pub const LABEL_STATEFULSET_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
/// Pod label: the ordinal of a StatefulSet pod or the completion index of an indexed Job's pod.
pub const LABEL_POD_INDEX: &str = "apps.kubernetes.io/pod-index";
/// Pod label: the name of the Job owning the pod.
pub const LABEL_JOB_NAME: &str = "batch.kubernetes.io/job-name";
/// Pod label: the uid of the Job owning the pod.
pub const LABEL_JOB_CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// Legacy pod label: the name of the Job owning the pod.
pub const LABEL_JOB_NAME_LEGACY: &str = "job-name";
/// Legacy pod label: the uid of the Job owning the pod.
pub const LABEL_JOB_CONTROLLER_UID_LEGACY: &str = "controller-uid";
/// EndpointSlice label: the Service the slice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// EndpointSlice label: the controller managing the slice.
pub const LABEL_ENDPOINTSLICE_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// Service and EndpointSlice label: the Service is headless.
pub const LABEL_SERVICE_HEADLESS: &str = "service.kubernetes.io/headless";
/// Node label: keep this node out of external load balancers.
pub const LABEL_EXCLUDE_FROM_EXTERNAL_LB: &str =
    "node.kubernetes.io/exclude-from-external-load-balancers";

/// Annotation written by `kubectl apply` holding the last applied object.
pub const ANNOTATION_LAST_APPLIED_CONFIGURATION: &str =
    "kubectl.kubernetes.io/last-applied-configuration";
/// Pod template annotation set by `kubectl rollout restart`.
pub const ANNOTATION_RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// Deployment and ReplicaSet annotation: the rollout revision.
pub const ANNOTATION_DEPLOYMENT_REVISION: &str = "deployment.kubernetes.io/revision";
/// ReplicaSet annotation: the Deployment's desired replicas when the set was last scaled.
pub const ANNOTATION_DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// ReplicaSet annotation: desired replicas plus max surge when the set was last scaled.
pub const ANNOTATION_MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Secret annotation: the ServiceAccount a token Secret belongs to.
pub const ANNOTATION_SERVICE_ACCOUNT_NAME: &str = "kubernetes.io/service-account.name";
/// Secret annotation: the uid of the ServiceAccount a token Secret belongs to.
pub const ANNOTATION_SERVICE_ACCOUNT_UID: &str = "kubernetes.io/service-account.uid";

/// Node taint: the node is not ready.
pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Node taint: the node controller cannot reach the node.
pub const TAINT_NODE_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Node taint: the node is cordoned.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// Node taint: control-plane nodes take no ordinary workloads.
pub const TAINT_NODE_ROLE_CONTROL_PLANE: &str = "node-role.kubernetes.io/control-plane";

/// Namespace finalizer (in `spec.finalizers`) held until the namespace is emptied.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";
/// Finalizer asking the garbage collector to delete dependents first.
pub const FINALIZER_FOREGROUND_DELETION: &str = "foregroundDeletion";
/// Finalizer asking the garbage collector to orphan dependents.
pub const FINALIZER_ORPHAN: &str = "orphan";

const DNS1123_LABEL_FORMAT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FORMAT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";

/// Why a name failed validation; `Display` gives Kubernetes' message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The name is longer than allowed.
    #[error("must be no more than {max} characters")]
    TooLong {
        /// The longest allowed length.
        max: usize,
    },
    /// The name is not a DNS-1123 label.
    #[error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL_FORMAT}')")]
    NotDns1123Label,
    /// The name is not a DNS-1123 subdomain.
    #[error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{DNS1123_LABEL_FORMAT}(\\.{DNS1123_LABEL_FORMAT})*')")]
    NotDns1123Subdomain,
    /// A qualified name has nothing after its prefix.
    #[error("name part must be non-empty")]
    EmptyNamePart,
    /// A qualified name's name part is longer than 63 characters.
    #[error("name part must be no more than {QUALIFIED_NAME_MAX_LENGTH} characters")]
    NamePartTooLong,
    /// A qualified name's name part has bad characters.
    #[error("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME_FORMAT}')")]
    InvalidNamePart,
    /// A qualified name has an empty prefix before its `/`.
    #[error("prefix part must be non-empty")]
    EmptyPrefix,
    /// A qualified name's prefix is not a DNS-1123 subdomain.
    #[error("prefix part {0}")]
    InvalidPrefix(Box<Error>),
    /// A qualified name has more than one `/`.
    #[error("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME_FORMAT}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")]
    NotQualifiedName,
    /// A label value has bad characters.
    #[error("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '({QUALIFIED_NAME_FORMAT})?')")]
    InvalidLabelValue,
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Whether `s` matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?` (no length check).
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            is_lower_alnum(first)
                && is_lower_alnum(last)
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// Whether `s` matches `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]` (no length check).
fn matches_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Validates a DNS-1123 label: at most 63 lowercase alphanumerics or `-`, alphanumeric at both
/// ends. Namespaces, Services and Nodes' DNS parts use this.
///
/// # Errors
///
/// [`Error::TooLong`] or [`Error::NotDns1123Label`].
pub fn validate_dns1123_label(s: &str) -> Result<()> {
    if s.len() > DNS1123_LABEL_MAX_LENGTH {
        return Err(Error::TooLong {
            max: DNS1123_LABEL_MAX_LENGTH,
        });
    }
    if !matches_dns1123_label(s) {
        return Err(Error::NotDns1123Label);
    }
    Ok(())
}

/// Validates a DNS-1123 subdomain: at most 253 characters of dot-separated DNS-1123 labels.
/// Most object names use this.
///
/// # Errors
///
/// [`Error::TooLong`] or [`Error::NotDns1123Subdomain`].
pub fn validate_dns1123_subdomain(s: &str) -> Result<()> {
    if s.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        return Err(Error::TooLong {
            max: DNS1123_SUBDOMAIN_MAX_LENGTH,
        });
    }
    if !s.split('.').all(matches_dns1123_label) {
        return Err(Error::NotDns1123Subdomain);
    }
    Ok(())
}

/// Validates a qualified name, `[prefix/]name`, as label and annotation keys are: the optional
/// prefix a DNS-1123 subdomain, the name at most 63 characters of alphanumerics, `-`, `_`, `.`,
/// alphanumeric at both ends.
///
/// # Errors
///
/// The name-part, prefix-part or [`Error::NotQualifiedName`] variants.
pub fn validate_qualified_name(s: &str) -> Result<()> {
    let mut parts = s.split('/');
    let (prefix, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(name), None, None) => (None, name),
        (Some(prefix), Some(name), None) => (Some(prefix), name),
        _ => return Err(Error::NotQualifiedName),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err(Error::EmptyPrefix);
        }
        validate_dns1123_subdomain(prefix).map_err(|e| Error::InvalidPrefix(Box::new(e)))?;
    }
    if name.is_empty() {
        return Err(Error::EmptyNamePart);
    }
    if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        return Err(Error::NamePartTooLong);
    }
    if !matches_qualified_name_part(name) {
        return Err(Error::InvalidNamePart);
    }
    Ok(())
}

/// Validates a label value: empty, or at most 63 alphanumerics, `-`, `_`, `.`, alphanumeric at
/// both ends.
///
/// # Errors
///
/// [`Error::TooLong`] or [`Error::InvalidLabelValue`].
pub fn validate_label_value(s: &str) -> Result<()> {
    if s.len() > LABEL_VALUE_MAX_LENGTH {
        return Err(Error::TooLong {
            max: LABEL_VALUE_MAX_LENGTH,
        });
    }
    if !s.is_empty() && !matches_qualified_name_part(s) {
        return Err(Error::InvalidLabelValue);
    }
    Ok(())
}

/// Cuts a `generateName` base so that base plus suffix fits in 63 characters, as Kubernetes
/// does (a base may end in `-`; the suffix makes the result valid again).
pub fn generate_name_base(base: &str) -> &str {
    if base.len() <= GENERATE_NAME_MAX_BASE_LENGTH {
        return base;
    }
    let mut end = GENERATE_NAME_MAX_BASE_LENGTH;
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    &base[..end]
}

/// A random `generateName` suffix: five characters from [`GENERATE_NAME_ALPHABET`].
pub fn generate_name_suffix<R: Rng + ?Sized>(rng: &mut R) -> String {
    (0..GENERATE_NAME_SUFFIX_LENGTH)
        .map(|_| {
            char::from(GENERATE_NAME_ALPHABET[rng.random_range(0..GENERATE_NAME_ALPHABET.len())])
        })
        .collect()
}

/// A name for an object created with `metadata.generateName: base`: the (possibly cut) base and
/// a random suffix, e.g. `web-` gives `web-x7k2q`. The caller retries on a name conflict.
pub fn generate_name<R: Rng + ?Sized>(base: &str, rng: &mut R) -> String {
    let mut name = generate_name_base(base).to_owned();
    name.push_str(&generate_name_suffix(rng));
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    #[test]
    fn dns1123_labels() {
        for ok in [
            "a",
            "ab",
            "a-b",
            "a--b",
            "1",
            "123-abc",
            "kube-system",
            &"a".repeat(63),
        ] {
            assert_eq!(validate_dns1123_label(ok), Ok(()), "{ok}");
        }
        for bad in ["", "A", "-a", "a-", "a.b", "a_b", "a b", "ä", "a/b"] {
            assert_eq!(
                validate_dns1123_label(bad),
                Err(Error::NotDns1123Label),
                "{bad}"
            );
        }
        assert_eq!(
            validate_dns1123_label(&"a".repeat(64)),
            Err(Error::TooLong { max: 63 })
        );
    }

    #[test]
    fn dns1123_subdomains() {
        for ok in ["a", "a.b", "example.com", "a-1.b-2.c", &"a".repeat(253)] {
            assert_eq!(validate_dns1123_subdomain(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".", "a.", ".a", "a..b", "A.b", "a_b", "a.-b", "a-.b"] {
            assert_eq!(
                validate_dns1123_subdomain(bad),
                Err(Error::NotDns1123Subdomain),
                "{bad}"
            );
        }
        assert_eq!(
            validate_dns1123_subdomain(&"a".repeat(254)),
            Err(Error::TooLong { max: 253 })
        );
    }

    #[test]
    fn qualified_names() {
        for ok in [
            "a",
            "A",
            "a.b",
            "a_b",
            "a-b",
            "MyName",
            "k8s.io/name",
            "kubernetes.io/hostname",
            "1/a",
        ] {
            assert_eq!(validate_qualified_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate_qualified_name(""), Err(Error::EmptyNamePart));
        assert_eq!(validate_qualified_name("a/"), Err(Error::EmptyNamePart));
        assert_eq!(validate_qualified_name("/a"), Err(Error::EmptyPrefix));
        assert_eq!(
            validate_qualified_name("a/b/c"),
            Err(Error::NotQualifiedName)
        );
        assert_eq!(validate_qualified_name("-a"), Err(Error::InvalidNamePart));
        assert_eq!(validate_qualified_name("a b"), Err(Error::InvalidNamePart));
        assert_eq!(
            validate_qualified_name(&"a".repeat(64)),
            Err(Error::NamePartTooLong)
        );
        assert_eq!(
            validate_qualified_name("Example.com/a"),
            Err(Error::InvalidPrefix(Box::new(Error::NotDns1123Subdomain)))
        );
        let msg = validate_qualified_name("Bad_/a")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            msg.starts_with("prefix part a lowercase RFC 1123 subdomain"),
            "{msg}"
        );
    }

    #[test]
    fn label_values() {
        for ok in ["", "a", "A.b_c-d", "12345", &"v".repeat(63)] {
            assert_eq!(validate_label_value(ok), Ok(()), "{ok}");
        }
        for bad in ["-a", "a-", "_", "a/b", "a b", "a:b"] {
            assert_eq!(
                validate_label_value(bad),
                Err(Error::InvalidLabelValue),
                "{bad}"
            );
        }
        assert_eq!(
            validate_label_value(&"v".repeat(64)),
            Err(Error::TooLong { max: 63 })
        );
    }

    #[test]
    fn messages_match_kubernetes() {
        assert_eq!(
            Error::TooLong { max: 63 }.to_string(),
            "must be no more than 63 characters"
        );
        assert_eq!(
            Error::NotDns1123Label.to_string(),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and \
             end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        );
        assert!(Error::NotDns1123Subdomain
            .to_string()
            .ends_with("regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
    }

    #[test]
    fn generated_names() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let name = generate_name("web-", &mut rng);
        assert_eq!(name.len(), 9);
        assert!(name.starts_with("web-"));
        assert!(name[4..]
            .bytes()
            .all(|b| GENERATE_NAME_ALPHABET.contains(&b)));
        let long = "x".repeat(100);
        let name = generate_name(&long, &mut rng);
        assert_eq!(name.len(), 63);
        assert_eq!(validate_dns1123_label(&name), Ok(()));
        assert_eq!(generate_name_base("é".repeat(40).as_str()).len(), 58);
    }

    proptest! {
        #[test]
        fn generated_names_are_valid_labels(base in "[a-z]([-a-z0-9]{0,80})", seed in any::<u64>()) {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let name = generate_name(&base, &mut rng);
            prop_assert_eq!(validate_dns1123_label(&name), Ok(()));
        }
    }
}
