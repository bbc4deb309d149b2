#!/usr/bin/env python3
"""nonce_proxy.py: a proxy in front of a node's API that hands the CLI a chosen pending_nonce
and keeps the transaction it signs instead of passing it on, so that a test can sign with any
nonce through the real slq and post those exact bytes itself (or not at all).

usage: nonce_proxy.py UPSTREAM STATE_DIR. GETs go to UPSTREAM (http://HOST:PORT); in an
answer to GET /v1/accounts/ADDR, pending_nonce is replaced by the number in STATE_DIR/nonce.
A POST /v1/txs writes its transaction's hex to STATE_DIR/tx and answers 202 pending. Prints
the port it listens on (127.0.0.1) as its first line."""
import hashlib, json, sys, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
upstream, state = sys.argv[1], sys.argv[2]
direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never an http_proxy
class Proxy(BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def reply(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        try:
            with direct.open(upstream + self.path, timeout=10) as r:
                status, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        if self.path.startswith("/v1/accounts/") and status == 200:
            d = json.loads(data)
            d["pending_nonce"] = int(open(state + "/nonce").read())
            data = json.dumps(d).encode()
        self.reply(status, data)
    def do_POST(self):
        tx = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["tx"]
        open(state + "/tx", "w").write(tx)
        h = hashlib.sha256(bytes.fromhex(tx)).hexdigest()
        self.reply(202, json.dumps({"results": [{"tx": h, "status": "pending"}]}).encode())
server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()
