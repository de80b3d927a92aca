#!/usr/bin/env bash
# Starts and stops tests/peers/ws_greeter.py, a WebSocket feed on PyPI
# `websockets` that greets before the client speaks, for vouch's `websocket`
# tests. Loopback port, files inside DIR.
#
#   scripts/ws-greeter.sh start DIR   prints the port on stdout; PID in DIR/ws-greeter.pid
#   scripts/ws-greeter.sh stop DIR    stops it by PID
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"

root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    printf 'usage: %s start DIR | stop DIR\n' "$0" >&2
    exit 2
}

start() {
    local dir=$1 port pid attempt _
    python3 -c 'import websockets' >/dev/null 2>&1 ||
        die "PyPI websockets not installed (python3 -m pip install websockets)"
    command -v curl >/dev/null 2>&1 || die "curl not found on PATH"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f $dir/ws-greeter.pid ]] && is_running "$(<"$dir/ws-greeter.pid")"; then
        die "ws greeter already running (pid $(<"$dir/ws-greeter.pid"))"
    fi
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        check_port "$port"
        python3 "$root/tests/peers/ws_greeter.py" "$port" </dev/null >"$dir/ws-greeter.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/ws-greeter.pid"
        for _ in $(seq 1 100); do
            is_running "$pid" || break
            # Any HTTP answer (a plain GET gets 426) means it listens.
            if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
                log "ws greeter (pid $pid) ready on ws://127.0.0.1:$port"
                echo "$port"
                return 0
            fi
            sleep 0.1
        done
        stop_pid "$pid" python3
        rm -f "$dir/ws-greeter.pid"
        if grep -q 'address already in use' "$dir/ws-greeter.log" && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "ws greeter did not start on port $port; its log:"
        tail -n 20 "$dir/ws-greeter.log" | sed 's/^/    /' >&2
        exit 1
    done
    die "no free port for the ws greeter after 5 attempts"
}

stop() {
    local dir=$1
    if [[ -f $dir/ws-greeter.pid ]]; then
        stop_pid "$(<"$dir/ws-greeter.pid")" python3
        rm -f "$dir/ws-greeter.pid"
    fi
}

case "${1:-}:$#" in
start:2) start "$2" ;;
stop:2) stop "$2" ;;
*) usage ;;
esac
