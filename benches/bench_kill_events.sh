#!/usr/bin/env bash
# sockscope kill vs ss -K, and sockscope watch --events vs ss -E, in one run, in a private
# network namespace (loopback only).
#
# kill:   KILL_N CLOSE_WAIT sockets (tests/support/pop.py closewait), killed by
#         `sockscope kill --state close-wait --sport P --yes` and, on a fresh identical
#         population, by `ss -K state close-wait sport = :P`; ROUNDS rounds alternating,
#         wall time of each, and the CLOSE_WAIT left afterwards (ss -tan).
# events: benches/short_conns.c (compiled here with cc; Python's churn.py tops out near
#         10k/s on two cores) at RATE connections/s for DURATION s, with
#         `sockscope watch --events -f json` and `ss -E -tn` (line-buffered through stdbuf)
#         both listening to the same load; CPU of each (utime+stime from /proc/PID/stat),
#         events each reported, and sockscope's "seen, lost" against the churn's
#         connections (each connection is two destroyed sockets).
#
# Usage (as root, from the repo root, after `cargo build --release`):
#   benches/bench_kill_events.sh                           # KILL_N=10000 RATE=20000 DURATION=10
#   KILL_N=1000 ROUNDS=2 RATE=2000 DURATION=5 benches/bench_kill_events.sh   # modest run
# Env: SOCKSCOPE_BIN (default target/release/sockscope), KILL_N (0: skip kill), ROUNDS, RATE,
#      DURATION (seconds of churn; not SECONDS, which bash owns),
#      WORKERS (connecting processes, default 2), RST_FRACTION (clients aborting with an
#      RST, default 0.25), EVENTS_RUNS (event runs, median reported, default 3),
#      EVENTS_INTERVAL (sockscope's poll, default 1s), CC (default cc).
# Everything it starts is stopped and the namespace deleted on exit, error or Ctrl-C.
set -euo pipefail
if [[ -z "${SSC_BENCH_CAPPED:-}" ]]; then
    exec env SSC_BENCH_CAPPED=1 timeout -s TERM "${BENCH_DEADLINE:-900}" "$0" "$@"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POP="$ROOT/tests/support/pop.py"
CHURN_SRC="$ROOT/benches/short_conns.c"
BIN="${SOCKSCOPE_BIN:-$ROOT/target/release/sockscope}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
KILL_N="${KILL_N:-10000}"
ROUNDS="${ROUNDS:-3}"
RATE="${RATE:-20000}"
SECONDS_="${DURATION:-10}"
WORKERS="${WORKERS:-2}"
RST_FRACTION="${RST_FRACTION:-0.25}"
EVENTS_RUNS="${EVENTS_RUNS:-3}"
EVENTS_INTERVAL="${EVENTS_INTERVAL:-1s}"
NS="ssc-bench-kill-$$"
WORK="$(mktemp -d /tmp/ssc-bench-kill.XXXXXX)"
PIDS=()

