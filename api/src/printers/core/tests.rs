//! Tests of the core printers: realistic objects and the exact cells Kubernetes shows.

use super::*;
use serde_json::json;

/// 2024-01-10T00:00:00Z.
const NOW: i64 = 1_704_844_800;

#[test]
fn namespace() {
    let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": "2023-12-01T00:00:00Z"},
                    "status": {"phase": "Active"}});
    assert_eq!(
        namespace_row(&ns, NOW),
        [json!("kube-system"), json!("Active"), json!("40d")]
    );
}

#[test]
fn node_ready_with_roles() {
    let node = json!({
        "metadata": {"name": "cp-1", "creationTimestamp": "2024-01-07T21:00:00Z",
            "labels": {"node-role.kubernetes.io/control-plane": "",
                       "node-role.kubernetes.io/etcd": "true",
                       "kubernetes.io/role": "master",
                       "kubernetes.io/hostname": "cp-1"}},
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"},
                           {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "cp-1"},
                          {"type": "InternalIP", "address": "10.0.0.1"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "rkube://0.1.0"}
        }
    });
    assert_eq!(
        node_row(&node, NOW),
        [
            json!("cp-1"),
            json!("Ready,SchedulingDisabled"),
            json!("control-plane,etcd,master"),
            json!("2d3h"),
            json!("v1.32.0"),
            json!("10.0.0.1"),
            json!("<none>"),
            json!("Debian GNU/Linux 12 (bookworm)"),
            json!("6.1.0-18-amd64"),
            json!("rkube://0.1.0"),
        ]
    );
}

#[test]
fn node_not_ready_and_unknown() {
    let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    let cells = node_row(&not_ready, NOW);
    assert_eq!(cells[1], json!("NotReady"));
    assert_eq!(cells[2], json!("<none>"));
    assert_eq!(cells[7], json!("<unknown>"));
    assert_eq!(node_row(&json!({}), NOW)[1], json!("Unknown"));
}

#[test]
fn services() {
    let cluster_ip = json!({
        "metadata": {"name": "kubernetes", "creationTimestamp": "2024-01-09T23:59:15Z"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                 "ports": [{"port": 443, "protocol": "TCP", "targetPort": 6443}]}
    });
    assert_eq!(
        service_row(&cluster_ip, NOW),
        [
            json!("kubernetes"),
            json!("ClusterIP"),
            json!("10.96.0.1"),
            json!("<none>"),
            json!("443/TCP"),
            json!("45s"),
            json!("<none>")
        ]
    );
    let node_port = json!({
        "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "clusterIPs": ["10.96.5.5"], "externalIPs": ["192.0.2.1"],
                 "selector": {"app": "web", "tier": "fe"},
                 "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                           {"port": 53, "nodePort": 30053, "protocol": "UDP"}]}
    });
    let cells = service_row(&node_port, NOW);
    assert_eq!(cells[3], json!("192.0.2.1"));
    assert_eq!(cells[4], json!("80:30080/TCP,53:30053/UDP"));
    assert_eq!(cells[6], json!("app=web,tier=fe"));
}

#[test]
fn load_balancer_and_external_name_services() {
    let pending = json!({"spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.9"],
                                  "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]}});
    assert_eq!(service_row(&pending, NOW)[3], json!("<pending>"));
    let ready = json!({"spec": {"type": "LoadBalancer", "externalIPs": ["192.0.2.9"]},
                       "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"},
                                                               {"hostname": "lb.example.com"}]}}});
    let cells = service_row(&ready, NOW);
    assert_eq!(cells[3], json!("203.0.113.7,lb.example.com,192.0.2.9"));
    assert_eq!(cells[4], json!("<none>"));
    let headless =
        json!({"spec": {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}});
    assert_eq!(service_row(&headless, NOW)[2], json!("None"));
    let external = json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}});
    let cells = service_row(&external, NOW);
    assert_eq!(cells[2], json!("<none>"));
    assert_eq!(cells[3], json!("db.example.com"));
}

