#!/usr/bin/env bash
# sockscope kill vs ss -K, and sockscope watch --events vs ss -E, in one run, in a private
# network namespace (loopback only).
#
# kill:   KILL_N CLOSE_WAIT sockets (tests/support/pop.py closewait), killed by
#         `sockscope kill --state close-wait --sport P --yes` and, on a fresh identical
#         population, by `ss -K state close-wait sport = :P`; ROUNDS rounds alternating,
#         wall time of each, and the CLOSE_WAIT left afterwards (ss -tan).
# events: tests/support/churn.py at RATE connections/s for SECONDS, with
#         `sockscope watch --events -f json` and `ss -E -tn` (line-buffered through stdbuf)
#         both listening to the same load; CPU of each (utime+stime from /proc/PID/stat),
#         events each reported, and sockscope's "seen, lost" against the churn's
#         connections (each connection is two destroyed sockets).
#
# Usage (as root, from the repo root, after `cargo build --release`):
#   benches/bench_kill_events.sh                           # KILL_N=10000 RATE=20000 SECONDS=10
#   KILL_N=1000 ROUNDS=2 RATE=2000 SECONDS=5 benches/bench_kill_events.sh   # modest run
# Env: SOCKSCOPE_BIN (default target/release/sockscope), KILL_N, ROUNDS, RATE, SECONDS,
#      WORKERS (churn processes, default 4), EVENTS_INTERVAL (sockscope's poll, default 1s).
# Everything it starts is stopped and the namespace deleted on exit, error or Ctrl-C.
set -euo pipefail
if [[ -z "${SSC_BENCH_CAPPED:-}" ]]; then
    exec env SSC_BENCH_CAPPED=1 timeout -s TERM "${BENCH_DEADLINE:-900}" "$0" "$@"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POP="$ROOT/tests/support/pop.py"
CHURN="$ROOT/tests/support/churn.py"
BIN="${SOCKSCOPE_BIN:-$ROOT/target/release/sockscope}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
KILL_N="${KILL_N:-10000}"
ROUNDS="${ROUNDS:-3}"
RATE="${RATE:-20000}"
SECONDS_="${SECONDS:-10}"
WORKERS="${WORKERS:-4}"
EVENTS_INTERVAL="${EVENTS_INTERVAL:-1s}"
NS="ssc-bench-kill-$$"
WORK="$(mktemp -d /tmp/ssc-bench-kill.XXXXXX)"
PIDS=()

