#!/usr/bin/env bash
# sockscope vs ss / netstat on ~100k loopback TCP sockets, side by side in one run.
#
# Builds the population inside a private network namespace (so the host's socket table and
# everyone else's tests are untouched), over several holder processes (the 20k open-files cap
# per process cannot be raised here):
#   EST_PAIRS ESTABLISHED pairs (2 sockets each) + TW TIME_WAIT + CW CLOSE_WAIT (+ their
#   orphaned FIN_WAIT2 peers) + one listener per holder.
# Then times each command RUNS times, round-robin (a date +%s%N loop), and
# prints medians, ratios to `ss -tan | awk`, and peak RSS (/usr/bin/time -v).
#
# Usage (as root, from the repo root):
#   benches/bench.sh                       # defaults: 40k pairs + 10k TW + 5k CW ≈ 100k sockets
#   EST_PAIRS=2000 TW=1000 CW=500 RUNS=3 benches/bench.sh    # quick smoke run
# Env: SOCKSCOPE_BIN (default target/release/sockscope: `cargo build --release` first), RUNS, EST_PAIRS, TW, CW, PER_HOLDER,
#      HOLD (generator lifetime cap, s), CMD_TIMEOUT (per timed command, s),
#      BENCH_DEADLINE (whole script, s), BENCH_INSTALL=1 (apt-get install time, for peak RSS).
#
# Everything it starts is killed and the namespace deleted on exit, error or Ctrl-C.
set -euo pipefail
# Whole-run cap: re-exec under timeout(1); its TERM runs the cleanup trap below.
if [[ -z "${SSC_BENCH_CAPPED:-}" ]]; then
    exec env SSC_BENCH_CAPPED=1 timeout -s TERM "${BENCH_DEADLINE:-1200}" "$0" "$@"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POP="$ROOT/tests/support/pop.py"
BIN="${SOCKSCOPE_BIN:-$ROOT/target/release/sockscope}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
RUNS="${RUNS:-5}"
EST_PAIRS="${EST_PAIRS:-40000}"
TW="${TW:-10000}"
CW="${CW:-5000}"
PER_HOLDER="${PER_HOLDER:-8000}"
HOLD="${HOLD:-900}"
CMD_TIMEOUT="${CMD_TIMEOUT:-60}"
NS="ssc-bench-$$"
WORK="$(mktemp -d /tmp/ssc-bench.XXXXXX)"
PIDS=()

