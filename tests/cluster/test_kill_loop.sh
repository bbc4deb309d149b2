#!/usr/bin/env bash
# test_kill_loop.sh: nonce gaps never wedge an account, with four real validators on
# 127.0.0.1. Twenty times, a validator X (1, 2 or 3; node 0 stays up) takes transactions of
# the issuer and of the intermediary without waiting for their blocks (`--no-wait` returns once
# the node admitted them) and is killed with SIGKILL at once, then restarted. Each cycle also
# plays a client that signed on the word of a node that then died: it signed nonce n + 2 when
# the node it asked said n + 1 was pending, and, that node gone, posts it to node 0, where
# nonce n + 1 never arrives (NONCE_PROXY's `signed` makes those bytes with the real slq and
# sends them nowhere; the test posts them). So node 0 holds a transaction of each signer
# behind a gap, each cycle, whatever the kill did. An account recovers when slq signs after the
# contiguous pending nonce, not after the highest (which would only add to the gap until every
# node restarted). Afterwards:
#   - once the network has committed a block after the last restart, every signer commits a
#     new transaction within 5 s, through every validator;
#   - the four agree on the chain (the same block hash at a common height).
# Every transaction sent is valid on its own (each transfer spends its own voucher), so that
# what is measured is the gaps: refusals and their hints are cluster_network's.
# usage: test_kill_loop.sh SLQ SLQD. Prints "N passed, N failed"; stops within ~3 min.
set -u
SLQ=${1:?usage: test_kill_loop.sh SLQ SLQD}
SLQD=${2:?usage: test_kill_loop.sh SLQ SLQD}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
T=$(mktemp -d)
cluster_nodes_trap
CYCLES=${SLQ_KILL_CYCLES:-20}

BASE=$(free_base_port 4)
NET="$T/net"
"$SLQ" testnet --validators 4 --out "$NET" --base-port "$BASE" >/dev/null || exit 1
K="$NET/keys"
addr() { "$SLQ" address --key "$K/$1.pem"; }
INTER=$(addr intermediary)
H1=$(addr holder-1)

# caught_up I: waits (at most 20 s) until node I is within one block of node J = I+1.
caught_up() {
    local end=$((SECONDS + 20)) h o
    while [ $SECONDS -lt $end ]; do
        h=$(height "$1")
        o=$(height $((($1 + 1) % 4)))
        [ -n "$h" ] && [ -n "$o" ] && [ "$h" -ge $((o - 1)) ] && return 0
        sleep 0.1
    done
    return 1
}
# voucher NODE REF: issues 1 yuan to the intermediary through NODE, waiting for its block;
# prints the new voucher's id.
voucher() {
    "$SLQ" --node "$(api "$1")" --json issue --key "$K/issuer.pem" --to "$INTER" --amount 1 \
        --program general --ref "$2" 2>>"$T/cli.log" | jget 'd["vouchers"][0]' 2>/dev/null
}

nonce_proxy_start "$(api 0)"
for i in 0 1 2 3; do start "$i"; done
for i in 0 1 2 3; do wait_ready "$(api "$i")" || fail "node $i did not start"; done
"$SLQ" --node "$(api 0)" register --key "$K/issuer.pem" --address "$H1" --role enterprise \
    --name "Holder One" --credit-code "$(credit_code 1)" >/dev/null 2>>"$T/cli.log" || fail "holder-1 is registered"

