#!/usr/bin/env bash
# Starts and stops a real Prometheus (Debian's prometheus) scraping a real
# node_exporter (prometheus-node-exporter), itself, and one target that is
# down, with the alerting rules of tests/prometheus/rules.yml (one firing, one
# not), for vouch's `metrics` and `prometheus` tests. Everything on loopback
# ports, every file inside DIR.
#
#   scripts/prometheus.sh start DIR   prints VOUCH_TEST_PROMETHEUS=URL and
#                                     VOUCH_TEST_NODE_EXPORTER=URL on stdout;
#                                     PIDs in DIR/prometheus.pid, DIR/node-exporter.pid
#   scripts/prometheus.sh stop DIR    stops both by PID
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"

root=$(cd "$(dirname "$0")/.." && pwd)
node_exporter=prometheus-node-exporter

usage() {
    printf 'usage: %s start DIR | stop DIR\n' "$0" >&2
    exit 2
}

# Waits until URL answers 2xx while PID runs.
wait_http() {
    local pid=$1 url=$2 _
    for _ in $(seq 1 150); do
        is_running "$pid" || return 1
        if curl -fsS --max-time 2 -o /dev/null "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

start_node_exporter() {
    local dir=$1 port pid attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        check_port "$port"
        "$node_exporter" --web.listen-address="127.0.0.1:$port" \
            </dev/null >"$dir/node-exporter.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/node-exporter.pid"
        if wait_http "$pid" "http://127.0.0.1:$port/metrics"; then
            log "node_exporter (pid $pid) ready on http://127.0.0.1:$port"
            echo "$port"
            return 0
        fi
        stop_pid "$pid" prometheus-nod
        rm -f "$dir/node-exporter.pid"
        if grep -q 'address already in use' "$dir/node-exporter.log" && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "node_exporter did not start on port $port; its log:"
        tail -n 20 "$dir/node-exporter.log" | sed 's/^/    /' >&2
        exit 1
    done
    die "no free port for node_exporter after 5 attempts"
}

start_prometheus() {
    local dir=$1 node_port=$2 port down_port pid attempt
    cp "$root/tests/prometheus/rules.yml" "$dir/rules.yml"
    for attempt in 1 2 3 4 5; do
        # down_port is bound and released: nothing listens there while the
        # tests run.
        read -r port down_port < <(free_ports 2)
        check_port "$port"
        check_port "$down_port"
        sed -e "s|@RULES@|$dir/rules.yml|" -e "s|@PROMETHEUS_PORT@|$port|" \
            -e "s|@NODE_PORT@|$node_port|" -e "s|@DOWN_PORT@|$down_port|" \
            "$root/tests/prometheus/prometheus.yml.template" >"$dir/prometheus.yml"
        rm -rf "$dir/prometheus-data"
        prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus-data" \
            --web.listen-address="127.0.0.1:$port" \
            </dev/null >"$dir/prometheus.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/prometheus.pid"
        if wait_http "$pid" "http://127.0.0.1:$port/-/ready"; then
            log "prometheus (pid $pid) ready on http://127.0.0.1:$port (down target 127.0.0.1:$down_port)"
            echo "$port"
            return 0
        fi
        stop_pid "$pid" prometheus
        rm -f "$dir/prometheus.pid"
        if grep -q 'address already in use' "$dir/prometheus.log" && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "prometheus did not start on port $port; its log:"
        tail -n 20 "$dir/prometheus.log" | sed 's/^/    /' >&2
        exit 1
    done
    die "no free port for prometheus after 5 attempts"
}

start() {
    local dir=$1 node_port port
    command -v prometheus >/dev/null 2>&1 ||
        die "prometheus not found on PATH (apt-get install -y --no-install-recommends prometheus)"
    command -v "$node_exporter" >/dev/null 2>&1 ||
        die "$node_exporter not found on PATH (apt-get install -y --no-install-recommends prometheus-node-exporter)"
    command -v curl >/dev/null 2>&1 || die "curl not found on PATH"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    for name in prometheus node-exporter; do
        if [[ -f $dir/$name.pid ]] && is_running "$(<"$dir/$name.pid")"; then
            die "$name already running (pid $(<"$dir/$name.pid"))"
        fi
    done
    node_port=$(start_node_exporter "$dir")
    port=$(start_prometheus "$dir" "$node_port") || {
        stop "$dir"
        exit 1
    }
    echo "VOUCH_TEST_PROMETHEUS=http://127.0.0.1:$port"
    echo "VOUCH_TEST_NODE_EXPORTER=http://127.0.0.1:$node_port"
}

stop() {
    local dir=$1
    # /proc/PID/comm is cut to 15 characters: "prometheus-node".
    if [[ -f $dir/prometheus.pid ]]; then
        stop_pid "$(<"$dir/prometheus.pid")" prometheus
        rm -f "$dir/prometheus.pid"
    fi
    if [[ -f $dir/node-exporter.pid ]]; then
        stop_pid "$(<"$dir/node-exporter.pid")" prometheus-nod
        rm -f "$dir/node-exporter.pid"
    fi
}

case "${1:-}:$#" in
start:2) start "$2" ;;
stop:2) stop "$2" ;;
*) usage ;;
esac
