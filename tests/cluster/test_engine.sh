#!/usr/bin/env bash
# test_engine.sh: the consensus driver's checks (replica/engine.c) against a peer that lies, with
# real slqd processes on 127.0.0.1. Four validators, only nodes 0 and 1 running: height 1
# waits for a quorum at round 0 (node 1 proposes it; both prevote its block, no third vote
# comes). P2P_SEND plays a peer (node 4's key, an observer's) that sends node 1:
#   - votes claiming the two stopped validators with signatures that do not verify: each gets
#     it disconnected, and none counts (no polka, no precommit, no commit, no round skip);
#   - proposals with a signature that does not verify, or from a validator out of its turn:
#     refused, the peer disconnected, no round skip;
#   - two conflicting prevotes genuinely signed with validator 3's key: both count, the pair
#     is recorded as evidence (/v1/evidence, slq_evidence_total), the peer stays;
#   - a block sync answer with node 1's own block and a certificate that does not prove it
#     final (2 signatures of 4; or 3 with one forged): refused, the peer disconnected;
# then node 1, locked on its block, is killed -9 and restarts from its write-ahead log: it
# re-sends the very votes it signed before (no conflicting one) and, with validator 2
# started, the network commits node 1's block at height 1 and goes on.
# usage: test_engine.sh SLQ SLQD P2P_SEND. Prints "N passed, N failed"; stops within ~3 min.
set -u
SLQ=${1:?usage: test_engine.sh SLQ SLQD P2P_SEND}
SLQD=${2:?usage: test_engine.sh SLQ SLQD P2P_SEND}
P2P_SEND=${3:?usage: test_engine.sh SLQ SLQD P2P_SEND}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
T=$(mktemp -d)
cluster_nodes_trap

BASE=$(free_base_port 4)
NET="$T/net"
"$SLQ" testnet --validators 4 --out "$NET" --base-port "$BASE" >/dev/null || exit 1

# Node 4 is the lying peer's home: the genesis and a key the validators admit as an
# observer's (it is no validator's, so what it signs in a validator's name does not verify).
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
c["empty_block_interval_ms"] = 1000
json.dump(c, open(p, "w"))
PY
done

metric() { curl -s "$(api "$1")/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
# peer I ARGS...: P2P_SEND as node 4 towards node I; its verdict (and what --watch saw) in
# $T/peer.out, node I's log lines written meanwhile in $T/peer.log.
peer() {
    local i=$1 from
    shift
    from=$(($(wc -l <"$T/node$i.log") + 1))
    "$P2P_SEND" --home "$NET/node4" --peer "127.0.0.1:$((BASE + 2 * i))" "$@" \
        >"$T/peer.out" 2>"$T/peer.err"
    tail -n "+$from" "$T/node$i.log" >"$T/peer.log"
}
# alive I...: fails, and ends the test, if node I has stopped (what follows would only wait).
alive() {
    local i
    for i in "$@"; do
        if ! kill -0 "${PID[$i]}" 2>/dev/null; then
            fail "node $i has stopped: $(grep -m1 -E 'ERROR|FATAL' "$T/node$i.log")"
            summary
            exit 1
        fi
    done
}
# evidence I: node I's evidence, each vote's type, height, round, validator and block hash.
evidence() {
    curl -s "$(api "$1")/v1/evidence" | jget '" ".join(str(v[k]) for e in d["evidence"]
        for v in (e["a"], e["b"]) for k in ("type", "height", "round", "validator", "block_hash"))'
}
# own_votes I: node I's own votes it re-sends every second, one line each (sorted, unique).
own_votes() {
    peer "$1" --watch --wait-ms 2500
    grep '^vote ' "$T/peer.out" | sort -u
}
# round_of I: node I's round at its next height, from its Status.
round_of() {
    peer "$1" --watch --wait-ms 1500
    awk '$1 == "status" {r = $3} END {print r}' "$T/peer.out"
}

start 0
start 1
for i in 0 1; do wait_ready "$(api "$i")" || fail "node $i did not start"; done
"$SLQ" --node "$(api 0)" --json status >"$T/status"
for i in 0 1 2 3; do ADDR[$i]=$(jget "d['validators'][$i]['address']" <"$T/status"); done

echo "== two validators of four: height 1 waits at round 0"
BLOCK=
for _ in $(seq 1 10); do
    BLOCK=$(own_votes 1 | awk '$2 == "prevote" && $3 == 1 && $4 == 0 && $5 != "nil" {print $5}')
    [ -n "$BLOCK" ] && break
done
check "node 1 proposes height 1 and prevotes its block" test -n "$BLOCK"
for _ in $(seq 1 5); do
    own_votes 0 >"$T/votes0"
    grep -q "^vote prevote 1 0 $BLOCK " "$T/votes0" && break
done
check "node 0 prevotes it too" grep -q "^vote prevote 1 0 $BLOCK " "$T/votes0"

echo "== votes whose signature does not verify are dropped, their sender disconnected"
for type in prevote precommit; do
    for i in 2 3; do
        peer 1 --votes "$type" --as "$i"
        check "a $type for the block claiming validator $i, signed by another key: disconnected" \
            grep -qx disconnected "$T/peer.out"
        check "the validator says why" grep -q "reason=sent a forged vote" "$T/peer.log"
    done
