#!/usr/bin/env bash
# Benchmarks an etcd-API store on loopback and prints a markdown table.
#
# Starts the store as 1 member and as a 3-member cluster (every address 127.0.0.1, distinct
# ports, data dirs under one mktemp dir), and runs etcd-bench against each: puts and
# linearizable single-key ranges, at 1, 16 and 256 clients, 256-byte values. The store is real
# etcd (TARGET=etcd) or `rkube store` (TARGET=rkube), started with the same etcd-style flags.
#
# Usage:
#   cargo build --release -p rkube-tests --bin etcd-bench
#   TARGET=etcd  tests/bench/store-vs-etcd.sh
#   TARGET=rkube RKUBE_BIN=target/release/rkube tests/bench/store-vs-etcd.sh
#
# Settings (environment):
#   TARGET      etcd | rkube                                   [etcd]
#   ETCD_BIN    etcd binary                                    [/usr/bin/etcd]
#   RKUBE_BIN   rkube binary (TARGET=rkube)                    [target/release/rkube]
#   BENCH_BIN   etcd-bench binary                              [target/release/etcd-bench]
#   DURATION    seconds per measurement                        [10]
#   MEMBERS     cluster sizes to run                           ["1 3"]
#   CLIENTS     client counts to run                           ["1 16 256"]
#   OPS         workloads: put, range, range-serializable      ["put range"]
#   VALUE_SIZE  bytes per value                                [256]
#   KEY_SPACE   distinct keys                                  [1000]
#   BASE_PORT   member i listens on BASE_PORT+10i (client) and BASE_PORT+10i+1 (peer)  [32379]
#   KEEP_DIR=1  keep the data dirs and member logs after the run
#
# The benchmark and the members share this machine's cores, and the data dirs live wherever
# mktemp puts them (set TMPDIR to choose the disk): compare numbers from the same machine only.

set -euo pipefail

TARGET=${TARGET:-etcd}
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RKUBE_BIN=${RKUBE_BIN:-$REPO_ROOT/target/release/rkube}
BENCH_BIN=${BENCH_BIN:-$REPO_ROOT/target/release/etcd-bench}
DURATION=${DURATION:-10}
MEMBERS=${MEMBERS:-"1 3"}
CLIENTS=${CLIENTS:-"1 16 256"}
OPS=${OPS:-"put range"}
VALUE_SIZE=${VALUE_SIZE:-256}
KEY_SPACE=${KEY_SPACE:-1000}
BASE_PORT=${BASE_PORT:-32379}
KEEP_DIR=${KEEP_DIR:-0}

die() {
	echo "store-vs-etcd: $*" >&2
	exit 1
}

case $TARGET in
etcd) SERVER=("$ETCD_BIN") ;;
rkube) SERVER=("$RKUBE_BIN" store) ;;
*) die "TARGET must be etcd or rkube, not '$TARGET'" ;;
esac
[[ -x ${SERVER[0]} ]] || die "server binary ${SERVER[0]} not found or not executable"
[[ -x $BENCH_BIN ]] ||
	die "$BENCH_BIN not found: build it with 'cargo build --release -p rkube-tests --bin etcd-bench'"
[[ $BASE_PORT =~ ^[0-9]+$ ]] && ((BASE_PORT >= 1024 && BASE_PORT <= 65000)) ||
	die "BASE_PORT must be a number between 1024 and 65000"

# The members must take their configuration from the flags below only.
while read -r var; do unset "$var"; done < <(compgen -e | grep -E '^ETCD(CTL)?_' || true)
# Keep etcd-bench's error output short.
export RUST_BACKTRACE=0

WORK=$(mktemp -d -t store-vs-etcd.XXXXXX)
PIDS=()
BENCH_PID=""

stop_members() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	PIDS=()
}

