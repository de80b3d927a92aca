#!/usr/bin/env bash
# Starts and stops a real Redis for vouch's `tcp` and `redis` probe tests, on
# a loopback port, with every file it touches inside DIR.
#
#   scripts/redis.sh start DIR NAME [PASSWORD] [OPTION…]
#                                      prints the port on stdout; PID in DIR/NAME.pid
#   scripts/redis.sh stop DIR NAME     stops it by PID
#
# With PASSWORD, the instance has `requirepass` (PING answers -NOAUTH).
# Options:
#   --aof                      appendonly yes (AOF persistence on)
#   --replica-of PORT          a replica of the Redis on 127.0.0.1:PORT
#   --acl-user NAME PASSWORD   an ACL user that may read, PING, INFO, SCAN and
#                              TTL, but not CONFIG (its CONFIG GET gets NOPERM)
#   --no-config-command        rename-command CONFIG "" (CONFIG is disabled)
#   --tls CERT KEY             also a TLS port with this PEM certificate and
#                              key (no client certificates asked); its port is
#                              printed after the plain one: "PORT TLS_PORT"
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"

usage() {
    printf 'usage: %s start DIR NAME [PASSWORD] [--aof] [--replica-of PORT] [--acl-user NAME PASSWORD] [--no-config-command] [--tls CERT KEY] | stop DIR NAME\n' "$0" >&2
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
    local dir=$1 name=$2 password="" port pid attempt
    local aof=no replica_of="" acl_user="" acl_password="" no_config="" tls_cert="" tls_key="" tls_port=""
    shift 2
    if (($# > 0)) && [[ $1 != --* ]]; then
        password=$1
        shift
    fi
    while (($# > 0)); do
        case $1 in
        --aof) aof=yes ;;
        --replica-of)
            (($# >= 2)) || usage
            check_port "$2"
            replica_of=$2
            shift
            ;;
        --acl-user)
            (($# >= 3)) || usage
            [[ $2 =~ ^[A-Za-z0-9_-]+$ && $3 =~ ^[A-Za-z0-9_-]+$ ]] ||
                die "an ACL user name and password are letters, digits, '-' and '_'"
            acl_user=$2 acl_password=$3
            shift 2
            ;;
        --no-config-command) no_config=yes ;;
        --tls)
            (($# >= 3)) || usage
            [[ -r $2 && -r $3 ]] || die "cannot read the TLS certificate '$2' or key '$3'"
            tls_cert=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
            tls_key=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
            shift 2
            ;;
        *) usage ;;
        esac
        shift
    done
    command -v redis-server >/dev/null 2>&1 ||
        die "redis-server not found on PATH (apt-get install -y --no-install-recommends redis-server)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f $dir/$name.pid ]] && is_running "$(<"$dir/$name.pid")"; then
        die "redis $name already running (pid $(<"$dir/$name.pid"))"
    fi
    for attempt in 1 2 3 4 5; do
        if [[ -n $tls_cert ]]; then
            read -r port tls_port < <(free_ports 2)
            check_port "$tls_port"
        else
            port=$(free_port)
        fi
        check_port "$port"
        # The password goes into a config file, not onto a command line.
        # Each instance keeps its own files: several share DIR.
        {
            printf 'port %s\nbind 127.0.0.1\nsave ""\nappendonly %s\n' "$port" "$aof"
            printf 'daemonize no\ndir %s\nlogfile %s\n' "$dir" "$dir/$name.log"
            printf 'dbfilename %s.rdb\nappenddirname %s-aof\n' "$name" "$name"
            [[ -n $password ]] && printf 'requirepass %s\n' "$password"
            [[ -n $replica_of ]] && printf 'replicaof 127.0.0.1 %s\n' "$replica_of"
            # Read-only: keys and read commands, PING, INFO, SCAN, TTL; no CONFIG.
            [[ -n $acl_user ]] &&
                printf 'user %s on >%s ~* -@all +@read +ping +auth +info +scan +ttl\n' "$acl_user" "$acl_password"
            [[ -n $no_config ]] && printf 'rename-command CONFIG ""\n'
            [[ -n $tls_cert ]] &&
                printf 'tls-port %s\ntls-cert-file %s\ntls-key-file %s\ntls-auth-clients no\n' \
                    "$tls_port" "$tls_cert" "$tls_key"
            true
        } >"$dir/$name.conf"
        chmod 600 "$dir/$name.conf"
        redis-server "$dir/$name.conf" </dev/null >/dev/null 2>&1 &
        pid=$!
        echo "$pid" >"$dir/$name.pid"
        if wait_ready "$pid" "$port"; then
            log "redis $name (pid $pid) ready on 127.0.0.1:$port${password:+ (requirepass)}${acl_user:+ (ACL user $acl_user)}${replica_of:+ (replica of :$replica_of)}${no_config:+ (CONFIG disabled)} (appendonly $aof)${tls_port:+ (TLS on :$tls_port)}"
            echo "$port${tls_port:+ $tls_port}"
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
start) (($# >= 3)) || usage; shift; start "$@" ;;
stop) (($# == 3)) || usage; stop "$2" "$3" ;;
*) usage ;;
esac
