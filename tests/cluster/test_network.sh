#!/usr/bin/env bash
# test_network.sh: four validators and a read-only observer as real slqd processes on
# 127.0.0.1, driven through slq (issue 4):
#   - all four reach the same tip; a transaction sent to one is final on all;
#   - one validator down: transactions still commit; two down: nothing commits (safety),
#     and the network resumes when one returns;
#   - a validator whose data was wiped syncs back to the same tip;
#   - an observer follows read-only; a node with an unknown key is refused at the handshake;
#   - a garbage or oversized frame closes only that connection;
#   - a peer relaying a transaction that does not verify is disconnected, one relaying a
#     transaction that verifies is not (P2P_SEND plays that peer).
# usage: test_network.sh SLQ SLQD P2P_SEND. Prints "N passed, N failed".
set -u
SLQ=${1:?usage: test_network.sh SLQ SLQD P2P_SEND}
SLQD=${2:?usage: test_network.sh SLQ SLQD P2P_SEND}
P2P_SEND=${3:?usage: test_network.sh SLQ SLQD P2P_SEND}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
T=$(mktemp -d)
cluster_nodes_trap

BASE=$(free_base_port 7)
NET="$T/net"
"$SLQ" testnet --validators 4 --out "$NET" --base-port "$BASE" >/dev/null || exit 1
K="$NET/keys"

# The observer (node 4) and a stranger (node 5) with keys no genesis or config lists... the
# observer's key is then added to every validator's "observers", and so is the key of a
# relaying peer that never runs a node (node 6, played by P2P_SEND).
for i in 4 5; do
    mkdir -p "$NET/node$i"
    cp "$NET/node0/genesis.json" "$NET/node$i/"
    "$SLQ" keygen --out "$NET/node$i/node.pem" >/dev/null
    peers=$("$PY" -c "import json; print(json.dumps(['127.0.0.1:%d' % ($BASE + 2 * j) for j in range(4)]))")
    cat >"$NET/node$i/config.json" <<JSON
{"p2p_listen": "127.0.0.1:$((BASE + 2 * i))", "api_listen": "127.0.0.1:$((BASE + 2 * i + 1))",
 "peers": $peers, "block_interval_ms": 50, "empty_block_interval_ms": 1000}
JSON
done
mkdir -p "$NET/node6"
cp "$NET/node0/genesis.json" "$NET/node6/"
"$SLQ" keygen --out "$NET/node6/node.pem" >/dev/null
OBS=$(pubhex "$NET/node4/node.pem")
RELAY=$(pubhex "$NET/node6/node.pem")
for i in 0 1 2 3; do
    "$PY" - "$NET/node$i/config.json" "$OBS" "$RELAY" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["observers"] = [sys.argv[2], sys.argv[3]]
c["empty_block_interval_ms"] = 1000
json.dump(c, open(p, "w"))
PY
done

# wait_height I H [SECONDS]: waits until node I is at height >= H.
issue() { # issue NODE REF: an issue of 1 yuan to the intermediary, waiting for its block
    "$SLQ" --node "$(api "$1")" --json issue --key "$K/issuer.pem" --to "$INTER" --amount 1 \
        --program general --ref "$2"
}

for i in 0 1 2 3 4; do start "$i"; done
for i in 0 1 2 3 4; do wait_ready "$(api "$i")" || fail "node $i did not start"; done
INTER=$("$SLQ" address --key "$K/intermediary.pem")

echo "== four validators agree"
check "a transaction commits" issue 0 N1
H=$("$SLQ" --node "$(api 0)" --json status | jget 'd["height"]')
for i in 1 2 3 4; do check "node $i reaches height $H" wait_height "$i" "$H"; done
REF=$(block_hash 0 "$H")
for i in 1 2 3 4; do check "node $i has the same block at $H" test "$(block_hash "$i" "$H")" = "$REF"; done
"$SLQ" --node "$(api 3)" --json block "$H" >"$T/out"
check "the certificate has at least 3 commit signatures" \
    test "$(jget 'len([s for s in d["certificate"]["signatures"] if s["flag"] == "commit"])' <"$T/out")" -ge 3
check "the observer serves the balance" \
    test "$("$SLQ" --node "$(api 4)" --json balance "$INTER" | jget 'd["total_fen"]')" = 100

echo "== a transaction the ledger refuses leaves the observer's mempool too"
# The observer never proposes: without the proposer's TxRefusals hint it would hold the
# refused revoke as pending forever, and slq, signing after it, would wedge the issuer there.
"$SLQ" --node "$(api 4)" --json revoke --key "$K/issuer.pem" --voucher "$(printf '7%.0s' $(seq 64))" \
    --reason "no such voucher" >"$T/out" 2>"$T/err"
