#!/usr/bin/env bash
# test_conns.sh: hostile clients and peers get a fair share of connections, not all of them
# (docs/design-notes.md, "Connections"). Four validators as real slqd processes on 127.0.0.1;
# CONN_FLOOD (conn_flood.py) plays the attacker from 127.0.0.2 and up (all of 127.0.0.0/8 is
# loopback on Linux):
#   - HTTP: with 2,000 idle and 300 slowloris connections trying to stay open from one
#     address, `slq status` from 127.0.0.1 answers in under 1 s every time, for the whole
#     flood (SLQ_FLOOD_SECONDS, 15 s by default: the issue asks for 30, which the CI budget
#     cannot spare); a slowloris connection is closed at the header deadline (5 s) although it
#     keeps trickling; the node writes few WARN lines (refusals are rate-limited);
#   - p2p: with unauthenticated connections flooding validator 1 from six addresses, its
#     height advances at the pace it had before, a transaction sent to it commits within 2 s,
#     it keeps its validator peers, and a node that only dials in (an observer) is admitted.
# usage: test_conns.sh SLQ SLQD. Prints "N passed, N failed"; stops within about a minute.
set -u
SLQ=${1:?usage: test_conns.sh SLQ SLQD}
SLQD=${2:?usage: test_conns.sh SLQ SLQD}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
T=$(mktemp -d)
cluster_nodes_trap
FLOOD="$HERE/conn_flood.py"
SECS=${SLQ_FLOOD_SECONDS:-15}
# 2,300 attacker sockets and the nodes' own: raise the descriptor limit as far as allowed.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

BASE=$(free_base_port 5)
NET="$T/net"
"$SLQ" testnet --validators 4 --out "$NET" --base-port "$BASE" >/dev/null || exit 1
K="$NET/keys"
# Node 4 is an observer: it dials the validators, which admit its key but never dial it.
mkdir -p "$NET/node4"
cp "$NET/node0/genesis.json" "$NET/node4/"
"$SLQ" keygen --out "$NET/node4/node.pem" >/dev/null
OBS=$(pubhex "$NET/node4/node.pem")
peers=$("$PY" -c "import json; print(json.dumps(['127.0.0.1:%d' % ($BASE + 2 * j) for j in range(4)]))")
cat >"$NET/node4/config.json" <<JSON
{"p2p_listen": "127.0.0.1:$((BASE + 8))", "api_listen": "127.0.0.1:$((BASE + 9))",
 "peers": $peers, "empty_block_interval_ms": 500}
JSON
for i in 0 1 2 3; do
    "$PY" - "$NET/node$i/config.json" "$OBS" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["observers"] = [sys.argv[2]]
c["empty_block_interval_ms"] = 500
json.dump(c, open(p, "w"))
PY
done

