#!/usr/bin/env bash
# Runs every cargo-fuzz target for RUNS executions each, one after the other on one core,
# from the committed real-kernel seeds (fuzz/seeds/<target>), and prints a summary table.
#
#   bash tests/reliability/fuzz.sh                  # 10 million executions per target
#   RUNS=100000 bash tests/reliability/fuzz.sh      # smoke run
#   TARGETS="filter_parse config_parse" RUNS=1000000 bash tests/reliability/fuzz.sh
#
# Environment: RUNS (default 10000000), TARGETS (default: all ten), SANITIZER (default
# none: the fuzzed parsers have no unsafe code, and without ASan they run about twice as
# fast; set SANITIZER=address to use it), LOGDIR (default fuzz/logs), MAX_TIME (seconds;
# stops each target after this long even short of RUNS, which then counts as a shortfall).
# Grown corpora go to fuzz/corpus/<target> (git-ignored), crashes to fuzz/artifacts/<target>.
# Exit status: 0 when every target reached RUNS executions with no crash, 1 otherwise.
set -euo pipefail

RUNS=${RUNS:-10000000}
TARGETS=${TARGETS:-procnet_parse netlink_decode counters_parse record_read config_parse filter_parse name_escape name_faces unix_diag_decode procnet_udp_unix_parse}
SANITIZER=${SANITIZER:-none}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
LOGDIR=${LOGDIR:-fuzz/logs}
mkdir -p "$LOGDIR"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Longest input worth trying per target: a few real records or messages, a whole config.
max_len() {
    case $1 in
        netlink_decode) echo 8192 ;;    # the largest fixture dump is 7340 bytes
        unix_diag_decode) echo 4096 ;;  # the UNIX fixture dump is 2248 bytes
        procnet_udp_unix_parse) echo 4096 ;;  # ~35 rows of /proc/net/unix
        procnet_parse) echo 4096 ;;     # ~27 rows of /proc/net/tcp6
        counters_parse) echo 8192 ;;    # netstat + snmp together are ~5.4 kB
        record_read) echo 12288 ;;      # a header and a tick with its sockets
        config_parse) echo 4096 ;;      # the shipped config is 3.2 kB
        filter_parse) echo 512 ;;       # a prompt line and one socket
        name_escape|name_faces) echo 256 ;;  # names: comm is 15 bytes, paths 108
        *) echo 4096 ;;
    esac
}
dict_for() {
    case $1 in
        config_parse) echo fuzz/dict/config.dict ;;
        filter_parse) echo fuzz/dict/filter.dict ;;
    esac
}

cargo +nightly fuzz build --sanitizer "$SANITIZER"

status=0
summary=()
for t in $TARGETS; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    log="$LOGDIR/$t.log"
    args=(-runs="$RUNS" -max_len="$(max_len "$t")" -print_final_stats=1)
    d=$(dict_for "$t")
    [ -n "$d" ] && args+=(-dict="$d")
    [ -n "${MAX_TIME:-}" ] && args+=(-max_total_time="$MAX_TIME")
    echo "== $t: ${args[*]} (log: $log)"
    count_artifacts() { find "fuzz/artifacts/$t" -type f 2>/dev/null | wc -l || true; }
    before=$(count_artifacts)
    start=$(date +%s)
    rc=0
    cargo +nightly fuzz run --sanitizer "$SANITIZER" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" \
        -- "${args[@]}" >"$log" 2>&1 || rc=$?
    wall=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
    crashes=$(($(count_artifacts) - before))
    # 72 is libFuzzer's exit code when interrupted (SIGINT): a shortfall, not a crash.
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 72 ]; then
        crashes=$((crashes > 0 ? crashes : 1))
    fi
    if [ "$rc" -ne 0 ] || [ "${execs:-0}" -lt "$RUNS" ]; then
        status=1
        tail -30 "$log"
    fi
    summary+=("$(printf '| %-15s | %12s | %8s | %6ss | %-12s | %5s | %6s | %7s |' \
        "$t" "${execs:-?}" "${speed:-?}" "$wall" "${corp:-?}" "${cov:-?}" "${ft:-?}" "$crashes")")
done

echo
echo "RUNS=$RUNS sanitizer=$SANITIZER $(rustc +nightly --version) $(uname -r)"
echo '| target          |   executions |   exec/s |   wall  | corpus       |   cov |     ft | crashes |'
echo '|-----------------|--------------|----------|---------|--------------|-------|--------|---------|'
printf '%s\n' "${summary[@]}"
exit "$status"
