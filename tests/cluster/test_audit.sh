#!/usr/bin/env bash
# test_audit.sh: the regulator's audit (issue 5) with real slqd processes, driven through
# slq and `slqd verify`:
#   - one node, transactions with known totals: every figure of `slq audit --year` (--json),
#     the table and the CSV;
#   - --sign and `slq audit verify-report`: valid (0), a flipped byte (2), no file (1);
#   - the node stopped: `slqd verify --home` exits 0 with a summary line, the data directory
#     is byte-identical before and after, and the offline report (`--report --json --year`)
#     is byte-identical to what the API answered at the same height;
#   - a four-validator testnet stopped at one height: `slqd verify --report --json` of two
#     nodes is byte-identical.
# usage: test_audit.sh SLQ SLQD. Prints "N passed, N failed".
set -u
SLQ=${1:?usage: test_audit.sh SLQ SLQD}
SLQD=${2:?usage: test_audit.sh SLQ SLQD}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
T=$(mktemp -d)
NODE_PID=
declare -A PID
cleanup() {
    [ -n "$NODE_PID" ] && kill -9 "$NODE_PID" 2>/dev/null
    for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT

# set_config FILE KEY VALUE: sets one key of a config.json.
set_config() {
    "$PY" - "$@" <<'PY'
import json, sys
p, k, v = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c = json.load(open(p))
c[k] = v
json.dump(c, open(p, "w"))
PY
}

# fingerprint DIR: every file of DIR with its size and SHA-256, in name order.
fingerprint() {
    (cd "$1" && find . -type f -printf '%P %s\n' | sort && find . -type f | sort | xargs sha256sum)
}

BASE=$(free_base_port 1)
API="http://127.0.0.1:$((BASE + 1))"
export SLQ_NODE=$API
"$SLQ" testnet --validators 1 --out "$T/net" --base-port "$BASE" >/dev/null || exit 1
K="$T/net/keys"
HOME0="$T/net/node0"
# No empty blocks while the test looks: the height moves only with its transactions.
set_config "$HOME0/config.json" empty_block_interval_ms 600000
start_node "$HOME0" "$T/node0.log"
wait_ready "$API" || { echo "node did not start"; cat "$T/node0.log"; exit 1; }

addr() { "$SLQ" address --key "$K/$1.pem"; }
H1=$(addr holder-1)
H2=$(addr holder-2)
H3=$(addr holder-3)
C1=$(addr centre-1)
REG=$(addr regulator)
YEAR=$(TZ=Asia/Shanghai date +%Y)
"$SLQ" keygen --out "$T/inter2.pem" >"$T/out" && I2=$(cat "$T/out")
tx() { "$SLQ" --json "$@" >"$T/tx.out" || fail "transaction: $* ($(cat "$T/tx.out"))"; }
voucher() { jget "d[\"vouchers\"][$1]" <"$T/tx.out"; }

echo "== transactions with known totals"
tx register --key "$K/issuer.pem" --address "$H1" --role enterprise --name "成都某AI公司" \
    --credit-code "$(credit_code 1)"
tx register --key "$K/issuer.pem" --address "$H2" --role university --name "某大学" \
    --credit-code "$(credit_code 2)"
tx register --key "$K/issuer.pem" --address "$H3" --role maker --name "创客" \
    --credit-code "$(credit_code 3)"
# An intermediary of the group of centre-1 (scc-group): its vouchers redeemed at centre-1
# are an anomaly worth a look, though no payment broke the related-party rule.
tx register --key "$K/issuer.pem" --address "$I2" --role intermediary --name "中介" \
    --affiliation scc-group --credit-code "$(credit_code 9)"
tx issue --key "$K/issuer.pem" --to "$H1" --amount 1000 --program general --ref A1
V1=$(voucher 0)
echo "quotation" >"$T/quote.txt"
tx apply --key "$K/holder-2.pem" --program national-major --amount 3000 --contract QC-2 \
    --cost 10000 --evidence "$T/quote.txt"
tx issue --key "$K/issuer.pem" --application "$(jget 'd["application"]' <"$T/tx.out")"
tx issue --key "$K/issuer.pem" --to "$I2" --amount 500 --program general --ref A3
V3=$(voucher 0)
tx issue --key "$K/issuer.pem" --to "$H3" --amount 5 --program general --ref A4 \
    --expires-ms $(($(date +%s%3N) + 3000))
tx transfer --key "$K/holder-1.pem" --voucher "$V1" --to "$C1" --amount 400
P1=$(voucher 0)
CH1=$(voucher 1)
tx transfer --key "$T/inter2.pem" --voucher "$V3" --to "$H1" --amount 500
V3A=$(voucher 0)
tx transfer --key "$K/holder-1.pem" --voucher "$V3A" --to "$C1" --amount 500
V3B=$(voucher 0)
tx redeem --key "$K/centre-1.pem" --voucher "$P1" --contract SC-1
CLAIM_A=$(jget 'd["claim"]' <"$T/tx.out")
tx redeem --key "$K/centre-1.pem" --voucher "$V3B" --contract SC-2
tx review --key "$K/finance.pem" --claim "$CLAIM_A" --approve --reason "invoice checked"
tx settle --key "$K/finance.pem" --claim "$CLAIM_A" --payment PAY-1 --payer city
tx revoke --key "$K/issuer.pem" --voucher "$CH1" --reason "audit finding"
sleep 3.5 # the 5-yuan voucher expires; the next block's time measures it
tx issue --key "$K/issuer.pem" --to "$H2" --amount 1 --program general --ref A5

echo "== slq audit --year: every figure"
expect 0 "audit --json" "$SLQ" --json audit --year "$YEAR"
cp "$T/out" "$T/api.json"
# figure EXPR WANT: python expression EXPR of the API's report (d) prints WANT.
figure() { check "report: $1 = $2" test "$(jget "$1" <"$T/api.json")" = "$2"; }
for kv in year="$YEAR" cap_fen=1000000000 issued_fen=450600 issued_count=5 \
    cap_used_fen=390600 cap_peak_fen=450500 headroom_fen=999609400 redeemed_fen=90000 \
    settled_fen=40000 open_claims_fen=50000 transferred_fen=140000 revoked_fen=60000 \
    expired_fen=500 active_fen=300100 outstanding_fen=300600 cap_held=True \
    conservation_holds=True totals_match=True program_caps_held=True holder_caps_held=True; do
    figure "d['${kv%%=*}']" "${kv#*=}"
done
figure 'd["height"] > 0 and len(d["tip_hash"]) == 64' True
figure '[[p[k] for k in ("issued_fen", "redeemed_fen", "revoked_fen", "expired_fen")]
    for p in d["programs"] if p["name"] == "general"]' "[[150600, 90000, 60000, 500]]"
