# tests/cluster/lib.sh: helpers for cluster tests that run real slqd processes on 127.0.0.1
# and drive them only through the slq CLI. Source it after setting SLQ and SLQD.

# Debian's python3, not a version manager's shim (which costs half a second per start).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

passed=0
failed=0
pass() { passed=$((passed + 1)); }
# SLQ_TEST_FAIL_FAST=1 (scripts/mutants sets it) ends the test at its first failure: what
# follows would only wait on a node that is already wrong.
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
    if [ -n "${SLQ_TEST_FAIL_FAST:-}" ]; then
        summary
        exit 1
    fi
}

# A base port P with P..P+2*nodes free on 127.0.0.1 (testnet uses P+2i and P+2i+1), below
# Linux's ephemeral range (32768-60999) so that no client socket takes it meanwhile.
free_base_port() {
    "$PY" - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 32000 - 2 * n, 2)  # below the ephemeral range
    socks = []
    try:
        for p in range(base, base + 2 * n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

# start_node HOME LOG: starts slqd in the background; sets NODE_PID.
start_node() {
    "$SLQD" --home "$1" 2>>"$2" &
    NODE_PID=$!
}

# wait_ready URL: waits (at most 10 s) until the node answers status.
wait_ready() {
    local i
    for i in $(seq 1 100); do
        "$SLQ" --node "$1" status >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# jget EXPR: reads JSON on stdin and prints python expression EXPR of it (d is the object).
jget() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# credit_code N: a made-up unified social credit code (统一社会信用代码) for N in 0..999999,
# distinct for each N: 91510100DEM, N in six digits, and the check character of GB 32100-2015.
credit_code() {
    "$PY" -c '
import sys
chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
first = "91510100DEM%06d" % int(sys.argv[1])
check = (31 - sum(chars.index(c) * pow(3, i, 31) for i, c in enumerate(first)) % 31) % 31
print(first + chars[check])' "$1"
}

# expect WANT_RC DESCRIPTION COMMAND...: runs COMMAND with its output in $T/out, $T/err.
expect() {
    local want=$1 desc=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then
        pass
    else
        fail "$desc: exit $rc, want $want"
        sed 's/^/    /' "$T/err" | head -5
    fi
}

# reject NAME DESCRIPTION COMMAND...: COMMAND (a tx command, run with --json) must exit 2
# and report error NAME.
reject() {
    local name=$1 desc=$2
    shift 2
    "$SLQ" --node "$API" --json "$@" >"$T/out" 2>"$T/err"
    local rc=$? got
    got=$(jget 'd.get("error")' <"$T/out" 2>/dev/null)
    if [ "$rc" -eq 2 ] && [ "$got" = "$name" ]; then
        pass
    else
        fail "$desc: exit $rc error $got, want exit 2 error $name"
        sed 's/^/    /' "$T/err" | head -3
    fi
}

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
    local desc=$1
    shift
    if "$@" >/dev/null 2>&1; then pass; else fail "$desc"; fi
}

# nonce_proxy_start UPSTREAM: starts nonce_proxy.py in front of the API at UPSTREAM, its
# state in $T/proxy; sets PROXY (its URL) and PROXY_PID.
nonce_proxy_start() {
    mkdir -p "$T/proxy"
    "$PY" "$HERE/nonce_proxy.py" "$1" "$T/proxy" >"$T/proxy/port" &
    PROXY_PID=$!
    local i
    for i in $(seq 1 50); do [ -s "$T/proxy/port" ] && break; sleep 0.1; done
    PROXY="http://127.0.0.1:$(cat "$T/proxy/port")"
}
# signed NONCE COMMAND...: prints the hex of slq COMMAND's transaction signed with nonce NONCE
# (through the nonce proxy; nothing reaches a node).
signed() {
    echo $(($1 - 1)) >"$T/proxy/nonce"
    rm -f "$T/proxy/tx"
    shift
    "$SLQ" --node "$PROXY" "$@" --no-wait >/dev/null 2>"$T/err" || sed 's/^/    /' "$T/err" >&2
    cat "$T/proxy/tx" 2>/dev/null
}

summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# For tests that run several nodes: node I's pid in PID[I], their files in $T, and ports from
# BASE (testnet uses BASE+2I for peers, BASE+2I+1 for the API). cluster_nodes_trap kills every
# node and removes $T when the test exits (KEEP=1 keeps $T to look at).
declare -A PID
cluster_nodes_cleanup() {
    local p
    for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null
    [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
cluster_nodes_trap() { trap cluster_nodes_cleanup EXIT; }
# For tests that run several nodes from a testnet in $NET:
# start I [slqd options]: starts node I (its log in $T/nodeI.log); stop I [signal] (TERM).
start() {
    local i=$1
    shift
    "$SLQD" --home "$NET/node$i" "$@" 2>>"$T/node$i.log" &
    PID[$i]=$!
}
stop() {
    kill "-${2:-TERM}" "${PID[$1]}" 2>/dev/null
    wait "${PID[$1]}" 2>/dev/null
    unset "PID[$1]"
}
# height I: node I's height (empty if it does not answer); block_hash I H: its block H's hash.
height() { "$SLQ" --node "$(api "$1")" --json status 2>/dev/null | jget 'd["height"]'; }
block_hash() { "$SLQ" --node "$(api "$1")" --json block "$2" 2>/dev/null | jget 'd["hash"]'; }
# wait_height I H [SECONDS]: waits (default 30 s) until node I is at height >= H.
wait_height() {
    local end=$((SECONDS + ${3:-30})) h
    while [ $SECONDS -lt $end ]; do
        h=$(height "$1")
        [ -n "$h" ] && [ "$h" -ge "$2" ] && return 0
        sleep 0.2
    done
    return 1
}
# api I: node I's API URL.
api() { echo "http://127.0.0.1:$((BASE + 2 * $1 + 1))"; }
# pubhex PEM: the raw Ed25519 public key of a PEM key file, in hex.
pubhex() { openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n'; }
