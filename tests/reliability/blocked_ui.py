#!/usr/bin/env python3
"""A dashboard whose terminal stops reading: does its memory stay bounded?

In a network namespace of its own, this script holds about 20k sockets (ESTABLISHED pairs)
plus connection churn (tests/support/churn.py: the counts on screen change every tick, so
every frame writes to the terminal), runs the live dashboard in a private tmux server, lets
it draw for WARM seconds, then stops the tmux server (SIGSTOP). The pty fills within a few
frames, the dashboard's next draw blocks, and its UI loop stops reading events. The dashboard's VmRSS is sampled once a second while the server is
stopped; the server is then resumed and killed.

Before the collector waited for the UI loop to take each tick, every tick (megabytes at this
size) queued on the event channel for as long as the terminal was blocked. The check fails
when RSS grows by more than GROWTH_MB while stopped. RSS is also bounded by --max-mb, at
which the run stops early (and fails) so a regression cannot exhaust the machine.

    sudo python3 tests/reliability/blocked_ui.py                     # 20 s stopped
    sudo python3 tests/reliability/blocked_ui.py --binary OLD_BUILD  # compare a build

Exits 0 when bounded, 1 when not, 2 on a set-up error.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def rss_kib(pid):
    return harness.proc_sample(pid)[0]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=10000, help="ESTABLISHED pairs (2 sockets each)")
    p.add_argument("--rate", type=float, default=500.0, help="churn, connections per second")
    p.add_argument("--interval", default="250ms", help="dashboard --interval")
    p.add_argument("--warm", type=float, default=15.0, help="seconds drawing before the stop")
    p.add_argument("--stopped", type=int, default=20, help="seconds the terminal is stopped")
    p.add_argument("--growth-mb", type=float, default=8.0,
                   help="allowed RSS growth while stopped, MB (one or two ticks' worth)")
    p.add_argument("--max-mb", type=float, default=1000.0, help="stop early above this RSS")
    p.add_argument("--binary", help="sockscope binary (default: build target/release)")
    a = p.parse_args()
    harness.require_root("blocked_ui")
    if shutil.which("tmux") is None:
        harness.die("tmux not found (apt-get install tmux)")
    binary = harness.sockscope_binary(a.binary)
    socket = f"sscblocked{os.getpid()}"

    def tmux(*args):
        return subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True)

    samples = []
    sysctls = [("net.ipv4.ip_local_port_range", "1024 65000"), ("net.ipv4.tcp_tw_reuse", "1"),
               ("net.ipv4.tcp_max_tw_buckets", "5000")]
    with harness.Harness("blk", sysctls) as h:
        h.spawn("pop.py", ["--hold", "600", "established", "--count", str(a.pairs),
                           "--max-seconds", "300"], timeout=320)
        churn_s = a.warm + a.stopped + 60
        h.spawn("churn.py", ["--rate", str(a.rate), "--seconds", str(churn_s), "--workers", "1",
                             "--rst-fraction", "0.33"])
        population = sum(h.ss_counts().values())
        print(f"population: {population:,} sockets in {h.ns}, churn {a.rate:.0f}/s; "
              f"dashboard at {a.interval}, stopped {a.stopped} s")
        # exec: the pane's process is the dashboard itself.
        cmd = f"exec {binary} --netns {h.ns} --interval {a.interval}"
        if tmux("new-session", "-d", "-x", "160", "-y", "48", cmd).returncode != 0:
            harness.die("tmux new-session failed")
        server = None
        try:
            server = int(tmux("display-message", "-p", "#{pid}").stdout)
            pid = int(tmux("display-message", "-p", "#{pane_pid}").stdout)
            time.sleep(a.warm)
            before = rss_kib(pid)
            print(f"drawing:    RSS {before:,} KiB")
            os.kill(server, signal.SIGSTOP)  # the pane is no longer read
            for i in range(1, a.stopped + 1):
                time.sleep(1.0)
                rss = rss_kib(pid)
                samples.append(rss)
                print(f"stopped {i:2}s: RSS {rss:,} KiB")
                if rss > a.max_mb * 1024:
                    break
        finally:
            if server:
                os.kill(server, signal.SIGCONT)  # so that kill-server can end it
            tmux("kill-server")
    growth_mb = (max(samples) - before) / 1024
    print(f"\nwhile stopped: RSS {before:,} -> at most {max(samples):,} KiB ({growth_mb:+.1f} MB)")
    if growth_mb > a.growth_mb:
        print(f"FAILED: RSS grew {growth_mb:.1f} MB while the terminal was stopped "
              f"(> {a.growth_mb:.0f} MB)")
        return 1
    print("OK: bounded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
