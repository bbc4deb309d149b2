#!/usr/bin/env bash
# test_signer.sh: a validator's signer.state (replica/signer.h, replica/amnesia.c) with real slqd
# processes on 127.0.0.1, four validators (a quorum is three):
#   - nodes 1 and 2 stopped, nodes 0 and 3 wait at the next height H+1, voting in round after
#     round; node 3 is stopped and its signer.state deleted: it refuses to start (exit 1, the
#     last line names the file and --reset-signer; no signer.state is made), whether the
#     evidence is its precommits in the store's certificates or its votes in the log;
#   - with --reset-signer it starts, and refuses to sign at H+1 (which it may have signed
#     before): with node 1 back (nodes 0, 1, 3) the chain still waits at H+1;
#   - node 2 back: nodes 0, 1, 2 commit H+1, node 3 catches up and signs again above it, so
#     that with node 2 stopped once more (nodes 0, 1, 3) the chain keeps committing;
#   - a corrupt signer.state: node 3 refuses to start, its last line names that file; so do
#     the API's and the peers' addresses when they are taken;
#   - a chain of one validator without its signer.state: --reset-signer is refused while its
#     log of tip + 1 holds an input (it would halt the chain for good), and accepted with a
#     fence at the tip when the log holds only its height; the validator then commits tip + 1.
# usage: test_signer.sh SLQ SLQD. Prints "N passed, N failed"; stops within ~3 min.
set -u
SLQ=${1:?usage: test_signer.sh SLQ SLQD}
SLQD=${2:?usage: test_signer.sh SLQ SLQD}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
T=$(mktemp -d)
cluster_nodes_trap

BASE=$(free_base_port 4)
NET="$T/net"
"$SLQ" testnet --validators 4 --out "$NET" --base-port "$BASE" >/dev/null || exit 1
for i in 0 1 2 3; do
    "$PY" - "$NET/node$i/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["empty_block_interval_ms"] = 500
c["block_interval_ms"] = 50
json.dump(c, open(p, "w"))
PY
done

# refused I DESCRIPTION PATTERN [slqd options]: node I must exit 1 within 10 s, its last log
# line "slqd: stopped: " followed by PATTERN (grep -F).
refused() {
    local i=$1 desc=$2 pattern=$3
    shift 3
    timeout 10 "$SLQD" --home "$NET/node$i" "$@" 2>>"$T/node$i.log"
    local rc=$?
    local last
    last=$(tail -n 1 "$T/node$i.log")
    if [ "$rc" -eq 1 ] && [[ $last == "slqd: stopped: "* ]] && grep -qF -- "$pattern" <<<"$last"; then
        pass
    else
        fail "$desc: exit $rc, last line: $last"
    fi
}

for i in 0 1 2 3; do start "$i"; done
for i in 0 1 2 3; do wait_ready "$(api "$i")" || fail "node $i did not start"; done
wait_height 3 3 || fail "node 3 did not reach height 3"

echo "== nodes 0 and 3 alone wait at H+1, voting in round after round"
stop 1
stop 2
sleep 2
H=$(height 0)
wait_height 3 "$H" 10 || fail "node 3 did not reach node 0's height $H"
sleep 3 # rounds of H+1, node 3 signing its prevotes and precommits
check "the chain waits at H+1 with two validators of four" test "$(height 0)" = "$H"
check "node 3 is at H too" test "$(height 3)" = "$H"
check "node 3 has signed: its signer.state exists" test -s "$NET/node3/signer.state"

echo "== signer.state deleted after signing: node 3 refuses to start"
stop 3
rm "$NET/node3/signer.state"
refused 3 "a validator that signed before, without its signer.state" \
    "signer state $NET/node3/signer.state is missing, but this validator has signed before"
check "... which names --reset-signer" grep -q -- "start it once with --reset-signer" \
    <(tail -n 1 "$T/node3.log")
check "... and the height it would not sign up to" grep -q -- "nothing at height <= $((H + 1)) is signed" \
    <(tail -n 1 "$T/node3.log")
check "... and makes no signer.state" test ! -e "$NET/node3/signer.state"
# Each piece of evidence alone is enough: the store's certificates (the log moved away) and
# the write-ahead log of H+1 (data/ moved away: a store with no blocks).
mv "$NET/node3/consensus.wal" "$T/wal3"
refused 3 "the store alone shows it signed" \
    "has signed before (its precommit is in the certificate of height"
mv -f "$T/wal3" "$NET/node3/consensus.wal"
mv "$NET/node3/data" "$T/data3"
refused 3 "the write-ahead log alone shows it signed" \
    "has signed before (its votes are in the write-ahead log)"
rm -rf "$NET/node3/data"
mv "$T/data3" "$NET/node3/data"
check "... and still no signer.state" test ! -e "$NET/node3/signer.state"

