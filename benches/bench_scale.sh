#!/usr/bin/env bash
# Memory and time at scale (issue 17): sockscope beside `ss` and the raw dump floor at
# 20k / 200k / 1M TIME_WAIT sockets, and attribution at 30k / 100k ESTABLISHED sockets.
#
# TIME_WAIT part: a private network namespace (`scale_tw_<pid>`) with a raised
# `net.ipv4.tcp_max_tw_buckets` and a wide `ip_local_port_range`; benches/short_conns.c
# (compiled here) opens and closes loopback connections as fast as it can, sources spread
# over 127.0.0.2..201, until /proc/net/sockstat counts the wanted TIME_WAIT sockets; then the
# generator stops and every command runs once per round (round-robin, so all commands see
# the same table). TIME_WAIT lives 60 s, so before each round the population is topped up
# again; the count before and after each round is printed.
#
# ESTABLISHED part: `tests/support/pop.py established` pairs over several holder processes
# (8,000 pairs = 16,000 sockets each) in `scale_est_<pid>`.
#
# Each figure: median wall time over RUNS rounds and the largest peak RSS
# (`/usr/bin/time -f %M`, the biggest process of a pipeline). Ratios are against the floor
# (`sockscope dump-floor`: one bare sock_diag dump, no attribution, no counting) and `ss`.
#
# Usage (as root, from the repo root, after `cargo build --release`):
#   benches/bench_scale.sh                               # 20k 200k 1M TW, 30k 100k ESTAB
#   TW_POPS="20000 200000" EST_POPS="" RUNS=3 benches/bench_scale.sh
# Env: SOCKSCOPE_BIN, RUNS (default 3), TW_POPS, EST_POPS, CMD_TIMEOUT (s, default 60),
#      BENCH_DEADLINE (whole script, s, default 1800).
# Everything it starts is stopped and both namespaces are deleted on exit, error or Ctrl-C.
set -euo pipefail
if [[ -z "${SSC_SCALE_CAPPED:-}" ]]; then
    exec env SSC_SCALE_CAPPED=1 timeout -s TERM "${BENCH_DEADLINE:-1800}" "$0" "$@"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SOCKSCOPE_BIN:-$ROOT/target/release/sockscope}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
POP="$ROOT/tests/support/pop.py"
RUNS="${RUNS:-3}"
TW_POPS="${TW_POPS-20000 200000 1000000}"
EST_POPS="${EST_POPS-30000 100000}"
CMD_TIMEOUT="${CMD_TIMEOUT:-60}"
NS_TW="scale_tw_$$"
NS_EST="scale_est_$$"
WORK="$(mktemp -d /tmp/scale-bench.XXXXXX)"
PIDS=()

die() { echo "bench_scale: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "needs root (creates network namespaces)"
[[ -x "$BIN" ]] || die "no sockscope binary at $BIN (cargo build --release, or set SOCKSCOPE_BIN)"
[[ -x /usr/bin/time ]] || die "needs /usr/bin/time (apt-get install time) for peak RSS"
[[ "$RUNS" -ge 1 && "$RUNS" -le 20 ]] || die "RUNS must be 1..20"

stop_pids() {
    # A generator's children stop with it (PR_SET_PDEATHSIG); TERM them too so it need
    # not wait for them.
    for p in "${PIDS[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    set +e
    stop_pids
    ip netns del "$NS_TW" 2>/dev/null
    ip netns del "$NS_EST" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -o "$WORK/short_conns" "$ROOT/benches/short_conns.c" || die "cannot compile short_conns.c"

median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0 && a == a+0 && b == b+0) printf "%.2f", a/b; else print "n/a" }'; }

# measure NS CMD -> "ms rss_kib" for one run of CMD inside NS (ms = NaN on failure).
# Exit codes 1 and 2 are verdicts (`check`), not failures.
measure() {
    local ns="$1" cmd="$2" s e rc
    s=$(date +%s%N)
    rc=0
    ip netns exec "$ns" /usr/bin/time -f %M -o "$WORK/rss" timeout "$CMD_TIMEOUT" sh -c "$cmd" \
        >/dev/null 2>"$WORK/err" || rc=$?
    e=$(date +%s%N)
    local rss
    rss=$(tail -n1 "$WORK/rss" 2>/dev/null | tr -dc 0-9)
    if [[ $rc -gt 2 ]]; then
        echo "   ! $cmd failed ($rc): $(head -c 300 "$WORK/err")" >&2
        echo "NaN ${rss:-0}"
    else
        echo "$(( (e - s) / 1000000 )) ${rss:-0}"
    fi
}