check "through the observer, the refusal is reported (exit 2, VOUCHER_UNKNOWN)" \
    test "$? $(jget 'd.get("error")' <"$T/out" 2>/dev/null)" = "2 VOUCHER_UNKNOWN"
check "the observer's issuer account shows nothing pending" test "$("$SLQ" --node "$(api 4)" \
    --json account "$("$SLQ" address --key "$K/issuer.pem")" | jget 'd["pending_nonce"] == d["nonce"]')" = True
if timeout 5 "$SLQ" --node "$(api 4)" --json issue --key "$K/issuer.pem" --to "$INTER" --amount 1 \
    --program general --ref N1b >"$T/out" 2>&1; then pass; else
    fail "the issuer's next transaction through the observer commits within 5 s"
    sed 's/^/    /' "$T/out" | head -5
fi

echo "== one validator down: still live"
stop 3 KILL # kill -9: it comes back later with its signer record
check "a transaction commits with three of four" issue 1 N2

echo "== two validators down: safe, then live again"
stop 2
H2=$(height 0)
"$SLQ" --node "$(api 0)" --json issue --key "$K/issuer.pem" --to "$INTER" --amount 1 \
    --program general --ref N3 --no-wait >"$T/out"
TX3=$(jget 'd["tx"]' <"$T/out")
sleep 6
check "no block is committed with two of four" test "$(height 0)" = "$H2"
# A peer claims a proposer refused it: node 0 tries it on its own ledger, which accepts it.
"$P2P_SEND" --home "$NET/node6" --peer "127.0.0.1:$BASE" --refuse "$TX3" --wait-ms 1000 \
    >"$T/relay.out" 2>"$T/relay.err"
check "a refusal hint for a valid transaction is not trusted (the peer stays connected)" \
    grep -qx connected "$T/relay.out"
check "the transaction is still pending" \
    test "$("$SLQ" --node "$(api 0)" --json tx "$TX3" | jget 'd["status"]')" = pending
start 2
check "the network resumes when one returns" wait_height 0 $((H2 + 1)) 40
for _ in $(seq 1 60); do
    [ "$("$SLQ" --node "$(api 0)" --json tx "$TX3" | jget 'd["status"]')" = committed ] && break
    sleep 0.5
done
check "the pending transaction commits" \
    test "$("$SLQ" --node "$(api 0)" --json tx "$TX3" | jget 'd["status"]')" = committed

echo "== a returning and a wiped validator catch up"
start 3
stop 1
rm -rf "$NET/node1/data"
start 1
check "a transaction commits meanwhile" issue 0 N4
H4=$(height 0)
for i in 1 3; do check "node $i catches up to $H4" wait_height "$i" "$H4" 60; done
REF4=$(block_hash 0 "$H4")
for i in 1 2 3 4; do check "node $i has the same block at $H4" test "$(block_hash "$i" "$H4")" = "$REF4"; done

echo "== admission and framing"
start 5
wait_ready "$(api 5)" || fail "node 5 did not start"
for _ in $(seq 1 100); do # it dials every validator; each refuses it at the handshake
    grep -q "refused.*unknown key" "$T/node0.log" && break
    sleep 0.2
done
check "the validators log the refusal" grep -q "refused.*unknown key" "$T/node0.log"
check "a node with an unknown key gets no peers" \
    test "$(curl -s "$(api 5)/metrics" | awk '/^slq_peers / {print $2}')" = 0
