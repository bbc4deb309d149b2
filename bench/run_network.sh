#!/usr/bin/env bash
# run_network.sh: one steady-load benchmark run of a 4-validator network on loopback. Writes
# a fresh testnet (slq testnet --validators 4) on free ports in a temporary directory,
# starts the four slqd, waits until each answers /v1/status at height >= 1, runs
# bench_network against them, stops the nodes and prints bench_network's JSON on stdout.
# Progress, errors and a summary of the nodes' logs (WARN/ERROR lines) go to stderr.
#
#   bench/run_network.sh [bench_network flags: --clients C --rate R --seconds D --holders H]
#
# Environment: SLQ_BUILD (build directory, default ./build), SLQ_BENCH_SUITE (ed25519 or
# sm2, default ed25519), SLQ_BENCH_KEEP=1 (keep the directory: the nodes' logs and data).
# Build first: meson setup build && ninja -C build
set -euo pipefail

validators=4
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench=$build/bench/bench_network
require_built run_network.sh "$slq" "$slqd" "$bench"

work=$(mktemp -d "${TMPDIR:-/tmp}/slq-bench-net.XXXXXX")
pids=()
# shellcheck disable=SC2317  # called by the trap
stop_nodes() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    stop_nodes
    if [[ ${SLQ_BENCH_KEEP:-0} == 1 ]]; then
        echo "run_network.sh: kept $work (node logs: $work/node*.log)" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# The node's height from `slq --json status`, or nothing if it does not answer.
height_of() {
    "$slq" --node "$1" --json status 2>/dev/null | sed -n 's/.*"height":\([0-9][0-9]*\).*/\1/p'
}

# Copies stdin to stdout with the wall time (s since the epoch, µs) before each line, so
# that the nodes' logs can be lined up with each other and with the run.
stamp() {
    local line
    while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done
}

# Starts the nodes of $work/net; true when every one answers at height >= 1 within 30 s.
start_nodes() {
    local i h ready
    for ((i = 0; i < validators; i++)); do
        "$slqd" --home "$work/net/node$i" 2> >(stamp >"$work/node$i.log") &
        pids+=($!)
    done
    for _ in $(seq 1 300); do
        ready=0
        for ((i = 0; i < validators; i++)); do
            if ! kill -0 "${pids[$i]}" 2>/dev/null; then return 1; fi
            h=$(height_of "${urls[$i]}")
            if [[ -n $h && $h -ge 1 ]]; then ready=$((ready + 1)); fi
        done
        if [[ $ready == "$validators" ]]; then return 0; fi
        sleep 0.1
    done
    return 1
}

# Up to 5 attempts in case a port is taken meanwhile: node i uses P+2i (p2p), P+2i+1 (API).
started=0
for attempt in 1 2 3 4 5; do
    base=$((20000 + (RANDOM * 32768 + RANDOM) % 19000 * 2))
    busy=0
    for ((p = base; p < base + 2 * validators; p++)); do
        if port_busy "$p"; then busy=1; fi
    done
    if [[ $busy == 1 ]]; then continue; fi
    rm -rf "$work/net"
    "$slq" testnet --validators "$validators" --out "$work/net" --base-port "$base" \
        --suite "$suite" >"$work/testnet.log"
    urls=()
    for ((i = 0; i < validators; i++)); do urls+=("http://127.0.0.1:$((base + 2 * i + 1))"); done
    if start_nodes; then
        started=1
        break
    fi
    echo "run_network.sh: attempt $attempt: the nodes did not come up on ports $base..:" >&2
    tail -n 3 "$work"/node*.log >&2 || true
    stop_nodes
done
if [[ $started != 1 ]]; then
    echo "run_network.sh: could not start $validators validators" >&2
    exit 1
fi
echo "run_network.sh: $validators validators (pids ${pids[*]}) at ${urls[*]} ($suite)," \
    "$(nproc) cores; load: $(uptime | sed 's/.*load average/load average/')" >&2

cpu_before=()
for ((i = 0; i < validators; i++)); do
    p=${pids[$i]}
    cpu_before+=("$(cpu_of "/proc/$p") $(cpu_of "/proc/$p/task/$p")")
done

rc=0
nodes=$(IFS=,; echo "${urls[*]}")
"$bench" --net "$work/net" --nodes "$nodes" "$@" || rc=$?
for ((i = 0; i < validators; i++)); do
    p=${pids[$i]}
    read -r all loop <<<"${cpu_before[$i]}"
    echo "run_network.sh: node$i CPU during the benchmark: $(($(cpu_of "/proc/$p") - all)) ms," \
        "of which the loop thread $(($(cpu_of "/proc/$p/task/$p") - loop)) ms" >&2
done
for ((i = 0; i < validators; i++)); do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
        echo "run_network.sh: node $i exited during the run; its log:" >&2
        tail -n 20 "$work/node$i.log" >&2 || true
        rc=1
    fi
done
stop_nodes
sleep 0.3 # for the log stampers to write the nodes' last lines

# What the nodes said: WARN/ERROR lines, and commits decided in a round above 0.
for ((i = 0; i < validators; i++)); do
    log=$work/node$i.log
    warn=$(grep -c -E '^[0-9.]+ (WARN|ERROR) ' "$log" || true)
    late=$(grep -c -E 'engine: commit: .* round=[1-9]' "$log" || true)
    echo "run_network.sh: node$i log: $warn WARN/ERROR lines, $late commits in round > 0" >&2
    grep -E '^[0-9.]+ (WARN|ERROR) ' "$log" | cut -d' ' -f2- |
        sed -E 's/(height|round|peer|validator)=[0-9]+/\1=N/g' | sort | uniq -c | sort -rn |
        head -n 5 | sed "s/^/run_network.sh:   node$i: /" >&2 || true
done
exit "$rc"