# run_table NS LABEL TOPUP_FN names... (NAMES/CMDS arrays set by the caller)
run_table() {
    local ns="$1" label="$2" topup="$3"
    local n=${#CMDS[@]}
    rm -f "$WORK"/t.* "$WORK"/r.*
    for r in $(seq "$RUNS"); do
        [[ -n "$topup" ]] && $topup
        local before after
        before=$(count_tcp "$ns")
        for i in $(seq 0 $((n - 1))); do
            read -r ms rss < <(measure "$ns" "${CMDS[$i]}")
            echo "$ms" >>"$WORK/t.$i"
            echo "$rss" >>"$WORK/r.$i"
        done
        after=$(count_tcp "$ns")
        echo "   round $r: $before sockets before, $after after"
    done
    declare -g -a MS=() RSS=()
    for i in $(seq 0 $((n - 1))); do
        if grep -q NaN "$WORK/t.$i"; then MS[$i]=NaN; else MS[$i]=$(median <"$WORK/t.$i"); fi
        RSS[$i]=$(sort -n "$WORK/r.$i" | tail -n1)
    done
    echo
    echo "## $label"
    printf "| %-40s | %9s | %8s | %13s |\n" "command" "median ms" "vs floor" "peak RSS KiB"
    printf "|%s|%s|%s|%s|\n" "------------------------------------------" "----------:" "---------:" "--------------:"
    for i in $(seq 0 $((n - 1))); do
        printf "| %-40s | %9s | %8s | %13s |\n" "${NAMES[$i]}" "${MS[$i]}" \
            "$(ratio "${MS[$i]}" "${MS[$FLOOR_IDX]}")x" "${RSS[$i]}"
    done
    echo
}

# count_tcp NS -> TCP sockets in NS (sockstat: inuse + tw; cheap, no dump)
count_tcp() {
    ip netns exec "$1" awk '/^TCP:/{print $3 + $7}' /proc/net/sockstat
}
count_tw() {
    ip netns exec "$1" awk '/^TCP:/{print $7}' /proc/net/sockstat
}

# ---------------------------------------------------------------- TIME_WAIT populations
TARGET=0
# topup_tw: churns in NS_TW until sockstat counts TARGET TIME_WAIT sockets (or 110 s pass).
topup_tw() {
    local have
    have=$(count_tw "$NS_TW")
    [[ $have -ge $TARGET ]] && return 0
    ip netns exec "$NS_TW" "$WORK/short_conns" --rate 0 --workers 3 --rst-fraction 0 \
        --seconds 110 --src-spread 200 >"$WORK/gen.out" 2>"$WORK/gen.err" </dev/null &
    local gen=$!
    PIDS+=("$gen")
    local t0
    t0=$(date +%s)
    while [[ $(count_tw "$NS_TW") -lt $TARGET ]]; do
        sleep 0.2
        kill -0 "$gen" 2>/dev/null || { echo "   generator ended: $(cat "$WORK/gen.out" "$WORK/gen.err")" >&2; break; }
        if [[ $(( $(date +%s) - t0 )) -gt 110 ]]; then
            echo "   ! only $(count_tw "$NS_TW") TIME_WAIT after 110 s (target $TARGET): measuring what there is" >&2
            break
        fi
    done
    stop_pids
}

if [[ -n "$TW_POPS" ]]; then
    ip netns add "$NS_TW"
    ip -n "$NS_TW" link set lo up
    ip netns exec "$NS_TW" sysctl -qw net.ipv4.tcp_max_tw_buckets=4000000 \
        net.ipv4.ip_local_port_range="1024 65535"
    RARE="syn-sent"
    NAMES=(
        "sockscope summary"
        "sockscope summary --by process"
        "sockscope summary -f json"
        "sockscope check (2 samples, 1 s apart)"
        "sockscope sockets --state $RARE"
        "dump floor (sockscope dump-floor)"
        "ss -tan | awk"
        "ss -tanp"
    )
    CMDS=(
        "$BIN summary"
        "$BIN summary --by process"
        "$BIN summary -f json"
        "$BIN check"
        "$BIN sockets --state $RARE"
        "$BIN dump-floor"
        "ss -tan | awk 'NR>1{++state[\$1]}; END{for(key in state) print key, \"\\t\", state[key]}'"
        "ss -tanp"
    )
    FLOOR_IDX=5
    declare -A TW_SUMMARY_RSS=()
    for N in $TW_POPS; do
        TARGET=$N
        echo "== TIME_WAIT population $N in netns $NS_TW"
        t0=$(date +%s)
        topup_tw
        echo "   built in $(( $(date +%s) - t0 )) s: $(count_tw "$NS_TW") TIME_WAIT"
        run_table "$NS_TW" "$N TIME_WAIT ($RUNS rounds, topped up before each)" topup_tw
        # `check` takes two samples 1 s apart (its default --interval): per sample is
        # (wall - 1000 ms) / 2.
        per=$(awk -v a="${MS[3]}" 'BEGIN{ if (a == a+0) printf "%.0f", (a - 1000) / 2; else print "NaN" }')
        echo "summary / floor: $(ratio "${MS[0]}" "${MS[5]}") (target <= 1.1)   check per sample: $per ms, / floor: $(ratio "$per" "${MS[5]}") (target <= 1.5)"
        echo "ss -tan|awk / summary: $(ratio "${MS[6]}" "${MS[0]}")   peak RSS summary ${RSS[0]} KiB, --by process ${RSS[1]}, -f json ${RSS[2]}, check ${RSS[3]}, sockets ${RSS[4]}, ss ${RSS[6]}"
        TW_SUMMARY_RSS[$N]="${RSS[0]} ${RSS[1]} ${RSS[2]}"
        echo
    done
    set -- $TW_POPS
    if [[ $# -ge 2 ]]; then
        read -r a0 a1 a2 <<<"${TW_SUMMARY_RSS[$1]}"
        read -r b0 b1 b2 <<<"${TW_SUMMARY_RSS[$2]}"
        echo "summary peak RSS $2 / $1: text $(ratio "$b0" "$a0"), --by process $(ratio "$b1" "$a1"), -f json $(ratio "$b2" "$a2") (target <= 1.5)"
    fi
    ip netns del "$NS_TW"
fi

# ---------------------------------------------------------------- ESTABLISHED populations
if [[ -n "$EST_POPS" ]]; then
    ip netns add "$NS_EST"
    ip -n "$NS_EST" link set lo up
    ip netns exec "$NS_EST" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
    NAMES=(
        "sockscope summary --by process"
        "sockscope summary"
        "dump floor (sockscope dump-floor)"
        "ss -tanp"
    )
    CMDS=(
        "$BIN summary --by process"
        "$BIN summary"
        "$BIN dump-floor"
        "ss -tanp"
    )
    FLOOR_IDX=2
    for N in $EST_POPS; do
        stop_pids
        pairs=$(( N / 2 ))
        echo "== ESTABLISHED population $N ($pairs pairs) in netns $NS_EST"
        ip netns exec "$NS_EST" "$PY" "$POP" --hold 900 established --count "$pairs" \
            --per-holder 8000 --max-seconds 300 >"$WORK/est.out" 2>"$WORK/est.err" </dev/null &
        PIDS+=($!)
        t=0
        until grep -q '"ready"' "$WORK/est.out" 2>/dev/null; do
            sleep 0.2; t=$((t + 1))
            [[ $t -lt 1500 ]] || die "established not ready: $(cat "$WORK/est.err")"
            kill -0 "${PIDS[-1]}" 2>/dev/null || die "established died: $(cat "$WORK/est.err")"
        done
        grep -q '"ready": true' "$WORK/est.out" || die "established failed: $(cat "$WORK/est.out")"
        procs=$(ip netns exec "$NS_EST" ss -tanpH | grep -o 'pid=[0-9]*' | sort -u | wc -l)
        echo "   $(count_tcp "$NS_EST") sockets over $procs processes"
        run_table "$NS_EST" "$N ESTABLISHED over $procs processes ($RUNS rounds)" ""
        echo "ss -tanp / summary --by process: $(ratio "${MS[3]}" "${MS[0]}") (target >= 10 at 100k, >= 5 at 30k)   --by process / floor: $(ratio "${MS[0]}" "${MS[2]}")"
        echo
    done
fi
