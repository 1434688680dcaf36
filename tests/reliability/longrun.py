#!/usr/bin/env python3
"""Long run: do sockscope's RSS and open-fd count stay flat over thousands of collector ticks?

In a network namespace of its own, this script holds about 20k sockets (ESTABLISHED pairs and
CLOSE_WAIT with their FIN_WAIT2 peers) plus steady connection churn (tests/support/churn.py),
then runs one long-lived sockscope against it at a short interval and samples the process's
VmRSS and /proc/PID/fd count once a second:

* `--mode watch` (default): `watch --format jsonl --count TICKS`; every tick prints one line,
  so ticks are counted exactly. Collector, attribution, counters and the analyzer run each tick,
  exactly as under the dashboard and `serve`.
* `--mode dashboard`: the live dashboard in a detached tmux session for the time TICKS ticks
  take at the interval (the UI loop, its history rings and the channel included). Ticks are
  nominal (elapsed time / interval): the dashboard prints nothing countable; it stretches
  its interval only when a tick is slower than it, which the interval must prevent.

Growth is measured from the end of warm-up (WARMUP ticks, default 10% of TICKS and at least
the analyzer's history ring plus 100 ticks, since that ring fills first) to the end, like
against like: the median of the first tenth after warm-up against the median of the last
tenth, and the highest sample of the first tenth against the highest of all after it (the
high-water mark of the curve). The check fails above GROWTH (default 5%) for either, and
above FD_GROWTH (default 5%) for fds. The highest sample is also shown against the first
median: the dashboard collects into new memory while the last tick is still on screen, so
a sample landing mid-tick reads one tick's worth above rest every tick, a swing that is not
growth. Prints the curve (one row per tenth of the run) and exits 0 when flat, 1 when not,
2 on a set-up error.

    sudo python3 tests/reliability/longrun.py                       # 10,000 ticks at 20 ms
    sudo python3 tests/reliability/longrun.py --mode dashboard --ticks 4000 --interval 250ms --warmup 1200
"""

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def parse_ms(text):
    if text.endswith("ms"):
        return float(text[:-2])
    if text.endswith("s"):
        return float(text[:-1]) * 1000
    return float(text) * 1000


def common_args(h, a):
    extra = ["--threshold", f"history.max_samples={a.history}"] if a.history else []
    return ["--netns", h.ns, *extra]


def start_watch(h, binary, a):
    argv = [binary, *common_args(h, a), "watch", "--format", "jsonl", "--interval", a.interval,
            "--count", str(a.ticks)]
    env = dict(os.environ, **dict(kv.split("=", 1) for kv in a.env))
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ticks = [0]
    errs = []

    def count():
        for _ in p.stdout:
            ticks[0] += 1

    def drain():
        for line in p.stderr:
            errs.append(line.rstrip())

    threading.Thread(target=count, daemon=True).start()
    threading.Thread(target=drain, daemon=True).start()
    return p.pid, (lambda: p.poll() is not None), (lambda: ticks[0]), errs, p.kill


