#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs the tools the real-kernel tests drive
# (ss, netstat, ip, tmux, setpriv, setcap, wrk, python3, prometheus + promtool, zsh and fish
# for the completions, and for tests/real_software.rs nginx, redis-server, hping3), then
# runs every test. Run as root: the live
# tests create sockets in network namespaces and compare with ss; as non-root they print
# why they cannot run (and fail under CI=true rather than pass silently).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ss >/dev/null || need+=(iproute2)
command -v ip >/dev/null || need+=(iproute2)
command -v netstat >/dev/null || need+=(net-tools)
command -v tmux >/dev/null || need+=(tmux)
command -v setpriv >/dev/null || need+=(util-linux)
command -v python3 >/dev/null || need+=(python3)
command -v pgrep >/dev/null || need+=(procps)
command -v promtool >/dev/null || need+=(prometheus)
command -v setcap >/dev/null || need+=(libcap2-bin)
command -v wrk >/dev/null || need+=(wrk)
# tests/serve_tls.rs drives the TLS endpoint with curl.
command -v curl >/dev/null || need+=(curl)
# tests/real_software.rs: real servers and load generators make each buildup.
command -v nginx >/dev/null || need+=(nginx-light)
command -v redis-server >/dev/null || need+=(redis-server)
command -v hping3 >/dev/null || need+=(hping3)
# tests/install.rs: the zsh and fish completions are checked by those shells' parsers.
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
# tests/conntrack.rs: its figures are compared with conntrack -C / -S; nft makes a namespace track.
command -v conntrack >/dev/null || need+=(conntrack)
command -v nft >/dev/null || need+=(nftables)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    # The package may start its daemon where an init system runs; the tests start their own.
    pkill -x prometheus 2>/dev/null || true
    pkill -x nginx 2>/dev/null || true
    pkill -x redis-server 2>/dev/null || true
  else
    echo "missing tools: ${need[*]} (install them, or run this script as root)" >&2
    exit 1
  fi
fi

cargo test --locked --all-targets "$@"
