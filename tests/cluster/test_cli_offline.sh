#!/usr/bin/env bash
# test_cli_offline.sh: the slq CLI without a real node (docs/cli.md).
#   - keygen / address round trips, for slq's keys and for `openssl genpkey` keys (Ed25519,
#     SM2), encrypted keys, and refusing to overwrite a key file;
#   - testnet: the layout, identical genesis.json files that are valid JSON, configs, keys;
#   - bad input exits 1 before anything is sent (the node URL points at a closed port, so
#     a request would exit 3), and an unreachable node exits 3;
#   - the transaction path against tests/cluster/mock_node.py, which checks the signature
#     with the openssl command: outcomes, --json shapes, exit 2 on rejection, nonces.
# usage: test_cli_offline.sh PATH_TO_SLQ. Prints "N passed, N failed"; exits 1 on failure.
set -u
SLQ=${1:?usage: test_cli_offline.sh PATH_TO_SLQ}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
MOCK_PID=
trap '[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
export SLQ_NODE=http://127.0.0.1:1 # a closed port: anything sent fails with exit 3
unset SLQ_PASS

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}

# expect WANT_RC DESCRIPTION COMMAND...: runs COMMAND, output in $T/out and $T/err.
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

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
    local desc=$1
    shift
    if "$@" >/dev/null 2>&1; then pass; else fail "$desc"; fi
}

is_address() { [[ $1 =~ ^slq1[0-9a-f]{40}$ ]]; }

