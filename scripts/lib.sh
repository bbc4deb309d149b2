# scripts/lib.sh: shared by scripts/check and scripts/demo. Source it; do not run it.

# Debian packages slq needs to build and test (docker/Dockerfile installs the same list).
SLQ_PACKAGES=(gcc clang meson ninja-build pkg-config openssl curl python3 libssl-dev
              libleveldb-dev libuv1-dev libprotobuf-c-dev protobuf-c-compiler libcjson-dev
              libhttp-parser-dev libcurl4-openssl-dev libclang-rt-14-dev)

# Installs the packages of SLQ_PACKAGES that are missing (needs root when any is missing).
slq_install_missing() {
    local missing=() p
    for p in "${SLQ_PACKAGES[@]}"; do
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

# Configures (once) and builds the default build directory `build`.
slq_build() {
    [ -f build/build.ninja ] || meson setup build >/dev/null
    ninja -C build
}
