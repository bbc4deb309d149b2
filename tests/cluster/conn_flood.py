#!/usr/bin/env python3
"""conn_flood.py: a hostile client that tries to hold many TCP connections open on one
server, for the cluster tests of the connection limits (docs/design-notes.md, "Connections").

It keeps trying to hold IDLE connections that send nothing and SLOW connections that send a
request line and then one header byte every TRICKLE seconds (slowloris), all from the source
addresses given (127.0.0.0/8 is all loopback on Linux, so 127.0.0.2 is a second "client").
A connection the server closes is opened again, at most RATE new connections a second over
all of them, so the flood goes on for the whole run without turning into a SYN flood. It
stops by itself after SECONDS and prints what it saw, one "key value" a line:

  opened N            connections established
  refused N           closed by the server within 1 s of connecting (turned away at accept)
  slow_closed N       SLOW connections the server closed after they had trickled >= 2 bytes
  slow_life_max_ms N  the longest such connection lived before the server closed it
  slow_open_max_ms N  the longest a SLOW connection was still open at the end (0: none)
  held_max N          the most connections established at once

usage: conn_flood.py --port P [--host H] [--source A[,A...]] [--idle N] [--slow N]
                     [--seconds S] [--rate R] [--trickle T] [--proto http|raw]
--proto raw sends the SLOW connections' bytes without HTTP text (a peer port)."""
import argparse
import errno
import selectors
import socket
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--source", default="127.0.0.2")
ap.add_argument("--idle", type=int, default=2000)
ap.add_argument("--slow", type=int, default=300)
ap.add_argument("--seconds", type=float, default=15)
ap.add_argument("--rate", type=int, default=400)
ap.add_argument("--trickle", type=float, default=2.0)
ap.add_argument("--proto", choices=["http", "raw"], default="http")
args = ap.parse_args()

sources = args.source.split(",")
sel = selectors.DefaultSelector()
start = time.monotonic()
end = start + args.seconds
stats = dict(opened=0, refused=0, slow_closed=0, slow_life_max_ms=0, slow_open_max_ms=0,
             held_max=0)


class Conn:
    def __init__(self, slow, n):
        self.slow = slow
        self.i = n  # its place in slots
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.bind((sources[n % len(sources)], 0))
        self.connected_at = None
        self.next_byte = 0.0
        self.sent = 0  # trickled bytes
        err = self.sock.connect_ex((args.host, args.port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, "connect")
        sel.register(self.sock, selectors.EVENT_WRITE, self)


live = {}  # fd -> Conn
want = [False] * args.slow + [True] * args.idle  # slot i: True idle, False slow
slots = [None] * len(want)
held = 0
budget = float(args.rate)  # connections we may open now (token bucket)
last = start


def close(c, by_server):
    global held
    try:
        sel.unregister(c.sock)
    except (KeyError, ValueError):
        pass
    now = time.monotonic()
    if c.connected_at is not None:
        held -= 1
        life = (now - c.connected_at) * 1000
        if by_server and life < 1000 and c.sent == 0:
            stats["refused"] += 1
        if by_server and c.slow and c.sent >= 2:
            stats["slow_closed"] += 1
            stats["slow_life_max_ms"] = max(stats["slow_life_max_ms"], int(life))
    c.sock.close()


def first_bytes():  # raw: the length of a 64-byte frame, whose bytes then trickle
    return b"GET /v1/status HTTP/1.1\r\nX-Slow: " if args.proto == "http" else b"\x00\x00\x00\x40"


while True:
    now = time.monotonic()
    if now >= end:
        break
    budget = min(float(args.rate), budget + (now - last) * args.rate)
    last = now
    for i, c in enumerate(slots):  # open what is missing, within the rate
        if budget < 1:
            break
        if c is None:
            try:
                slots[i] = Conn(not want[i], i)
                budget -= 1
            except OSError:
                budget = 0  # out of ports or descriptors: wait a little
    for key, ev in sel.select(timeout=0.05):
        c = key.data
        if c.connected_at is None:
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                close(c, False)
                slots[c.i] = None
                continue
            c.connected_at = time.monotonic()
            c.next_byte = c.connected_at + args.trickle
            stats["opened"] += 1
            held += 1
            stats["held_max"] = max(stats["held_max"], held)
            if c.slow:
                try:
                    c.sock.send(first_bytes())
                except OSError:
                    pass
            sel.modify(c.sock, selectors.EVENT_READ, c)
            continue
        try:
            data = c.sock.recv(65536)
        except OSError:
            data = b""
        if not data:  # the server closed it
            close(c, True)
            slots[c.i] = None
    now = time.monotonic()
    for c in slots[: args.slow]:  # the slowloris trickle
        if c is None or not c.slow or c.connected_at is None or now < c.next_byte:
            continue
        try:
            c.sock.send(b"a" if args.proto == "http" else b"\x0a")
            c.sent += 1
        except OSError:
            pass
        c.next_byte = now + args.trickle

now = time.monotonic()
for c in slots:
    if c is not None and c.slow and c.connected_at is not None:
        stats["slow_open_max_ms"] = max(stats["slow_open_max_ms"], int((now - c.connected_at) * 1000))
    if c is not None:
        close(c, False)
for k, v in stats.items():
    print(k, v)
sys.stdout.flush()
