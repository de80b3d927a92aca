#!/usr/bin/env bash
# Starts and stops a real PostgreSQL for vouch's `tcp` and `postgres` probe
# tests, on loopback ports, with its clusters inside DIR/postgres:
#
#   - a primary with TLS on: a leaf for localhost and 127.0.0.1 signed by a
#     test CA (scripts/tls-certs.sh, in DIR/postgres/certs), so
#     `SSLRequest` is answered `S` and `sslmode=verify-full` holds;
#   - a database `app` with a table of many column types (`kinds`), the
#     extensions `pgcrypto` and `citext`;
#   - roles: `vouch` (a SCRAM password, write grants on `kinds` so only the
#     read-only transaction refuses a write, member of `pg_monitor`),
#     `nopass` (no password: refused, since pg_hba asks for one) and `open`
#     (let in without a password: `trust`);
#   - a streaming replica of the primary (`pg_basebackup -R`), on its own
#     port, whose certificate (of the same CA) names only wrong.example.
#
#   scripts/postgres.sh start DIR   prints VOUCH_TEST_POSTGRES=127.0.0.1:PORT,
#                                   VOUCH_TEST_POSTGRES_CA=…/ca.pem,
#                                   VOUCH_TEST_POSTGRES_PASSWORD=… (a fixture),
#                                   VOUCH_TEST_POSTGRES_REPLICA=127.0.0.1:PORT
#   scripts/postgres.sh stop DIR    stops both (pg_ctl stop -m fast)
#
# PostgreSQL refuses to run as root: as root, it runs as the `postgres` user
# the Debian package creates.
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"
scripts=$(cd "$(dirname "$0")" && pwd)

# A test fixture, not a secret: the tests log in with it.
PASSWORD=vouch-pg-test-password

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

# Starts the cluster in $2 (log $3) with the certificate $5 (of the test
# CA) on a free port, which it prints.
start_cluster() {
    local bin=$1 data=$2 logfile=$3 pg=$4 cert=$5 port attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        check_port "$port"
        if as_owner "$bin/pg_ctl" start -w -t 60 -D "$data" -l "$logfile" \
            -o "-p $port -c listen_addresses=127.0.0.1 -k $pg -c fsync=off -c ssl=on -c ssl_cert_file=$pg/certs/$cert.pem -c ssl_key_file=$pg/certs/$cert.key" \
            >/dev/null 2>&1; then
            echo "$port"
            return 0
        fi
        if grep -q 'already in use' "$logfile" 2>/dev/null && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "postgres did not start on port $port; its log:"
        sed 's/^/    /' "$logfile" >&2 || true
        exit 1
    done
    die "no free port after 5 attempts"
}

# Runs SQL from stdin as the superuser over the Unix socket.
psql_su() { # PORT DB
    as_owner "$(bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg" -p "$1" -U postgres -d "$2" >/dev/null
}

start() {
    local dir=$1 bin port replica_port
    bin=$(bindir)
    command -v openssl >/dev/null 2>&1 ||
        die "openssl not found on PATH (apt-get install -y --no-install-recommends openssl)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    pg=$dir/postgres
    [[ -f $pg/data/postmaster.pid ]] && die "a cluster already runs in $pg"
    rm -rf "$pg"
    mkdir -p "$pg"
    "$scripts/tls-certs.sh" "$pg/certs" >/dev/null 2>&1 || die "cannot make the TLS certificates"
    if ((EUID == 0)); then
        id postgres >/dev/null 2>&1 || die "running as root and there is no postgres user"
        # The postgres user must reach DIR.
        chmod 755 "$dir"
        chown -R postgres: "$pg"
    fi
    as_owner "$bin/initdb" -D "$pg/data" -A trust -U postgres --no-sync >"$pg/initdb.log" 2>&1 || {
        sed 's/^/    /' "$pg/initdb.log" >&2
        die "initdb failed"
    }
    # First match wins: the superuser and `open` without a password, the
    # rest with SCRAM (`nopass` has none, so it is refused).
    as_owner tee "$pg/data/pg_hba.conf" >/dev/null <<'HBA'
local all         all                    trust
local replication all                    trust
host  replication postgres 127.0.0.1/32  trust
host  all         postgres 127.0.0.1/32  trust
host  all         open     127.0.0.1/32  trust
host  all         all      127.0.0.1/32  scram-sha-256
HBA
    port=$(start_cluster "$bin" "$pg/data" "$pg/server.log" "$pg" valid)
    log "postgres ready on 127.0.0.1:$port, cluster $pg/data"
    psql_su "$port" postgres <<SQL || die "cannot set up roles and the app database"
CREATE ROLE vouch LOGIN PASSWORD '$PASSWORD';
CREATE ROLE nopass LOGIN;
CREATE ROLE open LOGIN;
GRANT pg_monitor TO vouch;
CREATE DATABASE app;
SQL
    psql_su "$port" app <<'SQL' || die "cannot fill the app database"
CREATE EXTENSION pgcrypto;
CREATE EXTENSION citext;
CREATE TABLE kinds (
    id integer PRIMARY KEY,
    big bigint,
    price numeric(10, 2),
    ratio double precision,
    active boolean,
    name text,
    email citext,
    doc jsonb,
    created timestamptz,
    day date,
    tags text[],
    scores integer[]
);
INSERT INTO kinds VALUES
    (1, 9007199254740993, 12.50, 0.25, true, 'first "one"', 'A@Example.org',
     '{"plan": "pro", "seats": 3}', '2024-01-02 03:04:05.678+00', '2024-01-02',
     ARRAY['a', 'b c', NULL], ARRAY[1, 2, 3]),
    (2, NULL, NULL, 'NaN', false, NULL, NULL, NULL, NULL, NULL, '{}', NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON kinds TO vouch, open;
SQL
    # The replica: a base backup with its standby settings (-R), streaming
    # from the primary over the socket.
    as_owner "$bin/pg_basebackup" -h "$pg" -p "$port" -U postgres -D "$pg/replica" -R -X stream -c fast \
        --no-sync >"$pg/basebackup.log" 2>&1 || {
        sed 's/^/    /' "$pg/basebackup.log" >&2
        die "pg_basebackup failed"
    }
    # Its certificate names wrong.example only: verify-ca holds, verify-full not.
    replica_port=$(start_cluster "$bin" "$pg/replica" "$pg/replica.log" "$pg" wronghost)
    log "postgres replica ready on 127.0.0.1:$replica_port, cluster $pg/replica"
    echo "VOUCH_TEST_POSTGRES=127.0.0.1:$port"
    echo "VOUCH_TEST_POSTGRES_CA=$pg/certs/ca.pem"
    echo "VOUCH_TEST_POSTGRES_PASSWORD=$PASSWORD"
    echo "VOUCH_TEST_POSTGRES_REPLICA=127.0.0.1:$replica_port"
}

stop_cluster() { # DATA
    local data=$1 pid
    if [[ ! -f $data/postmaster.pid ]]; then
        log "no cluster running in $data; nothing to stop"
        return 0
    fi
    as_owner "$(bindir)/pg_ctl" stop -D "$data" -m fast -w -t 30 >/dev/null 2>&1 || {
        pid=$(head -n 1 "$data/postmaster.pid")
        log "pg_ctl stop failed; stopping pid $pid"
        stop_pid "$pid" postgres
    }
}

stop() {
    local pg=$1/postgres
    # The replica first: a stopping primary waits for its WAL senders.
    stop_cluster "$pg/replica"
    stop_cluster "$pg/data"
}

(($# == 2)) || usage
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
