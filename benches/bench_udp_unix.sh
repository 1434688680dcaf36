#!/usr/bin/env bash
# sockscope vs ss / netstat on UDP and UNIX sockets, side by side in one run.
#
# Builds UDP_N UDP sockets (127.0.0.1; every fourth connected) and UNIX_N UNIX sockets (a few
# path and abstract listeners, the rest stream and datagram socketpairs) inside a private
# network namespace (UNIX sockets belong to the namespace of their creator too), then times
# each command RUNS times round-robin and prints medians, ratios and peak RSS:
#   summary -u vs its dump floor (dump-floor -u) and vs `ss -uan | awk`, `netstat -uan | awk`;
#   summary -x vs dump-floor -x and vs `ss -xa | awk`, `netstat -xa | awk`.
#
# Usage (as root, from the repo root, after `cargo build --release`):
#   benches/bench_udp_unix.sh                       # 10k UDP + 10k UNIX, RUNS=11
#   UDP_N=1000 UNIX_N=1000 RUNS=3 benches/bench_udp_unix.sh   # quick smoke run
# Env: SOCKSCOPE_BIN (default target/release/sockscope), RUNS, REPS (runs per sample, in one
#      shell inside the namespace), UDP_N, UNIX_N, CMD_TIMEOUT.
#
# Everything it starts is killed and the namespace deleted on exit, error or Ctrl-C.
set -euo pipefail
if [[ -z "${SSC_BENCH_CAPPED:-}" ]]; then
    exec env SSC_BENCH_CAPPED=1 timeout -s TERM "${BENCH_DEADLINE:-900}" "$0" "$@"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POP="$ROOT/tests/support/pop_dgram.py"
BIN="${SOCKSCOPE_BIN:-$ROOT/target/release/sockscope}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
RUNS="${RUNS:-11}"
REPS="${REPS:-10}"
UDP_N="${UDP_N:-10000}"
UNIX_N="${UNIX_N:-10000}"
CMD_TIMEOUT="${CMD_TIMEOUT:-60}"
NS="ssc-bench-dg-$$"
WORK="$(mktemp -d /tmp/ssc-bench-dg.XXXXXX)"
PIDS=()

die() { echo "bench: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "needs root (creates a network namespace)"
[[ -x "$BIN" ]] || die "no sockscope binary at $BIN (cargo build --release, or set SOCKSCOPE_BIN)"
[[ "$RUNS" -ge 1 && "$RUNS" -le 50 ]] || die "RUNS must be 1..50"

cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    ip netns del "$NS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
nsx() { ip netns exec "$NS" "$@"; }

start() {
    local name="$1"; shift
    ip netns exec "$NS" "$PY" "$POP" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
    PIDS+=($!)
    local t=0
    until grep -q '"ready"' "$WORK/$name.out" 2>/dev/null; do
        sleep 0.2; t=$((t + 1))
        [[ $t -lt 600 ]] || die "$name not ready after 120 s: $(cat "$WORK/$name.err")"
        kill -0 "${PIDS[-1]}" 2>/dev/null || die "$name died: $(cat "$WORK/$name.err")"
    done
    grep -q '"ready": true' "$WORK/$name.out" || die "$name failed: $(cat "$WORK/$name.out")"
    echo "  $name: $(head -c 200 "$WORK/$name.out")"
}

echo "== building population in netns $NS"
start udp udp "$UDP_N"
start unix unix "$UNIX_N"
echo "  ss -uan: $(nsx ss -uanH | wc -l) UDP sockets; ss -xa: $(nsx ss -xaH | wc -l) UNIX sockets"

AWK='{++state[$2]}; END{for(key in state) print key, "\t", state[key]}'
NAMES=(
    "sockscope summary -u"
    "sockscope dump-floor -u"
    "ss -uan | awk"
    "netstat -uan | awk"
    "sockscope summary -x"
    "sockscope dump-floor -x"
    "ss -xa | awk"
    "netstat -xa | awk"
)
CMDS=(
    "$BIN summary -u >/dev/null"
    "$BIN dump-floor -u >/dev/null"
    "ss -uan | awk 'NR>1{++state[\$1]}; END{for(key in state) print key, \"\\t\", state[key]}' >/dev/null"
    "netstat -uan | awk '/^udp/{++n}; END{print n}' >/dev/null"
    "$BIN summary -x >/dev/null"
    "$BIN dump-floor -x >/dev/null"
    "ss -xa | awk 'NR>1$AWK' >/dev/null"
    "netstat -xa | awk '/^unix/{++n}; END{print n}' >/dev/null"
)

median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
# One sample in microseconds (NaN on failure or timeout): the mean of REPS runs in one
# shell inside the namespace. At 10k sockets a command takes about 10 ms, and entering the
# namespace (`ip netns exec`) costs about 3 ms: timed per run, it would be added to every
# command alike and squeeze every ratio towards 1.
time_round() {
    local s e
    s=$(date +%s%N)
    nsx timeout "$CMD_TIMEOUT" sh -c "for _ in \$(seq $REPS); do $1; done" || { echo NaN; return; }
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 / REPS ))
}
rss_one() {
    [[ -x /usr/bin/time ]] || { echo "n/a"; return; }
    nsx /usr/bin/time -v -o "$WORK/rss" timeout "$CMD_TIMEOUT" sh -c "$1" >/dev/null 2>&1 || true
    awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); print $2}' "$WORK/rss"
}

echo
echo "== timing ($RUNS round-robin rounds after a warm-up round, median; each sample the mean of $REPS runs)"
echo "   binary: $BIN"
for i in "${!CMDS[@]}"; do time_round "${CMDS[$i]}" >/dev/null; done
for r in $(seq "$RUNS"); do
    for i in "${!CMDS[@]}"; do time_round "${CMDS[$i]}" >>"$WORK/t.$i"; done
done
declare -a US RSS
for i in "${!CMDS[@]}"; do
    if grep -q NaN "$WORK/t.$i"; then US[$i]=NaN; else US[$i]=$(median <"$WORK/t.$i"); fi
    RSS[$i]=$(rss_one "${CMDS[$i]}")
done
printf "\n%-28s %12s %14s\n" "command" "median ms" "peak RSS KiB"
for i in "${!CMDS[@]}"; do
    ms=$(awk -v u="${US[$i]}" 'BEGIN{ if (u == u+0) printf "%.1f", u/1000; else print "n/a" }')
    printf "%-28s %12s %14s\n" "${NAMES[$i]}" "$ms" "${RSS[$i]}"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0 && a == a+0 && b == b+0) printf "%.2f", a/b; else print "n/a" }'; }
echo "summary -u / floor -u:       $(ratio "${US[0]}" "${US[1]}")  (target <= 1.1)"
echo "ss -uan|awk / summary -u:    $(ratio "${US[2]}" "${US[0]}")  (target >= 2)"
echo "summary -x / floor -x:       $(ratio "${US[4]}" "${US[5]}")  (target <= 1.1)"
echo "ss -xa|awk / summary -x:     $(ratio "${US[6]}" "${US[4]}")  (target >= 2)"
