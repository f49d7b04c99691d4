#!/usr/bin/env bash
# Runs every check CI runs (formatting, lints, then all tests), installing what they need first.
# Usage: bash scripts/test.sh   (extra arguments go to `cargo nextest run`, e.g. a test name filter)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

ensure_rust
ensure_debian_packages "${RKUBE_BUILD_PACKAGES[@]}" "${RKUBE_CLIENT_PACKAGES[@]}"
ensure_nextest

echo "==> cargo fmt --all --check"
cargo fmt --all --check

echo "==> cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# The integration tests in tests/ run this binary as a child process; they do not build it.
echo "==> cargo build --bin rkube"
cargo build --bin rkube

echo "==> cargo nextest run --workspace --profile ci"
cargo nextest run --workspace --profile ci "$@"