die() { echo "bench: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "needs root (creates a network namespace, destroys sockets)"
[[ -x "$BIN" ]] || die "no sockscope binary at $BIN (cargo build --release, or set SOCKSCOPE_BIN)"
[[ "$KILL_N" -ge 0 && "$KILL_N" -le 19000 ]] || die "KILL_N must be 0..19000 (0: skip kill; one holder, 20k fds)"
[[ "$ROUNDS" -ge 1 && "$ROUNDS" -le 10 ]] || die "ROUNDS must be 1..10"
[[ "$EVENTS_RUNS" -ge 1 && "$EVENTS_RUNS" -le 10 ]] || die "EVENTS_RUNS must be 1..10"

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

median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

if [[ "$KILL_N" -gt 0 ]]; then
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
ks=$(median <"$WORK/kill.sockscope"); kss=$(median <"$WORK/kill.ss")
echo "median: sockscope kill ${ks} ms, ss -K ${kss} ms (includes sockscope's dump, attribution and re-dump)"

fi

CHURN="$WORK/short_conns"
"${CC:-cc}" -O2 -o "$CHURN" "$CHURN_SRC" || die "cannot compile $CHURN_SRC (set CC)"
# utime and stime in seconds, from /proc/PID/stat.
cpu_split() { awk -v t="$TCK" '{printf "%.2f %.2f\n", $14 / t, $15 / t}' "/proc/$1/stat" 2>/dev/null || echo "0 0"; }
# ss -E exits on ENOBUFS when it falls behind: keep its last CPU reading while it lives.
sample_cpu() {
    while kill -0 "$1" 2>/dev/null; do
        awk -v t="$TCK" '{printf "%.2f %.2f\n", $14 / t, $15 / t}' "/proc/$1/stat" >"$2.tmp" 2>/dev/null \
            && mv "$2.tmp" "$2"
        sleep 0.1
    done
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }

echo "== events: short connections at $RATE/s for $SECONDS_ s ($WORKERS workers, RST fraction $RST_FRACTION), $EVENTS_RUNS runs"
printf "%-4s %8s %9s | %-30s | %-22s | %s\n" run conn/s expected "sockscope cpu (user+sys) seen+lost" "ss -E cpu (user+sys) lines" "sockscope stderr"
for r in $(seq "$EVENTS_RUNS"); do
    ev="$WORK/ev.$r"; sso="$WORK/ss.$r"; ch="$WORK/churn.$r"
    "$BIN" watch --events -f json -n "$EVENTS_INTERVAL" --netns "$NS" >"$ev.json" 2>"$ev.err" </dev/null &
    SSC=$!; PIDS+=($SSC)
    ip netns exec "$NS" stdbuf -oL ss -E -tnH >"$sso.out" 2>"$sso.err" </dev/null &
    SSE=$!; PIDS+=($SSE)
    for _ in $(seq 100); do grep -q "watching destroy events" "$ev.err" 2>/dev/null && break; sleep 0.1; done
    sleep 1.5
    read -r u0 s0 < <(cpu_split $SSC); read -r su0 ss0 < <(cpu_split $SSE)
    sample_cpu "$SSE" "$sso.cpu" & PIDS+=($!)
    nsx "$CHURN" --rate "$RATE" --seconds "$SECONDS_" --workers "$WORKERS" --rst-fraction "$RST_FRACTION" \
        >"$ch.out" 2>"$ch.err" </dev/null || die "churn failed: $(cat "$ch.err")"
    sleep 2
    read -r u1 s1 < <(cpu_split $SSC); read -r su1 ss1 <"$sso.cpu"
    ss_alive=""; kill -0 "$SSE" 2>/dev/null || ss_alive=" (ss exited early: $(tail -c 120 "$sso.err" | tr '\n' ' '))"
    kill -0 "$SSC" 2>/dev/null || die "sockscope exited early: $(tail -c 300 "$ev.err")"
    stop_all
    read -r conns errs rate < <("$PY" -c '
import json,sys
for l in open(sys.argv[1]):
    v=json.loads(l)
    if v.get("done"): print(v["connections"], v["errors"], round(v["rate"]))' "$ch.out")
    seen=$(grep -c '"kind":"destroy"' "$ev.json" || true)
    lost=$("$PY" -c '
import json,sys
print(sum(json.loads(l).get("lost",0) for l in open(sys.argv[1]) if "\"lost\"" in l))' "$ev.json")
    # Two destroyed full sockets per connection, one per failed attempt, and the listener.
    expected=$(( 2 * conns + errs + 1 ))
    cs=$(sub "$u0" "$u1"); cy=$(sub "$s0" "$s1"); es=$(sub "$su0" "$su1"); ey=$(sub "$ss0" "$ss1")
    ct=$(sub 0 "$(awk -v a="$cs" -v b="$cy" 'BEGIN{print a+b}')"); et=$(sub 0 "$(awk -v a="$es" -v b="$ey" 'BEGIN{print a+b}')")
    printf "%-4s %8s %9s | %5s (%s+%s) %8s+%-6s | %5s (%s+%s) %8s | %s%s\n" "$r" "$rate" "$expected" \
        "$ct" "$cs" "$cy" "$seen" "$lost" "$et" "$es" "$ey" "$(wc -l <"$sso.out")" "$(tail -1 "$ev.err")" "$ss_alive"
    echo "$ct" >>"$WORK/cpu.sockscope"; echo "$et" >>"$WORK/cpu.ss"; echo "$rate" >>"$WORK/rate"
    us() { awk -v c="$1" -v n="$2" 'BEGIN{printf "%.2f", (n > 0 ? c * 1e6 / n : 0)}'; }
    echo "$(us "$ct" "$(( seen + lost ))")" >>"$WORK/us.sockscope"; echo "$(us "$et" "$(wc -l <"$sso.out")")" >>"$WORK/us.ss"
    [[ $(( seen + lost )) -ge "$expected" ]] || echo "   run $r: NOT every destroy accounted for: $(( seen + lost )) of $expected"
done
echo "median: $(median <"$WORK/rate") connections/s; CPU s: sockscope $(median <"$WORK/cpu.sockscope"), ss -E $(median <"$WORK/cpu.ss") (until it exited, if it did)"
echo "median CPU µs per event: sockscope $(median <"$WORK/us.sockscope"), ss -E $(median <"$WORK/us.ss")"
