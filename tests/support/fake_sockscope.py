#!/usr/bin/env python3
"""A throwaway oracle of sockscope's CLI contract, built on `ss`, used only to prove that the
live tests (tests/live_collect.rs, tests/live_detect.rs) are satisfiable and parse what they
should before the real binary exists:

    SOCKSCOPE_BIN=$PWD/tests/support/fake_sockscope.py cargo test --test live_collect

It is not the product and not a reference for thresholds: its detection rules are the
simplest ones that make the test scenarios fire. `--source` is accepted and echoed; both
"sources" are ss.
"""

import ipaddress
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone

STATES = ["ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
          "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"]
SS2NET = {"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
          "FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT",
          "UNCONN": "CLOSE", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
          "LISTEN": "LISTEN", "CLOSING": "CLOSING"}


def usage(msg):
    sys.stderr.write(f"sockscope: {msg}\n")
    sys.exit(2)


def canon(s):
    u = s.strip().upper().replace("-", "_")
    u = {"ESTAB": "ESTABLISHED", "FIN_WAIT_1": "FIN_WAIT1", "FIN_WAIT_2": "FIN_WAIT2"}.get(u, u)
    if u not in STATES:
        usage(f"unknown state '{s}'")
    return u


def port_range(s):
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", s)
    if not m:
        usage(f"invalid port '{s}'")
    lo, hi = int(m[1]), int(m[2] or m[1])
    if not (1 <= lo <= hi <= 65535):
        usage(f"invalid port '{s}'")
    return lo, hi


def parse(argv):
    o = {"cmd": None, "netns": None, "source": "auto", "sport": [], "dport": [], "state": [],
         "process": [], "fam": None, "format": None, "by": "state", "interval": 1.0}
    it = iter(argv)
    for a in it:
        if a in ("summary", "sockets", "check") and o["cmd"] is None:
            o["cmd"] = a
        elif a == "--netns":
            o["netns"] = next(it, None) or usage("--netns needs a value")
        elif a == "--source":
            o["source"] = next(it, "")
            if o["source"] not in ("auto", "netlink", "proc"):
                usage(f"invalid source '{o['source']}'")
        elif a in ("--sport", "--dport"):
            o[a[2:]].append(port_range(next(it, "")))
        elif a in ("--src", "--dst"):
            try:
                ipaddress.ip_network(next(it, ""), strict=False)
            except ValueError:
                usage(f"invalid CIDR for {a}")
        elif a == "--state":
            o["state"] += [canon(s) for s in next(it, "").split(",")]
        elif a == "--process":
            o["process"].append(next(it, ""))
        elif a in ("-4", "-6"):
            o["fam"] = a
        elif a == "--format":
            o["format"] = next(it, "")
        elif a == "--by":
            o["by"] = next(it, "")
        elif a == "--interval":
            v = next(it, "")
            m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", v)
            if not m:
                usage(f"invalid duration '{v}'")
            o["interval"] = float(m[1]) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[m[2]]
        elif a == "--debug-dump-only":
            usage("no such flag")
        else:
            usage(f"unexpected argument '{a}'")
    if o["cmd"] is None:
        usage("a subcommand is required")
    return o


def enter_netns(o):
    ns = o["netns"]
    if ns is None or os.environ.get("FAKE_SSC_IN_NS"):
        return
    path = ns if "/" in ns else f"/run/netns/{ns}"
    if not os.path.exists(path):
        usage(f"network namespace '{ns}' not found")
    env = dict(os.environ, FAKE_SSC_IN_NS=ns)
    os.execvpe("nsenter", ["nsenter", f"--net={path}", sys.executable] + sys.argv, env)


def port_of(addr):
    p = addr.rsplit(":", 1)[1]
    return 0 if p == "*" else int(p)


def rows(o):
    fam = [o["fam"]] if o["fam"] else []
    # `ss -p`/`-e` drop request (SYN_RECV) sockets: count from -tan, owners from -tanpe.
    out = subprocess.run(["ss", "-tanH"] + fam, capture_output=True, text=True, check=True).stdout
    ext = subprocess.run(["ss", "-tanpeH"] + fam, capture_output=True, text=True, check=True).stdout
    extra = {}
    for line in ext.splitlines():
        f = line.split()
        if len(f) >= 5:
            extra[(f[0], f[3], f[4])] = line
    res = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        full = extra.get((f[0], f[3], f[4]), "")
        users = re.findall(r'\("([^"]*)",pid=(\d+),fd=\d+\)', full)
        ino = re.search(r"ino:(\d+)", full)
        r = {"state": SS2NET.get(f[0], f[0]), "recv_q": int(f[1]), "send_q": int(f[2]),
             "local": f[3], "remote": f[4], "ino": int(ino[1]) if ino else 0,
             "pid": int(users[0][1]) if users else None, "comm": users[0][0] if users else None}
        if o["sport"] and not any(lo <= port_of(r["local"]) <= hi for lo, hi in o["sport"]):
            continue
        if o["dport"] and not any(lo <= port_of(r["remote"]) <= hi for lo, hi in o["dport"]):
            continue
        if o["state"] and r["state"] not in o["state"]:
            continue
        if o["process"] and not any(p == str(r["pid"]) or p == r["comm"] for p in o["process"]):
            continue
        res.append(r)
    return res


