#!/usr/bin/env bash
# CI-sized memory check (issue 17): `summary` must not grow with the socket count.
#
# In a private network namespace (`scale_ci_<pid>`), benches/short_conns.c makes 20k
# TIME_WAIT sockets, then 200k. At each size the peak RSS (`/usr/bin/time -f %M`) of
# `summary`, `summary --by process -f json` and `sockets --state syn-sent` (a filter that
# matches nothing) is measured; each must stay within MAX_RATIO (default 1.5) of its value
# at 20k. The TIME_WAIT count sockscope prints is checked against the kernel's
# (/proc/net/sockstat), so the check cannot pass on a population that was never built.
#
# Usage (as root, after `cargo build --release`): bash benches/ci_memory_check.sh
# Env: SOCKSCOPE_BIN, SMALL (20000), LARGE (200000), MAX_RATIO (1.5).
# Bounded: 150 s overall; the namespace and the generator go on exit, error or signal.
set -euo pipefail
if [[ -z "${SSC_CIMEM_CAPPED:-}" ]]; then
    exec env SSC_CIMEM_CAPPED=1 timeout -s TERM 150 "$0" "$@"
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SOCKSCOPE_BIN:-$ROOT/target/release/sockscope}"
SMALL="${SMALL:-20000}"
LARGE="${LARGE:-200000}"
MAX_RATIO="${MAX_RATIO:-1.5}"
NS="scale_ci_$$"
WORK="$(mktemp -d /tmp/ssc-cimem.XXXXXX)"
GEN=""

die() { echo "ci_memory_check: FAIL: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "needs root (creates a network namespace)"
[[ -x "$BIN" ]] || die "no sockscope binary at $BIN (cargo build --release)"
[[ -x /usr/bin/time ]] || apt-get install -y -qq time >/dev/null 2>&1 || die "needs /usr/bin/time"

stop_gen() {
    [[ -n "$GEN" ]] || return 0
    # The generator's workers stop when it does (PR_SET_PDEATHSIG); TERM them directly so
    # it need not wait for them.
    pkill -TERM -P "$GEN" 2>/dev/null || true
    kill -TERM "$GEN" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$GEN" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$GEN" 2>/dev/null || true
    wait "$GEN" 2>/dev/null || true
    GEN=""
}
cleanup() {
    set +e
    stop_gen
    ip netns del "$NS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -o "$WORK/short_conns" "$ROOT/benches/short_conns.c" || die "cannot compile short_conns.c"
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv4.tcp_max_tw_buckets=1000000 \
    net.ipv4.ip_local_port_range="1024 65535"

tw() { ip netns exec "$NS" awk '/^TCP:/{print $7}' /proc/net/sockstat; }

# grow N: churns until the kernel counts N TIME_WAIT sockets (at most 60 s).
grow() {
    ip netns exec "$NS" "$WORK/short_conns" --rate 0 --workers 3 --rst-fraction 0 \
        --seconds 60 --src-spread 200 >/dev/null 2>"$WORK/gen.err" </dev/null &
    GEN=$!
    local t0=$SECONDS
    while [[ $(tw) -lt $1 ]]; do
        kill -0 "$GEN" 2>/dev/null || break
        [[ $((SECONDS - t0)) -lt 60 ]] || break
        sleep 0.2
    done
    stop_gen
    [[ $(tw) -ge $1 ]] || die "only $(tw) TIME_WAIT after 60 s (wanted $1): $(cat "$WORK/gen.err")"
}

FACES=("summary" "summary --by process -f json" "sockets --state syn-sent")
# rss FACE -> peak RSS in KiB of one run inside the namespace
rss() {
    # shellcheck disable=SC2086
    ip netns exec "$NS" /usr/bin/time -f %M -o "$WORK/rss" "$BIN" $1 >"$WORK/out" 2>"$WORK/err" \
        || die "sockscope $1 failed: $(cat "$WORK/err")"
    tail -n1 "$WORK/rss"
}
# counted -> the TIME_WAIT count `summary` printed last (its awk-shaped text)
counted() { awk '$1 == "TIME_WAIT" {print $2}' "$WORK/out"; }

declare -A AT_SMALL
for size in "$SMALL" "$LARGE"; do
    grow "$size"
    kernel=$(tw)
    for face in "${FACES[@]}"; do
        kib=$(rss "$face")
        if [[ "$face" == summary ]]; then
            seen=$(counted)
            # TIME_WAIT only expires here (nothing churns now): sockscope's count lies
            # between the kernel's after and before.
            [[ -n "$seen" && "$seen" -le $((kernel + kernel / 100 + 100)) && "$seen" -ge $((kernel * 9 / 10)) ]] \
                || die "summary counted ${seen:-no} TIME_WAIT, the kernel $kernel"
        fi
        if [[ "$size" == "$SMALL" ]]; then
            AT_SMALL[$face]=$kib
            printf "  %-30s %8s TIME_WAIT: %6s KiB\n" "$face" "$kernel" "$kib"
        else
            ratio=$(awk -v a="$kib" -v b="${AT_SMALL[$face]}" 'BEGIN{printf "%.2f", a/b}')
            printf "  %-30s %8s TIME_WAIT: %6s KiB (%sx its %s KiB at %s)\n" \
                "$face" "$kernel" "$kib" "$ratio" "${AT_SMALL[$face]}" "$SMALL"
            awk -v r="$ratio" -v m="$MAX_RATIO" 'BEGIN{exit !(r <= m)}' \
                || die "sockscope $face: peak RSS grew ${ratio}x from $SMALL to $LARGE sockets (max ${MAX_RATIO}x)"
        fi
    done
done
echo "ci_memory_check: ok (peak RSS flat within ${MAX_RATIO}x from $SMALL to $LARGE TIME_WAIT)"
