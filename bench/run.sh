#!/usr/bin/env bash
# run.sh: one benchmark run of a single slqd. Writes a fresh one-validator testnet on free
# ports in a temporary directory, starts slqd on it, runs bench_node against it, stops the
# node and prints bench_node's JSON on stdout. Progress and errors go to stderr.
#
#   bench/run.sh [bench_node flags: --clients C --holders H --transfers M --batch B
#                 --verify-threads T --verify-seconds S --trace]
#
# Environment: SLQ_BUILD (build directory, default ./build), SLQ_BENCH_SUITE (ed25519 or
# sm2, default ed25519), SLQ_BENCH_KEEP=1 (keep the directory: node log and data),
# SLQ_BENCH_BLOCK_INTERVAL_MS (experiments only: overrides the testnet's block_interval_ms,
# 50, in the node's config.json).
# Build first: meson setup build && ninja -C build
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench=$build/bench/bench_node
require_built run.sh "$slq" "$slqd" "$bench"

interval=${SLQ_BENCH_BLOCK_INTERVAL_MS:-}
if [[ -n $interval && ! $interval =~ ^[1-9][0-9]{0,4}$ ]]; then
    echo "run.sh: SLQ_BENCH_BLOCK_INTERVAL_MS=\"$interval\": want milliseconds (10..60000)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/slq-bench.XXXXXX")
pid=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [[ ${SLQ_BENCH_KEEP:-0} == 1 ]]; then
        echo "run.sh: kept $work (node log: $work/slqd.log)" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# Starts a node on a fresh testnet; up to 5 attempts in case a port is taken meanwhile.
started=0
for attempt in 1 2 3 4 5; do
    base=$((20000 + (RANDOM * 32768 + RANDOM) % 20000 * 2))
    if port_busy "$base" || port_busy $((base + 1)); then continue; fi
    rm -rf "$work/net"
    "$slq" testnet --validators 1 --out "$work/net" --base-port "$base" --suite "$suite" \
        >"$work/testnet.log"
    if [[ -n $interval ]]; then
        sed -i "s/\"block_interval_ms\": [0-9]*/\"block_interval_ms\": $interval/" \
            "$work/net/node0/config.json"
        grep -q "\"block_interval_ms\": $interval," "$work/net/node0/config.json" || {
            echo "run.sh: cannot set block_interval_ms in $work/net/node0/config.json" >&2
            exit 1
        }
    fi
    url="http://127.0.0.1:$((base + 1))"
    "$slqd" --home "$work/net/node0" 2>"$work/slqd.log" &
    pid=$!
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then break; fi
        if "$slq" --node "$url" status >/dev/null 2>&1; then started=1; break; fi
        sleep 0.1
    done
    if [[ $started == 1 ]]; then break; fi
    echo "run.sh: attempt $attempt: slqd did not come up on $url:" >&2
    tail -n 3 "$work/slqd.log" >&2 || true
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
done
if [[ $started != 1 ]]; then
    echo "run.sh: could not start slqd" >&2
    exit 1
fi
echo "run.sh: slqd pid $pid at $url ($suite), $(nproc) cores" >&2

declare -A cpu_before=()
while read -r tid _ ms; do cpu_before[$tid]=$ms; done < <(threads_cpu "$pid")

rc=0
"$bench" --net "$work/net" --node "$url" "$@" || rc=$?
# CPU of each of the node's threads during the benchmark (setup included; the loop first).
summary=
while read -r tid name ms; do
    summary+=" $name/$tid=$((ms - ${cpu_before[$tid]:-0}))"
done < <(threads_cpu "$pid")
echo "run.sh: slqd CPU ms by thread:$summary" >&2
if ! kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: slqd exited during the run; its log:" >&2
    tail -n 20 "$work/slqd.log" >&2 || true
    rc=1
fi
exit "$rc"
