#!/usr/bin/env python3
"""mock_node.py: a stand-in for slqd's HTTP API (docs/api.md), for testing the slq CLI's
transaction path without a node: status, accounts, balance, POST /v1/txs and tx results.

It checks what the CLI sends independently of the C code: it decodes the SignedTx and
TxBody protobuf by hand, verifies the Ed25519 signature over chain_id || body with the
`openssl` command, and writes the decoded fields of the last transaction to LOG (JSON).

usage: mock_node.py PORT LOG MODE [KNOWN_ADDRESS]   (PORT 0: any free port)
Prints the port it listens on as its first line.
MODE: ok (pending, then committed on the second poll), reject (POST answers 422),
      reject-later (pending, then rejected), fail (every request answers 500).
KNOWN_ADDRESS has pending_nonce 6; other accounts are unknown (404)."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHAIN_ID = "slq-testnet"
PORT, LOG, MODE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
KNOWN = sys.argv[4] if len(sys.argv) > 4 else ""
KINDS = {1: "register", 2: "issue", 3: "transfer", 4: "redeem", 5: "settle", 6: "revoke",
         9: "review_claim"}
polls = {}
kinds = {}


def varint(b, i):
    v, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def fields(b):
    """Decodes one protobuf message into {field number: [values]} (varints and bytes)."""
    out, i = {}, 0
    while i < len(b):
        key, i = varint(b, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(b, i)
        elif wire == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("unexpected wire type %d" % wire)
        out.setdefault(num, []).append(v)
    return out


def verify(pub, msg, sig):
    """Ed25519 verification with the openssl command (an independent implementation)."""
    der = bytes.fromhex("302a300506032b6570032100") + pub
    with tempfile.TemporaryDirectory() as d:
        paths = [os.path.join(d, n) for n in ("pub.der", "msg", "sig")]
        for p, data in zip(paths, (der, msg, sig)):
            with open(p, "wb") as f:
                f.write(data)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER",
                            "-inkey", paths[0], "-rawin", "-in", paths[1], "-sigfile", paths[2]],
                           capture_output=True)
        return r.returncode == 0


def describe(body):
    """The decoded TxBody as JSON-friendly values (payload fields by number)."""
    f = fields(body)
    kind = f.get(1, [0])[0]
    payload_num = next((n for n in f if n >= 10), None)
    payload = {}
    if payload_num is not None:
        for num, vals in fields(f[payload_num][0]).items():
            payload[str(num)] = [v.hex() if isinstance(v, bytes) else v for v in vals]
    return {"kind": KINDS.get(kind, kind), "nonce": f.get(2, [0])[0], "payload": payload}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, name, code, message):
        self.reply(status, {"error": name, "code": code, "message": message})

    def do_GET(self):
        p = self.path
        if MODE == "fail":
            return self.error(500, "STORAGE_IO", 4, "disk on fire")
        if p == "/v1/status":
            return self.reply(200, {"chain_id": CHAIN_ID, "suite": "ed25519-sha256", "height": 4,
                                    "tip_hash": "00" * 32, "validators": []})
        if p.startswith("/v1/accounts/") and p.endswith("/vouchers"):
            # The address slq1 + "7f" * 20 holds INT64_MAX fen: the CLI must carry it exactly.
            fen = 2**63 - 1 if p.split("/")[3] == "slq1" + "7f" * 20 else 123456
            v = {"id": "ab" * 32, "amount_fen": fen, "program": "general",
                 "budget_year": 2026, "expires_at_ms": 1798732800000, "state": "active",
                 "holder": "extra field"}
            return self.reply(200, {"address": p.split("/")[3], "total_fen": fen,
                                    "vouchers": [v], "extra": 1})
        if p.startswith("/v1/accounts/"):
            if p.split("/")[3] == KNOWN:
                return self.reply(200, {"address": KNOWN, "nonce": 5, "pending_nonce": 6})
            return self.error(404, "NOT_FOUND", 1, "account not registered")
        if p.startswith("/v1/txs/"):
            return self.tx_result(p.split("/")[3])
        return self.error(404, "NOT_FOUND", 1, "no such path")

    def tx_result(self, h):
        polls[h] = polls.get(h, 0) + 1
        if h not in kinds:
            return self.error(404, "NOT_FOUND", 1, "unknown tx")
        if polls[h] < 2:
            return self.reply(200, {"tx": h, "status": "pending"})
        if MODE == "reject-later":
            return self.reply(200, {"tx": h, "status": "rejected", "error": "CONTRACT_REF_USED",
                                    "code": 108, "message": "contract C-1 already claimed"})
        r = {"tx": h, "status": "committed", "height": 5, "index": 0, "kind": kinds[h]}
        if kinds[h] in ("issue", "transfer"):
            r["vouchers"] = ["11" * 32] + (["22" * 32] if kinds[h] == "transfer" else [])
        if kinds[h] == "redeem":
            r["claim"] = "33" * 32
        return self.reply(200, r)

    def do_POST(self):
        if MODE == "fail":
            return self.error(503, "MEMPOOL_FULL", 200, "mempool full")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        raw = bytes.fromhex(body["tx"])
        st = fields(raw)
        tx_body, pub, sig = st[1][0], st[2][0], st[3][0]
        ok = verify(pub, CHAIN_ID.encode() + tx_body, sig)
        d = describe(tx_body)
        d["signature_ok"] = ok
        d["hex"] = body["tx"]
        with open(LOG, "w") as f:
            json.dump(d, f)
        if not ok:
            return self.error(422, "SIG_INVALID", 21, "signature does not verify")
        if MODE == "reject":
            return self.error(422, "NONCE_INVALID", 61, "nonce %d, expected 2" % d["nonce"])
        h = hashlib.sha256(raw).hexdigest()
        kinds[h] = d["kind"]
        self.reply(202, {"results": [{"tx": h, "status": "pending"}]})


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
