# Shared by scripts/setup-and-start.sh and .ci/run (sourced, not run): installs what rkube needs on Debian, only if missing.

# To build: a C linker (rustc links with cc) and protoc (the store generates its gRPC code).
RKUBE_BUILD_PACKAGES=(build-essential protobuf-compiler)
# To test and use the store: etcdctl (the etcd v3 command-line client), and the real etcd the
# store is compared with in conformance tests and benchmarks; ip (iproute2) and nft (nftables)
# for the tests that run clusters in network namespaces; docker-registry (the distribution
# registry) and htpasswd (apache2-utils) for the kubelet's image pull tests against a real registry;
# busybox-static, the userland of the containers the runtime tests run.
RKUBE_CLIENT_PACKAGES=(etcd-client etcd-server iproute2 nftables python3-venv docker-registry apache2-utils busybox-static)

# Runs a command as root: directly when we are root (CI), else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: need root to run: $* (run as root, or install sudo)" >&2
        return 1
    fi
}

# ensure_debian_packages PKG...: apt-get update once and install the packages that are missing.
ensure_debian_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    echo "==> installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # Packages with daemons (etcd-server) must not start a system service on install: tests
    # start their own instances on free ports. policy-rc.d answering 101 forbids it.
    local guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        guard=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$guard" >/dev/null
        as_root chmod 755 "$guard"
    fi
    local status=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
    if [ -n "$guard" ]; then
        as_root rm -f "$guard"
    fi
    return "$status"
}

# ensure_rust: cargo must be there already; Debian's own rustc is too old for this workspace.
ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        if [ -x "$HOME/.cargo/bin/cargo" ]; then
            export PATH="$HOME/.cargo/bin:$PATH"
        else
            echo "error: cargo not found. Install Rust 1.88 or newer with rustup (https://rustup.rs)," >&2
            echo "       open a new shell (or 'source \$HOME/.cargo/env'), then run this script again." >&2
            return 1
        fi
    fi
}

# ensure_nextest: the test runner, from crates.io when it is missing.
ensure_nextest() {
    if ! cargo nextest --version >/dev/null 2>&1; then
        echo "==> installing cargo-nextest"
        cargo install cargo-nextest --locked
    fi
}

# ensure_kubectl: the real kubectl the API server tests drive; Debian's when none is installed.
ensure_kubectl() {
    if ! command -v kubectl >/dev/null 2>&1; then
        ensure_debian_packages kubernetes-client
    fi
}

# ensure_python_client: the official Kubernetes Python client, in a virtualenv under target/.
RKUBE_PYTHON_CLIENT="kubernetes==32.0.1"
ensure_python_client() {
    local venv=target/pyvenv
    if ! "$venv/bin/python" -c "import kubernetes" >/dev/null 2>&1; then
        echo "==> installing the Kubernetes Python client ($RKUBE_PYTHON_CLIENT) into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "$RKUBE_PYTHON_CLIENT"
    fi
}
