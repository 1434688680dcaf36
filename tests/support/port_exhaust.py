#!/usr/bin/env python3
"""Client connections at a fixed rate until the ephemeral ports run out, for sockscope's
port_exhaustion test.

A listener of this process on --host:--port accepts; a client opens --rate connections
per second to it, each closed by the client first (so the client side lands in TIME_WAIT),
then by the server. It stops at the first connect() failing with EADDRNOTAVAIL ("Cannot
assign requested address"), or after --max-seconds. Prints one JSON line at the start
(``{"started": epoch_s}``) and one at the end: ``{"started": epoch_s, "first_eaddrnotavail":
epoch_s or null, "connections": n, "even_first": k}`` where ``even_first`` counts the even
local ports among the first half of the connections. Network safety: it only connects to
its own listener (run it in a private namespace; loopback only).
"""

import argparse
import errno
import json
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--max-seconds", type=float, default=30.0)
    a = p.parse_args()
    rate = max(0.1, min(a.rate, 1000.0))
    limit = max(1.0, min(a.max_seconds, 120.0))
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((a.host, a.port))
    l.listen(1024)
    start = time.time()
    print(json.dumps({"started": start}), flush=True)
    ports = []
    failed_at = None
    i = 0
    while time.time() - start < limit:
        due = start + i / rate
        now = time.time()
        if due > now:
            time.sleep(due - now)
        i += 1
        c = socket.socket()
        try:
            c.connect((a.host, a.port))
        except OSError as e:
            c.close()
            if e.errno == errno.EADDRNOTAVAIL:
                failed_at = time.time()
                break
            raise
        s, _ = l.accept()
        ports.append(c.getsockname()[1])
        c.close()
        s.recv(1)
        s.close()
    half = ports[: len(ports) // 2]
    print(
        json.dumps(
            {
                "started": start,
                "first_eaddrnotavail": failed_at,
                "connections": len(ports),
                "even_first": sum(1 for x in half if x % 2 == 0),
                "half": len(half),
            }
        ),
        flush=True,
    )
    l.close()


if __name__ == "__main__":
    sys.exit(main())
