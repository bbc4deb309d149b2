# shellcheck shell=bash
# lib.sh: helpers shared by bench/run.sh and bench/run_network.sh (sourced, not run).

# The tree and the binaries the scripts run (SLQ_BUILD, SLQ_BENCH_SUITE: see bench/README.md).
# shellcheck disable=SC2034  # used by the scripts that source this file
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SLQ_BUILD:-$root/build}
suite=${SLQ_BENCH_SUITE:-ed25519}
slq=$build/cli/slq
slqd=$build/node/slqd

# require_built SCRIPT EXE...: exits 1 naming the first executable that is missing.
require_built() {
    local who=$1 exe
    shift
    for exe in "$@"; do
        if [[ ! -x $exe ]]; then
            echo "$who: $exe is missing; build first: meson setup build && ninja -C build" >&2
            exit 1
        fi
    done
}

# True when something listens on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# CPU milliseconds (user + system) of a process, or of one of its threads:
# cpu_of /proc/PID or cpu_of /proc/PID/task/TID. 0 if it is gone.
cpu_of() {
    local f
    f=$(sed 's/.*) //' "$1/stat" 2>/dev/null) || { echo 0; return; }
    read -r -a f <<<"$f"
    echo $(((f[11] + f[12]) * 1000 / $(getconf CLK_TCK)))
}

# One line per thread of process $1: "TID NAME CPU_MS", the loop (main) thread first.
threads_cpu() {
    local t
    for t in "/proc/$1/task/$1" /proc/"$1"/task/*; do
        echo "${t##*/} $(cat "$t/comm" 2>/dev/null) $(cpu_of "$t")"
    done | awk '!seen[$1]++' # the loop thread is listed twice
}
