#!/usr/bin/env bash
# test_docker.sh: the Docker packaging (docker/) without a Docker engine, which our machines
# do not run. It checks that
#   - docker/compose.yaml parses as YAML, with PyYAML when python3 has it and always with
#     the small strict parser below (block mappings, block sequences, plain and quoted
#     scalars: the subset the file keeps to), and both give the same document;
#   - its services are node0..node3 and observer; each mounts, at the home the image runs
#     slqd with, the directory `slq testnet --validators 4` makes for it (docker/net/nodeI),
#     and publishes exactly the ports of that node's config.json (node i: p2p 7600+2i, API
#     7600+2i+1; the observer 7608/7609), host port = container port, none twice;
#   - docker/Dockerfile is FROM debian:12, installs in its one `apt-get install` exactly the
#     packages of SLQ_PACKAGES in scripts/lib.sh (what scripts/check installs; compared as
#     sets, the bash array read by bash itself), builds with meson and ninja, runs
#     `slqd --home /home/slq`, exposes every compose port, runs as a non-root user and keeps
#     docker/net (private keys) out of the image;
#   - docker/prepare.sh (when present) writes homes whose configs are valid JSON with only
#     the keys slqd accepts, listen on 0.0.0.0, name their peers by compose service on that
#     service's p2p port, and list the observer's key (checked against `slq address`) in
#     every validator's "observers".
# usage: test_docker.sh PATH_TO_SLQ. Prints "N passed, N failed"; exits 1 on failure.
set -u
SLQ=${1:?usage: test_docker.sh PATH_TO_SLQ}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}
check() {
    local desc=$1
    shift
    if "$@" >/dev/null 2>&1; then pass; else fail "$desc"; fi
}

for f in Dockerfile compose.yaml README.md; do
    check "docker/$f exists" test -f "$ROOT/docker/$f"
done

# SLQ_PACKAGES as bash itself reads the array.
bash -c 'source "$1" && printf "%s\n" "${SLQ_PACKAGES[@]}"' _ "$ROOT/scripts/lib.sh" >"$T/lib_packages" 2>"$T/err"
check "scripts/lib.sh defines a non-empty SLQ_PACKAGES" test -s "$T/lib_packages"

# The layout compose.yaml is checked against.
if "$SLQ" testnet --validators 4 --out "$T/net" >/dev/null 2>"$T/err"; then
    pass
else
    fail "slq testnet --validators 4"
    sed 's/^/    /' "$T/err" | head -5
fi

# docker/prepare.sh, when present, into a temporary directory.
PREP=
if [ -f "$ROOT/docker/prepare.sh" ]; then
    check "docker/prepare.sh is executable" test -x "$ROOT/docker/prepare.sh"
    check "docker/prepare.sh: bash -n" bash -n "$ROOT/docker/prepare.sh"
    if SLQ=$SLQ bash "$ROOT/docker/prepare.sh" "$T/prep" >/dev/null 2>"$T/err"; then
        pass
        PREP=$T/prep
        "$SLQ" address --key "$T/prep/observer/node.pem" >"$T/observer_address" 2>/dev/null ||
            fail "slq address of the observer key"
    else
        fail "docker/prepare.sh runs"
        sed 's/^/    /' "$T/err" | head -5
    fi
    if SLQ=$SLQ bash "$ROOT/docker/prepare.sh" "$T/prep2" --base-port 9000 >/dev/null 2>&1; then
        fail "docker/prepare.sh refuses --base-port (compose.yaml fixes the ports)"
    else
        pass
    fi
fi
if [ -f "$ROOT/docker/entrypoint.sh" ]; then
    check "docker/entrypoint.sh: sh -n" sh -n "$ROOT/docker/entrypoint.sh"
fi

"$PY" - "$ROOT" "$T/net" "$T/lib_packages" "$PREP" "$T/observer_address" >"$T/py" 2>&1 <<'PY'
import atexit, hashlib, json, os, re, shlex, sys

root, net, lib_packages, prep, observer_address_file = sys.argv[1:6]
docker = os.path.join(root, "docker")
BASE, N = 7600, 4                      # slq testnet's default base port; validators
HOME = "/home/slq"
passed = failed = 0
atexit.register(lambda: print(f"RESULT {passed} {failed}"))  # also after an exception

def ok(cond, desc):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + desc)
    return cond

