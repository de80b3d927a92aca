#!/usr/bin/env bash
# Starts and stops a real PostgreSQL for vouch's `tcp` probe tests, on a
# loopback port, with its cluster inside DIR/postgres. TLS is on (a
# throwaway self-signed certificate), so `SSLRequest` is answered `S`.
#
#   scripts/postgres.sh start DIR   prints the port on stdout
#   scripts/postgres.sh stop DIR    stops it (pg_ctl stop -m fast)
#
# PostgreSQL refuses to run as root: as root, it runs as the `postgres` user
# the Debian package creates.
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"

usage() {
    printf 'usage: %s start|stop DIR\n' "$0" >&2
    exit 2
}

# The newest installed server's bin directory (Debian keeps it off PATH).
bindir() {
    local dir
    dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [[ ! -d $dir ]] && command -v pg_ctl >/dev/null 2>&1; then
        dir=$(dirname "$(command -v pg_ctl)")
    fi
    [[ -n $dir && -x $dir/pg_ctl && -x $dir/initdb ]] ||
        die "PostgreSQL not found (apt-get install -y --no-install-recommends postgresql)"
    printf '%s' "$dir"
}

# Runs a command as the cluster's owner.
as_owner() {
    if ((EUID == 0)); then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        "$@"
    fi
}

start() {
    local dir=$1 bin port attempt pg
    bin=$(bindir)
    command -v openssl >/dev/null 2>&1 ||
        die "openssl not found on PATH (apt-get install -y --no-install-recommends openssl)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    pg=$dir/postgres
    [[ -f $pg/data/postmaster.pid ]] && die "a cluster already runs in $pg"
    rm -rf "$pg"
    mkdir -p "$pg"
    if ((EUID == 0)); then
        id postgres >/dev/null 2>&1 || die "running as root and there is no postgres user"
        # The postgres user must reach DIR.
        chmod 755 "$dir"
        chown postgres: "$pg"
    fi
    as_owner "$bin/initdb" -D "$pg/data" -A trust -U postgres --no-sync >"$pg/initdb.log" 2>&1 || {
        sed 's/^/    /' "$pg/initdb.log" >&2
        die "initdb failed"
    }
    as_owner openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$pg/server.key" -out "$pg/server.crt" -days 2 -subj /CN=localhost \
        >/dev/null 2>&1 || die "cannot make the TLS certificate"
    chmod 600 "$pg/server.key"
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        check_port "$port"
        if as_owner "$bin/pg_ctl" start -w -t 30 -D "$pg/data" -l "$pg/server.log" \
            -o "-p $port -c listen_addresses=127.0.0.1 -k $pg -c fsync=off -c ssl=on -c ssl_cert_file=$pg/server.crt -c ssl_key_file=$pg/server.key" \
            >/dev/null 2>&1; then
            log "postgres ready on 127.0.0.1:$port, cluster $pg/data"
            echo "$port"
            return 0
        fi
        if grep -q 'already in use' "$pg/server.log" 2>/dev/null && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "postgres did not start on port $port; its log:"
        sed 's/^/    /' "$pg/server.log" >&2 || true
        exit 1
    done
    die "no free port after 5 attempts"
}

stop() {
    local dir=$1 pg=$1/postgres
    if [[ ! -f $pg/data/postmaster.pid ]]; then
        log "no cluster running in $pg; nothing to stop"
        return 0
    fi
    as_owner "$(bindir)/pg_ctl" stop -D "$pg/data" -m fast -w -t 30 >/dev/null 2>&1 || {
        local pid
        pid=$(head -n 1 "$pg/data/postmaster.pid")
        log "pg_ctl stop failed; stopping pid $pid"
        stop_pid "$pid" postgres
    }
}

(($# == 2)) || usage
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
