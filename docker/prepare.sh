#!/usr/bin/env bash
# docker/prepare.sh: makes the node homes that docker/compose.yaml mounts.
#
#   docker/prepare.sh [OUT_DIR [slq testnet options, e.g. --suite sm2]]
#
# OUT_DIR (default docker/net, which compose.yaml expects) must not exist or be empty.
# The slq binary is $SLQ, else build/cli/slq, else slq on PATH.
#
# 1. `slq testnet --validators 4 --out OUT_DIR`: OUT_DIR/node0..node3 and OUT_DIR/keys.
# 2. The observer: OUT_DIR/observer with node0's genesis.json and a fresh node key
#    (`slq keygen`); its raw public key, hex as in genesis, goes into every validator's
#    config "observers" list.
# 3. The configs are rewritten for the compose network: each node listens on 0.0.0.0 (on
#    the same ports as the testnet, node i: p2p 7600+2i, API 7600+2i+1; the observer is
#    node 4: 7608/7609) and names its peers by compose service (node0:7600, ...).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/net}
[ $# -gt 0 ] && shift
for a in "$@"; do
    case $a in
    --validators* | --out* | --base-port*)
        echo "docker/prepare.sh: $a: not allowed, compose.yaml fixes 4 validators on base port 7600" >&2
        exit 1
        ;;
    esac
done

slq=${SLQ:-}
if [ -z "$slq" ]; then
    if [ -x "$here/../build/cli/slq" ]; then
        slq=$here/../build/cli/slq
    elif command -v slq >/dev/null; then
        slq=$(command -v slq)
    else
        echo "docker/prepare.sh: no slq: build it (meson setup build && ninja -C build) or set SLQ" >&2
        exit 1
    fi
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

"$slq" testnet --validators 4 --out "$out" "$@" >/dev/null

# The raw public key of a PEM node key, hex: the tail of its SubjectPublicKeyInfo (32 bytes
# for Ed25519, 65 bytes 04||X||Y for SM2).
raw_pubkey() {
    openssl pkey -in "$1" -pubout -outform DER | tail -c "$2" | od -An -v -tx1 | tr -d ' \n'
}

obs=$out/observer
mkdir -m 0755 "$obs"
cp "$out/node0/genesis.json" "$obs/genesis.json"
suite=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["suite"])' "$obs/genesis.json")
case $suite in
ed25519-sha256) key_suite=ed25519 raw_len=32 ;;
sm2-sm3) key_suite=sm2 raw_len=65 ;;
*)
    echo "docker/prepare.sh: unknown suite $suite" >&2
    exit 1
    ;;
esac
"$slq" keygen --suite "$key_suite" --out "$obs/node.pem" >/dev/null
obs_pub=$(raw_pubkey "$obs/node.pem" "$raw_len")
node0_pub=$(raw_pubkey "$out/node0/node.pem" "$raw_len")

"$PY" - "$out" "$obs_pub" "$node0_pub" <<'PY'
import json, os, sys

out, obs_pub, node0_pub = sys.argv[1:4]
N = 4
genesis = json.load(open(os.path.join(out, "node0", "genesis.json")))
# The extraction above must give what genesis holds for node0's key.
if genesis["validators"][0]["pubkey"].lower() != node0_pub:
    sys.exit("docker/prepare.sh: node0's public key does not match genesis; cannot derive the observer's")
if obs_pub in (v["pubkey"].lower() for v in genesis["validators"]):
    sys.exit("docker/prepare.sh: the observer key is a validator key")

def port(addr):
    return int(addr.rsplit(":", 1)[1])

def write(name, cfg):
    path = os.path.join(out, name, "config.json")
    with open(path + ".tmp", "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)

cfgs = [json.load(open(os.path.join(out, f"node{i}", "config.json"))) for i in range(N)]
host_of = {port(c["p2p_listen"]): f"node{i}" for i, c in enumerate(cfgs)}
for i, c in enumerate(cfgs):
    c["p2p_listen"] = f"0.0.0.0:{port(c['p2p_listen'])}"
    c["api_listen"] = f"0.0.0.0:{port(c['api_listen'])}"
    c["peers"] = [f"{host_of[port(p)]}:{port(p)}" for p in c["peers"]]
    c["observers"] = [obs_pub]
    write(f"node{i}", c)

base = min(host_of)
obs = dict(cfgs[0])
obs["p2p_listen"] = f"0.0.0.0:{base + 2 * N}"
obs["api_listen"] = f"0.0.0.0:{base + 2 * N + 1}"
obs["peers"] = [f"{h}:{p}" for p, h in sorted(host_of.items())]
obs["observers"] = []
write("observer", obs)
PY

echo "docker/prepare.sh: homes for docker/compose.yaml in $out (node0..node3, observer; demo keys in $out/keys)"
