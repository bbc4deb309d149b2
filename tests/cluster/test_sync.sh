#!/usr/bin/env bash
# test_sync.sh: block sync (replica/sync.c) is not held hostage by one peer, with real slqd
# processes on 127.0.0.1. Four validators; nodes 0-2 build a chain, then stop. Node 3 starts
# with no blocks, and P2P_SEND (node 4's key, an observer's) connects to it announcing height
# 2^63 and never answering a block request: node 3 asks it for block 1 (the only peer ahead).
# Then nodes 0-2 return:
#   - node 3 catches up from them within 20 s, the same blocks;
#   - it switched away from the liar when its request timed out: block 1 came from an honest
#     peer while the liar was still connected (not only after the liar was dropped);
#   - once caught up, the liar is still the only peer "ahead": its requests keep timing out,
#     and after SYNC_MISSES_MAX of them it is disconnected, with the reason in the log.
# usage: test_sync.sh SLQ SLQD P2P_SEND. Prints "N passed, N failed"; stops within ~2 min.
set -u
SLQ=${1:?usage: test_sync.sh SLQ SLQD P2P_SEND}
SLQD=${2:?usage: test_sync.sh SLQ SLQD P2P_SEND}
P2P_SEND=${3:?usage: test_sync.sh SLQ SLQD P2P_SEND}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
T=$(mktemp -d)
cluster_nodes_trap

BASE=$(free_base_port 4)
NET="$T/net"
"$SLQ" testnet --validators 4 --out "$NET" --base-port "$BASE" >/dev/null || exit 1

# Node 4 is the liar's home: the genesis and a key the validators admit as an observer's.
mkdir -p "$NET/node4"
cp "$NET/node0/genesis.json" "$NET/node4/"
"$SLQ" keygen --out "$NET/node4/node.pem" >/dev/null
OBS=$(pubhex "$NET/node4/node.pem")
for i in 0 1 2 3; do
    "$PY" - "$NET/node$i/config.json" "$OBS" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["observers"] = [sys.argv[2]]
c["empty_block_interval_ms"] = 200
json.dump(c, open(p, "w"))
PY
done

# line_of PATTERN FILE: the number of the first line of FILE matching PATTERN (grep -E), or
# a number past any line.
line_of() { grep -n -m1 -E "$1" "$2" | cut -d: -f1 | grep . || echo 999999999; }
LIAR_REASON="reason=announced a height it does not serve"

echo "== three validators build a chain, then stop"
for i in 0 1 2; do start "$i"; done
for i in 0 1 2; do wait_ready "$(api "$i")" || fail "node $i did not start"; done
if ! wait_height 0 20 60; then
    fail "the three validators reach height 20"
    summary
    exit 1
fi
for i in 0 1 2; do stop "$i"; done

echo "== a node with no blocks, and a peer announcing height 2^63 that never answers"
start 3
wait_ready "$(api 3)" || fail "node 3 did not start"
"$P2P_SEND" --home "$NET/node4" --peer "127.0.0.1:$((BASE + 6))" \
    --announce 9223372036854775808 --wait-ms 60000 >"$T/liar.out" 2>"$T/liar.err" &
LIAR=$!
for _ in $(seq 1 50); do grep -q '^asked 1$' "$T/liar.out" && break; sleep 0.2; done
check "node 3 asks the liar for block 1 (no other peer is ahead)" grep -qx 'asked 1' "$T/liar.out"
check "node 3 is at height 0" test "$(height 3)" = 0

echo "== the honest validators return: node 3 catches up from them"
for i in 0 1 2; do start "$i"; done
for i in 0 1 2; do wait_ready "$(api "$i")" || fail "node $i did not restart"; done
H0=$(height 0)
check "node 3 catches up to height $H0 within 20 s" wait_height 3 "$H0" 20
check "node 3's block $H0 is node 0's" test "$(block_hash 3 "$H0")" = "$(block_hash 0 "$H0")"
check "node 3 logged the liar's timed-out request" \
    grep -q "engine: sync: peer=.* did not send height=1 within" "$T/node3.log"
APPLIED1=$(line_of "engine: sync: height=1 applied" "$T/node3.log")
DROPPED=$(line_of "$LIAR_REASON" "$T/node3.log")
check "node 3 got block 1 from an honest peer while the liar was still connected" \
    test "$APPLIED1" -lt "$DROPPED"

echo "== the liar, asked again once node 3 is caught up, is disconnected"
for _ in $(seq 1 150); do grep -qx disconnected "$T/liar.out" && break; sleep 0.2; done
check "node 3 disconnects the liar" grep -qx disconnected "$T/liar.out"
check "node 3 says why" grep -q "$LIAR_REASON" "$T/node3.log"
kill "$LIAR" 2>/dev/null
wait "$LIAR" 2>/dev/null
check "the network goes on with node 3" wait_height 3 $((H0 + 5)) 30

for i in "${!PID[@]}"; do stop "$i"; done
summary