echo "== $CYCLES cycles: transactions admitted by a validator that is killed at once"
for c in $(seq 1 "$CYCLES"); do
    x=$((1 + c % 3))
    y=0
    v=$(voucher "$y" "K$c")
    v2=$(voucher "$y" "K$c-2")
    if [ -z "$v" ] || [ "$v" = None ] || [ -z "$v2" ] || [ "$v2" = None ]; then
        fail "cycle $c: issues through node $y commit"
        continue
    fi
    # Through X, without waiting: a transfer by the intermediary, two issues by the issuer.
    "$SLQ" --node "$(api "$x")" transfer --key "$K/intermediary.pem" --voucher "$v" --to "$H1" \
        --amount 0.01 --no-wait >/dev/null 2>>"$T/cli.log"
    "$SLQ" --node "$(api "$x")" issue --key "$K/issuer.pem" --to "$INTER" --amount 0.5 \
        --program general --ref "K$c-a" --no-wait >/dev/null 2>>"$T/cli.log"
    "$SLQ" --node "$(api "$x")" issue --key "$K/issuer.pem" --to "$INTER" --amount 0.5 \
        --program general --ref "K$c-b" --no-wait >/dev/null 2>>"$T/cli.log"
    # The failover: each signer's next transaction after one that is lost, posted to node 0.
    for who in issuer intermediary; do
        n=$("$SLQ" --node "$(api 0)" --json account "$(addr $who)" | jget 'd["pending_nonce"]')
        if [ -z "$n" ]; then
            fail "cycle $c: node 0 answers the $who's account"
            continue
        fi
        if [ $who = issuer ]; then
            tx=$(signed $((n + 2)) issue --key "$K/issuer.pem" --to "$INTER" --amount 0.5 \
                --program general --ref "K$c-gap")
        else
            tx=$(signed $((n + 2)) transfer --key "$K/intermediary.pem" --voucher "$v2" \
                --to "$H1" --amount 0.02)
        fi
        curl -s -o /dev/null --data-binary "{\"tx\": \"$tx\"}" "$(api 0)/v1/txs"
    done
    kill -9 "${PID[$x]}" 2>/dev/null
    wait "${PID[$x]}" 2>/dev/null
    start "$x"
    wait_ready "$(api "$x")" || fail "cycle $c: node $x restarts"
    caught_up "$x" || fail "cycle $c: node $x catches up"
done

# How many of the transactions sent to a validator about to die were lost (for the log):
# the intermediary signed one transfer per cycle.
sent=$(("$SLQ" --node "$(api 0)" --json account "$INTER" 2>/dev/null || echo '{}') |
    jget 'd.get("nonce"), d.get("pending_nonce"), d.get("gap")')
echo "intermediary after $CYCLES transfers: nonce, pending_nonce, gap = $sent"

# The last restart may cost its height a round (a proposal signed before the kill is not
# signed twice): the measure starts once every node has committed a block after it.
h=$(height 0)
settled() {
    local i
    for i in 0 1 2 3; do [ "$(height "$i")" -gt "$h" ] 2>/dev/null || return 1; done
}
end=$((SECONDS + 20))
until settled || [ $SECONDS -ge $end ]; do sleep 0.2; done
check "the network commits a block after the last restart" settled

echo "== every signer commits a new transaction within 5 s, through every validator"
for i in 0 1 2 3; do
    v=$(timeout 5 "$SLQ" --node "$(api "$i")" --json issue --key "$K/issuer.pem" --to "$INTER" \
        --amount 1 --program general --ref "F$i" 2>>"$T/cli.log" | jget 'd["vouchers"][0]' 2>/dev/null)
    check "node $i: the issuer's next issue commits within 5 s" test -n "$v" -a "$v" != None
    if timeout 5 "$SLQ" --node "$(api "$i")" transfer --key "$K/intermediary.pem" \
        --voucher "$v" --to "$H1" --amount 0.01 >"$T/out" 2>&1; then
        pass
    else
        fail "node $i: the intermediary's next transfer commits within 5 s"
        sed 's/^/    /' "$T/out"
        "$SLQ" --node "$(api "$i")" account "$INTER" | sed 's/^/    /'
    fi
done

echo "== the four agree"
h=$(height 0)
for i in 0 1 2 3; do
    hash=$("$SLQ" --node "$(api "$i")" --json block "$h" 2>/dev/null | jget 'd["hash"]')
    [ "$i" -eq 0 ] && want=$hash
    check "node $i has block $h as node 0 has it" test -n "$hash" -a "$hash" = "$want"
done
summary
