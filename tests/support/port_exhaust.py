#!/usr/bin/env python3
"""Client connections at a fixed rate until the ephemeral ports run out, for sockscope's
port_exhaustion test.

A listener of this process on --host:--port accepts; a client opens --rate connections
per second to it, each closed by the client first (so the client side lands in TIME_WAIT),
then by the server. With --bind-extra P it also listens on P (a port inside the range
blocks it for every connect()); --linger S keeps both listening S seconds after the end.
It stops at the first connect() failing with EADDRNOTAVAIL ("Cannot
assign requested address"), or after --max-seconds. Prints one JSON line at the start
(``{"started": epoch_s}``) and one at the end: ``{"started": epoch_s, "first_eaddrnotavail":
epoch_s or null, "connections": n, "leading_even": k, "times": [epoch_s…]}`` where ``leading_even``
counts the connections before the first one on an odd local port and ``times`` says when
each connect() returned. Network safety: it only connects to
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
    p.add_argument("--bind-extra", type=int, default=0, help="also listen on this port")
    p.add_argument("--linger", type=float, default=0.0, help="seconds to keep listening after")
    a = p.parse_args()
    rate = max(0.1, min(a.rate, 1000.0))
    limit = max(1.0, min(a.max_seconds, 120.0))
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((a.host, a.port))
    l.listen(1024)
    extra = None
    if a.bind_extra:
        extra = socket.socket()
        extra.bind((a.host, a.bind_extra))
        extra.listen(1)
    start = time.time()
    print(json.dumps({"started": start}), flush=True)
    ports = []
    times = []
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
        times.append(time.time())
        c.close()
        s.recv(1)
        s.close()
    leading_even = 0
    while leading_even < len(ports) and ports[leading_even] % 2 == 0:
        leading_even += 1
    print(
        json.dumps(
            {
                "started": start,
                "first_eaddrnotavail": failed_at,
                "connections": len(ports),
                "leading_even": leading_even,
                "times": times,
            }
        ),
        flush=True,
    )
    time.sleep(max(0.0, min(a.linger, 30.0)))
    l.close()
    if extra is not None:
        extra.close()


if __name__ == "__main__":
    sys.exit(main())
