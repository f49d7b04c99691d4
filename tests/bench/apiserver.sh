#!/usr/bin/env bash
# Benchmarks `rkube server` through its HTTPS API and prints markdown tables.
#
# Starts one server (embedded store member) on free loopback ports in a fresh temp dir, runs
# api-bench against it with the admin kubeconfig the server writes, and stops the server. Every
# address is 127.0.0.1; the whole run is bounded by TIME_LIMIT.
#
# Usage:
#   cargo build --release -p rkube --bin rkube -p rkube-tests --bin api-bench
#   tests/bench/apiserver.sh
#   SCENARIOS=list LIST_PODS=2000 tests/bench/apiserver.sh
#
# Settings (environment):
#   RKUBE_BIN       rkube binary                                        [target/release/rkube]
#   BENCH_BIN       api-bench binary                                    [target/release/api-bench]
#   SCENARIOS       closed,open,watch,list (comma-separated)            [closed,open,watch,list]
#   CLIENTS         closed-loop client counts                           [1,16,64]
#   DURATION        closed-loop seconds per row                         [10]
#   RATE            open-loop creates/s                                 [1000]
#   OPEN_DURATION   open-loop seconds                                   [15]
#   OPEN_KIND       pod | configmap                                     [pod]
#   WATCHERS        concurrent watches                                  [100]
#   WATCH_RATE      updates/s during the watch scenario                 [100]
#   LIST_PODS       pods in the listed namespace                        [10000]
#   LIST_RUNS       timed LISTs per kind                                [20]
#   CONNS           HTTP/2 connections per scenario                     [16]
#   SERVER_LOG      server's RUST_LOG (rkube_apiserver=debug logs elapsed_us per request) [warn]
#   TIME_LIMIT      seconds before the benchmark is stopped             [900]
#   KEEP_DIR=1      keep the data dir and server log after the run
#
# Server and load generator share this machine's cores: compare numbers from the same machine.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RKUBE_BIN=${RKUBE_BIN:-$REPO_ROOT/target/release/rkube}
BENCH_BIN=${BENCH_BIN:-$REPO_ROOT/target/release/api-bench}
SCENARIOS=${SCENARIOS:-closed,open,watch,list}
CLIENTS=${CLIENTS:-1,16,64}
DURATION=${DURATION:-10}
RATE=${RATE:-1000}
OPEN_DURATION=${OPEN_DURATION:-15}
OPEN_KIND=${OPEN_KIND:-pod}
WATCHERS=${WATCHERS:-100}
WATCH_RATE=${WATCH_RATE:-100}
LIST_PODS=${LIST_PODS:-10000}
LIST_RUNS=${LIST_RUNS:-20}
CONNS=${CONNS:-16}
SERVER_LOG=${SERVER_LOG:-warn}
TIME_LIMIT=${TIME_LIMIT:-900}
KEEP_DIR=${KEEP_DIR:-0}

die() {
	echo "apiserver-bench: $*" >&2
	exit 1
}

[[ -x $RKUBE_BIN ]] || die "$RKUBE_BIN not found: build it with 'cargo build --release -p rkube --bin rkube'"
[[ -x $BENCH_BIN ]] ||
	die "$BENCH_BIN not found: build it with 'cargo build --release -p rkube-tests --bin api-bench'"
[[ $TIME_LIMIT =~ ^[0-9]+$ ]] || die "TIME_LIMIT must be a number of seconds"

export RUST_BACKTRACE=0
WORK=$(mktemp -d -t apiserver-bench.XXXXXX)
SERVER_PID=""
BENCH_PID=""

cleanup() {
	if [[ -n $BENCH_PID ]]; then kill "$BENCH_PID" 2>/dev/null || true; fi
	if [[ -n $SERVER_PID ]]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [[ $KEEP_DIR == 1 ]]; then
		echo "apiserver-bench: kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Three distinct ports between 20000 and 39999 that nobody listens on.
PORTS=()
while ((${#PORTS[@]} < 3)); do
	port=$((20000 + RANDOM % 20000))
	[[ " ${PORTS[*]} " == *" $port "* ]] && continue
	port_in_use "$port" || PORTS+=("$port")
done
API_PORT=${PORTS[0]}

echo "apiserver-bench: starting rkube server on 127.0.0.1:$API_PORT (data in $WORK)" >&2
RUST_LOG=$SERVER_LOG "$RKUBE_BIN" server \
	--data-dir "$WORK/data" \
	--bind-address 127.0.0.1 \
	--https-listen-port "$API_PORT" \
	--store-client-address "127.0.0.1:${PORTS[1]}" \
	--store-peer-address "127.0.0.1:${PORTS[2]}" \
	>"$WORK/server.log" 2>&1 &
SERVER_PID=$!

KUBECONFIG_FILE=$WORK/data/admin.kubeconfig
deadline=$((SECONDS + 60))
until [[ -s $KUBECONFIG_FILE ]] && port_in_use "$API_PORT"; do
	kill -0 "$SERVER_PID" 2>/dev/null || {
		tail -n 20 "$WORK/server.log" >&2
		die "the server exited during startup (log above)"
	}
	((SECONDS < deadline)) || {
		tail -n 20 "$WORK/server.log" >&2
		die "the server was not ready after 60 s (log above)"
	}
	sleep 0.2
done

# What else the machine was doing: load average, and the share of time tasks waited for a CPU.
machine_load() {
	local pressure=""
	[[ -r /proc/pressure/cpu ]] && pressure=", cpu pressure $(sed -n 's/^some avg10=\([0-9.]*\) avg60=\([0-9.]*\).*/\1% (10 s) \2% (60 s)/p' /proc/pressure/cpu)"
	echo "load $(cut -d' ' -f1-3 /proc/loadavg)$pressure"
}
LOAD_BEFORE=$(machine_load)
echo "apiserver-bench: running $SCENARIOS ($LOAD_BEFORE)" >&2
# In the background, so that a signal reaches the traps at once.
timeout --signal=INT "$TIME_LIMIT" "$BENCH_BIN" \
	--kubeconfig "$KUBECONFIG_FILE" \
	--scenarios "$SCENARIOS" \
	--conns "$CONNS" \
	--clients "$CLIENTS" \
	--duration "$DURATION" \
	--rate "$RATE" \
	--open-duration "$OPEN_DURATION" \
	--open-kind "$OPEN_KIND" \
	--watchers "$WATCHERS" \
	--watch-rate "$WATCH_RATE" \
	--list-pods "$LIST_PODS" \
	--list-runs "$LIST_RUNS" \
	>"$WORK/result.md" &
BENCH_PID=$!
wait "$BENCH_PID" || {
	tail -n 20 "$WORK/server.log" >&2
	die "api-bench failed or ran out of time (server log above)"
}
BENCH_PID=""

server_version=$("$RKUBE_BIN" --version 2>/dev/null | head -n 1 || echo unknown)
echo
echo "rkube server ($server_version), embedded store, $(nproc) cores shared by server and load generator;" \
	"before: $LOAD_BEFORE; after: $(machine_load)"
echo
cat "$WORK/result.md"
