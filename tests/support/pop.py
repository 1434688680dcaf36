#!/usr/bin/env python3
"""Socket population generators for sockscope's live tests and benches.

Every subcommand builds one population of TCP sockets, prints exactly one JSON line on stdout
when it is ready (``{"ready": true, "pid": ..., ...}``), then holds the population until one of:

* SIGTERM / SIGINT / SIGHUP,
* stdin reaching EOF (only watched when stdin is a pipe or socket, so ``</dev/null`` in a
  shell script does not end the hold at once),
* ``--hold SECONDS`` elapsing (default 120 s: nothing lingers),
* the parent dying (PR_SET_PDEATHSIG -> SIGTERM).

On failure it prints ``{"ready": false, "error": "..."}`` and exits 1.

Network safety: traffic goes only to 127.0.0.0/8, ::1, or (``synflood``) to an address inside
the caller's private veth subnet, checked before anything is sent. Every loop is bounded in
count and time.

The process renames itself (PR_SET_NAME) to ``sscpop-<kind>`` so tests can check the ``comm``
that sockscope reports.
"""

import argparse
import ctypes
import errno
import ipaddress
import json
import os
import random
import select
import signal
import socket
import stat
import struct
import sys
import time

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1
IP_BIND_ADDRESS_NO_PORT = 24
TCP_INFO = 11
TCP_STATE_CLOSE_WAIT = 8
TCP_STATE_FIN_WAIT2 = 5
TCP_STATE_ESTABLISHED = 1

_libc = None
_stop = False


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def set_comm(name):
    try:
        libc().prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except OSError:
        pass


def die_with_parent():
    try:
        libc().prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


def on_signal(_sig, _frame):
    global _stop
    _stop = True


def raise_nofile():
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def fail(msg):
    emit({"ready": False, "error": msg, "pid": os.getpid()})
    sys.exit(1)


def stdin_is_watchable():
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def hold(seconds, tick=None, tick_every=None):
    """Block until signalled, stdin EOF, or `seconds` pass. Calls tick() every tick_every s."""
    deadline = time.monotonic() + seconds
    watch = stdin_is_watchable()
    next_tick = time.monotonic() + tick_every if tick and tick_every else None
    while not _stop:
        now = time.monotonic()
        if now >= deadline:
            return "hold-expired"
        wait = deadline - now
        if next_tick is not None:
            wait = max(0.0, min(wait, next_tick - now))
        try:
            if watch:
                r, _, _ = select.select([0], [], [], wait)
                if r and not os.read(0, 4096):
                    return "stdin-eof"
            else:
                time.sleep(min(wait, 0.5))
        except InterruptedError:
            continue
        if next_tick is not None and time.monotonic() >= next_tick:
            tick()
            next_tick += tick_every
    return "signal"


def tcp_state(sock):
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 32)
    except OSError:
        return -1
    return info[0]