cleanup() {
	if [[ -n $BENCH_PID ]]; then kill "$BENCH_PID" 2>/dev/null || true; fi
	stop_members
	if [[ $KEEP_DIR == 1 ]]; then
		echo "store-vs-etcd: kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

client_port() { echo $((BASE_PORT + 10 * $1)); }
peer_port() { echo $((BASE_PORT + 10 * $1 + 1)); }

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Starts members 1..$1 of a fresh cluster; sets ENDPOINTS.
start_cluster() {
	local size=$1 i port cluster="" dir=$WORK/cluster-$1
	mkdir -p "$dir"
	for ((i = 1; i <= size; i++)); do
		cluster+="${cluster:+,}n$i=http://127.0.0.1:$(peer_port "$i")"
		for port in "$(client_port "$i")" "$(peer_port "$i")"; do
			if port_in_use "$port"; then die "127.0.0.1:$port is in use; set BASE_PORT"; fi
		done
	done
	ENDPOINTS=""
	for ((i = 1; i <= size; i++)); do
		local cport pport
		cport=$(client_port "$i")
		pport=$(peer_port "$i")
		ENDPOINTS+="${ENDPOINTS:+,}http://127.0.0.1:$cport"
		"${SERVER[@]}" \
			--name "n$i" \
			--data-dir "$dir/n$i" \
			--listen-client-urls "http://127.0.0.1:$cport" \
			--advertise-client-urls "http://127.0.0.1:$cport" \
			--listen-peer-urls "http://127.0.0.1:$pport" \
			--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
			--initial-cluster "$cluster" \
			--initial-cluster-state new \
			>"$dir/n$i.log" 2>&1 &
		PIDS+=($!)
	done
	wait_ready "$size" "$dir"
}

# Waits until a put through every member succeeds (at most 60 s).
wait_ready() {
	local size=$1 dir=$2 i deadline=$((SECONDS + 60)) pid
	for ((i = 1; i <= size; i++)); do
		until "$BENCH_BIN" --endpoints "http://127.0.0.1:$(client_port "$i")" --total 1 \
			--timeout 1 --key-prefix store-vs-etcd-probe/ >/dev/null 2>&1; do
			for pid in "${PIDS[@]}"; do
				kill -0 "$pid" 2>/dev/null || {
					tail -n 20 "$dir"/n*.log >&2
					die "a member exited during startup (logs above)"
				}
			done
			((SECONDS < deadline)) || {
				tail -n 20 "$dir"/n*.log >&2
				die "cluster of $size not ready after 60 s (logs above)"
			}
			sleep 0.2
		done
	done
}

# Prints the value of a numeric field of etcd-bench's one-line JSON.
field() {
	sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2"
}

ROWS=()
for size in $MEMBERS; do
	[[ $size =~ ^[1-9]$ ]] || die "MEMBERS entries must be 1..9, not '$size'"
	echo "store-vs-etcd: starting $TARGET with $size member(s)" >&2
	start_cluster "$size"
	for op in $OPS; do
		case $op in
		put) flags=(--op put) ;;
		range) flags=(--op range) ;;
		range-serializable) flags=(--op range --serializable) ;;
		*) die "unknown op '$op' (put, range, range-serializable)" ;;
		esac
		for clients in $CLIENTS; do
			echo "store-vs-etcd:   $op, $clients client(s), ${DURATION}s" >&2
			# In the background, so that a signal reaches the traps at once.
			"$BENCH_BIN" --endpoints "$ENDPOINTS" --clients "$clients" \
				--duration "$DURATION" --value-size "$VALUE_SIZE" --key-space "$KEY_SPACE" \
				"${flags[@]}" --json >"$WORK/result.json" &
			BENCH_PID=$!
			wait "$BENCH_PID" || die "etcd-bench failed ($op, $clients clients, $size members)"
			BENCH_PID=""
			json=$(<"$WORK/result.json")
			ROWS+=("| $TARGET | $size | $op | $clients | $(field ops_per_sec "$json") \
| $(field p50_ms "$json") | $(field p90_ms "$json") | $(field p99_ms "$json") \
| $(field max_ms "$json") | $(field errors "$json") |")
		done
	done
	stop_members
done

server_version=$("${SERVER[@]}" --version 2>/dev/null | head -n 1 || echo unknown)
echo
echo "$TARGET ($server_version), ${VALUE_SIZE}-byte values, $KEY_SPACE keys, ${DURATION}s per row, $(nproc) cores shared by members and client"
echo
echo "| target | members | op | clients | ops/s | p50 ms | p90 ms | p99 ms | max ms | errors |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
