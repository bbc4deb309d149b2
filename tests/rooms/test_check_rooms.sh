#!/usr/bin/env bash
# tests/rooms/test_check_rooms.sh: scripts/check-rooms on small synthetic trees. It must fail
# on a forbidden include (cli including a net header), on a ledger file including <uv.h>, on a
# two-file call cycle (objects compiled with cc -c into a fake build dir), and pass on a clean
# tree. Usage: test_check_rooms.sh PATH/TO/check-rooms
set -euo pipefail

check_rooms=${1:?usage: test_check_rooms.sh PATH/TO/check-rooms}
cc=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# A clean tree in $1: common header, a ledger file, a net header, a cli file, each compiled.
make_clean_tree() {
    local t=$1
    mkdir -p "$t/include/slq" "$t/ledger" "$t/net" "$t/cli" "$t/build"
    printf '#pragma once\nint slq_one(void);\n' >"$t/include/slq/one.h"
    printf '#pragma once\nint ledger_two(void);\n' >"$t/ledger/ledger.h"
    printf '#include "slq/one.h"\n#include "ledger.h"\n#include <stdio.h>\n%s\n' \
        'int ledger_two(void) { char b[4]; return snprintf(b, sizeof b, "%d", 2); }' \
        >"$t/ledger/ledger.c"
    printf '#pragma once\nint net_three(void);\n' >"$t/net/p2p.h"
    printf '#include "p2p.h"\nint net_three(void) { return 3; }\n' >"$t/net/p2p.c"
    printf '#include "ledger.h"\nint cli_main(void);\nint cli_main(void) { return ledger_two(); }\n' \
        >"$t/cli/main.c"
    # A test file may include anything: tests/ is not product.
    mkdir -p "$t/tests"
    printf '#include "p2p.h"\n#include <uv.h>\n' >"$t/tests/t.c"
}

compile_tree() {
    local t=$1 f
    for f in "$t"/ledger/*.c "$t"/net/*.c "$t"/cli/*.c "$t"/chain/*.c; do
        [ -f "$f" ] || continue
        "$cc" -c -I"$t/include" -I"$t/ledger" -I"$t/net" -I"$t/chain" \
            -o "$t/build/$(basename "$f").o" "$f"
    done
}

# expect NAME STATUS PATTERN TREE: check-rooms on TREE exits STATUS and prints PATTERN.
expect() {
    local name=$1 want=$2 pattern=$3 tree=$4 out status=0
    out=$(python3 "$check_rooms" --root "$tree" --build "$tree/build" 2>&1) || status=$?
    if [ "$status" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
        echo "ok   $name"
    else
        echo "FAIL $name: exit $status (want $want), output:"
        sed 's/^/    /' <<<"$out"
        failures=$((failures + 1))
    fi
}

clean="$work/clean"
make_clean_tree "$clean"
compile_tree "$clean"
expect "a clean tree passes" 0 '^rooms: ok \(6 files, 4 includes\)$' "$clean"

t="$work/forbidden"
make_clean_tree "$t"
printf '#include "p2p.h"\nint cli_net(void);\nint cli_net(void) { return net_three(); }\n' \
    >"$t/cli/net.c"
compile_tree "$t"
expect "cli including a net header fails" 1 \
    '^cli/net.c: includes p2p.h \(folder cli -> net not allowed\)$' "$t"

t="$work/impure"
make_clean_tree "$t"
printf '#include <uv.h>\n' >"$t/ledger/loop.h"
compile_tree "$t"
expect "a ledger file including <uv.h> fails" 1 '^ledger/loop.h: includes <uv.h> ' "$t"

t="$work/clock"
make_clean_tree "$t"
compile_tree "$t" # now.c is not compiled: only its source matters here
printf '%s\n' '#include "ledger.h"' 'long ledger_now(void);' \
    'long ledger_now(void) { return (long)time(0); } /* time() in a comment is fine */' \
    >"$t/ledger/now.c"
expect "a ledger file calling time() fails" 1 '^ledger/now.c:3: calls time\(\) ' "$t"

t="$work/cycle"
make_clean_tree "$t"
mkdir -p "$t/chain"
printf 'int chain_a(int n);\nint chain_b(int n);\nint chain_a(int n) { return n ? chain_b(n - 1) : 0; }\n' \
    >"$t/chain/a.c"
printf 'int chain_a(int n);\nint chain_b(int n);\nint chain_b(int n) { return n ? chain_a(n - 1) : 1; }\n' \
    >"$t/chain/b.c"
compile_tree "$t"
expect "a two-file call cycle fails" 1 '^chain/a.c: call cycle between chain/a.c, chain/b.c$' "$t"
expect "the cycle names its symbols" 1 '^chain/b.c: calls chain/a.c \(chain_a\) on the cycle$' "$t"

t="$work/view"
make_clean_tree "$t"
compile_tree "$t"
mkdir -p "$t/api" "$t/replica"
printf '#pragma once\n' >"$t/replica/engine_view.h"
printf '#pragma once\n' >"$t/replica/engine.h"
printf '#include "engine_view.h"\n#include "engine.h"\n' >"$t/api/routes.c"
expect "api may include replica/engine_view.h and nothing else of replica" 1 \
    '^api/routes.c: includes engine.h \(folder api -> replica not allowed\)$' "$t"
if python3 "$check_rooms" --root "$t" --build "$t/build" | grep -q engine_view; then
    echo "FAIL api including replica/engine_view.h is reported"
    failures=$((failures + 1))
fi

t="$work/nobuild"
make_clean_tree "$t"
rmdir "$t/build"
expect "no build directory is an error, not a pass" 2 'no build directory' "$t"

if [ "$failures" -ne 0 ]; then
    echo "$failures failed"
    exit 1
fi
echo "all passed"