# --- a strict parser for the YAML subset compose.yaml keeps to --------------------------
class YamlSubsetError(Exception):
    pass

def strip_comment(text, lineno):
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'" and (i == 0 or text[i - 1] in " :-[") :
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] == " "):
            return text[:i].rstrip()
    if quote:
        raise YamlSubsetError(f"line {lineno}: unterminated quote")
    return text.rstrip()

def scalar(s, lineno):
    if s.startswith('"'):
        if not s.endswith('"') or len(s) < 2:
            raise YamlSubsetError(f"line {lineno}: bad double-quoted scalar")
        try:
            return json.loads(s)
        except ValueError:
            raise YamlSubsetError(f"line {lineno}: unsupported escape in {s}")
    if s.startswith("'"):
        body = s[1:-1]
        if not s.endswith("'") or len(s) < 2 or re.search(r"(?<!')'(?!')", body.replace("''", "")):
            raise YamlSubsetError(f"line {lineno}: bad single-quoted scalar")
        return body.replace("''", "'")
    if s[0] in "[]{}&*!|>%@`,?" or s.startswith("- ") or ": " in s or s.endswith(":"):
        raise YamlSubsetError(f"line {lineno}: not in the subset: {s}")
    if re.fullmatch(r"[-+]?(0|[1-9][0-9]*)", s):
        return int(s)
    if s in ("true", "false"):
        return s == "true"
    if s in ("null", "~"):
        return None
    # Plain scalars that YAML 1.1 might read as numbers, booleans or sexagesimals: quote them.
    if (re.fullmatch(r"[-+.0-9_:eE]+", s) and re.search(r"[0-9]", s)) or \
            s.lower() in ("yes", "no", "on", "off", "y", "n", "true", "false", "null", ".inf", ".nan"):
        raise YamlSubsetError(f"line {lineno}: ambiguous plain scalar {s!r}: quote it")
    return s

def yaml_subset_load(text):
    lines = []
    for n, raw in enumerate(text.split("\n"), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip(" \t"))]:
            raise YamlSubsetError(f"line {n}: tab in indentation")
        body = strip_comment(raw, n)
        if body.strip() == "":
            continue
        if body.strip() in ("---", "..."):
            raise YamlSubsetError(f"line {n}: document markers are not in the subset")
        indent = len(body) - len(body.lstrip(" "))
        lines.append([indent, body.strip(), n])

    def block(i, indent):
        if lines[i][1] == "-" or lines[i][1].startswith("- "):
            return sequence(i, indent)
        return mapping(i, indent)

    def value_after(i, indent, rest, lineno):
        if rest != "":
            return scalar(rest, lineno), i + 1
        if i + 1 < len(lines) and lines[i + 1][0] > indent:
            return block(i + 1, lines[i + 1][0])
        return None, i + 1

    def mapping(i, indent):
        out = {}
        while i < len(lines) and lines[i][0] == indent:
            _, text, lineno = lines[i]
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+):(?: +(.*))?", text)
            if not m:
                raise YamlSubsetError(f"line {lineno}: expected 'key: value', got {text!r}")
            key = m.group(1)
            if key in out:
                raise YamlSubsetError(f"line {lineno}: duplicate key {key}")
            out[key], i = value_after(i, indent, m.group(2) or "", lineno)
        if i < len(lines) and lines[i][0] > indent:
            raise YamlSubsetError(f"line {lines[i][2]}: unexpected indentation")
        return out, i

    def sequence(i, indent):
        out = []
        while i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- ")):
            _, text, lineno = lines[i]
            rest = text[1:].lstrip(" ")
            col = indent + len(text) - len(rest)
            if rest == "":
                item, i = value_after(i, indent, "", lineno)
            elif re.fullmatch(r"[A-Za-z0-9_.\-]+:(?: +.*)?", rest):
                lines[i] = [col, rest, lineno]          # "- key: v" opens a mapping at col
                item, i = mapping(i, col)
            else:
                item, i = scalar(rest, lineno), i + 1
            out.append(item)
        if i < len(lines) and lines[i][0] > indent:
            raise YamlSubsetError(f"line {lines[i][2]}: unexpected indentation")
        return out, i

    if not lines:
        return None
    doc, i = block(0, lines[0][0])
    if i != len(lines):
        raise YamlSubsetError(f"line {lines[i][2]}: unexpected content")
    return doc

