#!/usr/bin/env bash
# Starts and stops a real Alertmanager (Debian's prometheus-alertmanager) with
# the route tree and receivers of tests/alertmanager/alertmanager.yml, for
# vouch's `alertmanager` tests. Loopback port, no cluster gossip port, every
# file inside DIR.
#
#   scripts/alertmanager.sh start DIR   prints the port on stdout; PID in DIR/alertmanager.pid
#   scripts/alertmanager.sh stop DIR    stops it by PID
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"

root=$(cd "$(dirname "$0")/.." && pwd)
program=prometheus-alertmanager

usage() {
    printf 'usage: %s start DIR | stop DIR\n' "$0" >&2
    exit 2
}

start() {
    local dir=$1 port pid attempt _
    command -v "$program" >/dev/null 2>&1 ||
        die "$program not found on PATH (apt-get install -y --no-install-recommends prometheus-alertmanager)"
    command -v curl >/dev/null 2>&1 || die "curl not found on PATH"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f $dir/alertmanager.pid ]] && is_running "$(<"$dir/alertmanager.pid")"; then
        die "alertmanager already running (pid $(<"$dir/alertmanager.pid"))"
    fi
    cp "$root/tests/alertmanager/alertmanager.yml" "$dir/alertmanager.yml"
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        check_port "$port"
        rm -rf "$dir/alertmanager-data"
        mkdir -p "$dir/alertmanager-data"
        # An empty --cluster.listen-address turns gossip off: no second port.
        "$program" --config.file="$dir/alertmanager.yml" --storage.path="$dir/alertmanager-data" \
            --web.listen-address="127.0.0.1:$port" --cluster.listen-address= \
            </dev/null >"$dir/alertmanager.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/alertmanager.pid"
        for _ in $(seq 1 150); do
            is_running "$pid" || break
            if curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null; then
                log "alertmanager (pid $pid) ready on http://127.0.0.1:$port"
                echo "$port"
                return 0
            fi
            sleep 0.1
        done
        stop_pid "$pid" "$program"
        rm -f "$dir/alertmanager.pid"
        if grep -q 'address already in use' "$dir/alertmanager.log" && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "alertmanager did not start on port $port; its log:"
        tail -n 20 "$dir/alertmanager.log" | sed 's/^/    /' >&2
        exit 1
    done
    die "no free port for alertmanager after 5 attempts"
}

stop() {
    local dir=$1
    if [[ -f $dir/alertmanager.pid ]]; then
        # /proc/PID/comm is cut to 15 characters.
        stop_pid "$(<"$dir/alertmanager.pid")" "${program:0:15}"
        rm -f "$dir/alertmanager.pid"
    fi
}

case "${1:-}:$#" in
start:2) start "$2" ;;
stop:2) stop "$2" ;;
*) usage ;;
esac
