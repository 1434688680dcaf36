#!/usr/bin/env bash
# Endpoint under load (issue 6, item 6). Not run in CI: it takes about two minutes and wants
# an otherwise quiet machine.
#
# Starts the release `sockscope --netns NS serve` with its listener on the host's 127.0.0.1
# and its collector in a namespace NS the script creates, where a real socket population
# lives (tests/support/pop.py: PAIRS ESTABLISHED pairs and CLOSEWAIT CLOSE_WAIT sockets on the
# namespace's loopback; other processes' sockets on this host do not change the figures).
# Then it runs:
#   0. one curl scrape every 0.2 s for SLOW_SCRAPE seconds (the latency to compare with 2);
#   1. wrk -t2 -cCONNS -dDURATION --latency on /metrics;
#   2. SLOW slowloris connections (partial heads, reopened when the server closes them) while
#      one curl scrape runs every 0.2 s for SLOW_SCRAPE seconds;
#   3. the same slowloris load while wrk runs again;
#   4. slow readers: a second server, `sockscope --all-netns serve`, over NSMANY extra empty
#      namespaces the script creates (each adds its counters and states to the body, so the
#      body is megabytes, more than the kernel buffers for a client: about 3 MB on loopback),
#      while SLOWREAD clients with a 4 KiB receive buffer send `GET /metrics` and never read
#      (each replaced when the server resets it, or after 12 s), and one curl scrape runs
#      every 0.2 s for SLOW_SCRAPE seconds; first the same curl loop alone on that body.
#      Skipped with SLOWREAD=0.
# Meanwhile the server's VmRSS, VmHWM and open fds are sampled every 0.5 s. Prints requests,
# errors (non-2xx + socket errors), p50/p99 latency, peak RSS and fds after the load, and
# exits 1 when an error was seen or the fd count did not come back to its baseline.
#
# Usage (root, for the population's fd limits): bash tests/reliability/endpoint.sh
# Knobs: DURATION=30 CONNS=100 SLOW=800 SLOW_SCRAPE=15 PAIRS=2500 CLOSEWAIT=200
#        SLOWREAD=64 NSMANY=300; SOCKSCOPE_BIN=path measures that binary instead of building.
# Traffic stays on 127.0.0.1; every child is killed and the namespace deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-30}
CONNS=${CONNS:-100}
SLOW=${SLOW:-800}
SLOW_SCRAPE=${SLOW_SCRAPE:-15}
PAIRS=${PAIRS:-2500}
CLOSEWAIT=${CLOSEWAIT:-200}
SLOWREAD=${SLOWREAD:-64}
NSMANY=${NSMANY:-300}

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
if [ -n "${SOCKSCOPE_BIN:-}" ]; then
  BIN=$(realpath "$SOCKSCOPE_BIN")
else
  cargo build --release --locked --bin sockscope 2>&1 | tail -1
  BIN=$PWD/target/release/sockscope
fi

tmp=$(mktemp -d)
ns=${NS_PREFIX:-sscep}-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  [ ! -s "$tmp/many" ] || sed 's/^/netns del /' "$tmp/many" | ip -force -batch - 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits (bounded) for a generator's one JSON ready line.
ready() {
  local file=$1 until=$((SECONDS + 90))
  while ! grep -q '"ready"' "$file" 2>/dev/null; do
    [ $SECONDS -lt $until ] || { echo "population not ready: $(cat "$file")" >&2; exit 1; }
    sleep 0.2
  done
  grep -q '"ready": true' "$file" || { echo "population failed: $(cat "$file")" >&2; exit 1; }
}

ip netns add "$ns"
ip -n "$ns" link set lo up
# --hold bounds every generator even if this script is killed with SIGKILL.
ip netns exec "$ns" python3 tests/support/pop.py --hold 900 established --count "$PAIRS" \
  >"$tmp/est.json" </dev/null &
pids+=($!)
ip netns exec "$ns" python3 tests/support/pop.py --hold 900 closewait --count "$CLOSEWAIT" \
  >"$tmp/cw.json" </dev/null &
pids+=($!)
ready "$tmp/est.json"
ready "$tmp/cw.json"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port/metrics
"$BIN" --netns "$ns" serve --listen "127.0.0.1:$port" --interval 1s 2>"$tmp/serve.err" &
spid=$!
pids+=($spid)
until=$((SECONDS + 30))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ]; do
  [ $SECONDS -lt $until ] || { echo "server never healthy: $(cat "$tmp/serve.err")" >&2; exit 1; }
  kill -0 $spid 2>/dev/null || { echo "server died: $(cat "$tmp/serve.err")" >&2; exit 1; }
  sleep 0.2
