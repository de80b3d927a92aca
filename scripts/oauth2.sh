#!/usr/bin/env bash
# Starts and stops the real OAuth2 token endpoint of vouch's `oauth2:` tests
# (tests/capture.rs): npm `oauth2-mock-server` (client-credentials grant at
# /token, signed JWT access tokens), on a loopback port, installed first when
# missing (cached in ~/.cache/vouch/npm-oauth2; VOUCH_CACHE_DIR moves it).
#
#   scripts/oauth2.sh install        installs it when missing
#   scripts/oauth2.sh start DIR      prints the port; PID in DIR/oauth2.pid
#   scripts/oauth2.sh stop DIR       stops it by PID
#
# The issuer is http://127.0.0.1:PORT; the token endpoint PORT/token.
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"
cache=${VOUCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vouch}
npm_dir=$cache/npm-oauth2
server_js=$npm_dir/node_modules/oauth2-mock-server/dist/oauth2-mock-server.mjs

usage() {
    printf 'usage: %s install | start DIR | stop DIR\n' "$0" >&2
    exit 2
}

install() {
    [[ -f $server_js ]] && return 0
    command -v npm >/dev/null 2>&1 || die "npm not found (apt-get install -y --no-install-recommends nodejs npm)"
    log "installing oauth2-mock-server into $npm_dir"
    mkdir -p "$npm_dir"
    npm install --silent --no-save --prefix "$npm_dir" oauth2-mock-server@8 >&2 ||
        die "npm install oauth2-mock-server failed"
}

# Ready when the token endpoint grants a token.
wait_ready() {
    local pid=$1 port=$2 _
    for _ in $(seq 1 150); do
        is_running "$pid" || return 1
        if curl -sf -o /dev/null --max-time 2 -d grant_type=client_credentials \
            -u ready:ready "http://127.0.0.1:$port/token"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

start() {
    local dir=$1 port pid attempt
    install
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f $dir/oauth2.pid ]] && is_running "$(<"$dir/oauth2.pid")"; then
        die "oauth2-mock-server already running (pid $(<"$dir/oauth2.pid"))"
    fi
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        check_port "$port"
        node "$server_js" -a 127.0.0.1 -p "$port" </dev/null >"$dir/oauth2.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/oauth2.pid"
        if wait_ready "$pid" "$port"; then
            log "oauth2-mock-server (pid $pid) ready on http://127.0.0.1:$port"
            echo "$port"
            return 0
        fi
        stop_pid "$pid" node
        rm -f "$dir/oauth2.pid"
        if grep -qi 'address already in use\|EADDRINUSE' "$dir/oauth2.log" 2>/dev/null && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "oauth2-mock-server did not start on port $port; its log:"
        sed 's/^/    /' "$dir/oauth2.log" >&2 || true
        exit 1
    done
    die "no free port after 5 attempts"
}

stop() {
    local dir=$1
    if [[ ! -f $dir/oauth2.pid ]]; then
        log "no $dir/oauth2.pid; nothing to stop"
        return 0
    fi
    stop_pid "$(<"$dir/oauth2.pid")" node
    rm -f "$dir/oauth2.pid"
}

case ${1:-} in
install) (($# == 1)) || usage; install ;;
start) (($# == 2)) || usage; start "$2" ;;
stop) (($# == 2)) || usage; stop "$2" ;;
*) usage ;;
esac