peers_of() { curl -s "$(api "$1")/metrics" | awk '/^slq_peers / {print $2}'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# warns I FROM: WARN lines in node I's log from line FROM on.
warns() { tail -n "+$2" "$T/node$1.log" | grep -c '^WARN'; }
for i in 0 1 2 3; do start "$i"; done
for i in 0 1 2 3; do wait_ready "$(api "$i")" || fail "node $i did not start"; done
INTER=$("$SLQ" address --key "$K/intermediary.pem")

echo "== HTTP: 2000 idle and 300 slowloris connections from one address, for $SECS s"
# Validator 1's pace before its own flood is measured over this whole phase (a flood at
# validator 0's API, not at anyone's peer port): ~30 blocks, so that a block or two lost to
# a busy host does not decide the comparison.
H_BEFORE=$(height 1)
T_BEFORE=$(now_ms)
API0=$(api 0)
FROM0=$(($(wc -l <"$T/node0.log") + 1))
"$PY" "$FLOOD" --port $((BASE + 1)) --source 127.0.0.2 --idle 2000 --slow 300 \
    --seconds $((SECS + 1)) >"$T/http_flood.out" 2>&1 &
FLOOD_PID=$!
sleep 1 # the flood ramps up
runs=0
slow=0
slowest=0
end=$((SECONDS + SECS - 1))
while [ $SECONDS -lt $end ]; do
    t0=$(now_ms)
    if ! "$SLQ" --node "$API0" status >/dev/null 2>"$T/err"; then
        slow=$((slow + 1))
        sed 's/^/    /' "$T/err" | head -2
    fi
    ms=$(($(now_ms) - t0))
    [ "$ms" -gt "$slowest" ] && slowest=$ms
    [ "$ms" -ge 1000 ] && slow=$((slow + 1))
    runs=$((runs + 1))
    sleep 0.1
done
wait "$FLOOD_PID"
echo "    slq status: $runs runs, slowest $slowest ms"
flood() { awk -v k="$1" '$1 == k {print $2}' "$T/http_flood.out"; }
sed 's/^/    flood: /' "$T/http_flood.out"
check "slq status answers in under 1 s every time ($runs runs, slowest $slowest ms)" \
    test "$slow" -eq 0 -a "$runs" -ge 5
check "the attacker's extra connections were turned away ($(flood refused))" \
    test "$(flood refused)" -ge 100
check "slowloris connections were closed while trickling ($(flood slow_closed))" \
    test "$(flood slow_closed)" -ge 1
check "at the header deadline, not later (longest $(flood slow_life_max_ms) ms)" \
    test "$(flood slow_life_max_ms)" -lt 7000
check "and none was left open longer ($(flood slow_open_max_ms) ms)" \
    test "$(flood slow_open_max_ms)" -lt 7000
W=$(warns 0 "$FROM0")
check "the node's warnings are rate-limited ($W WARN lines)" test "$W" -lt 20
check "the refusal warnings carry the count of the ones held back" \
    grep -q 'refused, address over its limit addr=127.0.0.2 max=32 suppressed=[1-9]' "$T/node0.log"

echo "== p2p: unauthenticated connections flood validator 1"
NORMAL=$(($(height 1) - H_BEFORE))
NORMAL_MS=$(($(now_ms) - T_BEFORE))
FROM1=$(($(wc -l <"$T/node1.log") + 1))
"$PY" "$FLOOD" --port $((BASE + 2)) --proto raw --idle 400 --slow 40 --rate 300 --seconds 12 \
    --source 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7 >"$T/p2p_flood.out" 2>&1 &
FLOOD_PID=$!
sleep 1
start 4 # dials in during the flood
H0=$(height 1)
T0=$(now_ms)
sleep 6
DURING=$(($(height 1) - H0))
DURING_MS=$(($(now_ms) - T0))
echo "    validator 1: $NORMAL blocks in $NORMAL_MS ms before, $DURING in $DURING_MS ms during"
# Blocks per second during the flood at least 60% of before (empty blocks every 500 ms: ~12
# in the 6 s), and at least 4 blocks whatever the pace before: a node stalled by the flood,
# or losing its peers, fails either.
check "validator 1's height advances at its pace ($NORMAL blocks in $NORMAL_MS ms before, $DURING in $DURING_MS ms during)" \
    test $((DURING * NORMAL_MS * 10)) -ge $((NORMAL * DURING_MS * 6)) -a "$DURING" -ge 4
T0=$(now_ms)
check "a transaction sent to validator 1 commits" \
    "$SLQ" --node "$(api 1)" --json issue --key "$K/issuer.pem" --to "$INTER" --amount 1 \
    --program general --ref FLOOD1
MS=$(($(now_ms) - T0))
check "within 2 s ($MS ms)" test "$MS" -le 2000
check "validator 1 keeps its three validator peers" test "$(peers_of 1)" -ge 3
for _ in $(seq 1 20); do
    [ "$(peers_of 4)" = 4 ] && break
    sleep 0.25
done
check "the observer dialling in is admitted by all four, validator 1 too ($(peers_of 4))" \
    test "$(peers_of 4)" = 4
wait "$FLOOD_PID"
sed 's/^/    flood: /' "$T/p2p_flood.out"
W=$(warns 1 "$FROM1")
check "validator 1's warnings are rate-limited ($W WARN lines)" test "$W" -lt 20

for i in "${!PID[@]}"; do kill -TERM "${PID[$i]}" 2>/dev/null; done
for i in "${!PID[@]}"; do wait "${PID[$i]}" 2>/dev/null; done
PID=()
summary
