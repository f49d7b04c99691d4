//! What a container is made of ([`ContainerConfig`], filled by the kubelet from the pod and the
//! image) and the OCI runtime spec (`config.json`) the container library runs from it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A bind mount into the container (a volume, or a file the kubelet writes for the pod).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

/// Namespaces of the pod sandbox the container joins (paths like `/proc/PID/ns/net` or
/// bind-mounted namespace files); `None` gives the container one of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinNamespaces {
    pub network: Option<PathBuf>,
    pub ipc: Option<PathBuf>,
    pub uts: Option<PathBuf>,
    pub pid: Option<PathBuf>,
}

/// Resource limits, as the kubelet derives them from requests and limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub memory_limit: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub pids_limit: Option<i64>,
}

/// Everything needed to run one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// Unique on the node (the kubelet uses `<pod-uid>-<container>-<attempt>`).
    pub id: String,
    /// The image's unpacked layers, top-most first (overlay lower directories).
    pub layers: Vec<PathBuf>,
    /// The command, already combined from the image's Entrypoint/Cmd and the pod's
    /// command/args.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// Used when the container has a UTS namespace of its own.
    pub hostname: String,
    pub readonly_rootfs: bool,
    pub join: JoinNamespaces,
    pub mounts: Vec<BindMount>,
    /// The container's cgroup, e.g. `/kubepods/besteffort/pod<uid>/<id>`.
    pub cgroup_path: Option<String>,
    pub resources: Resources,
    /// Where the container's output goes, in the CRI log format.
    pub log_path: PathBuf,
}

/// The OCI runtime spec of `config`, with the root file system at `rootfs` (inside the bundle).
pub fn runtime_spec(config: &ContainerConfig) -> Value {
    let mut spec = serde_json::to_value(oci_spec::runtime::Spec::default()).unwrap_or(json!({}));
    spec["process"]["args"] = json!(config.args);
    spec["process"]["env"] = json!(config.env);
    spec["process"]["cwd"] = json!(if config.cwd.is_empty() {
        "/"
    } else {
        &config.cwd
    });
    spec["process"]["terminal"] = json!(false);
    spec["process"]["user"] = json!({
        "uid": config.uid,
        "gid": config.gid,
        "additionalGids": config.additional_gids,
    });
    spec["root"] = json!({"path": "rootfs", "readonly": config.readonly_rootfs});
    let mut namespaces = vec![json!({"type": "mount"})];
    for (kind, path) in [
        ("pid", &config.join.pid),
        ("network", &config.join.network),
        ("ipc", &config.join.ipc),
        ("uts", &config.join.uts),
    ] {
        namespaces.push(match path {
            Some(p) => json!({"type": kind, "path": p}),
            None => json!({"type": kind}),
        });
    }
    spec["linux"]["namespaces"] = json!(namespaces);
    if config.join.uts.is_none() && !config.hostname.is_empty() {
        spec["hostname"] = json!(config.hostname);
    } else if let Some(obj) = spec.as_object_mut() {
        obj.remove("hostname");
    }
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in &config.mounts {
            let mut options = vec!["rbind", "rprivate"];
            options.push(if m.read_only { "ro" } else { "rw" });
            mounts.push(json!({
                "destination": m.destination,
                "type": "bind",
                "source": m.source,
                "options": options,
            }));
        }
    }
    if let Some(path) = &config.cgroup_path {
        spec["linux"]["cgroupsPath"] = json!(path);
    }
    let r = &config.resources;
    let mut memory = json!({});
    if let Some(limit) = r.memory_limit {
        memory["limit"] = json!(limit);
    }
    let mut cpu = json!({});
    if let Some(shares) = r.cpu_shares {
        cpu["shares"] = json!(shares);
    }
    if let Some(quota) = r.cpu_quota {
        cpu["quota"] = json!(quota);
        cpu["period"] = json!(r.cpu_period.unwrap_or(100_000));
    }
    spec["linux"]["resources"]["memory"] = memory;
    spec["linux"]["resources"]["cpu"] = cpu;
    if let Some(limit) = r.pids_limit {
        spec["linux"]["resources"]["pids"] = json!({"limit": limit});
    }
    spec
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn a_spec_for_a_pod_container() {
        let config = ContainerConfig {
            id: "c1".into(),
            args: vec!["sh".into(), "-c".into(), "echo hi".into()],
            env: vec!["A=1".into()],
            uid: 1000,
            gid: 1000,
            hostname: "web-0".into(),
            join: JoinNamespaces {
                network: Some("/run/rkube/sandboxes/u/net".into()),
                ..Default::default()
            },
            mounts: vec![BindMount {
                source: "/var/lib/rkube/agent/pods/u/volumes/x".into(),
                destination: "/data".into(),
                read_only: true,
            }],
            cgroup_path: Some("/kubepods/besteffort/podu/c1".into()),
            resources: Resources {
                memory_limit: Some(64 << 20),
                cpu_quota: Some(50_000),
                ..Default::default()
            },
            ..Default::default()
        };
        let spec = runtime_spec(&config);
        assert_eq!(spec["process"]["args"][2], "echo hi");
        assert_eq!(spec["process"]["user"]["uid"], 1000);
        assert_eq!(spec["hostname"], "web-0");
        let ns = spec["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.contains(&json!({"type": "network", "path": "/run/rkube/sandboxes/u/net"})));
        assert!(ns.contains(&json!({"type": "pid"})));
        let data = spec["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/data")
            .unwrap();
        assert_eq!(data["options"], json!(["rbind", "rprivate", "ro"]));
        assert_eq!(spec["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(spec["linux"]["resources"]["cpu"]["period"], 100_000);
        assert_eq!(spec["linux"]["cgroupsPath"], "/kubepods/besteffort/podu/c1");
        // The spec reads back as a valid OCI spec.
        let _: oci_spec::runtime::Spec = serde_json::from_value(spec).unwrap();
    }
}
