#!/usr/bin/env bash
# Start or stop a throwaway clamd on a Unix socket: .ci/clamd.sh start|stop DIR
# The socket is DIR/clamd.sock; the signatures are the project's (scanning/signatures), copied into DIR.
set -euo pipefail
action=$1 dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
pid_of() { [ -f "$dir/clamd.pid" ] && cat "$dir/clamd.pid" || true; }
is_clamd() { [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = clamd ]; }
ping() {
  python3 - "$dir/clamd.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
try:
    s.connect(sys.argv[1]); s.sendall(b"zPING\0")
    sys.exit(0 if s.recv(16).startswith(b"PONG") else 1)
except OSError:
    sys.exit(1)
PY
}
case $action in
  start)
    if is_clamd "$(pid_of)" && ping; then echo "clamd already running on $dir/clamd.sock"; exit 0; fi
    clamd=$(command -v clamd || echo /usr/sbin/clamd)
    [ -x "$clamd" ] || { echo "clamd is not installed (Debian package clamav-daemon)" >&2; exit 1; }
    mkdir -p "$dir/tmp" "$dir/signatures"
    chmod 700 "$dir"
    cp "$root"/scanning/signatures/* "$dir/signatures/"
    sed "s|@DIR@|$dir|g" "$root/.ci/clamd.conf" > "$dir/clamd.conf"
    "$clamd" --config-file="$dir/clamd.conf"
    for _ in $(seq 1 100); do ping && { echo "clamd started on $dir/clamd.sock"; exit 0; }; sleep 0.1; done
    echo "clamd did not start; its log:" >&2; cat "$dir/clamd.log" >&2 || true; exit 1
    ;;
  stop)
    pid=$(pid_of)
    if is_clamd "$pid"; then
      kill "$pid"
      for _ in $(seq 1 50); do is_clamd "$pid" || break; sleep 0.1; done
    fi
    rm -f "$dir/clamd.sock" "$dir/clamd.pid"
    ;;
esac