die() { echo "bench: $*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "needs root (creates a network namespace)"
[[ -x "$BIN" ]] || die "no sockscope binary at $BIN (cargo build, or set SOCKSCOPE_BIN)"
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

if [[ "${BENCH_INSTALL:-0}" == 1 ]]; then
    [[ -x /usr/bin/time ]] || apt-get install -y time >/dev/null 2>&1 || true
fi

ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
nsx() { ip netns exec "$NS" "$@"; }

# start NAME ARGS...: runs a generator in the namespace, waits (bounded) for its ready line.
start() {
    local name="$1"; shift
    # Not via the nsx function: then $! is the generator itself (ip netns exec execs in place).
    ip netns exec "$NS" "$PY" "$POP" --hold "$HOLD" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
    PIDS+=($!)
    local t=0
    until grep -q '"ready"' "$WORK/$name.out" 2>/dev/null; do
        sleep 0.2; t=$((t + 1))
        [[ $t -lt 900 ]] || die "$name not ready after 180 s: $(cat "$WORK/$name.err")"
        kill -0 "${PIDS[-1]}" 2>/dev/null || die "$name died: $(cat "$WORK/$name.err")"
    done
    grep -q '"ready": true' "$WORK/$name.out" || die "$name failed: $(cat "$WORK/$name.out")"
    echo "  $name: $(head -c 200 "$WORK/$name.out")"
}

echo "== building population in netns $NS"
t0=$(date +%s)
start established established --count "$EST_PAIRS" --per-holder "$PER_HOLDER" --max-seconds 300
start timewait timewait --count "$TW" --src-spread 8 --max-seconds 120 --maintain
start closewait closewait --count "$CW"
echo "  built in $(( $(date +%s) - t0 )) s (TIME_WAIT kept at ~$TW: the generator replaces expiring ones)"
nsx ss -tanH | awk '{n[$1]++} END{for (s in n) printf "  %-12s %d\n", s, n[s]; }'
echo "  total: $(nsx ss -tanH | wc -l) sockets"

AWK_ONE='{++state[$NF]}; END{for(key in state) print key, "\t", state[key]}'
# The sock_diag dump floor: one bare dump through sockscope's own netlink source, no
# attribution, no aggregation (the hidden `dump-floor` subcommand).
FLOOR_KIND="sockscope dump-floor (bare sock_diag dump)"
FLOOR_CMD="$BIN dump-floor >/dev/null"

NAMES=(
    "sockscope summary"
    "sockscope summary --by process"
    "ss -tan | awk"
    "netstat -tan | awk"
    "ss -tanp"
    "dump floor"
)
CMDS=(
    "$BIN summary >/dev/null"
    "$BIN summary --by process >/dev/null"
    "ss -tan | awk 'NR>1{++state[\$1]}; END{for(key in state) print key, \"\\t\", state[key]}' >/dev/null"
    "netstat -tan | awk '/^tcp/$AWK_ONE' >/dev/null"
    "ss -tanp >/dev/null"
    "$FLOOR_CMD"
)

median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

# time_round CMD -> one wall-clock sample in ms (NaN on failure/timeout)
time_round() {
    local s e
    s=$(date +%s%N)
    nsx timeout "$CMD_TIMEOUT" sh -c "$1" || { echo NaN; return; }
    e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
}

# rss_one CMD -> peak RSS of the command's process tree's largest member (KiB)
rss_one() {
    [[ -x /usr/bin/time ]] || { echo "n/a"; return; }
    nsx /usr/bin/time -v -o "$WORK/rss" timeout "$CMD_TIMEOUT" sh -c "$1" >/dev/null 2>&1 || true
    awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); print $2}' "$WORK/rss"
}

echo
echo "== timing ($RUNS round-robin rounds after a warm-up round, median)"
echo "   binary: $BIN"
echo "   dump floor: $FLOOR_KIND"
declare -a MS RSS
echo "   sockets before timing: $(nsx ss -tanH | wc -l)"
# Round-robin, one warm-up round first: every command sees the same machine load and the
# same socket table in each round. (Timing each command's runs back to back, as hyperfine
# does, let the TIME_WAIT population drift between the first command and the last.)
for i in "${!CMDS[@]}"; do time_round "${CMDS[$i]}" >/dev/null; done
for r in $(seq "$RUNS"); do
    for i in "${!CMDS[@]}"; do time_round "${CMDS[$i]}" >>"$WORK/t.$i"; done
done
for i in "${!CMDS[@]}"; do
    if grep -q NaN "$WORK/t.$i"; then MS[$i]=NaN; else MS[$i]=$(median <"$WORK/t.$i"); fi
done
for i in "${!CMDS[@]}"; do RSS[$i]=$(rss_one "${CMDS[$i]}"); done
BASE="${MS[2]}"
printf "\n%-34s %12s %14s %14s\n" "command" "median ms" "vs ss|awk" "peak RSS KiB"
for i in "${!CMDS[@]}"; do
    ratio=$(awk -v a="${MS[$i]}" -v b="$BASE" 'BEGIN{ if (b > 0 && a == a+0) printf "%.2fx", a/b; else print "n/a" }')
    printf "%-34s %12s %14s %14s\n" "${NAMES[$i]}" "${MS[$i]}" "$ratio" "${RSS[$i]}"
done
echo
echo "sockets after timing: $(nsx ss -tanH | wc -l)"

# The issue's targets, as ratios of the medians above.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0 && a == a+0 && b == b+0) printf "%.2f", a/b; else print "n/a" }'; }
echo "summary / floor:               $(ratio "${MS[0]}" "${MS[5]}")  (target <= 1.25)"
echo "ss -tan|awk / summary:         $(ratio "${MS[2]}" "${MS[0]}")  (target >= 2)"
echo "ss -tanp / summary --by proc:  $(ratio "${MS[4]}" "${MS[1]}")  (target >= 8)"
echo "peak RSS summary --by process: ${RSS[1]} KiB  (target <= 40960)"