echo "== keys"
expect 0 "keygen writes a key" "$SLQ" keygen --out k1.pem
A1=$(cat "$T/out")
check "keygen prints an address" is_address "$A1"
check "the key file is 0600" test "$(stat -c %a k1.pem)" = 600
expect 0 "address reads the key back" "$SLQ" address --key k1.pem
check "address equals keygen's" test "$(cat "$T/out")" = "$A1"
expect 1 "keygen refuses to overwrite" "$SLQ" keygen --out k1.pem
check "the refused key is unchanged" test "$("$SLQ" address --key k1.pem)" = "$A1"
expect 0 "keygen --suite sm2" "$SLQ" keygen --out sm2.pem --suite sm2
expect 0 "address of an sm2 key" "$SLQ" address --key sm2.pem --json
check "address --json names the sm2 suite" grep -q '"suite": "sm2-sm3"' "$T/out"
expect 1 "keygen refuses an unknown suite" "$SLQ" keygen --out x.pem --suite rsa
check "no file for a refused suite" test ! -e x.pem
export SLQ_PASS=correct-horse
expect 0 "keygen with a passphrase" "$SLQ" keygen --out enc.pem --passphrase-env SLQ_PASS
AE=$(cat "$T/out")
check "the encrypted key is encrypted" grep -q "ENCRYPTED" enc.pem
expect 1 "an encrypted key without a passphrase" "$SLQ" address --key enc.pem
expect 0 "an encrypted key with its passphrase" "$SLQ" address --key enc.pem --passphrase-env SLQ_PASS
check "the encrypted key's address" test "$(cat "$T/out")" = "$AE"
SLQ_PASS=wrong expect 1 "a wrong passphrase" "$SLQ" address --key enc.pem --passphrase-env SLQ_PASS
expect 1 "an unset passphrase variable" "$SLQ" address --key enc.pem --passphrase-env SLQ_NO_SUCH_VAR
expect 1 "a missing key file" "$SLQ" address --key no-such.pem
echo "not a key" >junk.pem
chmod 600 junk.pem
expect 1 "a file that is not a key" "$SLQ" address --key junk.pem
check "... which says so" grep -q "junk.pem: key file is not a usable" "$T/err"
# A key file group or others may read (or write) is refused, as ssh refuses such private keys,
# by every command that loads one, with the file, its mode and the fix.
cp k1.pem open.pem
for row in 644:readable 640:readable 604:readable 620:writable 666:"readable and writable"; do
    mode=${row%%:*} access=${row#*:}
    chmod "$mode" open.pem
    expect 1 "a key of mode 0$mode is refused" "$SLQ" address --key open.pem
    check "... naming the file, its mode and the chmod" grep -qxF "slq: key file open.pem is \
$access by group or others (mode 0$mode): run chmod 600 open.pem" "$T/err"
done
chmod 644 open.pem
expect 1 "a transaction command refuses it before asking the node" "$SLQ" \
    --node http://127.0.0.1:9 issue --key open.pem --to "$A1" --amount 1 --program general
check "... with the chmod hint" grep -q "run chmod 600 open.pem" "$T/err"
chmod 600 open.pem
expect 0 "the same key once chmod 600" "$SLQ" address --key open.pem
if openssl genpkey -algorithm ed25519 -out ossl-ed.pem 2>/dev/null; then
    expect 0 "address of an openssl ed25519 key" "$SLQ" address --key ossl-ed.pem
    check "openssl ed25519 key gives an address" is_address "$(cat "$T/out")"
else
    fail "openssl genpkey -algorithm ed25519"
fi
if openssl genpkey -algorithm SM2 -out ossl-sm2.pem 2>/dev/null; then
    expect 0 "address of an openssl SM2 key" "$SLQ" address --key ossl-sm2.pem --json
    check "openssl SM2 key is sm2-sm3" grep -q '"suite": "sm2-sm3"' "$T/out"
else
    fail "openssl genpkey -algorithm SM2"
fi

echo "== testnet"
expect 0 "testnet of 3 validators" "$SLQ" testnet --validators 3 --out net --base-port 7700 \
    --cap 5000000 --policy-from 2024-02-10
for i in 0 1 2; do
    for f in genesis.json node.pem config.json; do check "net/node$i/$f exists" test -s "net/node$i/$f"; done
    check "net/node$i/data is left to slqd" test ! -e "net/node$i/data"
    check "node$i genesis is node0's" cmp -s net/node0/genesis.json "net/node$i/genesis.json"
    check "node$i config.json is JSON" python3 -m json.tool "net/node$i/config.json"
    check "node$i p2p port" grep -q "\"p2p_listen\": \"127.0.0.1:$((7700 + 2 * i))\"" "net/node$i/config.json"
    check "node$i API port" grep -q "\"api_listen\": \"127.0.0.1:$((7701 + 2 * i))\"" "net/node$i/config.json"
    check "node$i key is 0600" test "$(stat -c %a "net/node$i/node.pem")" = 600
done
check "genesis.json is JSON" python3 -m json.tool net/node0/genesis.json
check "node0 peers are the other nodes" python3 -c '
import json, sys
c = json.load(open("net/node0/config.json"))
sys.exit(c["peers"] != ["127.0.0.1:7702", "127.0.0.1:7704"] or c["chain_id"] != "slq-testnet")'
check "genesis holds the presets" python3 -c '
import json, sys
g = json.load(open("net/node0/genesis.json"))
p = g["policy"]
names = [x["name"] for x in p["programs"]]
roles = sorted(a["role"] for a in g["accounts"])
ok = (names == ["general", "national-major", "provincial-major"] and
      p["city_annual_cap_fen"] == 500000000 and p["programs"][0]["annual_cap_fen"] == 500000000 and
      p["programs"][1]["max_share_bp"] == 3000 and p["programs"][1]["holder_annual_cap_fen"] == 300000000 and
      p["programs"][2]["holder_annual_cap_fen"] == 150000000 and len(g["validators"]) == 3 and
      roles == ["centre", "centre", "finance", "intermediary", "issuer", "regulator"] and
      p["valid_from_ms"] == 1707494400000 and p["valid_until_ms"] == 1802188800000 and
      g["time_ms"] < p["valid_from_ms"] and g["suite"] == "ed25519-sha256")
sys.exit(not ok)'
check "every program names centre-1 and centre-2 as its centres" python3 -c '
import json, sys
g = json.load(open("net/node0/genesis.json"))
sys.exit(any(x["centres"] != sys.argv[1:] for x in g["policy"]["programs"]))' \
    "$("$SLQ" address --key net/keys/centre-1.pem)" "$("$SLQ" address --key net/keys/centre-2.pem)"
for k in issuer finance regulator centre-1 centre-2 intermediary holder-1 holder-2 holder-3; do
    check "keys/$k.pem is a key" "$SLQ" address --key "net/keys/$k.pem"
done
check "the issuer's key is genesis account 0" python3 -c '
import hashlib, json, sys
g = json.load(open("net/node0/genesis.json"))
a = "slq1" + hashlib.sha256(bytes.fromhex(g["accounts"][0]["pubkey"])).hexdigest()[:40]
sys.exit(a != sys.argv[1] or g["accounts"][0]["role"] != "issuer")' "$("$SLQ" address --key net/keys/issuer.pem)"
expect 1 "testnet refuses a non-empty directory" "$SLQ" testnet --validators 1 --out net
mkdir empty
expect 0 "testnet accepts an empty directory, sm2" "$SLQ" testnet --validators 1 --out empty --suite sm2
check "sm2 testnet genesis" grep -q '"suite": "sm2-sm3"' empty/node0/genesis.json
expect 0 "testnet --json" "$SLQ" testnet --validators 1 --out j --json
check "testnet --json names the API" python3 -c '
import json, sys; d = json.load(open(sys.argv[1])); sys.exit(d["api"] != "http://127.0.0.1:7601")' "$T/out"
expect 1 "testnet --validators 0" "$SLQ" testnet --validators 0 --out v0
expect 1 "testnet --validators abc" "$SLQ" testnet --validators abc --out v1
expect 1 "testnet --base-port too high" "$SLQ" testnet --validators 4 --out v2 --base-port 65534
expect 1 "testnet --policy-from 2023-02-30" "$SLQ" testnet --validators 1 --out v3 --policy-from 2023-02-30
expect 1 "testnet --cap 0" "$SLQ" testnet --validators 1 --out v4 --cap 0
expect 1 "testnet without --out" "$SLQ" testnet --validators 1
check "refused testnets wrote nothing" test ! -e v0 -a ! -e v1 -a ! -e v2 -a ! -e v3 -a ! -e v4

echo "== bad input exits 1 before anything is sent"
ISSUER=net/keys/issuer.pem
H1=$("$SLQ" address --key net/keys/holder-1.pem)
ID=$(printf 'ab%.0s' $(seq 32))
for amount in 1.234 -5 0 0.00 abc 1e3 "" " 1" 1. .5 +1 99999999999999999999 92233720368547758.08; do
    expect 1 "issue --amount '$amount'" "$SLQ" issue --key $ISSUER --to "$H1" --amount "$amount" --program general
    check "issue --amount '$amount' names the flag" grep -q -- "--amount" "$T/err"
    expect 1 "transfer --amount '$amount'" "$SLQ" transfer --key $ISSUER --voucher "$ID" --to "$H1" --amount "$amount"
done
expect 1 "issue --cost 1.234" "$SLQ" issue --key $ISSUER --to "$H1" --amount 5 --cost 1.234 --program general
expect 1 "issue to a bad address" "$SLQ" issue --key $ISSUER --to slq1XYZ --amount 5 --program general
expect 1 "issue with a bad date" "$SLQ" issue --key $ISSUER --to "$H1" --amount 5 --program general --expires 2024-13-01
expect 1 "issue with both expiries" "$SLQ" issue --key $ISSUER --to "$H1" --amount 5 --program general --expires 2024-12-01 --expires-ms 5
expect 1 "issue without --program" "$SLQ" issue --key $ISSUER --to "$H1" --amount 5
expect 1 "issue with a missing key file" "$SLQ" issue --key nokey.pem --to "$H1" --amount 5 --program general
expect 1 "issue with a flag value missing" "$SLQ" issue --key $ISSUER --to --amount 5 --program general
expect 1 "issue with an unknown flag" "$SLQ" issue --key $ISSUER --to "$H1" --amount 5 --program general --colour red
expect 1 "issue with a flag given twice" "$SLQ" issue --key $ISSUER --to "$H1" --amount 5 --amount 6 --program general
expect 1 "register with a bad role" "$SLQ" register --key $ISSUER --address "$H1" --role boss --name x
expect 1 "register an enterprise without --credit-code" "$SLQ" register --key $ISSUER --address "$H1" --role enterprise --name x
check "it names the missing flag" grep -q "enterprise needs --credit-code" "$T/err"
expect 1 "register a maker without --credit-code" "$SLQ" register --key $ISSUER --address "$H1" --role maker --name x
expect 1 "register with a wrong check character" "$SLQ" register --key $ISSUER --address "$H1" --role enterprise --name x --credit-code 91350100M000100Y44
check "it names the expected check character" grep -q "is '4', expected '3'" "$T/err"
expect 1 "register with a credit code of 17 characters" "$SLQ" register --key $ISSUER --address "$H1" --role university --name x --credit-code 91350100M000100Y4
check "it names the length" grep -q "must be 18 characters, got 17" "$T/err"
expect 1 "register with an O in the credit code" "$SLQ" register --key $ISSUER --address "$H1" --role research --name x --credit-code 91350100O000100Y43
check "it names the character" grep -q "character 9 is not one of" "$T/err"
expect 1 "a centre's credit code is checked too" "$SLQ" register --key $ISSUER --address "$H1" --role centre --name x --credit-code 91350100M000100Y44
expect 3 "a centre needs no credit code (sent: the node is unreachable)" "$SLQ" register --key $ISSUER --address "$H1" --role centre --name x
expect 1 "transfer with a bad voucher id" "$SLQ" transfer --key $ISSUER --voucher abc --to "$H1" --amount 1
expect 1 "redeem with a bad id in the list" "$SLQ" redeem --key $ISSUER --voucher "$ID,xyz" --contract C
expect 1 "redeem with a missing evidence file" "$SLQ" redeem --key $ISSUER --voucher "$ID" --contract C --evidence nofile
expect 1 "settle with a bad claim id" "$SLQ" settle --key $ISSUER --claim 12 --payment P --payer city
expect 1 "settle without --payer" "$SLQ" settle --key $ISSUER --claim "$ID" --payment P
expect 1 "settle with a bad --amount" "$SLQ" settle --key $ISSUER --claim "$ID" --payment P --payer city --amount 1.234
expect 1 "review with neither --approve nor --reject" "$SLQ" review --key $ISSUER --claim "$ID" --reason r
expect 1 "review with both" "$SLQ" review --key $ISSUER --claim "$ID" --reason r --approve --reject
expect 1 "review without --reason" "$SLQ" review --key $ISSUER --claim "$ID" --approve
expect 1 "revoke without --reason" "$SLQ" revoke --key $ISSUER --voucher "$ID"
expect 1 "balance of a bad address" "$SLQ" balance slq1abc
expect 1 "balance without an address" "$SLQ" balance
expect 1 "voucher with a bad id" "$SLQ" voucher xyz
expect 1 "block with a bad height" "$SLQ" block -1
expect 1 "audit with a bad year" "$SLQ" audit --year 20x4
expect 1 "claims with a bad centre" "$SLQ" claims --centre nobody
expect 1 "an unknown command" "$SLQ" frobnicate
expect 1 "no command" "$SLQ"
expect 1 "a bad --node URL" "$SLQ" --node ftp://x status
expect 0 "issue --help" "$SLQ" issue --help
check "help shows the usage line" grep -q "usage: slq issue" "$T/out"
expect 0 "slq --help" "$SLQ" --help

echo "== an unreachable node exits 3"
expect 3 "status" "$SLQ" status
check "the reason names the node" grep -q "node unreachable at http://127.0.0.1:1" "$T/err"
expect 3 "issue with valid input" "$SLQ" issue --key $ISSUER --to "$H1" --amount 5 --program general --ref R-1
expect 3 "balance" "$SLQ" balance "$H1" --json
expect 3 "--node overrides SLQ_NODE" env SLQ_NODE=http://127.0.0.1:7601 "$SLQ" --node http://127.0.0.1:1 block

echo "== transactions against a mock node"
# start_mock MODE: runs mock_node.py on a free port; sets NODE.
start_mock() {
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
    : >"$T/port"
    python3 "$HERE/mock_node.py" 0 "$T/mock.json" "$1" "$ISSUER_ADDR" >"$T/port" &
    MOCK_PID=$!
    for _ in $(seq 50); do
        [ -s "$T/port" ] && break
        sleep 0.1
    done
    NODE=http://127.0.0.1:$(head -1 "$T/port")
}
# mock_field EXPR: a Python expression over d, the mock's record of the last transaction.
mock_field() { python3 -c "import json; d = json.load(open('$T/mock.json')); print($1)"; }

ISSUER_ADDR=$("$SLQ" address --key $ISSUER)
C1=$("$SLQ" address --key net/keys/centre-1.pem)
start_mock ok
expect 0 "issue commits" "$SLQ" --node "$NODE" issue --key $ISSUER --to "$H1" --amount 12.34 --program general --ref APP-1 --expires 2024-12-31
check "issue prints the voucher" grep -q "^voucher  1111" "$T/out"
check "issue prints the height" grep -q "^committed at height 5" "$T/out"
check "the signature verifies (openssl)" test "$(mock_field 'd["signature_ok"]')" = True
check "issue signs pending_nonce + 1" test "$(mock_field 'd["nonce"]')" = 7
check "issue sends 1234 fen" test "$(mock_field 'd["payload"]["3"][0]')" = 1234
check "issue sends the reference" test "$(mock_field 'bytes.fromhex(d["payload"]["5"][0]).decode()')" = APP-1
check "--expires is 00:00 CST the next day" test "$(mock_field 'd["payload"]["6"][0]')" = 1735660800000
expect 0 "issue without --ref" "$SLQ" --node "$NODE" issue --key $ISSUER --to "$H1" --amount 1 --program general
check "the default reference" test "$(mock_field 'bytes.fromhex(d["payload"]["5"][0]).decode()')" = "cli:$ISSUER_ADDR:7"
check "a note says no reference was given" grep -q "no --ref given" "$T/err"
expect 0 "transfer --json" "$SLQ" --node "$NODE" --json transfer --key net/keys/holder-1.pem --voucher "$ID" --to "$C1" --amount 0.5
check "transfer --json has exactly the contract's keys" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ok = (list(d) == ["tx", "status", "height", "error", "vouchers", "claim"] and d["status"] == "committed"
      and d["height"] == 5 and d["error"] is None and d["claim"] is None and len(d["vouchers"]) == 2)
sys.exit(not ok)' "$T/out"
check "an unknown signer signs nonce 1" test "$(mock_field 'd["nonce"]')" = 1
echo evidence >ev.txt
expect 0 "redeem with evidence" "$SLQ" --node "$NODE" redeem --key net/keys/centre-1.pem --voucher "$ID,$(printf 'cd%.0s' $(seq 32))" --contract C-1 --evidence ev.txt
check "redeem prints the claim" grep -q "^claim    3333" "$T/out"
check "redeem sends two vouchers" test "$(mock_field 'len(d["payload"]["1"])')" = 2
check "evidence hash is the file's sha256" test "$(mock_field 'd["payload"]["3"][0]')" = "$(sha256sum ev.txt | cut -d' ' -f1)"
expect 0 "register" "$SLQ" --node "$NODE" register --key $ISSUER --address "$H1" --role enterprise --name 企业 --credit-code 91350100m000100y43
check "the credit code is sent as the hash of its upper case" test "$(mock_field 'd["payload"]["4"][0]')" = "$(printf 91350100M000100Y43 | sha256sum | cut -d' ' -f1)"
expect 0 "settle --no-wait" "$SLQ" --node "$NODE" settle --key net/keys/finance.pem --claim "$ID" --payment PAY-1 --payer 高新区 --amount 12.34 --no-wait
check "settle sends the amount and the payer" test "$(mock_field '[d["payload"]["3"][0], bytes.fromhex(d["payload"]["4"][0]).decode()]')" = "[1234, '高新区']"
expect 0 "review --no-wait" "$SLQ" --node "$NODE" review --key net/keys/finance.pem --claim "$ID" --reject --reason "no proof" --no-wait
check "review sends kind 9, the claim, approve false (absent) and the reason" test "$(mock_field '[d["kind"], d["payload"]["1"][0] == "'"$ID"'", "2" in d["payload"], bytes.fromhex(d["payload"]["3"][0]).decode()]')" = "['review_claim', True, False, 'no proof']"
check "--no-wait reports pending" grep -q "pending" "$T/out"
expect 0 "balance" "$SLQ" --node "$NODE" balance "$H1"
check "balance shows yuan" grep -q "1234.56 yuan" "$T/out"
expect 0 "balance --json" "$SLQ" --node "$NODE" balance "$H1" --json
check "balance --json has exactly the contract's keys" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
v = d["vouchers"][0]
ok = (list(d) == ["address", "total_fen", "vouchers"] and d["total_fen"] == 123456 and
      list(v) == ["id", "amount_fen", "program", "budget_year", "expires_at_ms", "state"])
sys.exit(not ok)' "$T/out"
# INT64_MAX fen (the mock's answer for slq1 + 7f * 20) goes through the CLI exactly: once
# it came out as 9.2233720368547758e+18 (the JSON parser read integers as doubles).
MAX_ADDR="slq1$(printf '7f%.0s' $(seq 20))"
expect 0 "balance --json of INT64_MAX fen" "$SLQ" --node "$NODE" balance "$MAX_ADDR" --json
check "balance --json prints INT64_MAX exactly" grep -q '"total_fen": 9223372036854775807,' "$T/out"
check "balance --json round-trips INT64_MAX" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(not (d["total_fen"] == 2**63 - 1 and d["vouchers"][0]["amount_fen"] == 2**63 - 1))' "$T/out"
expect 0 "balance of INT64_MAX fen" "$SLQ" --node "$NODE" balance "$MAX_ADDR"
check "balance shows INT64_MAX fen in yuan" grep -q "92233720368547758.07 yuan" "$T/out"
expect 2 "a query the node refuses (404) exits 2" "$SLQ" --node "$NODE" voucher "$ID"
check "the refusal is printed" grep -q "NOT_FOUND" "$T/err"
start_mock reject
expect 2 "a transaction refused at admission exits 2" "$SLQ" --node "$NODE" --json revoke --key $ISSUER --voucher "$ID" --reason fraud
check "the reason is printed" grep -q "rejected: NONCE_INVALID: nonce 7, expected 2" "$T/err"
check "rejected --json" python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); sys.exit(d["status"] != "rejected" or d["error"] != "NONCE_INVALID" or d["height"] is not None)' "$T/out"
start_mock reject-later
expect 2 "a transaction rejected in the block exits 2" "$SLQ" --node "$NODE" redeem --key net/keys/centre-1.pem --voucher "$ID" --contract C-1
check "the block's reason is printed" grep -q "rejected: CONTRACT_REF_USED" "$T/err"
start_mock fail
expect 3 "a node fault (500) exits 3" "$SLQ" --node "$NODE" status
check "the node's error is printed" grep -q "STORAGE_IO: disk on fire" "$T/err"
expect 3 "a node fault in a transaction exits 3" "$SLQ" --node "$NODE" issue --key $ISSUER --to "$H1" --amount 5 --program general --ref R-2
kill "$MOCK_PID" 2>/dev/null
wait "$MOCK_PID" 2>/dev/null
MOCK_PID=

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