# --- compose.yaml -----------------------------------------------------------------------
compose_text = open(os.path.join(docker, "compose.yaml"), encoding="utf-8").read()
compose = None
try:
    compose = yaml_subset_load(compose_text)
    ok(isinstance(compose, dict), "compose.yaml is a mapping")
except YamlSubsetError as e:
    ok(False, f"compose.yaml parses with the subset parser: {e}")
try:
    import yaml
except ImportError:
    yaml = None
if yaml is not None:
    try:
        full = yaml.safe_load(compose_text)
        ok(True, "compose.yaml parses with PyYAML")
        ok(compose is None or full == compose, "PyYAML and the subset parser read compose.yaml alike")
        compose = full
    except yaml.YAMLError as e:
        ok(False, f"compose.yaml parses with PyYAML: {e}")
if not isinstance(compose, dict):
    sys.exit(0)

services = compose.get("services") or {}
want_services = [f"node{i}" for i in range(N)] + ["observer"]
ok(sorted(services) == sorted(want_services), f"services are {want_services}, got {sorted(services)}")

def volumes_of(svc):
    """(source, target) of each bind mount, short or long syntax."""
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) >= 2:
                out.append((parts[0], parts[1]))
        elif isinstance(v, dict) and v.get("type") == "bind":
            out.append((v.get("source"), v.get("target")))
    return out

def ports_of(svc):
    """(host_port, container_port) of each published port, short or long syntax."""
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, str):
            parts = p.split("/")[0].split(":")
            if len(parts) < 2 or not all(x.isdigit() for x in parts[-2:]):
                out.append((None, None))
            else:
                out.append((int(parts[-2]), int(parts[-1])))
        elif isinstance(p, dict):
            out.append((int(p.get("published", 0)) or None, int(p.get("target", 0))))
        else:
            out.append((None, None))
    return out

def port_of(addr):
    return int(addr.rsplit(":", 1)[1])

# The homes slq testnet makes, their configs' ports.
node_dirs = sorted(d for d in os.listdir(net) if re.fullmatch(r"node[0-9]+", d)) if os.path.isdir(net) else []
ok(node_dirs == [f"node{i}" for i in range(N)], f"slq testnet made node0..node{N-1}, got {node_dirs}")
want_ports = {f"node{i}": {"p2p": BASE + 2 * i, "api": BASE + 2 * i + 1} for i in range(N)}
for i, d in enumerate(node_dirs):
    cfg = json.load(open(os.path.join(net, d, "config.json")))
    p2p, api = port_of(cfg["p2p_listen"]), port_of(cfg["api_listen"])
    ok((p2p, api) == (BASE + 2 * i, BASE + 2 * i + 1),
       f"testnet {d}: p2p {p2p} api {api}, want {BASE + 2 * i} {BASE + 2 * i + 1}")
    want_ports[d] = {"p2p": p2p, "api": api}
want_ports["observer"] = {"p2p": BASE + 2 * N, "api": BASE + 2 * N + 1}

build_ctx = set()
images = set()
host_ports = []
for name in want_services:
    svc = services.get(name)
    if not isinstance(svc, dict):
        continue
    vols = volumes_of(svc)
    src = os.path.normpath(os.path.join(docker, vols[0][0])) if len(vols) == 1 and vols[0][0] else None
    ok(src == os.path.join(docker, "net", name),
       f"{name}: mounts one home, docker/net/{name}; got {vols}")
    ok(len(vols) == 1 and vols[0][1] == HOME, f"{name}: the home is mounted at {HOME}; got {vols}")
    cmd = svc.get("command")
    ok(cmd is None or cmd == ["slqd", "--home", HOME], f"{name}: command runs slqd --home {HOME}: {cmd}")
    pp = ports_of(svc)
    host_ports += [h for h, _ in pp]
    ok(all(h == c for h, c in pp), f"{name}: every host port equals its container port: {svc.get('ports')}")
    want = want_ports[name]
    ok(sorted(c for _, c in pp) == sorted(want.values()),
       f"{name}: publishes p2p {want['p2p']} and API {want['api']}; got {svc.get('ports')}")
    hc = json.dumps((svc.get("healthcheck") or {}).get("test", []))
    m = re.search(r"https?://[^\"/]+:([0-9]+)", hc)
    ok(m is None or int(m.group(1)) == want["api"], f"{name}: the healthcheck asks its own API port {want['api']}")
    b = svc.get("build")
    if isinstance(b, dict):
        build_ctx.add((os.path.normpath(os.path.join(docker, b.get("context", "."))), b.get("dockerfile")))
    elif isinstance(b, str):
        build_ctx.add((os.path.normpath(os.path.join(docker, b)), "Dockerfile"))
    images.add(svc.get("image"))