done

# Open fds and a /proc status field (kB) of the server, or of the process $1 / $2.
fds() { find "/proc/${1:-$spid}/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/${2:-$spid}/status"; }
# CPU ticks (utime + stime) of the whole server, or of its thread named $1.
ticks() {
  local stat=/proc/$spid/stat t
  if [ $# -gt 0 ]; then
    for t in /proc/$spid/task/*; do
      # Thread names are cut to 15 bytes: sockscope-accept is "sockscope-accep".
      [[ "$(cat "$t/comm")" == "$1"* ]] && stat=$t/stat
    done
  fi
  # Fields after the ")" that ends comm: utime and stime are the 12th and 13th.
  sed 's/.*) //' "$stat" | awk '{ print $12 + $13 }'
}
hz=$(getconf CLK_TCK)
cpu_since() { # "server_s acceptor_s" since the "total acceptor" ticks in $1 $2
  awk -v a="$1" -v b="$2" -v c="$(ticks)" -v d="$(ticks sockscope-acc)" -v hz="$hz" \
    'BEGIN { printf "%.1fs %.1fs\n", (c - a) / hz, (d - b) / hz }'
}

# Baseline after a few ticks, before any load.
sleep 3
base_fds=$(fds)
base_rss=$(kb VmRSS)
body_bytes=$(curl -s "$url" | wc -c)
sockets=$(curl -s "$url" | awk '/^sockscope_sockets\{/ { s += $2 } END { print s }')

(
  while kill -0 $spid 2>/dev/null; do
    echo "$SECONDS $(kb VmRSS) $(kb VmHWM) $(fds)"
    sleep 0.5
  done
) >"$tmp/samples" &
pids+=($!)

# Holds SLOW partial heads; reopens each one the server closes (408 after the head timeout).
cat >"$tmp/slowloris.py" <<'EOF'
import resource, select, socket, sys, time
port, n, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    s.setblocking(False)
    return s
socks, opened, end = [], 0, time.monotonic() + seconds
while time.monotonic() < end:
    while len(socks) < n and time.monotonic() < end:
        try:
            socks.append(conn())
            opened += 1
        except OSError:
            time.sleep(0.01)
    p, by_fd = select.poll(), {}  # not select(): it cannot take fds above 1023
    for s in socks:
        p.register(s, select.POLLIN)
        by_fd[s.fileno()] = s
    for fd, _ in p.poll(500):
        s = by_fd[fd]
        try:
            s.recv(4096)
        except OSError:
            pass
        socks.remove(s)
        s.close()
    for s in socks[:]:  # drip one byte: activity must not extend the deadline
        try:
            s.send(b"a")
        except OSError:
            socks.remove(s)
            s.close()
print(f"slowloris opened={opened} held_at_end={len(socks)}")
EOF

# "requests errors p50 p99" from wrk --latency output (errors: non-2xx + socket errors).
wrk_summary() {
  awk '
    / requests in / { req = $1 }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
    $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
    END { printf "%d %d %s %s\n", req, err, p50, p99 }' "$1"
}

# One curl scrape (of $2, default $url) every 0.2 s for SLOW_SCRAPE seconds into $1 as
# "code seconds curl_exit" lines (a failed curl still reports its time, with code 000); prints
# "scrapes non-200 p50 p99 max".
curl_loop() {
  local end=$((SECONDS + SLOW_SCRAPE)) u=${2:-$url} out rc
  while [ $SECONDS -lt $end ]; do
    rc=0
    out=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' "$u") || rc=$?
    echo "${out:-000 5} $rc" >>"$1"
    sleep 0.2
  done
  sort -k2 -g "$1" | awk '
    { t[NR] = $2 * 1000; if ($1 != 200) bad++ }
    END { printf "%d %d %.2fms %.2fms %.2fms\n", NR, bad, t[int(NR * 0.5 + 0.5)],
          t[int(NR * 0.99 + 0.5)], t[NR] }'
}

echo "== phase 0: one curl scrape every 0.2 s for ${SLOW_SCRAPE}s, no other load"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
read -r scrapes0 bad0 cp50_0 cp99_0 cmax0 < <(curl_loop "$tmp/curl0.txt")

echo "== phase 1: wrk -t2 -c$CONNS -d${DURATION}s --latency $url"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(ticks) a0=$(ticks sockscope-acc)
wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$url" >"$tmp/wrk1.txt"
cat "$tmp/wrk1.txt"
read -r req1 err1 p50_1 p99_1 < <(wrk_summary "$tmp/wrk1.txt")
read -r cpu1 acc1 < <(cpu_since "$t0" "$a0")
rss1=$(kb VmRSS)

echo "== phase 2: $SLOW slowloris connections, one curl scrape every 0.2 s for ${SLOW_SCRAPE}s"
python3 "$tmp/slowloris.py" "$port" "$SLOW" $((SLOW_SCRAPE + DURATION + 10)) >"$tmp/slow.txt" &
slow_pid=$!
pids+=($slow_pid)
sleep 3  # let the slow clients connect
load2=$(cut -d' ' -f1-3 /proc/loadavg)
held_fds=$(fds)
read -r scrapes bad cp50 cp99 cmax < <(curl_loop "$tmp/curl2.txt")
echo "curl scrapes=$scrapes non-200=$bad p50=$cp50 p99=$cp99 max=$cmax (server fds with slow clients held: $held_fds)"

echo "== phase 3: wrk -t2 -c$CONNS -d${DURATION}s --latency under the same slowloris load"
load3=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(ticks) a0=$(ticks sockscope-acc)
wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$url" >"$tmp/wrk3.txt"
cat "$tmp/wrk3.txt"
read -r req3 err3 p50_3 p99_3 < <(wrk_summary "$tmp/wrk3.txt")
read -r cpu3 acc3 < <(cpu_since "$t0" "$a0")
rss3=$(kb VmRSS)
slow_ok=0
wait $slow_pid || slow_ok=$?
cat "$tmp/slow.txt"

# Held heads time out after 5 s, answered connections linger at most 1 s.
until=$((SECONDS + 15))
while [ "$(fds)" -gt "$base_fds" ] && [ $SECONDS -lt $until ]; do sleep 0.5; done
after_fds=$(fds)
end_rss=$(kb VmRSS)
read -r peak_fds peak_hwm < <(awk '{ if ($4 > f) f = $4; if ($3 > h) h = $3 } END { print f, h }' "$tmp/samples")
kill -0 $spid 2>/dev/null || { echo "server died: $(cat "$tmp/serve.err")" >&2; exit 1; }

cat <<EOF

== endpoint under load: $(nproc) cores; ${sockets} sockets in namespace $ns; body ${body_bytes} bytes
phase 0 curl alone:         scrapes=$scrapes0 non-200=$bad0 p50=$cp50_0 p99=$cp99_0 max=$cmax0 (load before: $load0)
phase 1 wrk alone:          requests=$req1 errors=$err1 p50=$p50_1 p99=$p99_1 (load before: $load1)
                            server cpu $cpu1 (acceptor thread $acc1), rss at end ${rss1} kB
phase 2 slowloris x$SLOW + curl: scrapes=$scrapes non-200=$bad p50=$cp50 p99=$cp99 max=$cmax (load before: $load2)
phase 3 slowloris x$SLOW + wrk:  requests=$req3 errors=$err3 p50=$p50_3 p99=$p99_3 (load before: $load3)
                            server cpu $cpu3 (acceptor thread $acc3), rss at end ${rss3} kB
rss: baseline ${base_rss} kB, peak (VmHWM) ${peak_hwm} kB, after ${end_rss} kB
fds: baseline $base_fds, peak $peak_fds, with slow clients held $held_fds, after $after_fds
load now: $(cut -d' ' -f1-3 /proc/loadavg)
EOF

# Phase 4: slow readers. Each client holds a request whose response it never reads, for at
# most 12 s (longer than the server's 10 s write timeout) or until the server resets it, and
# is then replaced, so the load is steady.
cat >"$tmp/slowread.py" <<'EOF'
import select, socket, sys, time
port, n, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
LIFE = 12.0
def conn():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: small window
    s.settimeout(2)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    return s
socks, opened, reset, aged = {}, 0, 0, 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    while len(socks) < n and time.monotonic() < end:
        try:
            s = conn()
            socks[s.fileno()] = (s, time.monotonic())
            opened += 1
        except OSError:
            time.sleep(0.01)
    p = select.poll()
    for fd in socks:
        p.register(fd, 0)  # errors and hangups only: the response is never read
    for fd, ev in p.poll(200):
        if ev & (select.POLLERR | select.POLLHUP):
            socks.pop(fd)[0].close()
            reset += 1
    now = time.monotonic()
    for fd, (s, at) in list(socks.items()):
        if now - at > LIFE:
            socks.pop(fd)
            s.close()
            aged += 1
print(f"slowread opened={opened} reset_by_server={reset} closed_after_{LIFE:.0f}s={aged} held_at_end={len(socks)}")
EOF

bad4=0
if [ "$SLOWREAD" -gt 0 ]; then
  echo "== phase 4: $SLOWREAD slow readers, --all-netns serve over $NSMANY extra namespaces, one curl scrape every 0.2 s for ${SLOW_SCRAPE}s"
  for i in $(seq 1 "$NSMANY"); do echo "$ns-m$i"; done >"$tmp/many"
  sed 's/^/netns add /' "$tmp/many" | ip -batch -
  port4=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  url4=http://127.0.0.1:$port4/metrics
  "$BIN" --all-netns serve --listen "127.0.0.1:$port4" --interval 1s 2>"$tmp/serve4.err" &
  spid4=$!
  pids+=($spid4)
  until=$((SECONDS + 60))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port4/healthz")" = 200 ]; do
    [ $SECONDS -lt $until ] || { echo "server 4 never healthy: $(cat "$tmp/serve4.err")" >&2; exit 1; }
    kill -0 $spid4 2>/dev/null || { echo "server 4 died: $(cat "$tmp/serve4.err")" >&2; exit 1; }
    sleep 0.2
  done
  sleep 3
  curl -s "$url4" >"$tmp/body4"
  body4=$(wc -c <"$tmp/body4")
  nets4=$(grep -o '^sockscope_sockets{netns="[^"]*"' "$tmp/body4" | sort -u | wc -l)
  base4_rss=$(kb VmRSS $spid4) base4_fds=$(fds $spid4)
  echo "-- 4a: curl alone on this body"
  read -r scrapes4a bad4a cp50_4a cp99_4a cmax4a < <(curl_loop "$tmp/curl4a.txt" "$url4")
  echo "-- 4b: with $SLOWREAD slow readers"
  python3 "$tmp/slowread.py" "$port4" "$SLOWREAD" $((SLOW_SCRAPE + 5)) >"$tmp/slowread.txt" &
  sr_pid=$!
  pids+=($sr_pid)
  sleep 3  # let the slow readers connect and fill their buffers
  # Server-side connections whose send queue holds bytes (Send-Q, column 3): responses the
  # clients are not reading. With a body above what the kernel buffers, their writes blocked.
  read -r stuck4 sendq4 < <(ss -Htn "( sport = :$port4 )" |
    awk '$3 > 0 { n++; q += $3 } END { printf "%d %d\n", n, q }')
  held4_fds=$(fds $spid4)
  read -r scrapes4 bad4 cp50_4 cp99_4 cmax4 < <(curl_loop "$tmp/curl4.txt" "$url4")
  wait $sr_pid || true
  cat "$tmp/slowread.txt"
  peak4_rss=$(kb VmHWM $spid4)
  cat <<EOF
phase 4 --all-netns serve, body ${body4} bytes over ${nets4} namespaces:
  4a curl alone:            scrapes=$scrapes4a non-200=$bad4a p50=$cp50_4a p99=$cp99_4a max=$cmax4a
  4b slow readers x$SLOWREAD + curl: scrapes=$scrapes4 non-200=$bad4 p50=$cp50_4 p99=$cp99_4 max=$cmax4
                            failed scrapes by curl exit code: $(awk '$1 != 200 { n[$3]++ } END { for (c in n) printf "%s x%d ", c, n[c] }' "$tmp/curl4.txt")
                            server connections with a stuck send queue: $stuck4 (Send-Q total $sendq4 bytes)
                            rss baseline ${base4_rss} kB, peak (VmHWM) ${peak4_rss} kB; fds baseline $base4_fds, with slow readers $held4_fds
EOF
  [ "$body4" -gt 4000000 ] || echo "NOTE: body ${body4} bytes may fit in the socket buffers; raise NSMANY" >&2
fi

status=0
[ "$bad4" -eq 0 ] && [ "${bad4a:-0}" -eq 0 ] || { echo "FAIL: scrapes failed under slow readers" >&2; status=1; }
[ "$err1" -eq 0 ] && [ "$err3" -eq 0 ] && [ "$bad0" -eq 0 ] && [ "$bad" -eq 0 ] || { echo "FAIL: errors" >&2; status=1; }
[ "$slow_ok" -eq 0 ] || { echo "FAIL: the slowloris client failed" >&2; status=1; }
[ "$after_fds" -le "$base_fds" ] || { echo "FAIL: fds did not return to baseline" >&2; status=1; }
exit $status
