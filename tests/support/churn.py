#!/usr/bin/env python3
"""Connection churn on loopback, for sockscope's reliability scripts.

Opens and tears down TCP connections to a listener of its own at a target rate for a bounded
time, so that socket dumps taken meanwhile race sockets being born and dying in every state:
SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, TIME_WAIT.

* The acceptor closes each accepted connection at once (server-first close: the server side
  passes through FIN_WAIT and ends in TIME_WAIT, the client side through CLOSE_WAIT/LAST_ACK).
* A fraction `--rst-fraction` of the connections, spread evenly, is aborted by the client with
  SO_LINGER 0 (an RST, no TIME_WAIT on either side); the rest are closed normally. The
  fraction sets how fast TIME_WAIT builds up: smoothly, so that the sockets also expire
  smoothly 60 s later instead of in one wave.
* Clients bind to sources spread over 127.0.0.2..127.0.0.(1+N) so ephemeral ports never run
  out at a few thousand connections per second.

Prints one JSON line when the churn starts (``{"ready": true, "pid": ..., "port": ...}``) and
one when it ends (``{"done": true, "connections": N, "errors": E, "seconds": S}``), then
exits. Bounded: ``--seconds`` (at most 1800) and the parent's death (PR_SET_PDEATHSIG).
Network safety: it only ever connects to its own listener on 127.0.0.1.
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop import IP_BIND_ADDRESS_NO_PORT, die_with_parent, emit, fail, raise_nofile, set_comm  # noqa: E402

_stop = False


def on_signal(_sig, _frame):
    global _stop
    _stop = True


def acceptor(lst, deadline):
    """Accepts and closes at once until the deadline."""
    lst.settimeout(0.2)
    while not _stop and time.monotonic() < deadline:
        try:
            s, _ = lst.accept()
        except (socket.timeout, InterruptedError):
            continue
        except OSError:
            continue
        s.close()


def worker(port, rate, deadline, spread, rst_fraction, index, out_fd):
    """Connects at `rate` per second until the deadline; writes its tally to out_fd."""
    done = errors = 0
    linger = struct.pack("ii", 1, 0)
    batch_s = 0.01
    t0 = time.monotonic()
    while not _stop:
        now = time.monotonic()
        if now >= deadline:
            break
        # Catch up to where the rate says we should be; never more than one batch ahead.
        due = int((now - t0) * rate) - done - errors
        if due <= 0:
            time.sleep(batch_s)
            continue
        for _ in range(min(due, max(1, int(rate * batch_s)))):
            n = done + errors
            src = f"127.0.0.{2 + (n * 7 + index) % spread}"
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                c.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                c.settimeout(1.0)
                c.bind((src, 0))
                c.connect(("127.0.0.1", port))
                if int((n + 1) * rst_fraction) > int(n * rst_fraction):
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                done += 1
            except OSError:
                errors += 1
            finally:
                c.close()
    os.write(out_fd, (json.dumps({"worker": index, "connections": done, "errors": errors}) + "\n").encode())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rate", type=float, default=5000.0, help="connections per second, in total")
    p.add_argument("--seconds", type=float, default=30.0, help="how long to churn (max 1800)")
    p.add_argument("--workers", type=int, default=2, help="connecting processes")
    p.add_argument("--port", type=int, default=0, help="listener port (0: any)")
    p.add_argument("--src-spread", type=int, default=100, help="client sources 127.0.0.2..N+1")
    p.add_argument("--rst-fraction", type=float, default=0.25,
                   help="fraction of connections aborted with an RST (0..1)")
    a = p.parse_args()
    if not (0 < a.seconds <= 1800) or a.rate <= 0 or not (1 <= a.workers <= 16):
        fail("need 0 < --seconds <= 1800, --rate > 0 and 1 <= --workers <= 16")
    if not (1 <= a.src_spread <= 250):
        fail("--src-spread must be in 1..250")
    if not (0.0 <= a.rst_fraction <= 1.0):
        fail("--rst-fraction must be in 0..1")
    set_comm("sscpop-churn")
    die_with_parent()
    raise_nofile()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", a.port))
    lst.listen(4096)
    port = lst.getsockname()[1]
    deadline = time.monotonic() + a.seconds
    r, w = os.pipe()
    kids = []
    for i in range(a.workers):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            lst.close()
            die_with_parent()
            try:
                worker(port, a.rate / a.workers, deadline, a.src_spread, a.rst_fraction, i, w)
            finally:
                os._exit(0)
        kids.append(pid)
    os.close(w)
    t0 = time.monotonic()
    emit({"ready": True, "kind": "churn", "pid": os.getpid(), "port": port, "rate": a.rate,
          "workers": kids, "seconds": a.seconds})
    try:
        acceptor(lst, deadline)
    finally:
        for pid in kids:
            if _stop:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        tallies = []
        with os.fdopen(r) as f:
            for line in f:
                tallies.append(json.loads(line))
        for pid in kids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        seconds = time.monotonic() - t0
        conns = sum(t["connections"] for t in tallies)
        emit({"done": True, "connections": conns, "errors": sum(t["errors"] for t in tallies),
              "seconds": round(seconds, 3), "rate": round(conns / seconds, 1) if seconds else 0})


if __name__ == "__main__":
    main()