def start_dashboard(h, binary, a):
    if shutil.which("tmux") is None:
        harness.die("tmux not found (apt-get install tmux)")
    session = f"ssclong{os.getpid()}"
    cmd = " ".join([binary, *common_args(h, a), "--interval", a.interval])
    env = [arg for kv in a.env for arg in ("-e", kv)]
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "48", *env,
                    cmd], check=True)
    pid = None
    deadline = time.monotonic() + 10
    while pid is None and time.monotonic() < deadline:
        out = subprocess.run(["pgrep", "-n", "-f", cmd],
                             capture_output=True, text=True).stdout.split()
        pid = int(out[0]) if out else None
        time.sleep(0.1)
    if pid is None:
        harness.die("dashboard did not start")
    start = time.monotonic()
    per_tick = parse_ms(a.interval) / 1000

    def kill():
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)

    done = lambda: (not os.path.exists(f"/proc/{pid}")) or time.monotonic() - start > a.ticks * per_tick  # noqa: E731
    nominal = lambda: int((time.monotonic() - start) / per_tick)  # noqa: E731
    return pid, done, nominal, [], kill


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("watch", "dashboard"), default="watch")
    p.add_argument("--ticks", type=int, default=10000)
    p.add_argument("--interval", default="20ms", help="sockscope --interval (e.g. 20ms)")
    p.add_argument("--pairs", type=int, default=9000, help="ESTABLISHED pairs (2 sockets each)")
    p.add_argument("--closewait", type=int, default=1000)
    p.add_argument("--rate", type=float, default=500.0, help="churn, connections per second")
    p.add_argument("--warmup", type=int, default=0, help="ticks before the baseline (default 10%%)")
    p.add_argument("--growth", type=float, default=0.05, help="allowed RSS growth after warm-up")
    p.add_argument("--fd-growth", type=float, default=0.05, help="allowed fd growth after warm-up")
    p.add_argument("--max-seconds", type=float, default=0,
                   help="bound on the run (default: 4x the nominal time + 30 s, 60 to 1800 s)")
    p.add_argument("--history", type=int, default=0,
                   help="history.max_samples for sockscope (default: its own, 600); the ring "
                   "fills during warm-up, so warm-up must be longer than it")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment for sockscope (repeatable), e.g. MALLOC_ARENA_MAX=1 to "
                   "compare allocator settings")
    p.add_argument("--csv", help="also write every sample (t, ticks, RSS, HWM, fds) to this file")
    p.add_argument("--binary", help="sockscope binary (default: build target/release)")
    p.add_argument("--netns-name", help="name of the namespace to create (default: ssclong<pid>)")
    a = p.parse_args()
    if any("=" not in kv for kv in a.env):
        harness.die("--env takes NAME=VALUE")
    harness.require_root("longrun")
    if a.mode == "dashboard" and parse_ms(a.interval) < 250:
        harness.die("the dashboard's shortest interval is 250ms (it clamps shorter ones)")
    binary = harness.sockscope_binary(a.binary)
    warmup = a.warmup or max(a.ticks // 10, (a.history or 600) + 100)
    per_tick_s = parse_ms(a.interval) / 1000
    sysctls = [("net.ipv4.ip_local_port_range", "1024 65000"), ("net.ipv4.tcp_tw_reuse", "1"),
               ("net.ipv4.tcp_max_tw_buckets", "5000")]
    samples = []
    with harness.Harness("long", sysctls, a.netns_name) as h:
        h.spawn("pop.py", ["--hold", "3600", "established", "--count", str(a.pairs),
                           "--max-seconds", "300"], timeout=320)
        h.spawn("pop.py", ["--hold", "3600", "closewait", "--count", str(a.closewait),
                           "--client-mode", "shutdown"])
        # Churn for longer than the run can take even if every tick stretches 4x.
        budget = min(1800.0, a.max_seconds or max(60.0, a.ticks * per_tick_s * 4 + 30))
        churn, _ = h.spawn("churn.py", ["--rate", str(a.rate), "--seconds", str(budget),
                                        "--workers", "1", "--rst-fraction", "0.33"])
        population = sum(h.ss_counts().values())
        print(f"population: {population:,} sockets in {h.ns}, churn {a.rate:.0f}/s; "
              f"{a.mode}, {a.ticks:,} ticks at {a.interval}"
              + (f"; env {' '.join(a.env)}" if a.env else ""))
        start = start_watch if a.mode == "watch" else start_dashboard
        pid, done, ticks, errs, kill = start(h, binary, a)
        t0 = time.monotonic()
        try:
            while not done() and time.monotonic() - t0 < budget:
                try:
                    rss, hwm, fds = harness.proc_sample(pid)
                except (FileNotFoundError, ProcessLookupError):
                    break
                samples.append((time.monotonic() - t0, ticks(), rss, hwm, fds))
                time.sleep(1.0)
        finally:
            kill()
        elapsed = time.monotonic() - t0
        final_ticks = ticks()
        churn_alive = churn.poll() is None

    if a.csv:
        with open(a.csv, "w") as f:
            f.write("t_s,ticks,rss_kib,hwm_kib,fds\n")
            f.writelines(f"{s[0]:.1f},{s[1]},{s[2]},{s[3]},{s[4]}\n" for s in samples)
    return report(a, samples, final_ticks, elapsed, errs, warmup, churn_alive)


def report(a, samples, final_ticks, elapsed, errs, warmup, churn_alive):
    failures = []
    if not churn_alive:
        failures.append("churn ended before the run did")
    if a.mode == "watch" and final_ticks < a.ticks:
        failures.append(f"only {final_ticks} of {a.ticks} ticks completed")
    if errs:
        failures.append(f"stderr: {errs[:3]}")
    after = [s for s in samples if s[1] >= warmup]
    if len(after) < 2:
        failures.append("too few samples after warm-up")
        after = samples[-2:] if len(samples) >= 2 else samples
    print(f"\n{'t (s)':>7} {'ticks':>7} {'RSS KiB':>9} {'HWM KiB':>9} {'fds':>5}")
    step = max(1, len(samples) // 10)
    for s in samples[::step] + samples[-1:]:
        print(f"{s[0]:7.0f} {s[1]:7} {s[2]:9} {s[3]:9} {s[4]:5}")
    if after:
        # Compare the first and last tenth after warm-up by median: a leak moves the median,
        # a sample that lands on a tick under construction does not. (The fd count already
        # leaves out the one /proc handle a tick holds open for a moment: harness.proc_sample.)
        w = max(1, len(after) // 10)
        first, last = after[:w], after[-w:]
        rss0, rss1 = harness.percentile([s[2] for s in first], 50), harness.percentile([s[2] for s in last], 50)
        fd0 = harness.percentile([s[4] for s in first], 50)
        fd1 = harness.percentile([s[4] for s in last], 50)
        rss_growth = (rss1 - rss0) / rss0
        top0, top = max(s[2] for s in first), max(s[2] for s in after)
        top_growth = (top - top0) / top0
        swing = (top - rss0) / rss0
        hwm0, hwm1 = after[0][3], after[-1][3]
        fd_growth = (fd1 - fd0) / fd0
        print(f"\n{final_ticks:,} ticks in {elapsed:.0f}s ({elapsed / max(final_ticks, 1) * 1000:.1f} ms/tick)")
        print(f"after warm-up ({warmup} ticks): RSS median {rss0:,} -> {rss1:,} KiB "
              f"({rss_growth:+.1%}); highest {top0:,} -> {top:,} KiB ({top_growth:+.1%}), "
              f"{swing:+.1%} over the first median; VmHWM {hwm0:,} -> {hwm1:,} KiB; "
              f"fds {fd0} -> {fd1} ({fd_growth:+.1%}), at most {max(s[4] for s in after)}")
        if rss_growth > a.growth or top_growth > a.growth:
            failures.append(f"RSS grew {max(rss_growth, top_growth):.1%} (> {a.growth:.0%})")
        if fd_growth > a.fd_growth:
            failures.append(f"fds grew {fd_growth:.1%} (> {a.fd_growth:.0%})")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("OK: flat")
    return 0


if __name__ == "__main__":
    sys.exit(main())
