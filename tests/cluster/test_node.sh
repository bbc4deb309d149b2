#!/usr/bin/env bash
# test_node.sh: one real slqd on 127.0.0.1, driven only through the slq CLI.
#   - the voucher lifecycle with every command, human and --json output;
#   - every rejection reason a user can meet reaches them with exit code 2 and its name;
#   - a restart keeps all state; kill -9 during a stream of transactions loses no committed
#     transaction and leaves a consistent store;
#   - admission: resubmitted bytes answer their first result (pending, then committed with the
#     height), a nonce already used or past the pending window is refused with NONCE_INVALID,
#     batches and transactions over their limits are refused;
#   - each malformed HTTP request and oversized body gets its own status and error name, and
#     the node stays up.
# usage: test_node.sh PATH_TO_SLQ PATH_TO_SLQD. Prints "N passed, N failed".
set -u
SLQ=${1:?usage: test_node.sh SLQ SLQD}
SLQD=${2:?usage: test_node.sh SLQ SLQD}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
T=$(mktemp -d)
NODE_PID=
STREAM_PID=
PROXY_PID=
cleanup() {
    [ -n "$STREAM_PID" ] && kill "$STREAM_PID" 2>/dev/null
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
    [ -n "$NODE_PID" ] && kill -9 "$NODE_PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

BASE=$(free_base_port 1)
API="http://127.0.0.1:$((BASE + 1))"
export SLQ_NODE=$API
"$SLQ" testnet --validators 1 --out "$T/net" --base-port "$BASE" >/dev/null || exit 1
K="$T/net/keys"
HOME0="$T/net/node0"
LOG="$T/node0.log"
echo "== a bad home is refused with one line naming the file"
# bad_home DESCRIPTION PATTERN SETUP...: copies node0's home, breaks it with SETUP (run in
# the copy), and expects slqd to exit 1 at once with PATTERN on stderr.
bad_home() {
    local desc=$1 pattern=$2
    shift 2
    rm -rf "$T/bad" && cp -r "$HOME0" "$T/bad"
    (cd "$T/bad" && eval "$*")
    timeout 10 "$SLQD" --home "$T/bad" >/dev/null 2>"$T/err"
    local rc=$?
    if [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$pattern" "$T/err"; then
        pass
    else
        fail "$desc: exit $rc, stderr: $(head -c 300 "$T/err")"
    fi
}
bad_home "no genesis" "genesis.json: No such file" rm genesis.json
bad_home "genesis not JSON" "genesis.json" "echo '{' > genesis.json"
bad_home "config not JSON" "config.json: not a JSON object" "echo '[1' > config.json"
bad_home "unknown config key" 'config.json: key "colour"' \
    "sed -i 's/\"peers\"/\"colour\"/' config.json"
bad_home "no key file" "node.pem: No such file" rm node.pem
bad_home "garbage key" "node.pem: key file is not" "echo junk > node.pem"
bad_home "key of the other suite" "node.pem: key is not" \
    "openssl genpkey -algorithm SM2 -out node.pem 2>/dev/null"
# A node key group or others may read (or write) is refused, as ssh refuses such private keys:
# one line with the file, its mode and the fix, before anything is opened or served.
bad_home "a node key readable by group or others" \
    "^slqd: key file $T/bad/node.pem is readable by group or others (mode 0644): run chmod 600 $T/bad/node.pem\$" \
    chmod 644 node.pem
check "... and nothing was started: no data/" test ! -e "$T/bad/data"
bad_home "a node key writable by group" "(mode 0620): run chmod 600 $T/bad/node.pem" \
    chmod 620 node.pem
"$SLQ" testnet --validators 1 --out "$T/other" --base-port "$BASE" >/dev/null
rm -rf "$T/bad" && cp -r "$HOME0" "$T/bad"
timeout -s TERM 1 "$SLQD" --home "$T/bad" 2>/dev/null # creates data/ for this genesis
cp "$T/other/node0/genesis.json" "$T/bad/"
timeout 10 "$SLQD" --home "$T/bad" >/dev/null 2>"$T/err"
check "data of another genesis is refused" grep -q "data/ holds the chain of another genesis" "$T/err"
check "usage without --home" test "$("$SLQD" 2>&1 >/dev/null; echo $?)" = "usage: slqd --home DIR [--log debug|info|warn|error] [--reset-signer]
1"

start_node "$HOME0" "$LOG"
wait_ready "$API" || { echo "node did not start"; cat "$LOG"; exit 1; }

addr() { "$SLQ" address --key "$K/$1.pem"; }
H1=$(addr holder-1)
H2=$(addr holder-2)
H3=$(addr holder-3)
C1=$(addr centre-1)
INTER=$(addr intermediary)
YEAR=$(TZ=Asia/Shanghai date +%Y)
"$SLQ" keygen --out "$T/new.pem" >"$T/out" && NEW=$(cat "$T/out")
tx() { "$SLQ" --json "$@"; } # a transaction command with --json

echo "== lifecycle"
expect 0 "status" "$SLQ" --json status
check "status has chain_id, height, tip_hash, validators" \
    jget '[d["chain_id"], d["height"], d["tip_hash"], d["validators"][0]["address"]]' <"$T/out"
expect 0 "register an SME" "$SLQ" register --key "$K/issuer.pem" --address "$H1" \
    --role enterprise --name "成都某AI公司" --credit-code "$(credit_code 1)"
expect 0 "register a university" "$SLQ" register --key "$K/issuer.pem" --address "$H2" \
    --role university --name "某大学" --credit-code "$(credit_code 2)"
expect 0 "register a maker of the centre's group" "$SLQ" register --key "$K/issuer.pem" \
    --address "$H3" --role maker --name "创客" --affiliation scc-group \
    --credit-code "$(credit_code 3)"
expect 0 "issue 1000 yuan" tx issue --key "$K/issuer.pem" --to "$H1" --amount 1000 \
    --program general --ref A1
check "issue answers committed with the voucher" \
    test "$(jget 'd["status"]' <"$T/out")" = committed
V1=$(jget 'd["vouchers"][0]' <"$T/out")
ISSUE_TX=$(jget 'd["tx"]' <"$T/out")
echo "quotation of compute for 某大学" >"$T/quote.txt"
expect 0 "a university applies for a national-major voucher" tx apply --key "$K/holder-2.pem" \
    --program national-major --amount 3000 --contract QC-2 --cost 10000 --evidence "$T/quote.txt"
APP2=$(jget 'd["application"]' <"$T/out")
check "apply answers an application id" test ${#APP2} -eq 64
expect 0 "the issuer issues it" tx issue --key "$K/issuer.pem" --application "$APP2"
check "... the voucher of the amount asked" test "$(jget 'd["status"], len(d["vouchers"])' <"$T/out")" = "committed 1"
expect 0 "pay a centre 400 yuan" tx transfer --key "$K/holder-1.pem" --voucher "$V1" \
    --to "$C1" --amount 400
P=$(jget 'd["vouchers"][0]' <"$T/out")
CHANGE=$(jget 'd["vouchers"][1]' <"$T/out")
expect 0 "the centre redeems" tx redeem --key "$K/centre-1.pem" --voucher "$P" --contract SC-1
CLAIM=$(jget 'd["claim"]' <"$T/out")
check "redeem answers a claim id" test ${#CLAIM} -eq 64
expect 2 "finance cannot settle an unreviewed claim" "$SLQ" settle --key "$K/finance.pem" \
    --claim "$CLAIM" --payment PAY-1 --payer city
check "... CLAIM_NOT_APPROVED" grep -q CLAIM_NOT_APPROVED "$T/err"
expect 0 "finance approves the claim" "$SLQ" review --key "$K/finance.pem" --claim "$CLAIM" \
    --approve --reason "invoice checked"
expect 0 "finance settles, paid by the district" "$SLQ" settle --key "$K/finance.pem" \
    --claim "$CLAIM" --payment PAY-1 --payer 高新区
expect 0 "the issuer revokes the change" "$SLQ" revoke --key "$K/issuer.pem" \
    --voucher "$CHANGE" --reason "audit finding"
expect 0 "balance" "$SLQ" --json balance "$H2"
check "balance --json shape and total" test "$(jget 'd["total_fen"], sorted(d["vouchers"][0])' <"$T/out")" = \
    "300000 ['amount_fen', 'budget_year', 'expires_at_ms', 'id', 'program', 'state']"
expect 0 "balance in yuan" "$SLQ" balance "$H2"
check "balance prints yuan" grep -q "3000.00" "$T/out"
expect 0 "vouchers" "$SLQ" vouchers "$H1"
expect 0 "voucher with lineage" "$SLQ" --json voucher "$P"
check "lineage reaches the issued voucher" test "$(jget 'd["lineage"][-1]["id"]' <"$T/out")" = "$V1"
expect 0 "tx" "$SLQ" --json tx "$ISSUE_TX"
check "tx is committed" test "$(jget 'd["status"]' <"$T/out")" = committed
expect 0 "latest block" "$SLQ" block
expect 0 "block 1" "$SLQ" --json block 1
check "block 1 has height 1" test "$(jget 'd["height"]' <"$T/out")" = 1
expect 0 "claims" "$SLQ" claims
check "claims shows the review and who paid" grep -q "approved (invoice checked) *yes: PAY-1, 高新区 paid 400.00" "$T/out"
expect 0 "claims of a centre" "$SLQ" --json claims --centre "$C1"
check "the claim is settled" test "$(jget 'd["claims"][0]["settled"]' <"$T/out")" = True
check "... approved, and paid in full by the district" \
    test "$(jget '[d["claims"][0][k] for k in ("review", "paid_fen", "payer")]' <"$T/out")" = \
    "['approved', 40000, '高新区']"
expect 0 "audit" "$SLQ" --json audit --year "$YEAR"
check "audit figures" test "$(jget '[d[k] for k in ("issued_fen","redeemed_fen","settled_fen","revoked_fen","cap_held","conservation_holds")]' <"$T/out")" = \
    "[400000, 40000, 40000, 60000, True, True]"

echo "== audits and reports are built off the loop: a burst gets each whole, or 503 BUSY"
BURST=()
for i in 1 2 3 4 5 6 7 8; do
    kind=report
    [ $((i % 2)) = 0 ] && kind=audit
    curl -s -o "$T/burst.$i" -w '%{http_code}' "$API/v1/$kind/$YEAR" >"$T/burst.$i.code" &
    BURST+=($!)
done
wait "${BURST[@]}"
curl -s "$API/v1/report/$YEAR" >"$T/burst.ref.report"
curl -s "$API/v1/audit/$YEAR" >"$T/burst.ref.audit"
check "each answer of the burst is the document at some height, or BUSY" "$PY" - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
moving = ("height", "tip_hash", "time_ms")
def strip(d): return {k: v for k, v in d.items() if k not in moving}
ref = {k: strip(json.load(open(f"{t}/burst.ref.{k}"))) for k in ("report", "audit")}
whole = 0
for i in range(1, 9):
    kind = "audit" if i % 2 == 0 else "report"
    code = open(f"{t}/burst.{i}.code").read()
    body = json.load(open(f"{t}/burst.{i}"))
    if code == "200" and strip(body) == ref[kind]:
        whole += 1
    elif not (code == "503" and body.get("error") == "BUSY"):
        sys.exit(f"request {i} ({kind}): HTTP {code}: {body}")
sys.exit(0 if whole >= 2 else f"only {whole} of 8 answered")
PYEOF

echo "== rejections (exit 2, with the reason)"
reject ROLE_FORBIDDEN "a holder cannot issue" issue --key "$K/holder-1.pem" --to "$H1" \
    --amount 1 --program general --ref R1
reject CITY_CAP_EXCEEDED "over the city cap" issue --key "$K/issuer.pem" --to "$H1" \
    --amount 10000000 --program general --ref R2
# apply_as KEY ARGS...: an application by KEY; its id in $APP.
apply_as() {
    local key=$1
    shift
    APP=$(tx apply --key "$K/$key.pem" --evidence "$T/quote.txt" "$@" | jget 'd["application"]')
}
apply_as holder-2 --program national-major --amount 2997001 --contract QC-R3 --cost 10000000
reject HOLDER_CAP_EXCEEDED "over the holder's cap" issue --key "$K/issuer.pem" --application "$APP"
reject SHARE_EXCEEDED "an ask over 30% of the cost" apply --key "$K/holder-2.pem" \
    --evidence "$T/quote.txt" --program national-major --amount 3000.01 --contract QC-R4 \
    --cost 10000
reject COST_REQUIRED "no cost for a share program" apply --key "$K/holder-2.pem" \
    --program national-major --amount 100 --contract QC-R5 --evidence "$T/quote.txt"
reject APPLICATION_REQUIRED "a direct issue in a program that requires applications" issue \
    --key "$K/issuer.pem" --to "$H2" --amount 100 --cost 10000 --program provincial-major \
    --ref R5
reject APPLICATION_REF_USED "application used twice" issue --key "$K/issuer.pem" --to "$H2" \
    --amount 100 --program general --ref A1
reject HOLDER_CANNOT_HOLD "a centre is not issued to" issue --key "$K/issuer.pem" --to "$C1" \
    --amount 100 --program general --ref R6
reject ACCOUNT_UNKNOWN "an unregistered recipient" issue --key "$K/issuer.pem" --to "$NEW" \
    --amount 100 --program general --ref R7
reject PROGRAM_UNKNOWN "no such program" issue --key "$K/issuer.pem" --to "$H1" \
    --amount 100 --program lottery --ref R8
reject EXPIRY_INVALID "expiry in the past" issue --key "$K/issuer.pem" --to "$H1" \
    --amount 100 --program general --ref R9 --expires-ms 1000
reject SIGNER_UNKNOWN "an unregistered signer" issue --key "$T/new.pem" --to "$H1" \
    --amount 100 --program general --ref R10
reject ACCOUNT_EXISTS "registered twice" register --key "$K/issuer.pem" --address "$H1" \
    --role enterprise --name again --credit-code "$(credit_code 4)"
reject ROLE_INVALID "issuers come only from genesis" register --key "$K/issuer.pem" \
    --address "$NEW" --role issuer --name second
tx issue --key "$K/issuer.pem" --to "$H1" --amount 500 --program general --ref B1 >"$T/out"
V2=$(jget 'd["vouchers"][0]' <"$T/out")
reject AMOUNT_EXCEEDS_REMAINING "more than the voucher holds" transfer \
    --key "$K/holder-1.pem" --voucher "$V2" --to "$C1" --amount 500.01
reject NOT_HOLDER "someone else's voucher" transfer --key "$K/holder-2.pem" --voucher "$V2" \
    --to "$C1" --amount 1
reject VOUCHER_REVOKED "a revoked voucher" transfer --key "$K/holder-1.pem" \
    --voucher "$CHANGE" --to "$C1" --amount 1
reject VOUCHER_SPLIT "a voucher already passed on" transfer --key "$K/holder-1.pem" \
    --voucher "$V1" --to "$C1" --amount 1
reject EDGE_NOT_ALLOWED "holder to holder in general" transfer --key "$K/holder-1.pem" \
    --voucher "$V2" --to "$H2" --amount 1
reject SELF_TRANSFER "to oneself" transfer --key "$K/holder-1.pem" --voucher "$V2" \
    --to "$H1" --amount 1
reject VOUCHER_UNKNOWN "no such voucher" transfer --key "$K/holder-1.pem" \
    --voucher "$(printf '%064d' 7)" --to "$C1" --amount 1
reject VOUCHER_REDEEMED "redeemed twice" redeem --key "$K/centre-1.pem" --voucher "$P" \
    --contract SC-2
tx issue --key "$K/issuer.pem" --to "$H3" --amount 100 --program general --ref B2 >"$T/out"
V3=$(jget 'd["vouchers"][0]' <"$T/out")
reject RELATED_PARTY "paying a centre of one's own group" transfer --key "$K/holder-3.pem" \
    --voucher "$V3" --to "$C1" --amount 10
"$SLQ" keygen --out "$T/rogue.pem" >"$T/out" && ROGUE=$(cat "$T/out")
expect 0 "register a centre the programs do not name" "$SLQ" register --key "$K/issuer.pem" \
    --address "$ROGUE" --role centre --name "某算力中心"
reject CENTRE_NOT_NAMED "paying a centre the program does not name" transfer \
    --key "$K/holder-1.pem" --voucher "$V2" --to "$ROGUE" --amount 10
tx transfer --key "$K/holder-1.pem" --voucher "$V2" --to "$C1" --amount 10 >"$T/out"
P2=$(jget 'd["vouchers"][0]' <"$T/out")
reject CONTRACT_REF_USED "a contract claimed twice" redeem --key "$K/centre-1.pem" \
    --voucher "$P2" --contract SC-1
reject CONTRACT_REF_USED "the same contract in full-width lower case" redeem \
    --key "$K/centre-1.pem" --voucher "$P2" --contract " ｓｃ－１ "
reject CONTRACT_REF_INVALID "a contract reference of spaces only" redeem \
    --key "$K/centre-1.pem" --voucher "$P2" --contract "　 "
reject VOUCHER_PAID "the issuer revokes a centre's payment" revoke --key "$K/issuer.pem" \
    --voucher "$P2" --reason "audit finding"
reject VOUCHER_LISTED_TWICE "a voucher listed twice" redeem --key "$K/centre-1.pem" \
    --voucher "$P2,$P2" --contract SC-3
reject NOT_HOLDER "a voucher the centre does not hold" redeem --key "$K/centre-1.pem" \
    --voucher "$V3" --contract SC-4
reject CLAIM_SETTLED "a claim settled twice" settle --key "$K/finance.pem" --claim "$CLAIM" \
    --payment PAY-2 --payer city
reject CLAIM_UNKNOWN "no such claim" settle --key "$K/finance.pem" \
    --claim "$(printf '%064d' 9)" --payment PAY-3 --payer city
reject ROLE_FORBIDDEN "only finance settles" settle --key "$K/issuer.pem" --claim "$CLAIM" \
    --payment PAY-4 --payer city
reject PAYER_UNKNOWN "a payer the genesis does not list" settle --key "$K/finance.pem" \
    --claim "$CLAIM" --payment PAY-5 --payer 锦江区
reject CLAIM_SETTLED "a settled claim is not reviewed again" review --key "$K/finance.pem" \
    --claim "$CLAIM" --reject --reason "second thoughts"
reject ROLE_FORBIDDEN "a holder cannot review" review --key "$K/holder-1.pem" --claim "$CLAIM" \
    --approve --reason "mine"
expect 1 "review needs exactly one of --approve and --reject" "$SLQ" review \
    --key "$K/finance.pem" --claim "$CLAIM" --approve --reject --reason x
tx redeem --key "$K/centre-1.pem" --voucher "$P2" --contract SC-5 >"$T/out"
CLAIM2=$(jget 'd["claim"]' <"$T/out")
"$SLQ" --json audit --year "$YEAR" >"$T/out"
CAP_BEFORE=$(jget 'd["cap_used_fen"]' <"$T/out")
expect 0 "the regulator rejects the second claim" "$SLQ" review --key "$K/regulator.pem" \
    --claim "$CLAIM2" --reject --reason "no delivery proof"
reject CLAIM_REVIEWED "a claim reviewed twice" review --key "$K/finance.pem" --claim "$CLAIM2" \
    --approve --reason "second thoughts"
reject CLAIM_NOT_APPROVED "a rejected claim is never settled" settle --key "$K/finance.pem" \
    --claim "$CLAIM2" --payment PAY-6 --payer city
"$SLQ" --json audit --year "$YEAR" >"$T/out"
check "the audit shows it clawed back, out of the cap's use, and still balances" \
    test "$(jget '[d["clawed_back_fen"], d["rejected_claims"], d["cap_used_fen"], d["conservation_holds"]]' <"$T/out")" = \
    "[1000, 1, $((CAP_BEFORE - 1000)), True]"
expect 0 "slq audit in tables" "$SLQ" audit --year "$YEAR"
check "... shows what was clawed back" grep -q "clawed back (rejected)" "$T/out"
check "... and who settled" grep -q "settled by payer" "$T/out"
NOW_MS=$(($(date +%s%3N) + 2500))
tx issue --key "$K/issuer.pem" --to "$H1" --amount 5 --program general --ref B3 \
    --expires-ms "$NOW_MS" >"$T/out"
V4=$(jget 'd["vouchers"][0]' <"$T/out")
# A voucher of the same instant paid to the centre before it expires: redeemable in the grace.
tx issue --key "$K/issuer.pem" --to "$H1" --amount 6 --program general --ref B3G \
    --expires-ms "$NOW_MS" >"$T/out"
tx transfer --key "$K/holder-1.pem" --voucher "$(jget 'd["vouchers"][0]' <"$T/out")" \
    --to "$C1" --amount 6 >"$T/out"
VG=$(jget 'd["vouchers"][0]' <"$T/out")
while [ "$(date +%s%3N)" -le $((NOW_MS + 300)) ]; do sleep 0.2; done
reject VOUCHER_EXPIRED "an expired voucher" transfer --key "$K/holder-1.pem" --voucher "$V4" \
    --to "$C1" --amount 1
check "the centre's expired voucher, in its programme's grace, counts in its balance as active" \
    test "$("$SLQ" --json balance "$C1" | jget "[v['state'] for v in d['vouchers'] if v['id'] == '$VG']")" \
    = "['active']"
check "... and the holder's is expired" test "$("$SLQ" --json vouchers "$H1" | \
    jget "[v['state'] for v in d['vouchers'] if v['id'] == '$V4']")" = "['expired']"

echo "== one account per credit code: a second address of the same enterprise gets no caps"
# Per-holder caps are per address; registering a second address with the SME's credit code
# would give it another 3,000,000 yuan of national-major this year. The ledger refuses it.
"$SLQ" keygen --out "$T/twin.pem" >"$T/out" && TWIN=$(cat "$T/out")
reject CREDIT_CODE_USED "a second address with the SME's credit code" register \
    --key "$K/issuer.pem" --address "$TWIN" --role enterprise --name "成都某AI公司·二" \
    --credit-code "$(credit_code 1)"
check "the refusal names the account that has the code" grep -q "$H1 has it" "$T/err"
reject CREDIT_CODE_USED "the same code in lower case" register --key "$K/issuer.pem" \
    --address "$TWIN" --role maker --name twin --credit-code "$(credit_code 1 | tr A-Z a-z)"
reject CREDIT_CODE_USED "the genesis intermediary's code" register --key "$K/issuer.pem" \
    --address "$TWIN" --role enterprise --name twin --credit-code "$(credit_code 8)"
check "that refusal names the intermediary" grep -q "$INTER has it" "$T/err"
reject ACCOUNT_UNKNOWN "so the second address is issued nothing" issue --key "$K/issuer.pem" \
    --to "$TWIN" --amount 3000000 --program general --ref TWIN-1
expect 1 "an enterprise without a credit code is refused by slq, before sending" \
    "$SLQ" register --key "$K/issuer.pem" --address "$TWIN" --role enterprise --name twin

echo "== applications: the share of a contract's cost is cumulative (the issue's attack)"
# Two applications of 300,000 yuan against one contract of 1,000,000 with a 30% share: the
# first issue takes the whole share, the second is refused, whatever the contract's spelling.
apply_as holder-1 --program national-major --amount 300000 --contract HT-2026-007 --cost 1000000
A1=$APP
apply_as holder-1 --program national-major --amount 300000 --contract " ht-2026-007" \
    --cost 1000000
A2=$APP
check "two applications against one contract are open" test "$(tx applications --holder "$H1" \
    --status open | jget 'len(d["applications"])')" = 2
expect 0 "the first issue of 300,000 is accepted" tx issue --key "$K/issuer.pem" \
    --application "$A1"
reject SHARE_EXCEEDED "the second issue of 300,000 against the same contract" issue \
    --key "$K/issuer.pem" --application "$A2"
check "... with the figures" grep -q "30000000 fen issued + 30000000 fen > 3000 bp of 100000000 fen" \
    "$T/err"
expect 0 "the application" tx applications
check "... and its contract's figures" test "$(curl -s "$API/v1/applications/$A2" | \
    jget 'd["status"], d["contract"]["issued_fen"], d["contract"]["share_limit_fen"]')" = \
    "open 30000000 30000000"
reject APPLICATION_CLOSED "an application issued twice" issue --key "$K/issuer.pem" \
    --application "$A1"
reject APPLICATION_MISMATCH "more than was asked" issue --key "$K/issuer.pem" \
    --application "$A2" --amount 300000.01
reject APPLICATION_MISMATCH "the same contract at another cost" apply --key "$K/holder-1.pem" \
    --program national-major --amount 1 --contract HT-2026-007 --cost 2000000 \
    --evidence "$T/quote.txt"
reject ROLE_FORBIDDEN "a centre applies" apply --key "$K/centre-1.pem" --program general \
    --amount 1 --contract HT-1 --evidence "$T/quote.txt"
expect 0 "the issuer rejects the second application" tx reject --key "$K/issuer.pem" \
    --application "$A2" --reason "the contract's share is used up"
check "... which is rejected with the reason" test "$(curl -s "$API/v1/applications/$A2" | \
    jget 'd["status"], d["reason"]')" = "rejected the contract's share is used up"
reject APPLICATION_CLOSED "a rejected application is not issued" issue --key "$K/issuer.pem" \
    --application "$A2"
reject APPLICATION_UNKNOWN "no such application" reject --key "$K/issuer.pem" \
    --application "$(printf '%064d' 5)" --reason no
expect 0 "applications in a table" "$SLQ" applications --status rejected
check "... lists the rejected one" grep -q "rejected: the contract's share is used up" "$T/out"

echo "== admission: a resubmission answers its first result; a nonce outside the window is refused"
# A proxy in front of the node hands the CLI a chosen pending_nonce and keeps the transaction
# it signs instead of passing it on, so that the test can post those exact bytes itself.
nonce_proxy_start "$API"
# post BODY: POST /v1/txs; the HTTP status in $CODE, the answer in $T/post.
post() {
    CODE=$(curl -s -o "$T/post" -w '%{http_code}' --data-binary "$1" "$API/v1/txs")
}
# result KEYS, error KEYS: the values of KEYS (space-separated) in the answer's first result,
# or in the answer itself (a refused single transaction answers the error object).
result() { jget "' '.join(str(d['results'][0].get(k)) for k in '$*'.split())" <"$T/post"; }
error() { jget "' '.join(str(d.get(k)) for k in '$*'.split())" <"$T/post"; }
nonce_of() { curl -s "$API/v1/accounts/$1" | jget 'd["nonce"]'; }
# committed_height HASH: waits (at most 10 s) for the transaction to commit; prints its height.
committed_height() {
    local i
    for i in $(seq 1 100); do
        curl -s "$API/v1/txs/$1" >"$T/txq"
        [ "$(jget 'd.get("status")' <"$T/txq")" = committed ] && break
        sleep 0.1
    done
    jget 'd.get("height")' <"$T/txq"
}
ISSUER=$(addr issuer)
N0=$(nonce_of "$ISSUER")
TX_A=$(signed $((N0 + 1)) issue --key "$K/issuer.pem" --to "$H1" --amount 1.11 --program general \
    --ref N1)
TX_B=$(signed $((N0 + 2)) issue --key "$K/issuer.pem" --to "$H1" --amount 2.22 --program general \
    --ref N2)
post "{\"tx\": \"$TX_B\"}"
HASH_B=$(result tx)
check "a nonce after a gap is accepted: 202 pending" test "$CODE $(result status)" = "202 pending"
check "the account says what to sign after (the gap's start) and what waits behind it" \
    test "$(curl -s "$API/v1/accounts/$ISSUER" | jget 'd["pending_nonce"], d["pending_max_nonce"]')" \
    = "$N0 $((N0 + 2))"
check "GET /v1/accounts says the gap: the missing nonce, one waiting, dropped within 60 s" \
    test "$(curl -s "$API/v1/accounts/$ISSUER" | jget 'd["gap"]["missing_from"],
        d["gap"]["missing_to"], d["gap"]["waiting"], 0 < d["gap"]["expires_in_ms"] <= 60000')" \
    = "$((N0 + 1)) $((N0 + 1)) 1 True"
"$SLQ" account "$ISSUER" >"$T/acct" 2>&1
check "slq account shows the gap to people" \
    grep -Eq "^gap +nonce $((N0 + 1)) missing: 1 transaction waits behind, dropped in [0-9]+ s" \
    "$T/acct"
"$SLQ" tx "$HASH_B" >"$T/txb" 2>&1
check "slq tx of the waiting transaction shows what it waits for" \
    grep -Eq "^gap +nonce $((N0 + 1)) missing" "$T/txb"
post "{\"tx\": \"$TX_B\"}"
check "the same bytes again while pending: 202 pending, the same hash" \
    test "$CODE $(result status tx)" = "202 pending $HASH_B"
post "{\"tx\": \"$TX_A\"}"
HASH_A=$(result tx)
check "the gap filled: 202 pending" test "$CODE $(result status)" = "202 pending"
H_B=$(committed_height "$HASH_B")
check "both commit" test "$(nonce_of "$ISSUER")" = $((N0 + 2))
"$SLQ" account "$ISSUER" >"$T/acct" 2>&1
check "once filled, slq account shows no gap" grep -Eq "^gap +none$" "$T/acct"
post "{\"tx\": \"$TX_B\"}"
check "the same bytes once committed: 202 committed with its height" \
    test "$CODE $(result status height tx error)" = "202 committed $H_B $HASH_B None"
post "{\"txs\": [\"$TX_A\", \"$TX_B\"]}"
check "both again in a batch: 202, each committed, in order" test "$CODE $(jget \
    '" ".join(r["status"] + ":" + r["tx"] for r in d["results"])' <"$T/post")" = \
    "202 committed:$HASH_A committed:$HASH_B"
check "resubmitting applied nothing twice: the nonce, and one voucher of 2.22" test \
    "$(nonce_of "$ISSUER") $("$SLQ" --json balance "$H1" | jget \
    'len([v for v in d["vouchers"] if v["amount_fen"] == 222])')" = "$((N0 + 2)) 1"
TX_LOW=$(signed $((N0 + 2)) issue --key "$K/issuer.pem" --to "$H1" --amount 3.33 \
    --program general --ref N3)
post "{\"tx\": \"$TX_LOW\"}"
check "a nonce already used by other bytes: 422 NONCE_INVALID" \
    test "$CODE $(error status error code)" = "422 rejected NONCE_INVALID 61"
check "... with the committed nonce in the message" test "$(error message)" = \
    "nonce $((N0 + 2)), last committed $((N0 + 2))"
NI=$(nonce_of "$INTER") # the intermediary signs nothing else in this test
TX_FAR=$(signed $((NI + 1025)) issue --key "$K/intermediary.pem" --to "$H1" --amount 1 \
    --program general --ref F1)
post "{\"tx\": \"$TX_FAR\"}"
check "a nonce past the pending window (committed + 1025): 422 NONCE_INVALID" \
    test "$CODE $(error status error message)" = \
    "422 rejected NONCE_INVALID nonce $((NI + 1025)), last committed $NI"
TX_EDGE=$(signed $((NI + 1024)) issue --key "$K/intermediary.pem" --to "$H1" --amount 1 \
    --program general --ref F2)
post "{\"tx\": \"$TX_EDGE\"}"
check "the last nonce of the window (committed + 1024) waits: 202 pending" \
    test "$CODE $(result status)" = "202 pending"
# txs N: a batch body of N transactions (one byte each, which does not decode).
txs() {
    "$PY" -c 'import sys; print("{\"txs\": [%s]}" % ", ".join(["\"00\""] * int(sys.argv[1])))' "$1"
}
post "$(txs 513)"
check "a batch of 513 (over SLQ_HTTP_BATCH_MAX): 400 JSON_INVALID" \
    test "$CODE $(error error message)" = "400 JSON_INVALID too many transactions in one batch"
post "$(txs 512)"
check "a batch of 512: 202, a result for each" test "$CODE $(jget \
    'len(d["results"]), sorted(set(r["error"] for r in d["results"]))' <"$T/post")" = \
    "202 512 ['TX_MALFORMED']"
# hex N: a single-transaction body of N bytes.
hex() { "$PY" -c 'import sys; print("{\"tx\": \"" + "00" * int(sys.argv[1]) + "\"}")' "$1"; }
post "$(hex 4097)"
check "a transaction of 4097 bytes (over SLQ_TX_BYTES_MAX): 422 TX_TOO_LARGE" \
    test "$CODE $(error status error)" = "422 rejected TX_TOO_LARGE"
post "$(hex 4096)"
check "one of 4096 bytes is decoded (and does not decode): 422 TX_MALFORMED" \
    test "$CODE $(error status error)" = "422 rejected TX_MALFORMED"
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null
PROXY_PID=

echo "== restart keeps all state"
"$SLQ" --json status >"$T/status1"
"$SLQ" --json audit --year "$YEAR" | jget '{k: v for k, v in d.items() if k not in ("height", "tip_hash", "time_ms")}' >"$T/audit1"
"$SLQ" --json balance "$H1" >"$T/bal1"
kill -TERM "$NODE_PID"
wait "$NODE_PID"
check "slqd exits 0 on SIGTERM" test $? -eq 0
check "the log says it stopped" grep -q "node: stop" "$LOG"
# Restarted with its audits and reports held 2 s on the worker (a test hook), so that two
# are certainly accepted (one built, one waiting its turn) when the next requests come.
SLQ_TEST_SCAN_HOLD_MS=2000 start_node "$HOME0" "$LOG"
wait_ready "$API" || fail "node did not restart"
H_OLD=$(jget 'd["height"]' <"$T/status1")
"$SLQ" --json block "$H_OLD" >"$T/out"
check "the old tip is still the block at its height" \
    test "$(jget 'd["hash"]' <"$T/out")" = "$(jget 'd["tip_hash"]' <"$T/status1")"
"$SLQ" --json audit --year "$YEAR" | jget '{k: v for k, v in d.items() if k not in ("height", "tip_hash", "time_ms")}' >"$T/audit2"
check "the audit is unchanged" cmp "$T/audit1" "$T/audit2"

echo "== while two reports are accepted, a third is BUSY and the node answers everything else"
curl -s -o "$T/held.1" -w '%{http_code}' "$API/v1/report/$YEAR" >"$T/held.1.code" &
HELD1=$!
curl -s -o "$T/held.2" -w '%{http_code}' "$API/v1/audit/$YEAR" >"$T/held.2.code" &
HELD2=$!
for _ in $(seq 1 50); do
    [ "$(curl -s "$API/metrics" | awk '/^slq_reports_building / {print $2}')" = 2 ] && break
    sleep 0.1
done
check "metrics count two reports accepted" \
    test "$(curl -s "$API/metrics" | awk '/^slq_reports_building / {print $2}')" = 2
check "a third gets 503 BUSY" test "$(curl -s -D "$T/held.3.head" -o "$T/held.3" \
    -w '%{http_code}' "$API/v1/report/$YEAR")" = 503
check "... which says when to retry" grep -qi '^Retry-After: 1' "$T/held.3.head"
check "... with the error BUSY" test "$(jget 'd["error"]' <"$T/held.3")" = BUSY
expect 0 "status meanwhile" "$SLQ" --json status
expect 0 "a balance meanwhile" "$SLQ" --json balance "$H1"
check "both reports were still unanswered" kill -0 "$HELD1" "$HELD2"
wait "$HELD1" "$HELD2"
check "then the report is answered, the same as before the restart" test "$(cat "$T/held.1.code") $(jget '{k: v for k, v in d.items() if k not in ("height", "tip_hash", "time_ms")}' <"$T/held.1")" = "200 $(cat "$T/audit1")"
check "and the audit" test "$(cat "$T/held.2.code") $(jget 'd["conservation_holds"]' <"$T/held.2")" = "200 True"
"$SLQ" --json balance "$H1" >"$T/bal2"
check "balances are unchanged" cmp "$T/bal1" "$T/bal2"
expect 0 "transactions go on after the restart" "$SLQ" issue --key "$K/issuer.pem" \
    --to "$H1" --amount 1 --program general --ref C1

echo "== kill -9 during a stream of transactions"
STREAM_NONCE0=$("$SLQ" --json tx "$("$SLQ" --json issue --key "$K/issuer.pem" --to "$H1" \
    --amount 1 --program general --ref S0 | jget 'd["tx"]')" | jget 'd["nonce"]')
(
    # Every fifth waits for its block; the others only enter the mempool, which is full of
    # pending transactions when the node is killed.
    for i in $(seq 1 2000); do
        wait_flag=--no-wait
        [ $((i % 5)) -eq 0 ] && wait_flag=
        "$SLQ" --json issue --key "$K/issuer.pem" --to "$H2" --amount 0.01 --program general \
            --ref "S$i" $wait_flag >"$T/s.out" 2>/dev/null || break
        grep -q '"status": *"committed"' "$T/s.out" &&
            sed -n 's/.*"tx": *"\([0-9a-f]*\)".*/\1/p' "$T/s.out" >>"$T/committed"
    done
) &
STREAM_PID=$!
# Kill the node in the middle of the stream: once a few waited-for transactions committed
# (bounded: 60 s), while more are pending in its mempool.
for _ in $(seq 1 600); do
    [ -f "$T/committed" ] && [ "$(wc -l <"$T/committed")" -ge 4 ] && break
    sleep 0.1
done
kill -9 "$NODE_PID"
wait "$NODE_PID" 2>/dev/null
wait "$STREAM_PID" 2>/dev/null
STREAM_PID=
COMMITTED=$(wc -l <"$T/committed")
check "the stream committed transactions before the kill" test "$COMMITTED" -gt 3
start_node "$HOME0" "$LOG"
wait_ready "$API" || fail "node did not restart after kill -9"
lost=0
while read -r h; do
    s=$("$SLQ" --json tx "$h" | jget 'd["status"]')
    [ "$s" = committed ] || lost=$((lost + 1))
done <"$T/committed"
echo "  $COMMITTED stream transactions committed before the kill"; check "no committed transaction is lost ($COMMITTED checked)" test "$lost" -eq 0
"$SLQ" --json balance "$H2" >"$T/out"
N_SMALL=$(jget 'len([v for v in d["vouchers"] if v["amount_fen"] == 1])' <"$T/out")
check "the store holds at least each committed stream voucher" test "$N_SMALL" -ge "$COMMITTED"
"$SLQ" --json status >"$T/out"
ISSUER_NONCE=$("$SLQ" --json tx "$(tail -1 "$T/committed")" | jget 'd["nonce"]')
check "the issuer's nonces are gapless: vouchers = committed stream nonces" \
    test "$N_SMALL" -ge $((ISSUER_NONCE - STREAM_NONCE0))
"$SLQ" --json audit --year "$YEAR" >"$T/out"
check "the store is consistent: the audit balances" \
    test "$(jget 'd["cap_held"] and d["conservation_holds"]' <"$T/out")" = True

echo "== malformed HTTP and oversized bodies: each request gets its own status and error"
# Each request goes on its own connection; the answer printed is that connection's own: its
# status and the "error" of its JSON body ("-" if none), on a line named after the request.
"$PY" - "$((BASE + 1))" >"$T/http.out" 2>&1 <<'PY'
import json, socket, sys
port = int(sys.argv[1])
def ask(name, raw):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    data = b""
    try:
        s.sendall(raw)
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length": length = int(v)
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk: break
            body += chunk
    except OSError as e:
        head, body = b"no answer: " + str(e).encode(), b""
    s.close()
    try:
        error = json.loads(body).get("error", "-")
    except ValueError:
        error = "-"
    status = head.split(b"\r\n")[0].decode(errors="replace")
    code = status.split()[1] if status.startswith("HTTP/1.1 ") else status
    print(name, code, error, sep="|")
ask("garbage", b"\x00\xff garbage \r\n\r\n")
ask("huge declared body",
    b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
ask("long url", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
many = b"".join(b"X-H%d: v\r\n" % i for i in range(3000))  # 3000 small headers, 30 KB
ask("many headers", b"GET /v1/status HTTP/1.1\r\n" + many + b"\r\n")
ask("body not JSON", b"POST /v1/txs HTTP/1.1\r\nContent-Length: 1\r\n\r\n{")
body = b'{"tx": "zz"}'
ask("tx not hex", b"POST /v1/txs HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
body = b'{"tx": "00"} {"tx": "00"}'  # a second object after the first (alone: 422)
ask("text after the JSON", b"POST /v1/txs HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
ask("HTTP/2.0", b"GET /v1/status HTTP/2.0\r\n\r\n")
ask("no HTTP version", b"GET /v1/status\r\n\r\n")
ask("unknown path", b"GET /v1/nowhere HTTP/1.1\r\n\r\n")
ask("wrong method", b"DELETE /v1/txs HTTP/1.1\r\n\r\n")
for _ in range(50):  # requests left half-sent, their connections dropped
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /v1/txs HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"t")
    s.close()
PY
# answers NAME STATUS ERROR: request NAME, and it alone, got this status and error name.
answers() { check "$1 answers $2 $3" grep -qxF "$1|$2|$3" "$T/http.out"; }
FAILED_BEFORE=$failed
answers "garbage" 400 HTTP_MALFORMED
answers "huge declared body" 413 BODY_TOO_LARGE
answers "long url" 431 HEADERS_TOO_LARGE
answers "many headers" 431 HEADERS_TOO_LARGE
answers "body not JSON" 400 JSON_INVALID
answers "tx not hex" 422 TX_MALFORMED
answers "text after the JSON" 400 JSON_INVALID
answers "HTTP/2.0" 505 HTTP_VERSION_UNSUPPORTED
answers "no HTTP version" 400 HTTP_MALFORMED
answers "unknown path" 404 NOT_FOUND
answers "wrong method" 405 METHOD_NOT_ALLOWED
if [ "$failed" -gt "$FAILED_BEFORE" ]; then sed 's/^/    /' "$T/http.out"; fi
check "the node is still alive" kill -0 "$NODE_PID"
expect 0 "and still serves" "$SLQ" status

kill -TERM "$NODE_PID"
wait "$NODE_PID"
NODE_PID=
summary
