#!/usr/bin/env bash
# Regenerate assets/screenshot.png from a real dashboard run with a CLOSE_WAIT leak alert.
#
#   sudo bash tests/support/screenshot.sh [OUTPUT.png]
#
# Creates the network namespace $SHOT_NETNS (default ssc-shot), builds a growing CLOSE_WAIT
# leak, some ESTABLISHED pairs and TIME_WAIT in it (tests/support/pop.py), runs
# `sockscope --netns $SHOT_NETNS` in a private tmux server (-L $SHOT_TMUX, 140x42,
# TERM=xterm-256color), waits until the alert is FIRING with a growth figure and the charts
# have $SHOT_WAIT seconds of history (after typing $SHOT_KEYS: the 1m window), captures the pane with its colours and renders it with
# tests/support/ansi2png.py. Everything it starts is stopped and the namespace deleted on exit.
#
# Needs: root, ip (iproute2), tmux, python3 with Pillow, DejaVu Sans Mono (fonts-dejavu-core).
# Binary: $SOCKSCOPE_BIN, else target/release/sockscope if newer than the sources, else
# target/debug/sockscope (built with `cargo build` when missing or stale).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${1:-$ROOT/assets/screenshot.png}
NS=${SHOT_NETNS:-ssc-shot}
SOCK=${SHOT_TMUX:-shot}
COLS=${SHOT_COLS:-140}
ROWS=${SHOT_ROWS:-42}
WAIT=${SHOT_WAIT:-50}         # seconds of history: the charts ramp, the FIN_WAIT2 rule shows too
KEYS=${SHOT_KEYS:-w w}        # keys typed once the dashboard is up (default: the 1m chart window)
MAX_WAIT=${SHOT_MAX_WAIT:-80} # give up if no FIRING alert by then
POP=$ROOT/tests/support/pop.py
A2P=$ROOT/tests/support/ansi2png.py

die() { echo "screenshot: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespace, socket attribution)"
for t in ip tmux python3; do command -v "$t" >/dev/null || die "needs $t"; done
python3 -c 'import PIL' 2>/dev/null || die "needs Pillow: pip install pillow"
if ip netns list | awk '{print $1}' | grep -qx "$NS"; then
  die "namespace $NS already exists (a previous run? ip netns del $NS)"
fi
if tmux -L "$SOCK" has-session 2>/dev/null; then
  die "tmux server -L $SOCK already running (tmux -L $SOCK kill-server)"
fi

# --- binary -----------------------------------------------------------------------------------
stale() { # stale BIN: true if BIN is missing or older than any source file
  [ -x "$1" ] || return 0
  [ -n "$(find "$ROOT/src" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" -newer "$1" -print -quit)" ]
}
if [ -n "${SOCKSCOPE_BIN:-}" ]; then
  BIN=$SOCKSCOPE_BIN
elif ! stale "$ROOT/target/release/sockscope"; then
  BIN=$ROOT/target/release/sockscope
else
  BIN=$ROOT/target/debug/sockscope
  if stale "$BIN"; then
    (cd "$ROOT" && cargo build) || die "cargo build failed"
  fi
fi
[ -x "$BIN" ] || die "no binary at $BIN"
echo "screenshot: using $BIN" >&2

# --- clean-up ---------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/sockscope-shot.XXXXXX)
PIDS=()
cleanup() {
  set +e
  tmux -L "$SOCK" kill-server 2>/dev/null
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 50); do # up to 5 s for the populations to go
    alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ip netns add "$NS"
ip -n "$NS" link set lo up

# start_pop NAME ARGS...: run pop.py in the namespace and wait (<= 15 s) for its ready line
start_pop() {
  local name=$1; shift
  ip netns exec "$NS" python3 "$POP" --hold $((MAX_WAIT + 60)) "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
  PIDS+=($!)
  for _ in $(seq 150); do
    if grep -q '"ready": true' "$WORK/$name.out" 2>/dev/null; then return 0; fi
    if grep -q '"ready": false' "$WORK/$name.out" 2>/dev/null || ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
      cat "$WORK/$name.out" "$WORK/$name.err" >&2
      die "pop.py $name failed"
    fi
    sleep 0.1
  done
  die "pop.py $name: no ready line within 15 s"
}

start_pop established established --count 300
start_pop timewait timewait --count 200 --maintain
start_pop closewait closewait --count 420 --grow-per-sec 5 --max-count 600 --client-mode shutdown

# --- dashboard --------------------------------------------------------------------------------
TERM=xterm-256color tmux -L "$SOCK" -f /dev/null new-session -d -x "$COLS" -y "$ROWS" \
  "env TERM=xterm-256color LANG=C.UTF-8 '$BIN' --netns '$NS'; sleep 30"
tmux -L "$SOCK" set-option -g status off >/dev/null
# a status line would steal a row: re-assert the size now that it is off
tmux -L "$SOCK" resize-window -t 0 -x "$COLS" -y "$ROWS" 2>/dev/null || true

sleep 2
for k in $KEYS; do tmux -L "$SOCK" send-keys -t 0 "$k"; sleep 0.3; done

start=$SECONDS
while :; do
  sleep 1
  tmux -L "$SOCK" capture-pane -p -t 0 >"$WORK/plain.txt" 2>/dev/null || die "tmux pane is gone"
  elapsed=$((SECONDS - start))
  # FIRING, for the CLOSE_WAIT leak, with a growth figure (+N/min)
  if [ $elapsed -ge "$WAIT" ] && grep -E 'FIRING.*CLOSE_WAIT.*\+[0-9]+/min' "$WORK/plain.txt" >/dev/null; then
    break
  fi
  if [ $elapsed -ge "$MAX_WAIT" ]; then
    cat "$WORK/plain.txt" >&2
    die "no FIRING CLOSE_WAIT alert with a growth figure after ${MAX_WAIT}s"
  fi
done

tmux -L "$SOCK" capture-pane -p -e -t 0 >"$WORK/shot.ansi"
python3 "$A2P" "$WORK/shot.ansi" -o "$OUT" --cols "$COLS" --rows "$ROWS"