ok(len(host_ports) == len(set(host_ports)), f"no host port is published twice: {sorted(host_ports)}")
ok(build_ctx == {(root, "docker/Dockerfile")},
   f"every service builds docker/Dockerfile with the project root as context: {build_ctx}")
ok(len(images) == 1, f"the services share one image: {images}")

# --- Dockerfile -------------------------------------------------------------------------
instrs = []                  # (INSTRUCTION, arguments) with continuation lines joined
cur = ""
for line in open(os.path.join(docker, "Dockerfile"), encoding="utf-8").read().split("\n"):
    s = line.strip()
    if not cur and (s == "" or s.startswith("#")):
        continue
    if cur and s.startswith("#"):
        continue             # comment lines inside a continued instruction
    if s.endswith("\\"):
        cur += s[:-1] + " "
        continue
    cur += s
    word, _, args = cur.strip().partition(" ")
    instrs.append((word.upper(), args.strip()))
    cur = ""

def of(kind):
    return [a for k, a in instrs if k == kind]

froms = of("FROM")
ok(bool(froms) and froms[0].split()[0] in ("debian:12", "debian:bookworm"),
   f"Dockerfile is FROM debian:12: {froms}")

installs = [a for a in of("RUN") if "apt-get install" in a]
ok(len(installs) == 1 and sum(a.count("apt-get install") for a in of("RUN")) == 1,
   f"the Dockerfile has exactly one apt-get install: {len(installs)}")
lib = [p for p in open(lib_packages).read().split() if p]
if installs:
    toks = shlex.split(installs[0].split("apt-get install", 1)[1].replace(";", " ; "))
    pkgs = []
    for t in toks:
        if t in ("&&", "||", ";", "|"):
            break
        if not t.startswith("-"):
            pkgs.append(t)
    ok(len(pkgs) == len(set(pkgs)), f"no package twice in the Dockerfile: {pkgs}")
    ok(len(lib) == len(set(lib)), f"no package twice in SLQ_PACKAGES: {lib}")
    ok(set(pkgs) == set(lib),
       "Dockerfile packages == SLQ_PACKAGES (scripts/lib.sh); only in the Dockerfile: "
       f"{sorted(set(pkgs) - set(lib))}, only in lib.sh: {sorted(set(lib) - set(pkgs))}")

runs = " && ".join(of("RUN"))
ok(re.search(r"\bmeson setup build\b", runs) is not None, "the Dockerfile runs meson setup build")
ok(re.search(r"\bninja -C build\b", runs) is not None, "the Dockerfile runs ninja -C build")

def exec_form(args):
    try:
        v = json.loads(args)
        return v if isinstance(v, list) else None
    except ValueError:
        return shlex.split(args)
argv = (exec_form(of("ENTRYPOINT")[-1]) if of("ENTRYPOINT") else []) + \
       (exec_form(of("CMD")[-1]) if of("CMD") else [])
ok(any(argv[i:i + 3] == ["slqd", "--home", HOME] for i in range(len(argv))),
   f"the image runs slqd --home {HOME}: {argv}")
entry = os.path.join(docker, "entrypoint.sh")
if os.path.exists(entry):
    ok(re.search(r"^exec \"\$@\"\s*$", open(entry).read(), re.M) is not None,
       "docker/entrypoint.sh ends by exec'ing its arguments")
    ok("docker/entrypoint.sh" in runs or any("entrypoint.sh" in a for a in of("COPY")),
       "the Dockerfile installs docker/entrypoint.sh")

exposed = set()
for a in of("EXPOSE"):
    for tok in a.split():
        tok = tok.split("/")[0]
        lo, _, hi = tok.partition("-")
        exposed.update(range(int(lo), int(hi or lo) + 1))
container_ports = {p for w in want_ports.values() for p in w.values()}
ok(container_ports <= exposed, f"the Dockerfile exposes {sorted(container_ports - exposed)}")

