#!/usr/bin/env python3
"""N short loopback TCP connections for sockscope's destroy-event tests.

Each connection is opened to a listener of this process on 127.0.0.1, held for a random
0..--hold-ms milliseconds (0: closed at once, a burst), then closed: client first, then the
server side. The listener is closed last. Prints one JSON line at the end:
``{"port": P, "clients": [client ports...], "seconds": S}``. Bounded by --count (at most
100000) and 120 s. Network safety: it only connects to its own listener on 127.0.0.1.
"""

import argparse
import json
import random
import socket
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--hold-ms", type=float, default=20.0)
    a = p.parse_args()
    count = max(0, min(a.count, 100000))
    l = socket.socket()
    l.bind(("127.0.0.1", 0))
    l.listen(4096)
    port = l.getsockname()[1]
    clients = []
    start = time.monotonic()
    for _ in range(count):
        if time.monotonic() - start > 120:
            break
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = l.accept()
        clients.append(c.getsockname()[1])
        if a.hold_ms > 0:
            time.sleep(random.uniform(0, a.hold_ms) / 1000.0)


        c.close()
        s.close()
    l.close()
    print(json.dumps({"port": port, "clients": clients, "seconds": time.monotonic() - start}))


if __name__ == "__main__":
    main()
