//! The Deployment and ReplicaSet controllers inside the real `rkube server`, driven with the
//! real kubectl: pods are marked Running/Ready by hand (no scheduler, no kubelet), and each
//! test checks what a user would look at: pods, ReplicaSets, status, events, rollout output.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use rkube_tests::fake::{mark_pod_running, wait_for};
use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::json;

const NS: &str = "default";
const LONG: Duration = Duration::from_secs(60);

fn start() -> ServerProcess {
    ServerProcess::start_args(&["--disable-scheduler"]).expect("rkube server starts")
}

fn ok(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("kubectl", args, &s.kubectl(args).expect("kubectl runs"))
}

fn apply(s: &ServerProcess, manifest: &str) {
    let args = ["apply", "-f", "-"];
    let out = s
        .kubectl_with_stdin(&args, Some(manifest))
        .expect("kubectl runs");
    expect_success("kubectl", &args, &out);
}

/// A Deployment manifest with the given strategy block (YAML, indented for `spec`).
fn deployment(name: &str, replicas: i32, image: &str, strategy: &str, extra_meta: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {NS}
{extra_meta}spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
{strategy}  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: app
        image: {image}
"
    )
}

/// A RollingUpdate strategy block; `surge` and `unavailable` are YAML values.
fn rolling(surge: &str, unavailable: &str) -> String {
    format!("  strategy:\n    type: RollingUpdate\n    rollingUpdate: {{maxSurge: {surge}, maxUnavailable: {unavailable}}}\n")
}

/// Pods of the app that are not being deleted.
async fn live_pods(client: &Client, app: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list pods");
    list.items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

async fn replica_sets(client: &Client, app: &str) -> Vec<ReplicaSet> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    api.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list replicasets")
        .items
}

async fn get_deploy(client: &Client, name: &str) -> Deployment {
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    api.get(name).await.expect("get deployment")
}

fn image(pod: &Pod) -> String {
    pod.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn condition(d: &Deployment, kind: &str) -> Option<(String, String)> {
    let c = d
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)?;
    Some((c.status.clone(), c.reason.clone().unwrap_or_default()))
}

/// Waits for `count` live pods of the app.
async fn wait_pods(client: &Client, app: &str, count: usize) -> Vec<Pod> {
    wait_for(&format!("{count} pods of {app}"), LONG, || async {
        let pods = live_pods(client, app).await;
        (pods.len() == count).then_some(pods)
    })
    .await
    .unwrap()
}

/// Marks every live pod Running and Ready until the rollout completes.
async fn finish_rollout(client: &Client, app: &str) -> Deployment {
    wait_for(&format!("rollout of {app}"), LONG, || async {
        for pod in live_pods(client, app).await {
            if !is_ready(&pod) {
                let _ = mark_pod_running(client, NS, &pod.name_any(), true).await;
            }
        }
        let d = get_deploy(client, app).await;
        let s = d.status.clone().unwrap_or_default();
        let want = d.spec.as_ref().unwrap().replicas.unwrap_or(1);
        let done = s.observed_generation >= d.metadata.generation
            && s.updated_replicas.unwrap_or(0) == want
            && s.replicas.unwrap_or(0) == want
            && s.available_replicas.unwrap_or(0) == want;
        done.then_some(d)
    })
    .await
    .unwrap()
}

fn events(s: &ServerProcess, name: &str) -> String {
    ok(
        s,
        &[
            "get",
            "events",
            "-n",
            NS,
            "--field-selector",
            &format!("involvedObject.name={name}"),
            "-o",
            "custom-columns=REASON:.reason,MESSAGE:.message",
        ],
    )
}

