#!/usr/bin/env bash
# The live dashboard's cost: CPU share at a steady socket population over a window, whether
# the interval stretches instead of lagging, and key-to-redraw latency, measured in a real
# terminal (tmux) inside a private network namespace.
#
# Usage (as root, from the repo root, after `cargo build --release`):
#   benches/dashboard.sh                 # 10k sockets, 1 s interval, 60 s window
#   PAIRS=50000 WINDOW=20 benches/dashboard.sh   # ~100k sockets
# Env: SOCKSCOPE_BIN (default target/release/sockscope), PAIRS (ESTABLISHED pairs; 2 sockets
#      each), WINDOW (s), KEYS (key presses timed), BENCH_DEADLINE (whole script, s).
#
# CPU share = (utime + stime of the sockscope process over the window) / window, from
# /proc/PID/stat. Key-to-redraw = time from `tmux send-keys` until `capture-pane` shows the
# view the key selects; it includes tmux's own round trips, so it is an upper bound.
set -euo pipefail
if [[ -z "${SSC_BENCH_CAPPED:-}" ]]; then
    exec env SSC_BENCH_CAPPED=1 timeout -s TERM "${BENCH_DEADLINE:-600}" "$0" "$@"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SOCKSCOPE_BIN:-$ROOT/target/release/sockscope}"
PAIRS="${PAIRS:-5000}"
WINDOW="${WINDOW:-60}"
KEYS="${KEYS:-20}"
NS="ssc-dash-$$"
SOCK="ssc-dash-$$"
WORK="$(mktemp -d /tmp/ssc-dash.XXXXXX)"
POP_PID=""

[[ $EUID -eq 0 ]] || { echo "needs root (creates a network namespace)" >&2; exit 1; }
[[ -x "$BIN" ]] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 1; }
command -v tmux >/dev/null || { echo "needs tmux" >&2; exit 1; }

cleanup() {
    set +e
    tmux -L "$SOCK" kill-server 2>/dev/null
    [[ -n "$POP_PID" ]] && kill "$POP_PID" 2>/dev/null
    sleep 0.5
    ip netns del "$NS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" python3 "$ROOT/tests/support/pop.py" --hold 900 established \
    --count "$PAIRS" --per-holder 8000 >"$WORK/pop.out" 2>"$WORK/pop.err" </dev/null &
POP_PID=$!
for _ in $(seq 600); do grep -q '"ready"' "$WORK/pop.out" 2>/dev/null && break; sleep 0.2; done
grep -q '"ready": true' "$WORK/pop.out" || { echo "population failed: $(cat "$WORK/pop.err")" >&2; exit 1; }
echo "sockets: $(ip netns exec "$NS" ss -tanH | wc -l)"

tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
TERM=xterm-256color tm new-session -d -x 160 -y 48 "$BIN --netns $NS --interval 1s"
for _ in $(seq 100); do tm capture-pane -p | grep -q "sockets" && break; sleep 0.1; done
PID=$(pgrep -f -n "$BIN --netns $NS") || { echo "dashboard did not start" >&2; exit 1; }
sleep 3 # warm-up: attribution's first full scan is not the steady state

ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s%N)
sleep "$WINDOW"
t1=$(ticks); s1=$(date +%s%N)
awk -v t=$((t1 - t0)) -v hz="$HZ" -v ns=$((s1 - s0)) \
    'BEGIN{ printf "CPU over %.0f s: %.2f%% of one core\n", ns/1e9, 100 * (t/hz) / (ns/1e9) }'
echo "header: $(tm capture-pane -p | head -1)"
echo "stretch marker: $(tm capture-pane -p | grep -o 'stretched[^│]*' | head -1 || true)"
echo "RSS: $(awk '/VmRSS/{print $2, $3}' "/proc/$PID/status")"

# Key-to-redraw: alternate between Processes (2) and Overview (1), timing each switch.
lat=()
for i in $(seq "$KEYS"); do
    if (( i % 2 )); then key=2; want="processes ("; else key=1; want="alerts"; fi
    s=$(date +%s%N)
    tm send-keys -t 0 "$key"
    for _ in $(seq 500); do tm capture-pane -p | grep -q "$want" && break; done
    e=$(date +%s%N)
    lat+=($(( (e - s) / 1000000 )))
done
printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END{printf "key-to-redraw over %d keys: median %d ms, max %d ms\n", NR, a[int((NR+1)/2)], a[NR]}'
tm send-keys -t 0 q
