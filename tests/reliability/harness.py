"""Shared plumbing for sockscope's reliability scripts: a private network namespace, socket
populations from tests/support, `ss` counts, and process resource samples.

Everything started here is torn down by `Harness.close()` (call it from `finally`, or use the
harness as a context manager): populations get SIGTERM then SIGKILL, the namespace is deleted.
Network safety: populations only talk over the namespace's own loopback.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUPPORT = os.path.join(ROOT, "tests", "support")

SS_STATES = {
    "ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
    "FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT",
    "UNCONN": "CLOSE", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK", "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
}


def die(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def require_root(what):
    if os.geteuid() != 0:
        die(f"{what} must run as root: it creates a network namespace")
    for tool in ("ip", "ss", "python3"):
        if shutil.which(tool) is None:
            die(f"{tool} not found (apt-get install iproute2 python3)")


def sockscope_binary(path=None):
    """The release binary, built if needed (the figures are about what users run)."""
    if path:
        return path
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "sockscope")


class Harness:
    """A private network namespace plus the processes started in it."""

    def __init__(self, tag, sysctls=(), name=None):
        self.ns = name or f"ssc{tag}{os.getpid()}"
        self.procs = []
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        try:
            self.ip("link", "set", "lo", "up")
            for key, value in sysctls:
                self.run(["sysctl", "-qw", f"{key}={value}"])
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def ip(self, *args):
        subprocess.run(["ip", "-n", self.ns, *args], check=True)

    def cmd(self, argv):
        return ["ip", "netns", "exec", self.ns, *argv]

    def run(self, argv, **kw):
        return subprocess.run(self.cmd(argv), check=True, capture_output=True, text=True, **kw)

    def spawn(self, script, args, timeout=180.0):
        """Starts tests/support/SCRIPT in the namespace; returns (Popen, its ready line)."""
        argv = self.cmd([sys.executable, os.path.join(SUPPORT, script), *args])
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = read_line(p, timeout)
        info = json.loads(line) if line else {"ready": False, "error": "no ready line"}
        if not info.get("ready"):
            raise RuntimeError(f"{script} {' '.join(args)}: {info.get('error')}")
        return p, info

    def ss_counts(self):
        """Per-state counts from `ss -tan` in the namespace, in sockscope's names."""
        out = self.run(["ss", "-tanH"]).stdout
        counts = {}
        for line in out.splitlines():
            state = SS_STATES.get(line.split(None, 1)[0], "OTHER") if line.strip() else None
            if state:
                counts[state] = counts.get(state, 0) + 1
        return counts

    def snmp(self, key):
        """One `Tcp:` counter from the namespace's /proc/net/snmp."""
        lines = self.run(["cat", "/proc/net/snmp"]).stdout.splitlines()
        tcp = [line.split() for line in lines if line.startswith("Tcp:")]
        return int(tcp[1][tcp[0].index(key)])

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        subprocess.run(["ip", "netns", "del", self.ns], check=False, capture_output=True)


def read_line(p, timeout):
    """One stdout line from `p` within `timeout` seconds, or None."""
    ready, _, _ = select.select([p.stdout], [], [], timeout)
    return p.stdout.readline() if ready else None


def proc_sample(pid):
    """(VmRSS KiB, VmHWM KiB, open fds at rest) of a live process.

    sockscope holds one /proc file or directory open for a moment at a time while it
    collects (a pid's fd directory, a counters file); a sample that lands then would read
    one fd above rest, and with few samples that one reads as growth. So one fd open on
    /proc is not counted; a leak of such handles still shows from the second one on.
    """
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    fd_dir = f"/proc/{pid}/fd"
    fds = on_proc = 0
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{name}")
        except FileNotFoundError:
            continue
        fds += 1
        on_proc += target.startswith("/proc/")
    return rss, hwm, fds - min(on_proc, 1)


def percentile(values, q):
    s = sorted(values)
    if not s:
        return 0.0
    return s[min(len(s) - 1, int(round(q / 100.0 * (len(s) - 1))))]


def wait_until(what, timeout, pred, every=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