done
sleep 2
for i in 0 1; do
    check "node $i is still at height 0 (the forged votes made no quorum)" test "$(height "$i")" = 0
done
own_votes 1 >"$T/votes1"
check "node 1 did not precommit on the forged prevotes" \
    test "$(grep -c '^vote precommit' "$T/votes1")" = 0
check "node 1 is still at round 0" test "$(round_of 1)" = 0

alive 0 1
echo "== proposals that do not verify, or out of turn, are refused"
peer 1 --proposal --as 2
check "a proposal at validator 2's round, signed by another key: disconnected" \
    grep -qx disconnected "$T/peer.out"
check "the validator says why" grep -q "reason=sent a malformed or forged proposal" "$T/peer.log"
peer 1 --proposal --as 3
check "a proposal at validator 3's round, signed by another key: disconnected" \
    grep -qx disconnected "$T/peer.out"
check "the forged proposals of two validators did not make node 1 skip rounds" \
    test "$(round_of 1)" = 0
peer 1 --proposal --key "$NET/node3/node.pem" --round-of 2
check "a proposal signed by validator 3 at validator 2's round: disconnected" \
    grep -qx disconnected "$T/peer.out"
check "the validator says why" grep -q "reason=sent a malformed or forged proposal" "$T/peer.log"

alive 0 1
echo "== two conflicting votes of one validator are evidence"
peer 1 --votes prevote-nil,prevote --key "$NET/node3/node.pem" --wait-ms 2000
check "a peer relaying validator 3's genuine votes stays connected" grep -qx connected "$T/peer.out"
for i in 1 0; do
    for _ in $(seq 1 20); do [ "$(metric "$i" slq_evidence_total)" = 1 ] && break; sleep 0.25; done
    check "node $i counts one piece of evidence" test "$(metric "$i" slq_evidence_total)" = 1
done
check "the evidence names validator 3, its nil prevote and its prevote for the block" \
    test "$(evidence 1)" = "prevote 1 0 ${ADDR[3]} None prevote 1 0 ${ADDR[3]} $BLOCK"
check "node 1 logs it" grep -q "engine: evidence: validator=3 height=1 round=0" "$T/node1.log"
for _ in $(seq 1 5); do
    own_votes 1 >"$T/votes1"
    grep -q "^vote precommit 1 0 $BLOCK " "$T/votes1" && break
done
check "the genuine prevote completed the polka: node 1 precommits the block" \
    grep -q "^vote precommit 1 0 $BLOCK " "$T/votes1"

alive 0 1
echo "== a synced block needs a certificate that proves it final"
peer 1 --sync short --key "$NET/node3/node.pem"
check "node 1's block with 2 of 4 precommits: the peer is disconnected" \
    grep -qx disconnected "$T/peer.out"
check "the validator says why" grep -q "reason=sent a block that does not verify" "$T/peer.log"
peer 1 --sync forged --key "$NET/node3/node.pem" --as 2
check "node 1's block with 3 of 4 precommits, one forged: the peer is disconnected" \
    grep -qx disconnected "$T/peer.out"
check "the validator says why" grep -q "reason=sent a block that does not verify" "$T/peer.log"
check "node 1 is still at height 0" test "$(height 1)" = 0

alive 0 1
echo "== a validator killed mid-height replays its write-ahead log"
own_votes 1 >"$T/before"
grep "^vote precommit 1 0 $BLOCK " "$T/before" >"$T/precommit"
grep "^vote prevote 1 0 $BLOCK " "$T/before" >"$T/prevote"
check "node 1 re-sends its prevote and precommit for the block every second" \
    test "$(wc -l <"$T/before")" = 2 -a -s "$T/precommit" -a -s "$T/prevote"
stop 1 KILL
start 1
wait_ready "$(api 1)" || fail "node 1 did not restart"
RESUMED="resume: height=1 round=0 from the write-ahead log"
for _ in $(seq 1 20); do grep -q "$RESUMED" "$T/node1.log" && break; sleep 0.2; done
check "it resumes height 1 at round 0 from its log" grep -q "$RESUMED" "$T/node1.log"
own_votes 1 >"$T/after"
check "it re-sends its precommit for the block, with the same signature" \
    grep -qxFf "$T/precommit" "$T/after"
check "it re-sends its prevote too" grep -qxFf "$T/prevote" "$T/after"
check "and signs no vote it did not sign before the crash" \
    test -z "$(comm -13 "$T/before" "$T/after")"
alive 1
start 2
wait_ready "$(api 2)" || fail "node 2 did not start"
if ! wait_height 0 1 60; then # the rest would only wait
    fail "node 0 commits height 1 with validator 2 back"
    summary
    exit 1
fi
for i in 1 2; do check "node $i commits height 1 with validator 2 back" wait_height "$i" 1 30; done
for i in 0 1 2; do
    check "node $i's block 1 is node 1's proposal" test "$(block_hash "$i" 1)" = "$BLOCK"
done
check "the network goes on" wait_height 0 3 60
for i in 0 1 2; do
    check "node $i has no evidence against anyone but validator 3" \
        test -z "$(evidence "$i" | tr ' ' '\n' | grep '^slq1' | grep -vx "${ADDR[3]}")"
done

for i in "${!PID[@]}"; do stop "$i"; done
summary