def summary_json(o, rs):
    states = {s: 0 for s in STATES}
    procs, unattr = {}, 0
    for r in rs:
        states[r["state"]] += 1
        if r["pid"] is not None:
            p = procs.setdefault(r["pid"], {"pid": r["pid"], "comm": r["comm"], "user": "root",
                                            "total": 0, "states": {s: 0 for s in STATES}})
            p["total"] += 1
            p["states"][r["state"]] += 1
        elif r["ino"] != 0:
            unattr += 1
    listeners = []
    for r in rs:
        if r["state"] == "LISTEN":
            port = port_of(r["local"])
            syn = sum(1 for x in rs if x["state"] == "SYN_RECV" and port_of(x["local"]) == port)
            listeners.append({"local": r["local"], "pid": r["pid"], "comm": r["comm"],
                              "backlog": r["send_q"], "accept_queue": r["recv_q"], "syn_recv": syn})
    return {"schema_version": 1, "source": "proc" if o["source"] == "proc" else "netlink",
            "taken_at": datetime.now(timezone.utc).isoformat(),
            "netns": o["netns"] or "host", "total": len(rs), "states": states,
            "processes": sorted(procs.values(), key=lambda p: -p["total"]),
            "listeners": listeners,
            "unattributed": {"count": unattr,
                             "reason": "" if os.geteuid() == 0 else
                             "other users' /proc/<pid>/fd are not readable without root"},
            "parse_errors": 0}


def counter(name):
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for h, v in zip(lines[::2], lines[1::2]):
        k, vals = h.split(), v.split()
        if name in k:
            return int(vals[k.index(name)])
    return 0


def check(o):
    c0 = {k: counter(k) for k in ("SyncookiesSent", "TCPReqQFullDrop", "ListenOverflows")}
    time.sleep(o["interval"])
    a = rows(o)
    c1 = {k: counter(k) for k in c0}
    d = {k: c1[k] - c0[k] for k in c0}
    findings = []
    per = {}
    for r in a:
        if r["state"] == "CLOSE_WAIT" and r["pid"] is not None:
            per.setdefault((r["pid"], r["comm"]), 0)
            per[(r["pid"], r["comm"])] += 1
    for (pid, comm), n in per.items():
        if n >= 100:
            findings.append((1, f"close_wait_leak: pid {pid} ({comm}) holds {n} CLOSE_WAIT"))
    for r in a:
        if r["state"] != "LISTEN":
            continue
        port = port_of(r["local"])
        syn = sum(1 for x in a if x["state"] == "SYN_RECV" and port_of(x["local"]) == port)
        if r["recv_q"] > r["send_q"]:
            findings.append((2, f"accept_queue_overflow: listener {r['local']} accept queue "
                                f"{r['recv_q']}/{r['send_q']}"))
        elif syn >= r["send_q"] // 2 or d["SyncookiesSent"] > 0:
            findings.append((2, f"syn_flood: listener {r['local']} {syn} SYN_RECV, "
                                f"{d['SyncookiesSent']} cookies"))
    lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    dests = {}
    for r in a:
        if r["state"] == "TIME_WAIT":
            dests[r["remote"]] = dests.get(r["remote"], 0) + 1
    for dst, n in dests.items():
        if n > (hi - lo + 1) * 0.5:
            findings.append((2, f"time_wait_storm: {n} TIME_WAIT toward {dst}"))
    findings.sort(key=lambda f: -f[0])
    code = findings[0][0] if findings else 0
    level = ["OK", "WARNING", "CRITICAL"][code]
    if o["format"] == "json":
        print(json.dumps({"schema_version": 1, "status": level,
                          "findings": [f[1] for f in findings]}))
    else:
        print(f"SOCKSCOPE {level} - " + (findings[0][1] if findings else "no findings"))
        for f in findings[1:]:
            print(f[1])
    sys.exit(code)


def main():
    o = parse(sys.argv[1:])
    enter_netns(o)
    if o["cmd"] == "check":
        check(o)
    rs = rows(o)
    if o["cmd"] == "sockets":
        print(json.dumps([{k: r[k] for k in ("state", "local", "remote", "recv_q", "send_q",
                                             "pid", "comm")} for r in rs]))
    elif o["format"] == "json":
        print(json.dumps(summary_json(o, rs)))
    else:
        counts = {}
        for r in rs:
            counts[r["state"]] = counts.get(r["state"], 0) + 1
        for s, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"{s}\t{n}")


if __name__ == "__main__":
    main()