#[tokio::test]
async fn deployment_creates_replicaset_and_pods_and_becomes_available() {
    let s = start();
    let client = s.client().await.unwrap();
    apply(&s, &deployment("web", 3, "registry.local/web:1", "", ""));
    let pods = wait_pods(&client, "web", 3).await;
    let sets = replica_sets(&client, "web").await;
    assert_eq!(sets.len(), 1, "one ReplicaSet");
    let rs = &sets[0];
    let hash = rs.labels()["pod-template-hash"].clone();
    assert_eq!(rs.name_any(), format!("web-{hash}"));
    assert_eq!(rs.annotations()["deployment.kubernetes.io/revision"], "1");
    assert_eq!(
        rs.annotations()["deployment.kubernetes.io/desired-replicas"],
        "3"
    );
    assert_eq!(
        rs.annotations()["deployment.kubernetes.io/max-replicas"],
        "4"
    );
    let owner = &rs.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("Deployment", "web", Some(true))
    );
    for pod in &pods {
        let name = pod.name_any();
        let suffix = name
            .strip_prefix(&format!("web-{hash}-"))
            .expect("pod named after its ReplicaSet");
        assert_eq!(suffix.len(), 5, "{name}");
        let owner = &pod.owner_references()[0];
        assert_eq!(owner.name, rs.name_any());
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
        assert_eq!(pod.labels()["pod-template-hash"], hash);
    }
    let d = finish_rollout(&client, "web").await;
    assert_eq!(
        condition(&d, "Available"),
        Some(("True".into(), "MinimumReplicasAvailable".into()))
    );
    assert_eq!(
        condition(&d, "Progressing"),
        Some(("True".into(), "NewReplicaSetAvailable".into()))
    );
    assert_eq!(d.annotations()["deployment.kubernetes.io/revision"], "1");
    let out = ok(
        &s,
        &[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            NS,
            "--timeout=60s",
        ],
    );
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );
    let rs_status = &replica_sets(&client, "web").await[0]
        .status
        .clone()
        .unwrap();
    assert_eq!(
        (
            rs_status.replicas,
            rs_status.ready_replicas,
            rs_status.available_replicas
        ),
        (3, Some(3), Some(3))
    );
    wait_for("events", LONG, || async {
        let deploy_events = events(&s, "web");
        let rs_events = events(&s, &rs.name_any());
        let scaled =
            deploy_events.contains(&format!("Scaled up replica set web-{hash} from 0 to 3"));
        let created = rs_events.matches("SuccessfulCreate").count() == 3
            && rs_events.contains(&format!("Created pod: web-{hash}-"));
        (scaled && created).then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn rolling_update_honours_max_surge_and_max_unavailable_at_every_step() {
    rolling_update_step_by_step("1", "1", 1, 1).await;
}

#[tokio::test]
async fn rolling_update_with_percents_and_no_unavailability() {
    // 25% of 4 rounds up to a surge of 1; 0 unavailable keeps every old pod until a new one
    // is ready.
    rolling_update_step_by_step("25%", "0", 1, 0).await;
}

#[tokio::test]
async fn rolling_update_without_surge() {
    // 50% of 4 is 2 unavailable, no surge: two old pods go first, then one at a time.
    rolling_update_step_by_step("0", "50%", 0, 2).await;
}

/// Rolls a Deployment of 4 from image a to b, marking new pods ready one at a time and
/// checking the pod counts against `surge` and `unavailable` at every look.
async fn rolling_update_step_by_step(
    surge_spec: &str,
    unavailable_spec: &str,
    surge: usize,
    unavailable: usize,
) {
    let s = start();
    let client = s.client().await.unwrap();
    let replicas = 4usize;
    apply(
        &s,
        &deployment(
            "roll",
            4,
            "registry.local/roll:a",
            &rolling(surge_spec, unavailable_spec),
            "",
        ),
    );
    wait_pods(&client, "roll", replicas).await;
    finish_rollout(&client, "roll").await;
    ok(
        &s,
        &[
            "set",
            "image",
            "deployment/roll",
            "-n",
            NS,
            "app=registry.local/roll:b",
        ],
    );
    let marked = std::cell::Cell::new(0);
    wait_for(
        "rolling update to finish",
        Duration::from_secs(120),
        || async {
            let pods = live_pods(&client, "roll").await;
            let new: Vec<&Pod> = pods.iter().filter(|p| image(p).ends_with(":b")).collect();
            let old = pods.len() - new.len();
            let ready = pods.iter().filter(|p| is_ready(p)).count();
            assert!(
                pods.len() <= replicas + surge,
                "{} pods ({old} old, {} new) exceed replicas + maxSurge",
                pods.len(),
                new.len()
            );
            assert!(
                ready >= replicas - unavailable,
                "only {ready} ready pods ({old} old, {} new)",
                new.len()
            );
            if old == 0 && new.len() == replicas && new.iter().all(|p| is_ready(p)) {
                return Some(());
            }
            if let Some(pod) = new.iter().find(|p| !is_ready(p)) {
                mark_pod_running(&client, NS, &pod.name_any(), true)
                    .await
                    .unwrap();
                marked.set(marked.get() + 1);
                // Let the controllers react before the next look.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            None
        },
    )
    .await
    .unwrap();
    assert_eq!(marked.get(), replicas, "each new pod was marked ready once");
    let d = finish_rollout(&client, "roll").await;
    assert_eq!(d.annotations()["deployment.kubernetes.io/revision"], "2");
    let sets = replica_sets(&client, "roll").await;
    assert_eq!(sets.len(), 2);
    let sizes: BTreeMap<String, i32> = sets
        .iter()
        .map(|rs| {
            (
                rs.annotations()["deployment.kubernetes.io/revision"].clone(),
                rs.spec.as_ref().unwrap().replicas.unwrap(),
            )
        })
        .collect();
    assert_eq!(sizes, BTreeMap::from([("1".into(), 0), ("2".into(), 4)]));
    let out = ok(
        &s,
        &[
            "rollout",
            "status",
            "deployment/roll",
            "-n",
            NS,
            "--timeout=60s",
        ],
    );
    assert!(out.contains("successfully rolled out"), "{out}");
}

#[tokio::test]
async fn rollout_undo_restores_the_previous_template_and_history_shows_change_causes() {
    let s = start();
    let client = s.client().await.unwrap();
    let cause = |c: &str| format!("  annotations:\n    kubernetes.io/change-cause: {c}\n");
    apply(
        &s,
        &deployment("hist", 2, "registry.local/hist:1", "", &cause("first")),
    );
    wait_pods(&client, "hist", 2).await;
    finish_rollout(&client, "hist").await;
    apply(
        &s,
        &deployment("hist", 2, "registry.local/hist:2", "", &cause("second")),
    );
    wait_for("second revision", LONG, || async {
        (get_deploy(&client, "hist")
            .await
            .annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str)
            == Some("2"))
        .then_some(())
    })
    .await
    .unwrap();
    finish_rollout(&client, "hist").await;
    let history = ok(&s, &["rollout", "history", "deployment/hist", "-n", NS]);
    assert!(history.contains("1         first"), "{history}");
    assert!(history.contains("2         second"), "{history}");

    ok(&s, &["rollout", "undo", "deployment/hist", "-n", NS]);
    wait_for("rollback to revision 3", LONG, || async {
        (get_deploy(&client, "hist")
            .await
            .annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str)
            == Some("3"))
        .then_some(())
    })
    .await
    .unwrap();
    finish_rollout(&client, "hist").await;
    let pods = wait_pods(&client, "hist", 2).await;
    assert!(pods.iter().all(|p| image(p) == "registry.local/hist:1"));
    let sets = replica_sets(&client, "hist").await;
    assert_eq!(
        sets.len(),
        2,
        "the first ReplicaSet is reused, not recreated"
    );
    let reused = sets
        .iter()
        .find(|rs| rs.annotations()["deployment.kubernetes.io/revision"] == "3")
        .expect("revision 3");
    assert_eq!(
        reused.annotations()["deployment.kubernetes.io/revision-history"],
        "1"
    );
    let history = ok(&s, &["rollout", "history", "deployment/hist", "-n", NS]);
    assert!(history.contains("2         second"), "{history}");
    assert!(history.contains("3         first"), "{history}");
    assert!(!history.contains("1         first"), "{history}");
}

#[tokio::test]
async fn scale_up_then_down_deletes_not_ready_and_newer_pods_first() {
    let s = start();
    let client = s.client().await.unwrap();
    apply(
        &s,
        &deployment("scale", 2, "registry.local/scale:1", "", ""),
    );
    wait_pods(&client, "scale", 2).await;
    finish_rollout(&client, "scale").await;
    let originals: Vec<String> = live_pods(&client, "scale")
        .await
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    // Creation and readiness times have one-second resolution: keep the new pods apart.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ok(&s, &["scale", "deployment/scale", "-n", NS, "--replicas=5"]);
    let pods = wait_pods(&client, "scale", 5).await;
    let added: Vec<String> = pods
        .iter()
        .map(ResourceExt::name_any)
        .filter(|n| !originals.contains(n))
        .collect();
    assert_eq!(added.len(), 3);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    mark_pod_running(&client, NS, &added[0], true)
        .await
        .unwrap();
    mark_pod_running(&client, NS, &added[1], true)
        .await
        .unwrap();
    mark_pod_running(&client, NS, &added[2], false)
        .await
        .unwrap();
    ok(&s, &["scale", "deployment/scale", "-n", NS, "--replicas=3"]);
    let left: Vec<String> = wait_pods(&client, "scale", 3)
        .await
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert!(
        !left.contains(&added[2]),
        "the not-ready pod goes first: {left:?}"
    );
    for name in &originals {
        assert!(left.contains(name), "the oldest ready pods stay: {left:?}");
    }
    let sets = replica_sets(&client, "scale").await;
    assert_eq!(sets.len(), 1);
    assert_eq!(
        sets[0].annotations()["deployment.kubernetes.io/desired-replicas"],
        "3"
    );
    let d = finish_rollout(&client, "scale").await;
    assert_eq!(d.status.unwrap().replicas, Some(3));
}

#[tokio::test]
async fn recreate_removes_every_old_pod_before_creating_new_ones() {
    let s = start();
    let client = s.client().await.unwrap();
    let strategy = "  strategy:\n    type: Recreate\n";
    apply(
        &s,
        &deployment("rec", 3, "registry.local/rec:1", strategy, ""),
    );
    wait_pods(&client, "rec", 3).await;
    finish_rollout(&client, "rec").await;
    ok(
        &s,
        &[
            "set",
            "image",
            "deployment/rec",
            "-n",
            NS,
            "app=registry.local/rec:2",
        ],
    );
    wait_for("new pods", LONG, || async {
        let pods = live_pods(&client, "rec").await;
        let new = pods.iter().filter(|p| image(p).ends_with(":2")).count();
        assert!(
            new == 0 || new == pods.len(),
            "old and new pods at once: {pods:?}"
        );
        (new == 3).then_some(())
    })
    .await
    .unwrap();
    let d = finish_rollout(&client, "rec").await;
    assert_eq!(
        condition(&d, "Available"),
        Some(("True".into(), "MinimumReplicasAvailable".into()))
    );
    let out = events(&s, "rec");
    assert!(
        out.contains("Scaled down replica set rec-") && out.contains("from 3 to 0"),
        "{out}"
    );
}

#[tokio::test]
async fn paused_deployment_waits_for_resume_and_restart_rolls_out() {
    let s = start();
    let client = s.client().await.unwrap();
    apply(
        &s,
        &deployment("pause", 2, "registry.local/pause:1", "", ""),
    );
    wait_pods(&client, "pause", 2).await;
    finish_rollout(&client, "pause").await;
    ok(&s, &["rollout", "pause", "deployment/pause", "-n", NS]);
    ok(
        &s,
        &[
            "set",
            "image",
            "deployment/pause",
            "-n",
            NS,
            "app=registry.local/pause:2",
        ],
    );
    wait_for("paused condition", LONG, || async {
        let d = get_deploy(&client, "pause").await;
        (condition(&d, "Progressing") == Some(("Unknown".into(), "DeploymentPaused".into())))
            .then_some(())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        replica_sets(&client, "pause").await.len(),
        1,
        "no rollout while paused"
    );
    ok(&s, &["rollout", "resume", "deployment/pause", "-n", NS]);
    wait_for("new ReplicaSet after resume", LONG, || async {
        (replica_sets(&client, "pause").await.len() == 2).then_some(())
    })
    .await
    .unwrap();
    finish_rollout(&client, "pause").await;
    assert!(live_pods(&client, "pause")
        .await
        .iter()
        .all(|p| image(p).ends_with(":2")));

    ok(&s, &["rollout", "restart", "deployment/pause", "-n", NS]);
    wait_for("ReplicaSet after restart", LONG, || async {
        (replica_sets(&client, "pause").await.len() == 3).then_some(())
    })
    .await
    .unwrap();
    let d = finish_rollout(&client, "pause").await;
    assert_eq!(d.annotations()["deployment.kubernetes.io/revision"], "3");
}

#[tokio::test]
async fn replicaset_adopts_orphans_releases_mislabelled_pods_and_replaces_deleted_ones() {
    let s = start();
    let client = s.client().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "solo"}},
        "spec": {"containers": [{"name": "app", "image": "registry.local/solo:1"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.unwrap();
    apply(
        &s,
        "apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: solo, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: solo}}
  template:
    metadata: {labels: {app: solo}}
    spec:
      containers: [{name: app, image: registry.local/solo:1}]
",
    );
    let live = wait_pods(&client, "solo", 2).await;
    let adopted = wait_for("adoption", LONG, || async {
        let p = pods.get("orphan").await.ok()?;
        p.owner_references()
            .iter()
            .any(|r| r.name == "solo" && r.controller == Some(true))
            .then_some(p)
    })
    .await
    .unwrap();
    assert!(live.iter().any(|p| p.name_any() == adopted.name_any()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        live_pods(&client, "solo").await.len(),
        2,
        "no extra pod beside the adopted one"
    );

    let victim = live
        .iter()
        .find(|p| p.name_any() != "orphan")
        .unwrap()
        .name_any();
    pods.delete(&victim, &DeleteParams::default())
        .await
        .unwrap();
    wait_for("replacement", LONG, || async {
        let live = live_pods(&client, "solo").await;
        (live.len() == 2 && live.iter().all(|p| p.name_any() != victim)).then_some(())
    })
    .await
    .unwrap();

    let patch = json!({"metadata": {"labels": {"app": "elsewhere"}}});
    pods.patch("orphan", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap();
    wait_for("release and replacement", LONG, || async {
        let p = pods.get("orphan").await.ok()?;
        let released = p.owner_references().iter().all(|r| r.name != "solo");
        (released && live_pods(&client, "solo").await.len() == 2).then_some(())
    })
    .await
    .unwrap();
    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let status = wait_for("status", LONG, || async {
        let st = rs.get("solo").await.ok()?.status?;
        (st.replicas == 2 && st.fully_labeled_replicas == Some(2)).then_some(st)
    })
    .await
    .unwrap();
    assert_eq!(status.ready_replicas, None);
    let out = events(&s, "solo");
    assert!(out.matches("SuccessfulCreate").count() >= 2, "{out}");
}

#[tokio::test]
async fn a_stuck_rollout_exceeds_its_progress_deadline() {
    let s = start();
    let client = s.client().await.unwrap();
    let manifest = deployment("stuck", 1, "registry.local/stuck:1", "", "").replace(
        "spec:\n  replicas: 1\n",
        "spec:\n  replicas: 1\n  progressDeadlineSeconds: 2\n",
    );
    apply(&s, &manifest);
    wait_pods(&client, "stuck", 1).await;
    wait_for("ProgressDeadlineExceeded", LONG, || async {
        let d = get_deploy(&client, "stuck").await;
        (condition(&d, "Progressing") == Some(("False".into(), "ProgressDeadlineExceeded".into())))
            .then_some(())
    })
    .await
    .unwrap();
    let d = get_deploy(&client, "stuck").await;
    assert_eq!(
        condition(&d, "Available"),
        Some(("False".into(), "MinimumReplicasUnavailable".into()))
    );
    let args = [
        "rollout",
        "status",
        "deployment/stuck",
        "-n",
        NS,
        "--timeout=30s",
    ];
    let out = s.kubectl(&args).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("deployment \"stuck\" exceeded its progress deadline"),
        "{err}"
    );
}

/// Reconcile throughput, run by hand (`--run-ignored only`): creates 1,000 Deployments of 10
/// replicas and prints how long until all 10,000 pods exist. Prints, never asserts a time.
#[tokio::test]
#[ignore = "benchmark: run by hand"]
async fn bench_thousand_deployments_of_ten() {
    use futures::StreamExt;
    let s = start();
    let client = s.client().await.unwrap();
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let started = std::time::Instant::now();
    futures::stream::iter(0..1000)
        .for_each_concurrent(32, |i| {
            let api = api.clone();
            async move {
                let manifest = deployment(&format!("b{i}"), 10, "registry.local/b:1", "", "");
                let d: Deployment = serde_saphyr::from_str(&manifest).unwrap();
                api.create(&PostParams::default(), &d).await.unwrap();
            }
        })
        .await;
    let created = started.elapsed();
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    println!("1,000 Deployments created in {created:?}");
    // Progress every 5 s, within the harness's time limit for one test.
    let mut count = 0;
    while started.elapsed() < Duration::from_secs(160) && count < 10_000 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        count = pods
            .list_metadata(&ListParams::default())
            .await
            .map_or(0, |l| l.items.len());
        println!("{:>6.1} s: {count} pods", started.elapsed().as_secs_f64());
    }
}
