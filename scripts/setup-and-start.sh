#!/usr/bin/env bash
# Installs what rkube needs on Debian, builds the release binary, and starts a one-node cluster
# (`rkube server`: the embedded store and the Kubernetes API on https://0.0.0.0:6443) in the
# foreground. The admin kubeconfig is written to <data dir>/admin.kubeconfig and to
# ~/.kube/config when that does not exist yet.
#
# Environment: RKUBE_DATA_DIR (default /var/lib/rkube as root, else ~/.local/share/rkube),
#              RKUBE_PORT (6443).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

ensure_rust
ensure_debian_packages "${RKUBE_BUILD_PACKAGES[@]}" "${RKUBE_CLIENT_PACKAGES[@]}"
ensure_kubectl

echo "==> cargo build --release (rkube, rkctl)"
cargo build --release -p rkube --bin rkube -p rkube-ctl --bin rkctl
RKUBE="$PWD/target/release/rkube"
RKCTL="$PWD/target/release/rkctl"

if [ "$(id -u)" -eq 0 ]; then
    DATA_DIR="${RKUBE_DATA_DIR:-/var/lib/rkube}"
else
    DATA_DIR="${RKUBE_DATA_DIR:-$HOME/.local/share/rkube}"
fi
PORT="${RKUBE_PORT:-6443}"

start() {
    mkdir -p "$DATA_DIR"
    local extra=()
    if [ ! -e "$HOME/.kube/config" ]; then
        extra=(--write-kubeconfig "$HOME/.kube/config")
    fi
    cat <<USAGE

rkube server is starting: data in $DATA_DIR, the API at https://127.0.0.1:$PORT.
Stop it with Ctrl-C. From another shell:

    export KUBECONFIG=$DATA_DIR/admin.kubeconfig
    $RKCTL get namespaces                       # or the stock kubectl
    $RKCTL create deployment web --image=registry.local/web:1
    $RKCTL get deployments -o wide

USAGE
    exec "$RKUBE" server --data-dir "$DATA_DIR" --https-listen-port "$PORT" "${extra[@]}"
}

start
