#!/usr/bin/env bash
# Starts and stops a real Prometheus blackbox_exporter (Debian's
# prometheus-blackbox-exporter) for vouch's differential `tls` test, on a
# loopback port, with its config in DIR/blackbox.yml.
#
#   scripts/blackbox.sh start DIR CA   prints the port on stdout; PID in DIR/blackbox.pid
#   scripts/blackbox.sh stop DIR       stops it by PID
#
# Module `tls_connect`: a TCP connect with TLS that trusts CA (a PEM file)
# and checks the name `localhost`; `GET /probe?module=tls_connect&target=HOST:PORT`
# reports `probe_ssl_earliest_cert_expiry`.
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"

exporter=prometheus-blackbox-exporter

usage() {
    printf 'usage: %s start DIR CA | stop DIR\n' "$0" >&2
    exit 2
}

wait_ready() {
    local pid=$1 port=$2 _
    for _ in $(seq 1 100); do
        is_running "$pid" || return 1
        if curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/-/healthy" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

start() {
    local dir=$1 ca=$2 port pid attempt
    command -v "$exporter" >/dev/null 2>&1 ||
        die "$exporter not found on PATH (apt-get install -y --no-install-recommends prometheus-blackbox-exporter)"
    command -v curl >/dev/null 2>&1 || die "curl not found on PATH"
    [[ -f $ca ]] || die "no CA file $ca"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    ca=$(cd "$(dirname "$ca")" && pwd)/$(basename "$ca")
    if [[ -f $dir/blackbox.pid ]] && is_running "$(<"$dir/blackbox.pid")"; then
        die "blackbox_exporter already running (pid $(<"$dir/blackbox.pid"))"
    fi
    cat >"$dir/blackbox.yml" <<EOF
modules:
  tls_connect:
    prober: tcp
    timeout: 5s
    tcp:
      tls: true
      tls_config:
        ca_file: "$ca"
        server_name: localhost
EOF
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        check_port "$port"
        "$exporter" --config.file="$dir/blackbox.yml" --web.listen-address="127.0.0.1:$port" \
            </dev/null >"$dir/blackbox.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/blackbox.pid"
        if wait_ready "$pid" "$port"; then
            log "blackbox_exporter (pid $pid) ready on http://127.0.0.1:$port"
            echo "$port"
            return 0
        fi
        stop_pid "$pid" prometheus-bla
        rm -f "$dir/blackbox.pid"
        if grep -q 'address already in use' "$dir/blackbox.log" && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "blackbox_exporter did not start on port $port; its log:"
        tail -n 20 "$dir/blackbox.log" | sed 's/^/    /' >&2
        exit 1
    done
    die "no free port after 5 attempts"
}

stop() {
    local dir=$1
    if [[ ! -f $dir/blackbox.pid ]]; then
        log "no $dir/blackbox.pid; nothing to stop"
        return 0
    fi
    # /proc/PID/comm is cut to 15 characters: "prometheus-blac".
    stop_pid "$(<"$dir/blackbox.pid")" prometheus-bla
    rm -f "$dir/blackbox.pid"
}

case "${1:-}:$#" in
start:3) start "$2" "$3" ;;
stop:2) stop "$2" ;;
*) usage ;;
esac