die() { echo "bench: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "needs root (creates a network namespace, destroys sockets)"
[[ -x "$BIN" ]] || die "no sockscope binary at $BIN (cargo build --release, or set SOCKSCOPE_BIN)"
[[ "$KILL_N" -ge 1 && "$KILL_N" -le 19000 ]] || die "KILL_N must be 1..19000 (one holder, 20k fds)"
[[ "$ROUNDS" -ge 1 && "$ROUNDS" -le 10 ]] || die "ROUNDS must be 1..10"

stop_all() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    set +e
    stop_all
    ip netns del "$NS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
nsx() { ip netns exec "$NS" "$@"; }
count_cw() { nsx ss -tanH state close-wait | wc -l; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
TCK="$(getconf CLK_TCK)"

# A fresh CLOSE_WAIT population of KILL_N; sets PORT. (Not called in a command
# substitution: a subshell's PIDS+= would be lost and the population never stopped.)
leak() {
    local out="$WORK/leak.$1"
    ip netns exec "$NS" "$PY" "$POP" --hold 300 closewait --count "$KILL_N" >"$out" 2>"$out.err" </dev/null &
    PIDS+=($!)
    for _ in $(seq 600); do grep -q '"ready"' "$out" 2>/dev/null && break; sleep 0.2; done
    grep -q '"ready": true' "$out" || die "population failed: $(cat "$out" "$out.err")"
    PORT="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$out")"
}

echo "== kill: $KILL_N CLOSE_WAIT sockets, $ROUNDS rounds (binary $BIN)"
printf "%-6s %-10s %10s %8s\n" round tool ms left
for r in $(seq "$ROUNDS"); do
    for tool in sockscope ss; do
        leak "$r.$tool"; port="$PORT"
        [[ "$(count_cw)" -eq "$KILL_N" ]] || die "expected $KILL_N CLOSE_WAIT, ss says $(count_cw)"
        t0=$(date +%s%N)
        if [[ $tool == sockscope ]]; then
            "$BIN" kill --netns "$NS" --state close-wait --sport "$port" --yes --max "$KILL_N" \
                --rows 1 >"$WORK/kill.out" 2>&1 || die "sockscope kill failed: $(tail -5 "$WORK/kill.out")"
        else
            nsx ss -K -tn state close-wait "( sport = :$port )" >/dev/null
        fi
        ms=$(ms_since "$t0")
        printf "%-6s %-10s %10s %8s\n" "$r" "$tool" "$ms" "$(count_cw)"
        echo "$ms" >>"$WORK/kill.$tool"
        stop_all
    done
done
median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
ks=$(median <"$WORK/kill.sockscope"); kss=$(median <"$WORK/kill.ss")
echo "median: sockscope kill ${ks} ms, ss -K ${kss} ms (includes sockscope's dump, attribution and re-dump)"

echo
echo "== events: churn at $RATE connections/s for $SECONDS_ s ($WORKERS workers)"
"$BIN" watch --events -f json -n "$EVENTS_INTERVAL" --netns "$NS" >"$WORK/ev.json" 2>"$WORK/ev.err" </dev/null &
SSC=$!; PIDS+=($SSC)
ip netns exec "$NS" stdbuf -oL ss -E -tnH >"$WORK/ss.out" 2>"$WORK/ss.err" </dev/null &
SSE=$!; PIDS+=($SSE)
for _ in $(seq 100); do grep -q "watching destroy events" "$WORK/ev.err" 2>/dev/null && break; sleep 0.1; done
sleep 1.5
c0_ssc=$(cpu_ticks $SSC); c0_ss=$(cpu_ticks $SSE)
nsx "$PY" "$CHURN" --rate "$RATE" --seconds "$SECONDS_" --workers "$WORKERS" >"$WORK/churn.out" 2>"$WORK/churn.err" </dev/null \
    || die "churn failed: $(cat "$WORK/churn.err")"
sleep 2
c1_ssc=$(cpu_ticks $SSC); c1_ss=$(cpu_ticks $SSE)
ss_alive=yes; kill -0 "$SSE" 2>/dev/null || ss_alive="no (exited early: $(tail -c 200 "$WORK/ss.err" | tr '\n' ' '))"
ssc_alive=yes; kill -0 "$SSC" 2>/dev/null || ssc_alive="no: $(tail -c 200 "$WORK/ev.err" | tr '\n' ' ')"
kill -TERM "$SSC" "$SSE" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$SSC" 2>/dev/null || break; sleep 0.1; done
read -r conns errs < <("$PY" -c '
import json,sys
n=e=0
for l in open(sys.argv[1]):
    v=json.loads(l)
    if v.get("done"): n=v.get("connections",0); e=v.get("errors",0)
print(n, e)' "$WORK/churn.out")
seen=$(grep -c '"kind":"destroy"' "$WORK/ev.json" || true)
lost=$("$PY" -c '
import json,sys
print(sum(json.loads(l).get("lost",0) for l in open(sys.argv[1]) if "\"lost\"" in l))' "$WORK/ev.json")
ss_lines=$(wc -l <"$WORK/ss.out")
echo "churn: $conns connections, $errs failed attempts ($(( 2 * conns )) destroyed sockets + 1 listener expected; a failed attempt destroys a socket too)"
echo "running at the end: sockscope $ssc_alive; ss -E $ss_alive"
echo "sockscope: $(tail -1 "$WORK/ev.err")"
printf "%-28s %10s %10s %10s\n" tool "cpu s" events lost
printf "%-28s %10s %10s %10s\n" "sockscope watch --events" \
    "$(awk -v a="$c0_ssc" -v b="$c1_ssc" -v t="$TCK" 'BEGIN{printf "%.2f", (b-a)/t}')" "$seen" "$lost"
printf "%-28s %10s %10s %10s\n" "ss -E" \
    "$(awk -v a="$c0_ss" -v b="$c1_ss" -v t="$TCK" 'BEGIN{printf "%.2f", (b-a)/t}')" "$ss_lines" "n/a"
echo "accounted (seen + lost) / expected: $(( seen + lost )) / $(( 2 * conns + 1 ))"
