#!/usr/bin/env bash
# Starts and stops a real Redis for vouch's `tcp` probe tests, on a loopback
# port, with every file it touches inside DIR.
#
#   scripts/redis.sh start DIR NAME [PASSWORD]   prints the port on stdout;
#                                                PID in DIR/NAME.pid
#   scripts/redis.sh stop DIR NAME               stops it by PID
#
# With PASSWORD, the instance has `requirepass` (PING answers -NOAUTH).
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"

usage() {
    printf 'usage: %s start DIR NAME [PASSWORD] | stop DIR NAME\n' "$0" >&2
    exit 2
}

# The first line Redis answers to PING on PORT (empty when nothing answers).
ping_reply() {
    local line=""
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 0
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 line <&3 || true
    exec 3>&-
    printf '%s' "${line%$'\r'}"
}

wait_ready() {
    local pid=$1 port=$2 reply _
    for _ in $(seq 1 100); do
        is_running "$pid" || return 1
        reply=$(ping_reply "$port" 2>/dev/null)
        if [[ $reply == +PONG || $reply == -NOAUTH* ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

start() {
    local dir=$1 name=$2 password=${3:-} port pid attempt
    command -v redis-server >/dev/null 2>&1 ||
        die "redis-server not found on PATH (apt-get install -y --no-install-recommends redis-server)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f $dir/$name.pid ]] && is_running "$(<"$dir/$name.pid")"; then
        die "redis $name already running (pid $(<"$dir/$name.pid"))"
    fi
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        check_port "$port"
        # The password goes into a config file, not onto a command line.
        {
            printf 'port %s\nbind 127.0.0.1\nsave ""\nappendonly no\n' "$port"
            printf 'daemonize no\ndir %s\nlogfile %s\n' "$dir" "$dir/$name.log"
            [[ -n $password ]] && printf 'requirepass %s\n' "$password"
        } >"$dir/$name.conf"
        chmod 600 "$dir/$name.conf"
        redis-server "$dir/$name.conf" </dev/null >/dev/null 2>&1 &
        pid=$!
        echo "$pid" >"$dir/$name.pid"
        if wait_ready "$pid" "$port"; then
            log "redis $name (pid $pid) ready on 127.0.0.1:$port${password:+ (requirepass)}"
            echo "$port"
            return 0
        fi
        stop_pid "$pid" redis-server
        rm -f "$dir/$name.pid"
        if grep -q 'Address already in use' "$dir/$name.log" 2>/dev/null && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "redis $name did not start on port $port; its log:"
        sed 's/^/    /' "$dir/$name.log" >&2 || true
        exit 1
    done
    die "no free port after 5 attempts"
}

stop() {
    local dir=$1 name=$2
    if [[ ! -f $dir/$name.pid ]]; then
        log "no $dir/$name.pid; nothing to stop"
        return 0
    fi
    stop_pid "$(<"$dir/$name.pid")" redis-server
    rm -f "$dir/$name.pid"
}

case ${1:-} in
start) (($# == 3 || $# == 4)) || usage; start "$2" "$3" "${4:-}" ;;
stop) (($# == 3)) || usage; stop "$2" "$3" ;;
*) usage ;;
esac
