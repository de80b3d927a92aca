#!/usr/bin/env bash
# Starts and stops the real MCP servers of vouch's `mcp` probe tests, on
# loopback ports, installing them first when missing:
#   everything  npm @modelcontextprotocol/server-everything (streamableHttp;
#               SSE answers), cached in ~/.cache/vouch/npm
#   python      tests/peers/mcp_server.py on PyPI `mcp` in the venv
#               ~/.cache/vouch/mcp-venv (SSE answers; `python-json`: plain JSON)
#
#   scripts/mcp-peers.sh install                 installs what is missing
#   scripts/mcp-peers.sh start DIR NAME          NAME: everything | python | python-json;
#                                                prints the port; PID in DIR/mcp-NAME.pid
#   scripts/mcp-peers.sh stop DIR NAME           stops it by PID
#
# Each endpoint is http://127.0.0.1:PORT/mcp. VOUCH_CACHE_DIR moves the cache.
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${VOUCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vouch}
npm_dir=$cache/npm
venv=$cache/mcp-venv
everything_js=$npm_dir/node_modules/@modelcontextprotocol/server-everything/dist/index.js

usage() {
    printf 'usage: %s install | start DIR NAME | stop DIR NAME   (NAME: everything, python, python-json)\n' "$0" >&2
    exit 2
}

install() {
    if [[ ! -f $everything_js ]]; then
        command -v npm >/dev/null 2>&1 || die "npm not found (apt-get install -y --no-install-recommends nodejs npm)"
        log "installing @modelcontextprotocol/server-everything into $npm_dir"
        mkdir -p "$npm_dir"
        npm install --silent --no-save --prefix "$npm_dir" @modelcontextprotocol/server-everything >&2 ||
            die "npm install @modelcontextprotocol/server-everything failed"
    fi
    if ! "$venv/bin/python" -c 'import mcp' >/dev/null 2>&1; then
        log "installing PyPI mcp into $venv"
        python3 -m venv "$venv" || die "python3 -m venv failed (apt-get install -y python3-venv)"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check mcp >&2 ||
            die "pip install mcp failed"
    fi
}

# Ready when an initialize POST gets an HTTP answer (any status).
wait_ready() {
    local pid=$1 port=$2 _
    for _ in $(seq 1 150); do
        is_running "$pid" || return 1
        if curl -s -o /dev/null --max-time 2 -X POST \
            -H 'content-type: application/json' \
            -H 'accept: application/json, text/event-stream' \
            --data '{"jsonrpc":"2.0","id":0,"method":"ping"}' \
            "http://127.0.0.1:$port/mcp"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

start() {
    local dir=$1 name=$2 port pid attempt comm
    install
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f $dir/mcp-$name.pid ]] && is_running "$(<"$dir/mcp-$name.pid")"; then
        die "mcp $name already running (pid $(<"$dir/mcp-$name.pid"))"
    fi
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        check_port "$port"
        case $name in
        everything)
            # It listens on every interface (no host option); only loopback
            # traffic is ever sent to it.
            (cd "$dir" && PORT=$port exec node "$everything_js" streamableHttp) \
                </dev/null >"$dir/mcp-$name.log" 2>&1 &
            comm=node
            ;;
        python) "$venv/bin/python" "$root/tests/peers/mcp_server.py" "$port" \
            </dev/null >"$dir/mcp-$name.log" 2>&1 &
            comm=python
            ;;
        python-json) "$venv/bin/python" "$root/tests/peers/mcp_server.py" "$port" --json \
            </dev/null >"$dir/mcp-$name.log" 2>&1 &
            comm=python
            ;;
        *) usage ;;
        esac
        pid=$!
        echo "$pid" >"$dir/mcp-$name.pid"
        echo "$comm" >"$dir/mcp-$name.comm"
        if wait_ready "$pid" "$port"; then
            log "mcp $name (pid $pid) ready on http://127.0.0.1:$port/mcp"
            echo "$port"
            return 0
        fi
        stop_pid "$pid" "$comm"
        rm -f "$dir/mcp-$name.pid"
        if grep -qi 'address already in use\|EADDRINUSE' "$dir/mcp-$name.log" 2>/dev/null && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "mcp $name did not start on port $port; its log:"
        sed 's/^/    /' "$dir/mcp-$name.log" >&2 || true
        exit 1
    done
    die "no free port after 5 attempts"
}

stop() {
    local dir=$1 name=$2
    if [[ ! -f $dir/mcp-$name.pid ]]; then
        log "no $dir/mcp-$name.pid; nothing to stop"
        return 0
    fi
    stop_pid "$(<"$dir/mcp-$name.pid")" "$(cat "$dir/mcp-$name.comm" 2>/dev/null || echo node)"
    rm -f "$dir/mcp-$name.pid" "$dir/mcp-$name.comm"
}

case ${1:-} in
install) (($# == 1)) || usage; install ;;
start) (($# == 3)) || usage; start "$2" "$3" ;;
stop) (($# == 3)) || usage; stop "$2" "$3" ;;
*) usage ;;
esac
