"""The official Kubernetes Python client against rkube: CRUD, selectors, and watches that resume.

Run by tests/tests/apiserver_python.rs with KUBECONFIG pointing at a fresh `rkube server`.
Exits non-zero (with an assertion message) on the first difference from Kubernetes' behaviour.
"""

import threading

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def main():
    config.load_kube_config()
    core = client.CoreV1Api()
    apps = client.AppsV1Api()

    ns = "py"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    assert core.read_namespace(ns).status.phase == "Active"

    cm = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings", labels={"app": "web"}),
        data={"mode": "fast"},
    )
    created = core.create_namespaced_config_map(ns, cm)
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None

    try:
        core.create_namespaced_config_map(ns, cm)
        raise AssertionError("a second create must fail")
    except ApiException as e:
        assert e.status == 409, e.status

    got = core.read_namespaced_config_map("settings", ns)
    assert got.data == {"mode": "fast"}

    listed = core.list_namespaced_config_map(ns, label_selector="app=web")
    assert [i.metadata.name for i in listed.items] == ["settings"]
    assert core.list_namespaced_config_map(ns, label_selector="app=db").items == []

    got.data["mode"] = "slow"
    replaced = core.replace_namespaced_config_map("settings", ns, got)
    assert replaced.data == {"mode": "slow"}
    assert int(replaced.metadata.resource_version) > int(got.metadata.resource_version)

    # A stale resourceVersion is a conflict.
    try:
        core.replace_namespaced_config_map("settings", ns, got)
        raise AssertionError("a stale update must fail")
    except ApiException as e:
        assert e.status == 409, e.status

    patched = core.patch_namespaced_config_map("settings", ns, {"data": {"extra": "1"}})
    assert patched.data == {"mode": "slow", "extra": "1"}

    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="web:1")]),
            ),
        ),
    )
    d = apps.create_namespaced_deployment(ns, dep)
    assert d.spec.strategy.type == "RollingUpdate"
    assert d.metadata.generation == 1
    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert scale.spec.replicas == 2
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 5}})
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 5

    # A watch from a list's resourceVersion sees every later change, in order.
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    seen = []
    done = threading.Event()

    def follow():
        w = watch.Watch()
        for event in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=20):
            seen.append((event["type"], event["object"].metadata.name, event["object"].metadata.resource_version))
            if event["type"] == "DELETED" and event["object"].metadata.name == "w2":
                w.stop()
        done.set()

    t = threading.Thread(target=follow)
    t.start()
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w1")))
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w2")))
    core.patch_namespaced_config_map("w2", ns, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("w2", ns)
    assert done.wait(30), "the watch did not see the delete"
    t.join()
    kinds = [(k, n) for k, n, _ in seen]
    assert kinds == [("ADDED", "w1"), ("ADDED", "w2"), ("MODIFIED", "w2"), ("DELETED", "w2")], kinds

    # Resuming from the resourceVersion of the second event replays exactly what followed.
    resume_from = seen[1][2]
    replay = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, ns, resource_version=resume_from, timeout_seconds=5):
        replay.append((event["type"], event["object"].metadata.name))
        if len(replay) == 2:
            w.stop()
    assert replay == [("MODIFIED", "w2"), ("DELETED", "w2")], replay

    core.delete_namespaced_config_map("settings", ns)
    try:
        core.read_namespaced_config_map("settings", ns)
        raise AssertionError("deleted object still readable")
    except ApiException as e:
        assert e.status == 404, e.status
    print("python client: all checks passed")


if __name__ == "__main__":
    main()
