//! PersistentVolumes and claims end to end: static volumes bind to the claims they fit, the
//! default StorageClass `local-path` provisions a volume on the node the claim's consumer was
//! scheduled to, and volumes follow their claims' deletion by their reclaim policy.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::time::Duration;

use rkube_tests::fake::wait_for;
use rkube_tests::server_proc::{expect_success, ServerProcess};

fn ok(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("kubectl", args, &s.kubectl(args).unwrap())
}

fn apply(s: &ServerProcess, manifest: &str) {
    let out = s
        .kubectl_with_stdin(&["apply", "-f", "-"], Some(manifest))
        .unwrap();
    expect_success("kubectl", &["apply"], &out);
}

/// Waits until `kubectl get ARGS -o jsonpath=PATH` prints `want`.
async fn until(s: &ServerProcess, args: &[&str], path: &str, want: &str) {
    let jsonpath = format!("jsonpath={path}");
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["-o", &jsonpath]);
    let mut last = String::new();
    let found = wait_for(
        &format!("{args:?} {path} = {want}"),
        Duration::from_secs(30),
        || {
            let out = s.kubectl(&full).ok();
            last = out
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let hit = last == want;
            async move { hit.then_some(()) }
        },
    )
    .await;
    assert!(
        found.is_ok(),
        "{args:?} {path}: wanted {want:?}, last saw {last:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_volumes_bind_and_are_retained() {
    let s = ServerProcess::start_args(&["--disable-scheduler"]).unwrap();
    ok(&s, &["create", "namespace", "db"]);
    apply(
        &s,
        "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: small}\nspec:\n  capacity: {storage: 1Gi}\n  \
         accessModes: [ReadWriteOnce]\n  storageClassName: manual\n  hostPath: {path: /srv/small}\n---\n\
         apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: large}\nspec:\n  capacity: {storage: 10Gi}\n  \
         accessModes: [ReadWriteOnce]\n  storageClassName: manual\n  hostPath: {path: /srv/large}\n",
    );
    until(&s, &["get", "pv", "small"], "{.status.phase}", "Available").await;
    apply(
        &s,
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: db}\nspec:\n  \
         storageClassName: manual\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 2Gi}}\n",
    );
    // 1Gi is too small: the 10Gi volume is the smallest that fits.
    until(
        &s,
        &["get", "pvc", "data", "-n", "db"],
        "{.status.phase}",
        "Bound",
    )
    .await;
    let row = ok(&s, &["get", "pvc", "data", "-n", "db", "--no-headers"]);
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[..6],
        ["data", "Bound", "large", "10Gi", "RWO", "manual"],
        "{row}"
    );
    until(&s, &["get", "pv", "large"], "{.status.phase}", "Bound").await;
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "pv",
                "large",
                "-o",
                "jsonpath={.spec.claimRef.namespace}/{.spec.claimRef.name}"
            ]
        ),
        "db/data"
    );
    until(&s, &["get", "pv", "small"], "{.status.phase}", "Available").await;

    // A static volume's default reclaim policy is Retain: it outlives its claim, Released.
    ok(&s, &["delete", "pvc", "data", "-n", "db"]);
    until(&s, &["get", "pv", "large"], "{.status.phase}", "Released").await;

    // A claim for a class nobody provisions waits, and says so.
    apply(
        &s,
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: orphan, namespace: db}\nspec:\n  \
         storageClassName: nothing\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
    );
    until(
        &s,
        &["get", "pvc", "orphan", "-n", "db"],
        "{.status.phase}",
        "Pending",
    )
    .await;
    let describe = wait_for("ProvisioningFailed", Duration::from_secs(30), || async {
        let text = String::from_utf8_lossy(
            &s.kubectl(&["describe", "pvc", "orphan", "-n", "db"])
                .ok()?
                .stdout,
        )
        .into_owned();
        text.contains("ProvisioningFailed").then_some(text)
    })
    .await
    .unwrap();
    assert!(
        describe.contains("storageclass.storage.k8s.io \"nothing\" not found"),
        "{describe}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_class_provisions_on_the_consumers_node() {
    let s = ServerProcess::start_args(&["--disable-scheduler"]).unwrap();
    until(
        &s,
        &["get", "storageclass", "local-path"],
        "{.provisioner}",
        "rkube.io/local-path",
    )
    .await;
    let classes = ok(&s, &["get", "storageclass"]);
    let row: Vec<&str> = classes.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row[..6],
        [
            "local-path",
            "(default)",
            "rkube.io/local-path",
            "Delete",
            "WaitForFirstConsumer",
            "false"
        ],
        "{classes}"
    );
    ok(&s, &["create", "namespace", "app"]);
    apply(
        &s,
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: cache, namespace: app}\nspec:\n  \
         accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 3Gi}}\n",
    );
    // The claim named no class: it gets the default, and waits for its first consumer.
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "pvc",
                "cache",
                "-n",
                "app",
                "-o",
                "jsonpath={.spec.storageClassName}"
            ]
        ),
        "local-path"
    );
    until(
        &s,
        &["get", "pvc", "cache", "-n", "app"],
        "{.status.phase}",
        "Pending",
    )
    .await;
    wait_for("WaitForFirstConsumer", Duration::from_secs(30), || async {
        let text = String::from_utf8_lossy(
            &s.kubectl(&["describe", "pvc", "cache", "-n", "app"])
                .ok()?
                .stdout,
        )
        .into_owned();
        text.contains("waiting for first consumer to be created before binding")
            .then_some(())
    })
    .await
    .unwrap();

    // The scheduler picks node n1 for the claim's pod (done here by hand).
    ok(
        &s,
        &[
            "annotate",
            "pvc",
            "cache",
            "-n",
            "app",
            "volume.kubernetes.io/selected-node=n1",
        ],
    );
    until(
        &s,
        &["get", "pvc", "cache", "-n", "app"],
        "{.status.phase}",
        "Bound",
    )
    .await;
    let uid = ok(
        &s,
        &[
            "get",
            "pvc",
            "cache",
            "-n",
            "app",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    );
    let volume = format!("pvc-{uid}");
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "pvc",
                "cache",
                "-n",
                "app",
                "-o",
                "jsonpath={.spec.volumeName} {.status.capacity.storage}"
            ]
        ),
        format!("{volume} 3Gi")
    );
    let path = ok(
        &s,
        &["get", "pv", &volume, "-o", "jsonpath={.spec.hostPath.path}"],
    );
    assert_eq!(
        path,
        format!("{}/storage/{volume}_app_cache", s.data_dir().display())
    );
    assert_eq!(
        ok(&s, &["get", "pv", &volume, "-o",
            "jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]} {.spec.persistentVolumeReclaimPolicy} {.status.phase}"]),
        "n1 Delete Bound"
    );
    let describe = ok(&s, &["describe", "pvc", "cache", "-n", "app"]);
    assert!(describe.contains("ProvisioningSucceeded"), "{describe}");

    // Delete policy: the volume goes with its claim.
    ok(&s, &["delete", "pvc", "cache", "-n", "app"]);
    wait_for("the volume to go", Duration::from_secs(30), || async {
        let out = s.kubectl(&["get", "pv", &volume]).ok()?;
        (!out.status.success()).then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_with_a_claim_gets_its_volume_on_its_node() {
    let s = ServerProcess::start().unwrap();
    let client = s.client().await.unwrap();
    rkube_tests::fake::FakeNode::new("n1")
        .create(&client)
        .await
        .unwrap();
    until(
        &s,
        &["get", "storageclass", "local-path"],
        "{.provisioner}",
        "rkube.io/local-path",
    )
    .await;
    apply(
        &s,
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  \
         accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: db}\nspec:\n  containers: [{name: db, image: db:1, \
         volumeMounts: [{name: data, mountPath: /data}]}]\n  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n",
    );
    // The scheduler picks n1, names it in the claim, the provisioner makes the volume there.
    until(&s, &["get", "pod", "db"], "{.spec.nodeName}", "n1").await;
    until(&s, &["get", "pvc", "data"], "{.status.phase}", "Bound").await;
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "pvc",
                "data",
                "-o",
                "jsonpath={.metadata.annotations.volume\\.kubernetes\\.io/selected-node}"
            ]
        ),
        "n1"
    );
    let volume = ok(
        &s,
        &["get", "pvc", "data", "-o", "jsonpath={.spec.volumeName}"],
    );
    assert_eq!(
        ok(&s, &["get", "pv", &volume, "-o",
            "jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}"]),
        "n1"
    );
}
