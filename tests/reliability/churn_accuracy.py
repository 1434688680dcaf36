#!/usr/bin/env python3
"""Churn accuracy: does `sockscope summary` count right while thousands of connections a
second are born and die around a static socket set?

In a network namespace of its own, this script builds a static population (ESTABLISHED pairs
over holder processes, and CLOSE_WAIT sockets whose FIN_WAIT2 peers are held by the same
process), starts churn on loopback (tests/support/churn.py), then:

1. netlink phase: runs `summary --format json` RUNS times back to back, taking `ss -tan` just
   before and just after each run. Each run must exit 0 without a panic, report no duplicate
   and no inconsistency, count the static set exactly (per holder process, per state), and give
   a total within TOLERANCE of the ss totals around it.
2. /proc phase: under fresh churn, runs `summary --source proc --format json` back to back
   for PROC_SECONDS. Each run must either count the static set exactly or mark the sample inconsistent, and
   the static set must never be over-counted (a duplicate reported as a socket).

Prints a table of the figures and exits 0 when every check held, 1 otherwise, 2 on a set-up
error. Bounded: churn stops when the netlink runs are done (at most CHURN_SECONDS) and after
PROC_SECONDS in the /proc phase; the namespace and every process are
removed on exit, failure included.

    sudo python3 tests/reliability/churn_accuracy.py            # the RELIABILITY.md figures
    sudo python3 tests/reliability/churn_accuracy.py --established 1000 --closewait 100 \\
        --rate 1000 --runs 20 --proc-seconds 10                  # a quick check
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def static_counts(doc, est_pids, cw_pid):
    """(ESTABLISHED held by the holders, CLOSE_WAIT + FIN_WAIT2 held by the closewait pid)."""
    est = cw = fw = 0
    for p in doc.get("processes", []):
        if p.get("pid") in est_pids:
            est += p["states"]["ESTABLISHED"]
        elif p.get("pid") == cw_pid:
            cw += p["states"]["CLOSE_WAIT"]
            fw += p["states"]["FIN_WAIT2"]
    return est, cw, fw


def run_summary(h, binary, source):
    t0 = time.monotonic()
    argv = [binary, "--netns", h.ns, "--source", source, "summary", "--format", "json"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    ms = (time.monotonic() - t0) * 1000
    doc = None
    if r.returncode == 0:
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = None
    return r, doc, ms


def netlink_phase(h, a, binary, expect, est_pids, cw_pid, churn):
    rows, failures = [], []
    ss_before = h.ss_counts()
    opens0, t0 = h.snmp("ActiveOpens"), time.monotonic()
    for i in range(a.runs):
        if churn.poll() is not None:
            failures.append(f"churn ended after {i} runs; raise --churn-seconds")
            break
        r, doc, ms = run_summary(h, binary, "netlink")
        ss_after = h.ss_counts()
        b, af = sum(ss_before.values()), sum(ss_after.values())
        lo, hi = min(b, af) * (1 - a.tolerance), max(b, af) * (1 + a.tolerance)
        bad = []
        if r.returncode != 0 or doc is None:
            bad.append(f"exit {r.returncode}: {r.stderr.strip()[:200]}")
        elif "panicked" in r.stderr:
            bad.append("panic text on stderr")
        else:
            got = static_counts(doc, est_pids, cw_pid)
            if got != expect:
                bad.append(f"static set {got} != {expect}")
            if doc["duplicates"]:
                bad.append(f"{doc['duplicates']} duplicates")
            if doc["inconsistent"]:
                bad.append(f"inconsistent: {doc['inconsistent']}")
            if not lo <= doc["total"] <= hi:
                bad.append(f"total {doc['total']} outside [{lo:.0f}, {hi:.0f}] (ss {b}, {af})")
        dev = 0.0
        if doc is not None:
            mid = (b + af) / 2 or 1
            dev = (doc["total"] - mid) / mid * 100
        static_ok = doc is not None and static_counts(doc, est_pids, cw_pid) == expect
        rows.append({"ms": ms, "total": doc["total"] if doc else None, "ss": (b, af), "dev": dev,
                     "static_ok": static_ok})
        failures += [f"netlink run {i + 1}: {m}" for m in bad]
        ss_before = ss_after
    elapsed = time.monotonic() - t0
    churn_rate = (h.snmp("ActiveOpens") - opens0) / elapsed
    return rows, failures, churn_rate, elapsed


def proc_phase(h, a, binary, expect, est_pids, cw_pid, churn):
    rows, failures = [], []
    opens0, t0 = h.snmp("ActiveOpens"), time.monotonic()
    while churn.poll() is None and len(rows) < a.runs:
        r, doc, ms = run_summary(h, binary, "proc")
        if r.returncode != 0 or doc is None or "panicked" in r.stderr:
            failures.append(f"proc run {len(rows) + 1}: exit {r.returncode}: {r.stderr.strip()[:200]}")
            rows.append({"ms": ms, "exact": False, "inconsistent": False, "dups": 0})
            continue
        got = static_counts(doc, est_pids, cw_pid)
        exact = got == expect
        flagged = bool(doc["inconsistent"])
        if any(g > e for g, e in zip(got, expect)):
            failures.append(f"proc run {len(rows) + 1}: static set over-counted {got} > {expect}")
        if not exact and not flagged:
            failures.append(f"proc run {len(rows) + 1}: static set {got} != {expect}, not flagged")
        rows.append({"ms": ms, "exact": exact, "inconsistent": flagged, "dups": doc["duplicates"]})
    churn_rate = (h.snmp("ActiveOpens") - opens0) / max(1e-9, time.monotonic() - t0)
    return rows, failures, churn_rate


def churn_args(a, seconds):
    return ["--rate", str(a.rate), "--seconds", str(seconds), "--workers", str(a.workers),
            "--rst-fraction", str(a.rst_fraction)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--established", type=int, default=10000, help="static ESTABLISHED pairs (2 sockets each)")
    p.add_argument("--closewait", type=int, default=1000, help="static CLOSE_WAIT sockets")
    p.add_argument("--rate", type=float, default=5000.0, help="churn, connections per second")
    p.add_argument("--workers", type=int, default=2, help="churn processes")
    p.add_argument("--rst-fraction", type=float, default=0.9,
                   help="churn aborted with an RST; the rest leaves TIME_WAIT (default 0.9: "
                   "TIME_WAIT grows smoothly at a tenth of the rate)")
    p.add_argument("--churn-seconds", type=float, default=120.0,
                   help="most churn in the netlink phase (it stops when the runs are done)")
    p.add_argument("--proc-seconds", type=float, default=30.0, help="length of the /proc phase")
    p.add_argument("--runs", type=int, default=100, help="summary runs in the netlink phase")
    p.add_argument("--tolerance", type=float, default=0.02, help="allowed total deviation from ss")
    p.add_argument("--binary", help="sockscope binary (default: build target/release)")
    p.add_argument("--netns-name", help="name of the namespace to create (default: sscchurn<pid>)")
    p.add_argument("--skip-proc", action="store_true", help="netlink phase only")
    a = p.parse_args()
    harness.require_root("churn_accuracy")
    binary = harness.sockscope_binary(a.binary)
    # No tcp_max_tw_buckets cap: a capped table fills in seconds and then expires in one wave
    # 60 s later, a real swing of thousands of sockets within one run that no before/after
    # bracket can follow. Smooth creation (see --rst-fraction) keeps the bracket meaningful.
    sysctls = [("net.ipv4.ip_local_port_range", "1024 65000"), ("net.ipv4.tcp_tw_reuse", "1")]
    failures = []
    with harness.Harness("churn", sysctls, a.netns_name) as h:
        t0 = time.monotonic()
        _, est = h.spawn("pop.py", ["--hold", "900", "established", "--count", str(a.established),
                                    "--per-holder", "9000", "--max-seconds", "300"], timeout=320)
        _, cw = h.spawn("pop.py", ["--hold", "900", "closewait", "--count", str(a.closewait),
                                   "--client-mode", "shutdown"], timeout=120)
        setup_s = time.monotonic() - t0
        est_pids, cw_pid = set(est["pids"]), cw["pid"]
        expect = (2 * a.established, a.closewait, a.closewait)
        print(f"static set ready in {setup_s:.1f}s: {expect[0]} ESTABLISHED over {len(est_pids)} "
              f"holders, {a.closewait} CLOSE_WAIT + {a.closewait} FIN_WAIT2 (pid {cw_pid})")

        churn, _ = h.spawn("churn.py", churn_args(a, a.churn_seconds))
        time.sleep(3)  # let TIME_WAIT build up to its steady level
        rows, fail, nl_rate, nl_s = netlink_phase(h, a, binary, expect, est_pids, cw_pid, churn)
        failures += fail
        churn.terminate()
        churn.wait(timeout=30)

        prow, prate = [], 0.0
        if not a.skip_proc:
            churn, _ = h.spawn("churn.py", churn_args(a, a.proc_seconds + 3))
            time.sleep(3)
            prow, fail, prate = proc_phase(h, a, binary, expect, est_pids, cw_pid, churn)
            failures += fail

    totals = [r["total"] for r in rows if r["total"] is not None]
    devs = [abs(r["dev"]) for r in rows]
    ms = [r["ms"] for r in rows]
    print(f"\nnetlink phase: {len(rows)} runs in {nl_s:.0f}s under {nl_rate:,.0f} connections/s of churn")
    if rows:
        print(f"  total sockets: min {min(totals, default=0):,} max {max(totals, default=0):,}")
        print(f"  deviation from ss mid-point: median {harness.percentile(devs, 50):.2f}% "
              f"max {max(devs):.2f}%")
        print(f"  run time: median {harness.percentile(ms, 50):.0f} ms, max {max(ms):.0f} ms")
        print(f"  static set exact in {sum(r['static_ok'] for r in rows)}/{len(rows)} runs")
    if prow:
        exact = sum(r["exact"] for r in prow)
        flagged = sum(r["inconsistent"] for r in prow)
        pms = [r["ms"] for r in prow]
        print(f"/proc phase: {len(prow)} runs under {prate:,.0f} connections/s of churn")
        print(f"  static set exact in {exact}/{len(prow)}; marked inconsistent {flagged}/{len(prow)}; "
              f"duplicate rows dropped: max {max(r['dups'] for r in prow)} per run")
        print(f"  run time: median {harness.percentile(pms, 50):.0f} ms, max {max(pms):.0f} ms")
    if failures:
        print(f"\nFAILED ({len(failures)}):")
        for f in failures[:30]:
            print(f"  {f}")
        return 1
    print("\nOK: every check held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
