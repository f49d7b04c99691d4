//! The StatefulSet controller inside `rkube server`, seen through the API and the real
//! kubectl: pods created in order with stable identities, claims from volumeClaimTemplates,
//! scale down in reverse, and a rolling update that honours the partition.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).
//! The scheduler is disabled and the tests play the kubelet (`mark_pod_running`).

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams};
use kube::Client;
use rkube_tests::fake::{mark_pod_running, wait_for};
use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

const WEB: &str = r"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  namespace: default
spec:
  serviceName: nginx
  replicas: 3
  selector:
    matchLabels: {app: nginx}
  template:
    metadata:
      labels: {app: nginx}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: nginx
        image: nginx:1
        volumeMounts:
        - {name: www, mountPath: /usr/share/nginx/html}
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
";

fn start() -> ServerProcess {
    ServerProcess::start_args(&["--disable-scheduler"]).expect("rkube server starts")
}

fn kubectl(server: &ServerProcess, args: &[&str]) -> String {
    let out = server.kubectl(args).expect("kubectl runs");
    expect_success("kubectl", args, &out)
}

fn apply(server: &ServerProcess, yaml: &str) {
    let args = ["apply", "-f", "-"];
    let out = server
        .kubectl_with_stdin(&args, Some(yaml))
        .expect("kubectl runs");
    expect_success("kubectl", &args, &out);
}

/// The set's live pods by name.
async fn pods(client: &Client) -> BTreeMap<String, Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default().labels("app=nginx"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| (p.metadata.name.clone().unwrap(), p))
        .collect()
}

fn names(pods: &BTreeMap<String, Pod>) -> Vec<&str> {
    pods.keys().map(String::as_str).collect()
}