figure '[[c["redeemed_fen"], c["settled_fen"], sorted(x["contract_ref"] for x in c["claims"])]
    for c in d["centres"] if c["centre"] == "'"$C1"'"]' "[[90000, 40000, ['SC-1', 'SC-2']]]"
figure '[x["payment_ref"] for c in d["centres"] for x in c["claims"] if x["settled"]]' \
    "['PAY-1']"
figure '[[h["issued_fen"], h["held_fen"], h["redeemed_fen"]]
    for h in d["holders"] if h["holder"] == "'"$H1"'"]' "[[100000, 0, 90000]]"
figure '[[c["used_fen"], c["cap_fen"], c["cap_held"]] for h in d["holders"]
    if h["holder"] == "'"$H2"'" for c in h["caps"] if c["program"] == "national-major"]' \
    "[[300000, 300000000, True]]"
figure '[[a["voucher"], a["party"], a["affiliation"]]
    for a in d["anomalies"] if a["kind"] == "affiliated_redemption"]' \
    "[['$V3B', '$I2', 'scc-group']]"
# What the audit shows: applications, contracts, holder classes, centres, revocations.
figure '[[a["count"], a["asked_fen"], a["issued_count"], a["issued_fen"], a["rejected_count"],
    a["open_count"]] for a in d["applications"] if a["program"] == "national-major"]' \
    "[[1, 300000, 1, 300000, 0, 0]]"