stop 5
P2P0=$((BASE))
"$PY" - "$P2P0" >"$T/frames" 2>&1 <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
def closed_after(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    finally:
        s.close()
print("garbage", closed_after(b"\x00\x00\x00\x05garbage-bytes"))
print("oversized", closed_after(struct.pack(">I", 0x7fffffff)))
PY
check "a garbage frame closes that connection" grep -q "garbage True" "$T/frames"
check "an oversized frame closes that connection" grep -q "oversized True" "$T/frames"
# relay ARGS...: P2P_SEND as node 6 towards node 0; its verdict in $T/relay.out, its stderr
# (the relayed hash) in $T/relay.err, node 0's log lines written meanwhile in $T/relay.log.
relay() {
    local from
    from=$(($(wc -l <"$T/node0.log") + 1))
    "$P2P_SEND" --home "$NET/node6" --peer "127.0.0.1:$P2P0" "$@" >"$T/relay.out" 2>"$T/relay.err"
    tail -n "+$from" "$T/node0.log" >"$T/relay.log"
}
why_line="disconnect: .*reason=sent a transaction that does not verify"
relay --tx 0a03616263ffff
check "a peer relaying malformed transaction bytes is disconnected" grep -qx disconnected "$T/relay.out"
check "the validator says why" grep -q "$why_line" "$T/relay.log"
relay --spoiled
check "a peer relaying a transaction with a spoiled signature is disconnected" \
    grep -qx disconnected "$T/relay.out"
check "the validator says why again" grep -q "$why_line" "$T/relay.log"
relay --signed --wait-ms 2000
check "a peer relaying a transaction that verifies stays connected" grep -qx connected "$T/relay.out"
RELAYED=$(sed -n 's/^p2p_send: tx \([0-9a-f]*\)$/\1/p' "$T/relay.err")
"$SLQ" --node "$(api 0)" --json tx "$RELAYED" >"$T/out" 2>/dev/null
check "which the validator checked and refused on its merits (signer not registered)" \
    test "$(jget 'd["status"] + " " + d.get("error", "")' <"$T/out")" = "rejected SIGNER_UNKNOWN"
# A transaction that must wait for an earlier nonce sits in the mempools without making
# blocks back to back: the proposers wait as for an empty mempool (1 s here), and the
# transaction goes in once the gap is filled.
ISSUER=$("$SLQ" address --key "$K/issuer.pem")
NONCE=$(curl -s "$(api 0)/v1/accounts/$ISSUER" | jget 'd["nonce"]')
relay --signed --key "$K/issuer.pem" --nonce $((NONCE + 2)) --wait-ms 500
check "a transaction leaving a nonce gap is taken" grep -qx connected "$T/relay.out"
GAPPED=$(sed -n 's/^p2p_send: tx \([0-9a-f]*\)$/\1/p' "$T/relay.err")
H5=$(height 0)
sleep 3
check "and waits without a block every block_interval_ms ($(($(height 0) - H5)) blocks in 3 s)" \
    test $(($(height 0) - H5)) -le 5
check "the validators keep their peers" \
    test "$(curl -s "$(api 0)/metrics" | awk '/^slq_peers / {print $2}')" -ge 3
relay --signed --key "$K/issuer.pem" --nonce $((NONCE + 1)) --wait-ms 500
check "the transaction filling the gap is taken" grep -qx connected "$T/relay.out"
for _ in $(seq 1 40); do
    [ "$("$SLQ" --node "$(api 0)" --json tx "$GAPPED" 2>/dev/null | jget 'd["status"]')" = committed ] &&
        break
    sleep 0.25
done
check "the transaction that waited for the gap commits after it" \
    test "$("$SLQ" --node "$(api 0)" --json tx "$GAPPED" | jget 'd["status"]')" = committed
check "and keep committing" issue 0 N5

echo "== a registered signer's transactions behind a nonce gap are bounded"
# The intermediary relays SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX (16) transactions that wait behind
# a gap, and one more: that one is refused (TX_PENDING_TOO_MANY), and an honest transaction of
# another signer still commits within 2 s.
INONCE=$(curl -s "$(api 0)/v1/accounts/$INTER" | jget 'd["nonce"]')
for n in $(seq $((INONCE + 2)) $((INONCE + 18))); do
    relay --signed --key "$K/intermediary.pem" --nonce "$n" --wait-ms 50
done
OVER=$(sed -n 's/^p2p_send: tx \([0-9a-f]*\)$/\1/p' "$T/relay.err")
"$SLQ" --node "$(api 0)" --json tx "$OVER" >"$T/out" 2>/dev/null
check "the 17th gapped transaction of one signer is refused with TX_PENDING_TOO_MANY" \
    test "$(jget 'd["status"] + " " + d.get("error", "")' <"$T/out")" = "rejected TX_PENDING_TOO_MANY"
T0=$(date +%s%N)
check "an honest transaction commits meanwhile" issue 0 N6
MS=$((($(date +%s%N) - T0) / 1000000))
check "within 2 s ($MS ms)" test "$MS" -le 2000

for i in 0 1 2 3; do
    check "node $i saw no evidence against a correct validator" \
        test "$(curl -s "$(api "$i")/metrics" | awk '/^slq_evidence_total / {print $2}')" = 0
done
check "the evidence endpoint answers" test "$(curl -s "$(api 0)/v1/evidence")" = '{"evidence":[]}'

for i in "${!PID[@]}"; do stop "$i"; done
summary