fn image_of(pod: &Pod) -> &str {
    pod.spec.as_ref().unwrap().containers[0]
        .image
        .as_deref()
        .unwrap()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Plays the kubelet: every pod not yet ready is reported Running and Ready.
async fn run_pods(client: &Client) -> BTreeMap<String, Pod> {
    for (name, pod) in pods(client).await {
        if !is_ready(&pod) {
            // The pod may be replaced meanwhile: a failure here is retried on the next round.
            let _ = mark_pod_running(client, "default", &name, true).await;
        }
    }
    pods(client).await
}

async fn wait_for_pods(client: &Client, want: &[&str]) -> BTreeMap<String, Pod> {
    wait_for(&format!("pods {want:?}"), WAIT, || async {
        let pods = pods(client).await;
        (names(&pods) == want).then_some(pods)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn statefulset_creates_in_order_and_scales_down_in_reverse() {
    let server = start();
    let client = server.client().await.unwrap();
    apply(&server, WEB);

    // web-0 first, with its identity and its claim; web-1 only once web-0 is Ready.
    let first = wait_for_pods(&client, &["web-0"]).await;
    let web0 = serde_json::to_value(&first["web-0"]).unwrap();
    assert_eq!(
        web0["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "web-0"
    );
    assert_eq!(
        web0["metadata"]["labels"]["apps.kubernetes.io/pod-index"],
        "0"
    );
    assert!(web0["metadata"]["labels"]["controller-revision-hash"]
        .as_str()
        .unwrap()
        .starts_with("web-"));
    assert_eq!(web0["spec"]["hostname"], "web-0");
    assert_eq!(web0["spec"]["subdomain"], "nginx");
    let volumes = web0["spec"]["volumes"].as_array().unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v["name"] == "www" && v["persistentVolumeClaim"]["claimName"] == "www-web-0"),
        "{volumes:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        names(&pods(&client).await),
        ["web-0"],
        "web-1 waits for web-0"
    );
    mark_pod_running(&client, "default", "web-0", false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        names(&pods(&client).await),
        ["web-0"],
        "running but not ready is not enough"
    );

    mark_pod_running(&client, "default", "web-0", true)
        .await
        .unwrap();
    wait_for_pods(&client, &["web-0", "web-1"]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        names(&pods(&client).await),
        ["web-0", "web-1"],
        "web-2 waits for web-1"
    );
    mark_pod_running(&client, "default", "web-1", true)
        .await
        .unwrap();
    wait_for_pods(&client, &["web-0", "web-1", "web-2"]).await;
    mark_pod_running(&client, "default", "web-2", true)
        .await
        .unwrap();
    let text = kubectl(&server, &["rollout", "status", "sts/web", "--timeout=60s"]);
    // With a partition set (the API server defaults it to 0), kubectl reports a partitioned
    // roll out.
    assert!(text.contains("roll out complete: 3 new pods"), "{text}");

    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let mut claim_names: Vec<String> = claims
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    claim_names.sort();
    assert_eq!(claim_names, ["www-web-0", "www-web-1", "www-web-2"]);

    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let status = sets.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.replicas, 3);
    assert_eq!(status.ready_replicas, Some(3));
    assert_eq!(status.current_revision, status.update_revision);

    // Scale down: web-2 goes before web-1; the claims stay (Retain).
    kubectl(&server, &["scale", "sts/web", "--replicas=1"]);
    wait_for("scale down to web-0", WAIT, || async {
        let now = pods(&client).await;
        assert!(
            !now.contains_key("web-2") || now.contains_key("web-1"),
            "web-1 went before web-2: {:?}",
            names(&now)
        );
        (names(&now) == ["web-0"]).then_some(())
    })
    .await
    .unwrap();
    let left = claims
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(left, 3);

    let events = wait_for("create and delete events", WAIT, || async {
        let text = kubectl(
            &server,
            &[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=web",
                "-o",
                "json",
            ],
        );
        let list: Value = serde_json::from_str(&text).unwrap();
        let notes: Vec<String> = list["items"]
            .as_array()?
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["reason"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect();
        let has = |s: &str| notes.iter().any(|n| n.contains(s));
        (has("SuccessfulCreate create Pod web-0 in StatefulSet web successful")
            && has("SuccessfulCreate create Pod web-2 in StatefulSet web successful")
            && has("SuccessfulCreate create Claim www-web-0 Pod web-0 in StatefulSet web success")
            && has("SuccessfulDelete delete Pod web-2 in StatefulSet web successful")
            && has("SuccessfulDelete delete Pod web-1 in StatefulSet web successful"))
        .then_some(notes)
    })
    .await
    .unwrap();
    assert!(!events.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn statefulset_rolling_update_honours_the_partition() {
    let server = start();
    let client = server.client().await.unwrap();
    apply(
        &server,
        &WEB.replace(
            "replicas: 3",
            "podManagementPolicy: Parallel\n  replicas: 3",
        ),
    );
    wait_for("three ready pods", WAIT, || async {
        let pods = run_pods(&client).await;
        (pods.len() == 3 && pods.values().all(is_ready)).then_some(())
    })
    .await
    .unwrap();
    kubectl(&server, &["rollout", "status", "sts/web", "--timeout=60s"]);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let before = sets.get("web").await.unwrap().status.unwrap();

    // A new image with partition 1: web-2 then web-1 are replaced, web-0 keeps the old one.
    let patch = r#"{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":1}},"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}"#;
    kubectl(&server, &["patch", "sts/web", "-p", patch]);
    let images = |pods: &BTreeMap<String, Pod>| -> Vec<String> {
        pods.values().map(|p| image_of(p).to_owned()).collect()
    };
    wait_for(
        "web-1 and web-2 updated",
        Duration::from_secs(120),
        || async {
            let now = run_pods(&client).await;
            let imgs = images(&now);
            if imgs.len() == 3 && imgs[1] == "nginx:2" {
                // From the highest ordinal down.
                assert_eq!(imgs[2], "nginx:2", "web-1 updated before web-2");
            }
            let done = imgs == ["nginx:1", "nginx:2", "nginx:2"] && now.values().all(is_ready);
            done.then_some(())
        },
    )
    .await
    .unwrap();
    let text = kubectl(&server, &["rollout", "status", "sts/web", "--timeout=60s"]);
    assert!(
        text.contains("partitioned roll out complete: 2 new pods"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        images(&pods(&client).await),
        ["nginx:1", "nginx:2", "nginx:2"]
    );
    let status = sets.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.current_revision, before.current_revision);
    assert_ne!(status.update_revision, status.current_revision);
    assert_eq!(status.updated_replicas, Some(2));
    assert_eq!(status.current_replicas, Some(1));

    // Partition 0: web-0 follows, and the update revision becomes current.
    kubectl(
        &server,
        &[
            "patch",
            "sts/web",
            "-p",
            r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#,
        ],
    );
    wait_for("every pod updated", Duration::from_secs(120), || async {
        let now = run_pods(&client).await;
        (images(&now) == ["nginx:2", "nginx:2", "nginx:2"] && now.values().all(is_ready))
            .then_some(())
    })
    .await
    .unwrap();
    let text = kubectl(&server, &["rollout", "status", "sts/web", "--timeout=60s"]);
    // With a partition set (the API server defaults it to 0), kubectl reports a partitioned
    // roll out.
    assert!(text.contains("roll out complete: 3 new pods"), "{text}");
    let status = sets.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.current_revision, status.update_revision);
    assert_eq!(status.current_replicas, Some(3));
    let revisions = kubectl(&server, &["get", "controllerrevisions", "-o", "name"]);
    assert_eq!(revisions.lines().count(), 2, "{revisions}");
}

#[tokio::test(flavor = "multi_thread")]
async fn statefulset_claims_follow_the_retention_policy() {
    let server = start();
    let client = server.client().await.unwrap();
    let yaml = WEB.replace(
        "  replicas: 3\n",
        "  replicas: 2\n  podManagementPolicy: Parallel\n  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Delete}\n",
    );
    apply(&server, &yaml);
    wait_for_pods(&client, &["web-0", "web-1"]).await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let set_uid = sets.get("web").await.unwrap().metadata.uid.unwrap();

    // whenDeleted: Delete: the set owns each claim, so they go with it.
    for claim in ["www-web-0", "www-web-1"] {
        let found = claims.get(claim).await.unwrap();
        let owners = found.metadata.owner_references.unwrap_or_default();
        assert!(
            owners
                .iter()
                .any(|o| o.kind == "StatefulSet" && o.uid == set_uid),
            "{claim}: {owners:?}"
        );
        let labels = found.metadata.labels.unwrap_or_default();
        assert_eq!(labels.get("app").map(String::as_str), Some("nginx"));
    }

    // whenScaled: Delete: the condemned pod's claim is handed to the pod before it goes, so
    // the garbage collector deletes it with the pod; the kept pod's claim stays.
    kubectl(&server, &["scale", "sts/web", "--replicas=1"]);
    wait_for_pods(&client, &["web-0"]).await;
    rkube_tests::fake::wait_for("www-web-1 to go", Duration::from_secs(30), || async {
        claims
            .get_opt("www-web-1")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await
    .unwrap();
    let kept = claims.get("www-web-0").await.unwrap();
    let owners = kept.metadata.owner_references.unwrap_or_default();
    assert!(owners.iter().all(|o| o.kind != "Pod"), "{owners:?}");
}