figure '[[c["contract_ref"], c["applicant"], c["cost_fen"], c["issued_fen"], c["share_used_bp"],
    c["share_held"], c["row_matches"]] for c in d["contracts"]]' \
    "[['QC-2', '$H2', 1000000, 300000, 3000, True, True]]"
figure '[[k["class"], k["issued_fen"], k["redeemed_fen"], k["held_fen"]]
    for k in d["holder_classes"] if k["class"] in ("enterprise", "university")]' \
    "[['enterprise', 100000, 90000, 0], ['university', 300100, 0, 300100]]"
figure '[[c["paid_fen"], c["claims_count"], c["claimed_fen"], c["settled_fen"]]
    for c in d["centre_payments"] if c["centre"] == "'"$C1"'"]' "[[90000, 2, 90000, 40000]]"
figure '[[r["voucher"], r["amount_fen"], r["reason"]] for r in d["revocations"]]' \
    "[['$CH1', 60000, 'audit finding']]"
figure 'd["year_in_policy_window"]' True
expect 0 "audit table" "$SLQ" audit --year "$YEAR"
check "the table says the cap held" grep -q "cap held at every block *yes" "$T/out"
check "the table has the contracts with their units" grep -q "ASKED (YUAN)" "$T/out"
check "the table shows the conservation equation" grep -q \
    "issued 4506.00 = active 3001.00 + redeemed 900.00 + revoked 600.00 + expired 5.00" "$T/out"
expect 0 "audit --csv" "$SLQ" audit --year "$YEAR" --csv
check "the CSV has one fact per row" grep -qx "$YEAR,year,,issued_fen,450600" "$T/out"
check "the CSV has the revocation's reason" grep -qx "$YEAR,revocation,1,reason,audit finding" \
    "$T/out"
check "the CSV has the contract's share" grep -qx "$YEAR,contract,QC-2,share_used_bp,3000" \
    "$T/out"
expect 1 "audit with a year out of range" "$SLQ" audit --year 1999
expect 2 "verify-report of an empty file" "$SLQ" audit verify-report /dev/null

echo "== a signed report"
expect 0 "audit --sign" "$SLQ" audit --year "$YEAR" --sign "$K/regulator.pem"
cp "$T/out" "$T/signed.json"
check "the envelope carries the node's bytes" test \
    "$(jget 'd["signer"]' <"$T/signed.json")" = "$REG"
expect 0 "verify-report of the signed report" "$SLQ" audit verify-report "$T/signed.json"
check "verify-report names the signer" grep -q "signed by $REG" "$T/out"
expect 0 "verify-report with the right --signer" "$SLQ" audit verify-report "$T/signed.json" \
    --signer "$REG"
expect 2 "verify-report with another --signer" "$SLQ" audit verify-report "$T/signed.json" \
    --signer "$H1"
"$PY" - "$T/signed.json" "$T/flipped.json" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.index(b'"issued_fen":') + len(b'"issued_fen":')
b[i] ^= 0x01  # one digit of the issued total
open(sys.argv[2], "wb").write(b)
PY
expect 2 "verify-report of a flipped byte" "$SLQ" audit verify-report "$T/flipped.json"
expect 1 "verify-report of a missing file" "$SLQ" audit verify-report "$T/nothing.json"

echo "== slqd verify on the stopped node"
H=$("$SLQ" --json status | jget 'd["height"]')
check "the API report is of the current height" test "$(jget 'd["height"]' <"$T/api.json")" = "$H"
kill -TERM "$NODE_PID"
wait "$NODE_PID"
NODE_PID=
fingerprint "$HOME0/data" >"$T/before"
expect 0 "slqd verify" "$SLQD" verify --home "$HOME0"
check "verify prints a summary line" grep -q "^verified: chain slq-testnet height $H " "$T/out"
expect 0 "slqd verify --report --json --year" "$SLQD" verify --home "$HOME0" --report --json \
    --year "$YEAR"
