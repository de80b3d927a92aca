#!/usr/bin/env bash
# Starts and stops a real single-member etcd for vouch's `health` probe
# tests, on loopback ports, with its data inside DIR/etcd.
#
#   scripts/etcd.sh start DIR   prints the client port on stdout; PID in DIR/etcd.pid
#   scripts/etcd.sh stop DIR    stops it by PID
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"

usage() {
    printf 'usage: %s start|stop DIR\n' "$0" >&2
    exit 2
}

wait_ready() {
    local pid=$1 port=$2 _
    for _ in $(seq 1 150); do
        is_running "$pid" || return 1
        if curl -fsS --max-time 2 "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"health":"true"'; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

start() {
    local dir=$1 port peer pid attempt
    command -v etcd >/dev/null 2>&1 ||
        die "etcd not found on PATH (apt-get install -y --no-install-recommends etcd-server)"
    command -v curl >/dev/null 2>&1 || die "curl not found on PATH"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f $dir/etcd.pid ]] && is_running "$(<"$dir/etcd.pid")"; then
        die "etcd already running (pid $(<"$dir/etcd.pid"))"
    fi
    for attempt in 1 2 3 4 5; do
        read -r port peer < <(free_ports 2)
        check_port "$port"
        check_port "$peer"
        rm -rf "$dir/etcd"
        etcd --name vouch-test --data-dir "$dir/etcd" --logger=zap --log-outputs=stderr \
            --listen-client-urls "http://127.0.0.1:$port" \
            --advertise-client-urls "http://127.0.0.1:$port" \
            --listen-peer-urls "http://127.0.0.1:$peer" \
            --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
            --initial-cluster "vouch-test=http://127.0.0.1:$peer" \
            </dev/null >"$dir/etcd.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/etcd.pid"
        if wait_ready "$pid" "$port"; then
            log "etcd (pid $pid) ready on http://127.0.0.1:$port"
            echo "$port"
            return 0
        fi
        stop_pid "$pid" etcd
        rm -f "$dir/etcd.pid"
        if grep -q 'address already in use' "$dir/etcd.log" && ((attempt < 5)); then
            log "port $port or $peer taken, trying others"
            continue
        fi
        log "etcd did not start on port $port; its log:"
        tail -n 20 "$dir/etcd.log" | sed 's/^/    /' >&2
        exit 1
    done
    die "no free ports after 5 attempts"
}

stop() {
    local dir=$1
    if [[ ! -f $dir/etcd.pid ]]; then
        log "no $dir/etcd.pid; nothing to stop"
        return 0
    fi
    stop_pid "$(<"$dir/etcd.pid")" etcd
    rm -f "$dir/etcd.pid"
}

(($# == 2)) || usage
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