def listen_queue(sock):
    """For a LISTEN socket, tcp_info carries accept-queue length and backlog (unacked/sacked)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 32)
    unacked, sacked = struct.unpack_from("=II", info, 24)
    return unacked, sacked


def loopback(family):
    return ("::1", socket.AF_INET6) if family == 6 else ("127.0.0.1", socket.AF_INET)


def make_listener(addr, af, port, backlog):
    s = socket.socket(af, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(backlog)
    return s


def wait_states(socks, want, deadline_s=10.0):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if all(tcp_state(s) == want for s in socks):
            return True
        time.sleep(0.01)
    return False


# --------------------------------------------------------------------------- closewait


def cmd_closewait(a):
    set_comm("sscpop-cw")
    limit = raise_nofile()
    addr, af = loopback(a.family)
    # Server fds are held; client fds are closed (or half-closed, see --client-mode).
    per_conn = 2 if a.client_mode == "shutdown" else 1
    max_count = a.max_count if a.max_count else (a.count * 10 if a.grow_per_sec else a.count)
    max_count = min(max_count, (limit - 64) // per_conn)
    if a.count > max_count:
        fail(f"count {a.count} exceeds fd budget {max_count} (RLIMIT_NOFILE {limit})")
    lst = make_listener(addr, af, a.port, min(max(a.count, 128), 4096))
    port = lst.getsockname()[1]
    held, clients = [], []

    def one():
        c = socket.socket(af, socket.SOCK_STREAM)
        c.settimeout(5)
        c.connect((addr, port))
        s, _ = lst.accept()
        if a.client_mode == "shutdown":
            c.shutdown(socket.SHUT_WR)
            clients.append(c)
        else:
            c.close()
        held.append(s)
        return s

    lst.settimeout(5)
    t0 = time.monotonic()
    fresh = [one() for _ in range(a.count)]
    if not wait_states(fresh, TCP_STATE_CLOSE_WAIT):
        fail("accepted sockets did not all reach CLOSE_WAIT within 10 s")
    emit(
        {
            "ready": True,
            "kind": "closewait",
            "pid": os.getpid(),
            "comm": "sscpop-cw",
            "family": a.family,
            "addr": addr,
            "port": port,
            "count": len(held),
            "client_mode": a.client_mode,
            "client_state": "FIN_WAIT2",
            "grow_per_sec": a.grow_per_sec,
            "max_count": max_count,
            "setup_ms": int((time.monotonic() - t0) * 1000),
        }
    )
    tick, every = None, None
    if a.grow_per_sec > 0:
        # Add in small batches so the growth is smooth at any rate.
        every = 0.1
        acc = [0.0]

        def tick():
            acc[0] += a.grow_per_sec * every
            n = int(acc[0])
            acc[0] -= n
            for _ in range(n):
                if len(held) >= max_count:
                    return
                one()

    hold(a.hold, tick, every)


# --------------------------------------------------------------------------- timewait


def cmd_timewait(a):
    set_comm("sscpop-tw")
    raise_nofile()
    dst = a.dst_addr
    if not ipaddress.ip_address(dst).is_loopback:
        fail("timewait only connects to loopback")
    af = socket.AF_INET6 if ":" in dst else socket.AF_INET
    lst = None
    port = a.dst_port
    if not port:
        lst = make_listener(dst, af, 0, 4096)
        lst.settimeout(5)
        port = lst.getsockname()[1]
    errors, sources, seq = {}, set(), [0]

    def one():
        """One short connection, client closes first. True when made; False to stop."""
        i = seq[0]
        seq[0] += 1
        c = socket.socket(af, socket.SOCK_STREAM)
        c.settimeout(5)
        try:
            if a.src_spread > 1 and af == socket.AF_INET:
                src = f"127.0.0.{1 + (i % a.src_spread)}"
                c.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                c.bind((src, 0))
                sources.add(src)
            c.connect((dst, port))
        except OSError as e:
            c.close()
            name = errno.errorcode.get(e.errno, str(e.errno))
            errors[name] = errors.get(name, 0) + 1
            if e.errno == errno.EADDRNOTAVAIL:
                return False  # ports toward this destination exhausted: the storm is built
            return None  # skip this one
        if lst is not None:
            s, _ = lst.accept()
            c.close()  # client closes first -> client side ends in TIME_WAIT
            s.settimeout(5)
            try:
                s.recv(1)  # returns b"" once the client's FIN has arrived
            except OSError:
                pass
            s.close()
        else:
            c.close()
        return True

    made = 0
    t0 = time.monotonic()
    deadline = t0 + a.max_seconds
    born = []  # creation times, for --maintain
    for _ in range(a.count):
        if time.monotonic() > deadline:
            errors["deadline"] = errors.get("deadline", 0) + 1
            break
        ok = one()
        if ok is False:
            break
        if ok:
            made += 1
            born.append(time.monotonic())
    if made == 0:
        fail(f"no connection made: {errors}")
    emit(
        {
            "ready": True,
            "kind": "timewait",
            "pid": os.getpid(),
            "comm": "sscpop-tw",
            "dst": dst,
            "port": port,
            "count": made,
            "requested": a.count,
            "errors": errors,
            "maintain": a.maintain,
            "sources": sorted(sources) or ["127.0.0.1" if af == socket.AF_INET else "::1"],
            "setup_ms": int((time.monotonic() - t0) * 1000),
        }
    )
    tick = None
    if a.maintain:
        # TIME_WAIT lives 60 s: replace each connection at 58 s so the count stays ~made.
        def tick():
            now = time.monotonic()
            while born and now - born[0] > 58:
                born.pop(0)
            budget = time.monotonic() + 0.5
            while len(born) < made and time.monotonic() < budget:
                if one():
                    born.append(time.monotonic())

    hold(a.hold, tick, 1.0 if tick else None)


# --------------------------------------------------------------------------- established


def hold_pairs(n, family, out_fd):
    """Child body: n ESTABLISHED pairs on a private listener; report on out_fd; then hold."""
    set_comm("sscpop-est")
    raise_nofile()
    addr, af = loopback(family)
    lst = make_listener(addr, af, 0, 4096)
    lst.settimeout(5)
    port = lst.getsockname()[1]
    socks = []
    for _ in range(n):
        c = socket.socket(af, socket.SOCK_STREAM)
        c.settimeout(5)
        c.connect((addr, port))
        s, _ = lst.accept()
        socks.append(c)
        socks.append(s)
    os.write(out_fd, (json.dumps({"pid": os.getpid(), "port": port, "pairs": n}) + "\n").encode())
    os.close(out_fd)
    return lst, socks  # the caller keeps them alive while it holds


def cmd_established(a):
    set_comm("sscpop-est")
    die_with_parent()
    # 20k open files per process: at most per_holder pairs (2 fds each) in one holder.
    holders = max(a.holders, -(-a.count // a.per_holder))
    base, extra = divmod(a.count, holders)
    kids = []
    t0 = time.monotonic()
    for h in range(holders):
        n = base + (1 if h < extra else 0)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                die_with_parent()
                signal.signal(signal.SIGTERM, on_signal)
                kept = hold_pairs(n, a.family, w)
                hold(a.hold + 5)
                del kept
            except BaseException as e:  # noqa: BLE001 - report anything, then exit
                sys.stderr.write(f"holder failed: {e!r}\n")
                code = 1
            os._exit(code)
        os.close(w)
        kids.append((pid, r))
    infos = []
    deadline = time.monotonic() + a.max_seconds
    for pid, r in kids:
        buf = b""
        while not buf.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(r, 4096)
            if not chunk:
                break
            buf += chunk
        os.close(r)
        if not buf.endswith(b"\n"):
            for p, _ in kids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            fail(f"holder {pid} did not get ready")
        infos.append(json.loads(buf))
    emit(
        {
            "ready": True,
            "kind": "established",
            "pid": os.getpid(),
            "comm": "sscpop-est",
            "pairs": a.count,
            "holders": infos,
            "pids": [i["pid"] for i in infos],
            "ports": [i["port"] for i in infos],
            "setup_ms": int((time.monotonic() - t0) * 1000),
        }
    )
    try:
        hold(a.hold)
    finally:
        for pid, _ in kids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid, _ in kids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


# --------------------------------------------------------------------------- acceptoverflow


def cmd_acceptoverflow(a):
    set_comm("sscpop-aq")
    raise_nofile()
    addr, af = loopback(a.family)
    lst = make_listener(addr, af, a.port, a.backlog)  # never accept()ed
    port = lst.getsockname()[1]
    clients = []
    for _ in range(a.clients):
        c = socket.socket(af, socket.SOCK_STREAM)
        c.setblocking(False)
        err = c.connect_ex((addr, port))
        if err not in (0, errno.EINPROGRESS):
            fail(f"connect: {errno.errorcode.get(err, err)}")
        clients.append(c)
    want = min(a.clients, a.backlog + 1)  # the accept queue holds backlog + 1
    deadline = time.monotonic() + 10
    queued, backlog = listen_queue(lst)
    while queued < want and time.monotonic() < deadline:
        time.sleep(0.01)
        queued, backlog = listen_queue(lst)
    if queued < want:
        fail(f"accept queue reached only {queued}/{want}")
    emit(
        {
            "ready": True,
            "kind": "acceptoverflow",
            "pid": os.getpid(),
            "comm": "sscpop-aq",
            "addr": addr,
            "port": port,
            "backlog": backlog,
            "accept_queue": queued,
            "clients": a.clients,
        }
    )
    hold(a.hold)


# --------------------------------------------------------------------------- listen


def cmd_listen(a):
    set_comm("sscpop-lst")
    af = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    lst = make_listener(a.addr, af, a.port, a.backlog)  # never accept()ed
    emit(
        {
            "ready": True,
            "kind": "listen",
            "pid": os.getpid(),
            "comm": "sscpop-lst",
            "addr": a.addr,
            "port": lst.getsockname()[1],
            "backlog": a.backlog,
        }
    )
    hold(a.hold)


# --------------------------------------------------------------------------- synflood


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn_packet(src, dst, sport, dport, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = struct.pack("!4s4sBBH", src.packed, dst.packed, 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45, 0, 20 + len(tcp), random.randint(0, 0xFFFF), 0, 64, socket.IPPROTO_TCP, 0,
        src.packed, dst.packed,
    )  # fmt: skip
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def cmd_synflood(a):
    set_comm("sscpop-syn")
    net = ipaddress.ip_network(a.src_net, strict=True)
    dst = ipaddress.ip_address(a.dst)
    # Safety: only a private /24-or-smaller veth subnet that also contains the destination.
    if net.version != 4 or not net.is_private or net.prefixlen < 24 or dst not in net:
        fail(f"refusing: src-net {net} must be a private IPv4 /24+ that contains dst {dst}")
    lo, hi = a.src_host_from, a.src_host_to
    hosts = [net.network_address + i for i in range(lo, hi + 1)]
    hosts = [h for h in hosts if h in net and h != dst and h != net.broadcast_address]
    if not hosts:
        fail("no spoofed source hosts left in range")
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    rng = random.Random(a.seed)
    sent = [0]
    max_total = a.count + int(a.rate * a.hold)

    def send(n):
        for _ in range(n):
            if sent[0] >= max_total:
                return
            src = hosts[rng.randrange(len(hosts))]
            pkt = syn_packet(src, dst, rng.randint(1024, 65000), a.dport, rng.getrandbits(32))
            raw.sendto(pkt, (str(dst), 0))
            sent[0] += 1

    t0 = time.monotonic()
    burst_deadline = t0 + 10
    while sent[0] < a.count and time.monotonic() < burst_deadline:
        send(min(100, a.count - sent[0]))
        if a.burst_pause_ms:
            time.sleep(a.burst_pause_ms / 1000)
    emit(
        {
            "ready": True,
            "kind": "synflood",
            "pid": os.getpid(),
            "comm": "sscpop-syn",
            "sent": sent[0],
            "dst": str(dst),
            "dport": a.dport,
            "sources": len(hosts),
            "rate": a.rate,
        }
    )
    tick, every = None, None
    if a.rate > 0:
        every = 0.1
        acc = [0.0]

        def tick():
            acc[0] += a.rate * every
            n = int(acc[0])
            acc[0] -= n
            send(n)

    hold(a.hold, tick, every)


# --------------------------------------------------------------------------- main


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--hold", type=float, default=120.0, help="max seconds to hold (default 120)")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("closewait", help="server-side CLOSE_WAIT under this pid")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--family", type=int, choices=(4, 6), default=4)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--grow-per-sec", type=float, default=0.0)
    s.add_argument("--max-count", type=int, default=0, help="cap for growth (default 10x count)")
    s.add_argument(
        "--client-mode",
        choices=("close", "shutdown"),
        default="close",
        help="close: client fds closed, FIN_WAIT2 orphans expire after tcp_fin_timeout;\n"
        "shutdown: clients shutdown(SHUT_WR) and are held, FIN_WAIT2 stays",
    )
    s.set_defaults(fn=cmd_closewait)

    s = sub.add_parser("timewait", help="client-side TIME_WAIT toward one destination")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--dst-addr", default="127.0.0.1")
    s.add_argument("--dst-port", type=int, default=0, help="0: own listener (accepts+closes)")
    s.add_argument("--src-spread", type=int, default=1, help="spread sources over 127.0.0.1..N")
    s.add_argument("--max-seconds", type=float, default=20.0)
    s.add_argument("--maintain", action="store_true", help="keep ~count TIME_WAIT (replace expiring)")
    s.set_defaults(fn=cmd_timewait)

    s = sub.add_parser("established", help="held ESTABLISHED pairs over holder processes")
    s.add_argument("--count", type=int, required=True, help="pairs (2 sockets each)")
    s.add_argument("--family", type=int, choices=(4, 6), default=4)
    s.add_argument("--holders", type=int, default=1)
    s.add_argument("--per-holder", type=int, default=9000, help="max pairs per holder")
    s.add_argument("--max-seconds", type=float, default=120.0)
    s.set_defaults(fn=cmd_established)

    s = sub.add_parser("acceptoverflow", help="listener that never accepts, more clients")
    s.add_argument("--backlog", type=int, required=True)
    s.add_argument("--clients", type=int, required=True)
    s.add_argument("--family", type=int, choices=(4, 6), default=4)
    s.add_argument("--port", type=int, default=0)
    s.set_defaults(fn=cmd_acceptoverflow)

    s = sub.add_parser("listen", help="listener that never accepts (synflood target)")
    s.add_argument("--backlog", type=int, required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--addr", default="0.0.0.0")
    s.set_defaults(fn=cmd_listen)

    s = sub.add_parser("synflood", help="spoofed SYNs inside a private veth subnet (raw socket)")
    s.add_argument("--dst", required=True)
    s.add_argument("--dport", type=int, required=True)
    s.add_argument("--src-net", required=True, help="the veth subnet, e.g. 10.201.3.0/24")
    s.add_argument("--src-host-from", type=int, default=100)
    s.add_argument("--src-host-to", type=int, default=250)
    s.add_argument("--count", type=int, default=200, help="initial burst before ready")
    s.add_argument("--rate", type=float, default=0.0, help="SYNs/s after ready, until hold ends")
    s.add_argument("--burst-pause-ms", type=float, default=0.0)
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(fn=cmd_synflood)

    a = p.parse_args()
    if a.hold <= 0 or a.hold > 3600:
        fail("--hold must be in (0, 3600]")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if a.cmd != "established":
        die_with_parent()
    try:
        a.fn(a)
    except OSError as e:
        fail(f"{a.cmd}: {e}")


if __name__ == "__main__":
    main()