check "the offline report is byte-identical to the API's" cmp "$T/out" "$T/api.json"
expect 0 "slqd verify --report (table)" "$SLQD" verify --home "$HOME0" --report
check "the table covers the year" grep -q "^budget year $YEAR" "$T/out"
expect 0 "slqd verify --report --csv" "$SLQD" verify --home "$HOME0" --report --csv --year "$YEAR"
check "the CSV has the issued total" grep -qx "$YEAR,year,,issued_fen,450600" "$T/out"
expect 0 "slqd verify --report --sign" "$SLQD" verify --home "$HOME0" --report --year "$YEAR" \
    --sign "$K/regulator.pem"
cp "$T/out" "$T/signed2.json"
expect 0 "slq verifies slqd's signed report" "$SLQ" audit verify-report "$T/signed2.json"
expect 2 "slqd verify --json without --report is a usage error" "$SLQD" verify --home "$HOME0" \
    --json
mkdir "$T/nodata" && cp "$HOME0/genesis.json" "$T/nodata/"
expect 2 "slqd verify of a home without data" "$SLQD" verify --home "$T/nodata"
check "and it creates no data directory" test ! -e "$T/nodata/data"
fingerprint "$HOME0/data" >"$T/after"
check "verify leaves the data directory byte-identical" cmp "$T/before" "$T/after"
check "slqd --home still runs the node afterwards" \
    timeout --preserve-status -s TERM 2 "$SLQD" --home "$HOME0"

echo "== four validators stopped at one height"
BASE4=$(free_base_port 4)
NET="$T/net4"
"$SLQ" testnet --validators 4 --out "$NET" --base-port "$BASE4" >/dev/null || exit 1
api() { echo "http://127.0.0.1:$((BASE4 + 2 * $1 + 1))"; }
for i in 0 1 2 3; do
    set_config "$NET/node$i/config.json" empty_block_interval_ms 30000
    "$SLQD" --home "$NET/node$i" 2>>"$T/net4-$i.log" &
    PID[$i]=$!
done
for i in 0 1 2 3; do wait_ready "$(api "$i")" || fail "validator $i did not start"; done
# Transactions are relayed when admitted: wait until every validator has its three peers.
peers() { curl -s "$(api "$1")/metrics" | awk '/^slq_peers / {print $2}'; }
for i in 0 1 2 3; do
    for _ in $(seq 1 100); do [ "$(peers "$i")" = 3 ] && break; sleep 0.1; done
done
INTER=$("$SLQ" address --key "$NET/keys/intermediary.pem")
for ref in N1 N2; do
    check "a transaction commits ($ref)" "$SLQ" --node "$(api 0)" issue \
        --key "$NET/keys/issuer.pem" --to "$INTER" --amount 7 --program general --ref "$ref"
done
H4=$(height 0)
same=no
for _ in $(seq 1 100); do
    [ "$(height 1)" = "$H4" ] && [ "$(height 2)" = "$H4" ] && [ "$(height 3)" = "$H4" ] &&
        { same=yes; break; }
    sleep 0.1
done
for i in 0 1 2 3; do
    kill -TERM "${PID[$i]}"
    wait "${PID[$i]}"
    unset "PID[$i]"
done
check "the four validators reached height $H4" test "$same" = yes
for i in 0 1; do
    expect 0 "slqd verify --report --json of node $i" "$SLQD" verify --home "$NET/node$i" \
        --report --json
    cp "$T/out" "$T/report$i.json"
done
check "both reports are of one height" test "$(jget 'd["height"]' <"$T/report0.json")" = \
    "$(jget 'd["height"]' <"$T/report1.json")"
check "the reports of two nodes are byte-identical" cmp "$T/report0.json" "$T/report1.json"
check "the issued total is in the report" test \
    "$(jget '[y["issued_fen"] for y in d["years"]]' <"$T/report0.json")" = "[1400]"

summary