users = of("USER")
ok(bool(users) and users[-1].split(":")[0] not in ("root", "0"), f"slqd runs as a non-root user: {users}")
ok(re.search(r"--exclude[= ]\S*docker/net", " ".join(a for _, a in instrs)) is not None and
   not any(a.split()[0] in (".", "./") for k, a in instrs if k in ("COPY", "ADD") and a and "--exclude" not in a),
   "docker/net (private keys) is kept out of the image")

# --- docker/prepare.sh's homes ----------------------------------------------------------
if prep:
    config_keys = set(re.findall(r'strcmp\(k, "([a-z0-9_]+)"\)', open(os.path.join(root, "node", "config.c")).read()))
    ok(len(config_keys) >= 8, f"the config keys slqd accepts, from node/config.c: {sorted(config_keys)}")
    dirs = sorted(d for d in os.listdir(prep) if d != "keys")
    ok(dirs == sorted(want_services), f"prepare.sh made {want_services}: {dirs}")
    genesis = open(os.path.join(prep, "node0", "genesis.json"), "rb").read()
    validators = [v["pubkey"].lower() for v in json.loads(genesis)["validators"]]
    cfgs = {}
    for name in want_services:
        try:
            cfgs[name] = json.load(open(os.path.join(prep, name, "config.json")))
            ok(isinstance(cfgs[name], dict), f"{name}/config.json is an object")
        except (OSError, ValueError) as e:
            ok(False, f"prepare.sh {name}/config.json is valid JSON: {e}")
            continue
        ok(set(cfgs[name]) <= config_keys, f"{name}: config keys slqd accepts: {sorted(set(cfgs[name]) - config_keys)}")
        ok(os.path.exists(os.path.join(prep, name, "node.pem")), f"{name}: has node.pem")
        ok(open(os.path.join(prep, name, "genesis.json"), "rb").read() == genesis, f"{name}: node0's genesis.json")
    obs = (cfgs.get("observer") or {})
    obs_key = None
    for name, c in cfgs.items():
        want = want_ports[name]
        ok(c.get("p2p_listen") == f"0.0.0.0:{want['p2p']}" and c.get("api_listen") == f"0.0.0.0:{want['api']}",
           f"{name}: listens on 0.0.0.0:{want['p2p']} and 0.0.0.0:{want['api']}: {c.get('p2p_listen')} {c.get('api_listen')}")
        others = [v for v in want_services[:N] if v != name]
        ok(sorted(c.get("peers", [])) == sorted(f"{v}:{want_ports[v]['p2p']}" for v in others),
           f"{name}: peers are the other validators by service name: {c.get('peers')}")
        for peer in c.get("peers", []):
            host, _, port = peer.rpartition(":")
            svc = services.get(host)
            ok(isinstance(svc, dict) and int(port) in [cp for _, cp in ports_of(svc)],
               f"{name}: peer {peer} is a compose service on a port it serves")
        if name == "observer":
            ok(c.get("observers") == [], f"observer: observers is []: {c.get('observers')}")
        else:
            ok(isinstance(c.get("observers"), list) and len(c["observers"]) == 1,
               f"{name}: observers lists the observer's key: {c.get('observers')}")
            if obs_key is None and c.get("observers"):
                obs_key = c["observers"][0]
            ok(c.get("observers") == [obs_key], f"{name}: the same observer key as node0")
    if obs_key:
        ok(obs_key.lower() not in validators, "the observer's key is not a validator key")
        try:
            raw = bytes.fromhex(obs_key)
            want_addr = "slq1" + hashlib.sha256(raw).hexdigest()[:40]
            got_addr = open(observer_address_file).read().strip()
            ok(len(raw) == 32 and got_addr == want_addr,
               f"the observers entry is the raw public key of observer/node.pem: {want_addr} vs slq address {got_addr}")
        except ValueError:
            ok(False, f"the observers entry is hex: {obs_key}")

readme_path = os.path.join(docker, "README.md")
readme = open(readme_path, encoding="utf-8").read() if os.path.exists(readme_path) else ""
ok("docker compose -f docker/compose.yaml up" in readme, "docker/README.md says how to start the network")
PY
py_rc=$?
sed '/^RESULT /d' "$T/py"
[ "$py_rc" -eq 0 ] || fail "the python checks stopped with exit $py_rc"
read -r _ p f < <(grep '^RESULT ' "$T/py")
if [ -n "${p:-}" ]; then
    passed=$((passed + p))
    failed=$((failed + f))
else
    fail "the python checks ran"
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
