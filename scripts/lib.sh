# scripts/lib.sh: shared by scripts/check, scripts/demo and scripts/fresh-debian. Source it;
# do not run it.

# Debian packages slq needs to build and test (docker/Dockerfile installs the same list;
# scripts/fresh-debian shows that they are enough on a bare Debian 12). git: scripts/mutants
# lists the tree with it.
SLQ_PACKAGES=(gcc clang meson ninja-build pkg-config openssl curl python3 libssl-dev
              libleveldb-dev libuv1-dev libprotobuf-c-dev protobuf-c-compiler libjansson-dev
              libhttp-parser-dev libcurl4-openssl-dev libclang-rt-14-dev git)

# slq_install_missing [PACKAGE...]: installs those of the packages (default: SLQ_PACKAGES)
# that are missing (needs root when any is missing).
slq_install_missing() {
    local missing=() p
    [ $# -gt 0 ] || set -- "${SLQ_PACKAGES[@]}"
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "slq: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "slq: missing packages and not root: ${missing[*]}" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# slq_show_failure LOG WHAT: prints, to stderr, what a failed meson or ninja run said: from
# ninja's first "FAILED:" (the compiler's own message) or else the end of the output, where
# meson puts its ERROR line.
slq_show_failure() {
    local log=$1 what=$2 first
    echo "slq: $what failed:" >&2
    first=$(awk '/^FAILED: / {print NR; exit}' "$log")
    if [ -n "$first" ]; then
        sed -n "$first,$((first + 79))p" "$log" >&2
    else
        tail -25 "$log" >&2
    fi
}

# slq_configure DIR: configures build directory DIR once, with the options scripts/check
# builds it with: build (gcc, -Werror), build-asan (ASan+UBSan) or build-fuzz (clang,
# libFuzzer). Quiet when it works; prints meson's own error when it does not.
slq_configure() {
    local dir=$1 log rc=0
    local -a how
    case $dir in
        build) how=(env meson setup build) ;;
        build-asan)
            how=(env CC=gcc meson setup build-asan "-Db_sanitize=address,undefined"
                -Db_lundef=false -Dbuildtype=debug) ;;
        build-fuzz)
            # The libraries are instrumented too (fuzzer-no-link), or libFuzzer would see no
            # coverage in the code under test and the sanitizers would not look inside it.
            how=(env CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false
                "-Db_sanitize=address,undefined" -Dbuildtype=debugoptimized
                "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined") ;;
        *)
            echo "slq: no build directory named $dir" >&2
            return 2 ;;
    esac
    [ -f "$dir/build.ninja" ] && return 0
    log=$(mktemp)
    "${how[@]}" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        slq_show_failure "$log" "${how[*]:1}"
        # The compiler's own words behind "can not compile programs" and the like.
        if [ -f "$dir/meson-logs/meson-log.txt" ]; then
            echo "slq: the end of $dir/meson-logs/meson-log.txt:" >&2
            tail -20 "$dir/meson-logs/meson-log.txt" >&2
        fi
    fi
    rm -f "$log"
    return "$rc"
}

# slq_build [DIR [TARGET...]]: configures (once) and builds DIR (default build), or only the
# given ninja targets. Quiet when it works; prints meson's or the compiler's error when not.
slq_build() {
    local dir=${1:-build} log rc=0
    [ $# -gt 0 ] && shift
    slq_configure "$dir" || return
    log=$(mktemp)
    ninja -C "$dir" "$@" >"$log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || slq_show_failure "$log" "ninja -C $dir${*:+ $*}"
    rm -f "$log"
    return "$rc"
}
