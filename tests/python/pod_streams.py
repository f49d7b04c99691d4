"""Exec and port-forward on pod default/web with the official Python client (its WebSocket
protocols: v4.channel.k8s.io for both). Prints one line per check; exits non-zero on failure."""

import sys

from kubernetes import client, config
from kubernetes.stream import portforward, stream


def main() -> int:
    config.load_kube_config()
    core = client.CoreV1Api()

    out = stream(
        core.connect_get_namespaced_pod_exec,
        "web",
        "default",
        command=["sh", "-c", "echo from-exec"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )
    print(f"exec: {out.strip()}")
    if out.strip() != "from-exec":
        return 1

    pf = portforward(core.connect_get_namespaced_pod_portforward, "web", "default", ports="8080")
    sock = pf.socket(8080)
    sock.setblocking(True)
    sock.sendall(b"ping-python\n")
    got = b""
    while not got.endswith(b"\n"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        got += chunk
    print(f"port-forward: {got.decode().strip()}")
    sock.close()
    pf.close()
    return 0 if got == b"ping-python\n" else 1


if __name__ == "__main__":
    sys.exit(main())