#[test]
fn endpoints() {
    let ep = json!({
        "metadata": {"name": "web"},
        "subsets": [{"addresses": [{"ip": "10.244.1.2"}, {"ip": "10.244.2.3"}],
                     "ports": [{"port": 8080}, {"port": 9090}]}]
    });
    assert_eq!(
        endpoints_row(&ep, NOW)[1],
        json!("10.244.1.2:8080,10.244.2.3:8080,10.244.1.2:9090 + 1 more...")
    );
    let headless = json!({"subsets": [{"addresses": [{"ip": "10.244.1.2"}, {"ip": "fd00::1"}]}]});
    assert_eq!(
        endpoints_row(&headless, NOW)[1],
        json!("10.244.1.2,fd00::1")
    );
    let v6 = json!({"subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]});
    assert_eq!(endpoints_row(&v6, NOW)[1], json!("[fd00::1]:80"));
    assert_eq!(endpoints_row(&json!({}), NOW)[1], json!("<none>"));
}

#[test]
fn config_maps_secrets_service_accounts() {
    let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(
        config_map_row(&cm, NOW),
        [json!("cfg"), json!(3), json!("<unknown>")]
    );
    let secret = json!({"metadata": {"name": "tls"}, "type": "kubernetes.io/tls",
                        "data": {"tls.crt": "", "tls.key": ""}});
    assert_eq!(
        secret_row(&secret, NOW),
        [
            json!("tls"),
            json!("kubernetes.io/tls"),
            json!(2),
            json!("<unknown>")
        ]
    );
    assert_eq!(secret_row(&json!({}), NOW)[1], json!("Opaque"));
    let sa = json!({"metadata": {"name": "default", "creationTimestamp": "2024-01-09T00:00:00Z"}});
    assert_eq!(
        service_account_row(&sa, NOW),
        [json!("default"), json!("24h")]
    );
}

#[test]
fn events() {
    let ev = json!({
        "metadata": {"name": "web.17a9"},
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
        "reason": "BackOff", "type": "Warning",
        "message": "Back-off restarting failed container\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-01-09T23:00:00Z",
        "lastTimestamp": "2024-01-09T23:58:00Z",
        "count": 12
    });
    assert_eq!(
        event_row(&ev, NOW),
        [
            json!("2m"),
            json!("Warning"),
            json!("BackOff"),
            json!("pod/web"),
            json!("spec.containers{app}"),
            json!("kubelet, node-1"),
            json!("Back-off restarting failed container"),
            json!("60m"),
            json!(12),
            json!("web.17a9"),
        ]
    );
}

#[test]
fn events_of_the_new_api() {
    let ev = json!({
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Node"},
        "reason": "Starting", "type": "Normal", "message": "",
        "eventTime": "2024-01-09T23:59:50.123456Z",
        "reportingComponent": "rkube-proxy", "reportingInstance": "node-2"
    });
    let cells = event_row(&ev, NOW);
    assert_eq!(cells[0], json!("10s"));
    assert_eq!(cells[3], json!("node"));
    assert_eq!(cells[5], json!("rkube-proxy, node-2"));
    assert_eq!(cells[7], json!("10s"));
    assert_eq!(cells[8], json!(1));
    let series = json!({
        "eventTime": "2024-01-09T23:00:00.000000Z",
        "series": {"count": 4, "lastObservedTime": "2024-01-09T23:59:00.000000Z"}
    });
    let cells = event_row(&series, NOW);
    assert_eq!(cells[0], json!("60s"));
    assert_eq!(cells[7], json!("60m"));
    assert_eq!(cells[8], json!(4));
    assert_eq!(event_row(&json!({}), NOW)[0], json!("<unknown>"));
}

#[test]
fn events_k8s_io_events() {
    let ev = json!({
        "metadata": {"name": "web.17b0"},
        "regarding": {"kind": "Deployment", "name": "web"},
        "reason": "ScalingReplicaSet", "type": "Normal",
        "note": "Scaled up replica set web-7d9c to 3",
        "eventTime": "2024-01-09T23:59:00.000000Z",
        "reportingController": "deployment-controller", "reportingInstance": "cp-1"
    });
    assert_eq!(
        events_v1_row(&ev, NOW),
        [
            json!("60s"),
            json!("Normal"),
            json!("ScalingReplicaSet"),
            json!("deployment/web"),
            json!(""),
            json!("deployment-controller, cp-1"),
            json!("Scaled up replica set web-7d9c to 3"),
            json!("60s"),
            json!(1),
            json!("web.17b0"),
        ]
    );
}

#[test]
fn persistent_volumes_and_claims() {
    let pv = json!({
        "metadata": {"name": "pv-1", "creationTimestamp": "2024-01-09T00:00:00Z"},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "local",
                 "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
        "status": {"phase": "Bound"}
    });
    assert_eq!(
        pv_row(&pv, NOW),
        [
            json!("pv-1"),
            json!("10Gi"),
            json!("RWO"),
            json!("Retain"),
            json!("Bound"),
            json!("default/data"),
            json!("local"),
            json!("<unset>"),
            json!(""),
            json!("24h"),
            json!("Filesystem"),
        ]
    );
    let pvc = json!({
        "metadata": {"name": "data", "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
        "spec": {"volumeName": "pv-1", "storageClassName": "local",
                 "resources": {"requests": {"storage": "5Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "10240Mi"},
                   "accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}
    });
    assert_eq!(
        pvc_row(&pvc, NOW),
        [
            json!("data"),
            json!("Bound"),
            json!("pv-1"),
            json!("10Gi"),
            json!("RWO,ROX"),
            json!("old"),
            json!("<unset>"),
            json!("<unknown>"),
            json!("<unset>"),
        ]
    );
    let pending = json!({"metadata": {"deletionTimestamp": "2024-01-09T00:00:00Z"},
                         "spec": {"resources": {"requests": {"storage": "5Gi"}}},
                         "status": {"phase": "Pending"}});
    let cells = pvc_row(&pending, NOW);
    assert_eq!(
        &cells[1..5],
        [json!("Terminating"), json!(""), json!(""), json!("")]
    );
}

#[test]
fn resource_quotas() {
    let rq = json!({
        "metadata": {"name": "compute"},
        "status": {
            "hard": {"limits.cpu": "2", "limits.memory": "2Gi", "pods": "10", "requests.cpu": "1000m"},
            "used": {"limits.cpu": "500m", "pods": "3", "requests.cpu": "250m"}
        }
    });
    assert_eq!(
        resource_quota_row(&rq, NOW),
        [
            json!("compute"),
            json!("pods: 3/10, requests.cpu: 250m/1"),
            json!("limits.cpu: 500m/2, limits.memory: 0/2Gi"),
            json!("<unknown>"),
        ]
    );
}