echo "== with --reset-signer it starts and signs nothing at H+1"
start 3 --reset-signer
wait_ready "$(api 3)" || fail "node 3 did not start with --reset-signer"
check "it says so" grep -q -- "--reset-signer: .*signer.state made anew; nothing at height <= $((H + 1))" \
    "$T/node3.log"
start 1
wait_ready "$(api 1)" || fail "node 1 did not restart"
sleep 6
check "nodes 0, 1 and 3 make no quorum at H+1: node 3 does not sign there" \
    test "$(height 0)" = "$H"

echo "== node 2 back: H+1 commits, node 3 rejoins and signs above it"
start 2
wait_height 0 $((H + 2)) 90 || fail "the chain did not commit H+2 with node 2 back"
wait_height 3 $((H + 2)) 30 || fail "node 3 did not catch up"
stop 2
H2=$(height 0)
wait_height 0 $((H2 + 3)) 90 || fail "nodes 0, 1 and 3 did not commit 3 more blocks"
check "nodes 0, 1 and 3 commit: node 3 signs again" test "$(height 0)" -ge $((H2 + 3))
check "node 3 follows" wait_height 3 $((H2 + 3)) 30

echo "== a corrupt signer.state is named in the last line"
stop 3
head -c 8192 /dev/zero | tr '\0' '\377' >"$NET/node3/signer.state"
refused 3 "a corrupt signer.state" \
    "signer state $NET/node3/signer.state is corrupt: neither of its two records reads back"
head -c 100 /dev/zero >"$NET/node3/signer.state"
refused 3 "a signer.state of the wrong size" \
    "signer state $NET/node3/signer.state is corrupt: 100 bytes, not 8192"
refused 3 "--reset-signer does not override a corrupt one" \
    "signer state $NET/node3/signer.state is corrupt" --reset-signer

echo "== other start failures end with their own cause, not the API's"
# set_listen KEY PORT: node 3 listens there (node 0 holds that port).
set_listen() {
    "$PY" - "$NET/node3/config.json" "$1" "$2" <<'PY'
import json, sys
p, key, port = sys.argv[1], sys.argv[2], sys.argv[3]
c = json.load(open(p))
c[key] = "127.0.0.1:" + port
json.dump(c, open(p, "w"))
PY
}
set_listen api_listen $((BASE + 1))
refused 3 "the API address taken" "cannot serve the API on 127.0.0.1:$((BASE + 1))"
set_listen api_listen $((BASE + 7))
set_listen p2p_listen "$BASE"
rm "$NET/node3/signer.state"
refused 3 "the peer address taken" "cannot serve peers on 127.0.0.1:$BASE" --reset-signer

for i in 0 1; do stop "$i"; done

echo "== one validator: --reset-signer resumes at tip + 1 when its log shows nothing signed there"
# wal_log MODE: node 0's consensus.wal keeps its height record only ("marker"), or that and a
# fired timeout of its height ("input"); prints the log's height.
wal_log() {
    "$PY" - "$NET/node0/consensus.wal" "$1" <<'PY'
import hashlib, struct, sys
path, mode = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
kind, n = data[0], struct.unpack(">I", data[1:5])[0]
assert kind == 1 and n == 8, "the log starts with its height"
height = struct.unpack(">Q", data[5:13])[0]
out = data[:5 + n + 8]
if mode == "input":
    payload = struct.pack(">BQI", 0, height, 0)  # TM_STEP_PROPOSE, height, round 0
    head = struct.pack(">BI", 4, len(payload))   # WAL_TIMEOUT
    out += head + payload + hashlib.sha256(head + payload).digest()[:8]
open(path, "wb").write(out)
print(height)
PY
}
BASE=$(free_base_port 1)
NET="$T/net1"
"$SLQ" testnet --validators 1 --out "$NET" --base-port "$BASE" >/dev/null || exit 1
start 0
wait_ready "$(api 0)" || fail "the one validator did not start"
wait_height 0 3 30 || fail "the one validator did not commit 3 blocks"
stop 0
rm "$NET/node0/signer.state"
M=$(wal_log input)
refused 0 "one validator, an input in its log of tip + 1: --reset-signer would halt the chain" \
    "--reset-signer refused: signer state $NET/node0/signer.state is missing" --reset-signer
check "... it names the height and the power" grep -q -- "height $M; .*(voting power 1 of 1)" \
    <(tail -n 1 "$T/node0.log")
check "... and makes no signer.state" test ! -e "$NET/node0/signer.state"
M=$(wal_log marker)
start 0 --reset-signer
wait_ready "$(api 0)" || fail "the one validator did not start with --reset-signer"
check "fenced at the tip" grep -q -- "signer.state made anew; nothing at height <= $((M - 1)) " \
    "$T/node0.log"
check "it signs and commits height $M and on" wait_height 0 $((M + 1)) 30
stop 0
summary
