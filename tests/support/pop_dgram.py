#!/usr/bin/env python3
"""UDP and UNIX socket populations for sockscope's benchmark (benches/bench_udp_unix.sh).

``udp N``: N UDP sockets bound to 127.0.0.1 (every fourth one connected to another), held.
``unix N``: N UNIX sockets: a few path and abstract listeners under a temp dir, and
socketpairs (stream and datagram) for the rest, held.

Prints one JSON line when ready ({"ready": true, "pid": ..., "count": ...}) and holds until
SIGTERM/SIGINT, ``--hold`` seconds, or the parent's death. Traffic: none, except the
loopback connects of UDP sockets. Loops are bounded by N (at most 20000 per process).
"""

import argparse
import ctypes
import json
import os
import resource
import signal
import socket
import sys
import tempfile
import time

_stop = False


def on_signal(_sig, _frame):
    global _stop
    _stop = True


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def prepare(name):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)  # PR_SET_NAME
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)


def udp(n):
    held = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        if i % 4 == 3 and held:
            s.connect(held[-1].getsockname())
        held.append(s)
    return held


def unix(n, tmp):
    held = []
    for i in range(min(8, n)):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if i % 2:
            s.bind("\0sscbench-%d-%d" % (os.getpid(), i))
        else:
            s.bind(os.path.join(tmp, "l%d.sock" % i))
        s.listen(16)
        held.append(s)
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM)
    i = 0
    while len(held) + 2 <= n:
        held.extend(socket.socketpair(socket.AF_UNIX, kinds[i % 2]))
        i += 1
    return held


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["udp", "unix"])
    p.add_argument("count", type=int)
    p.add_argument("--hold", type=float, default=600.0)
    a = p.parse_args()
    if not 1 <= a.count <= 20000:
        emit({"ready": False, "error": "count must be 1..20000"})
        return 1
    prepare("sscpop-" + a.kind)
    with tempfile.TemporaryDirectory(prefix="sscpop-") as tmp:
        try:
            held = udp(a.count) if a.kind == "udp" else unix(a.count, tmp)
        except OSError as e:
            emit({"ready": False, "error": str(e)})
            return 1
        emit({"ready": True, "pid": os.getpid(), "count": len(held)})
        deadline = time.monotonic() + a.hold
        while not _stop and time.monotonic() < deadline:
            time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
