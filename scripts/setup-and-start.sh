#!/usr/bin/env bash
# Installs what rkube needs on Debian, builds the release binary, and starts rkube in the foreground.
#
# Today that is `rkube store`: a one-member store on 127.0.0.1 speaking the etcd v3 API.
# When `rkube server` lands, start() below will run a one-node cluster instead.
#
# Environment: RKUBE_DATA_DIR (default /var/lib/rkube as root, else ~/.local/share/rkube),
#              RKUBE_CLIENT_PORT (2379), RKUBE_PEER_PORT (2380).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

ensure_rust
ensure_debian_packages "${RKUBE_BUILD_PACKAGES[@]}" "${RKUBE_CLIENT_PACKAGES[@]}"

echo "==> cargo build --release --bin rkube"
cargo build --release --bin rkube
RKUBE="$PWD/target/release/rkube"

if [ "$(id -u)" -eq 0 ]; then
    DATA_DIR="${RKUBE_DATA_DIR:-/var/lib/rkube}"
else
    DATA_DIR="${RKUBE_DATA_DIR:-$HOME/.local/share/rkube}"
fi
CLIENT_URL="http://127.0.0.1:${RKUBE_CLIENT_PORT:-2379}"
PEER_URL="http://127.0.0.1:${RKUBE_PEER_PORT:-2380}"

start() {
    mkdir -p "$DATA_DIR"
    cat <<USAGE

rkube store is starting: one member, data in $DATA_DIR/store, clients at $CLIENT_URL.
Stop it with Ctrl-C. From another shell:

    export ETCDCTL_API=3
    etcdctl --endpoints=$CLIENT_URL put hello world
    etcdctl --endpoints=$CLIENT_URL get hello
    etcdctl --endpoints=$CLIENT_URL watch --prefix h
    etcdctl --endpoints=$CLIENT_URL member list -w table

USAGE
    exec "$RKUBE" store \
        --name default \
        --data-dir "$DATA_DIR/store" \
        --listen-client-urls "$CLIENT_URL" \
        --advertise-client-urls "$CLIENT_URL" \
        --listen-peer-urls "$PEER_URL" \
        --initial-advertise-peer-urls "$PEER_URL"
}

start
