#!/usr/bin/env bash
# Starts and stops the real nginx that vouch's integration tests and benchmark
# probe, on a loopback port, with every file it touches inside DIR.
#
#   scripts/nginx.sh start DIR   prints the port on stdout; PID in DIR/nginx.pid
#   scripts/nginx.sh stop DIR    stops it by PID and waits until it is gone
#
# VOUCH_NGINX_PORT=N picks the port (default: a free one, found by binding 0).
# Config: tests/nginx/nginx.conf.template; docroot: tests/nginx/root.
set -euo pipefail

# nginx lives in /usr/sbin, which is not on every user's PATH.
case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin ;;
esac

repo=$(cd "$(dirname "$0")/.." && pwd)
template=$repo/tests/nginx/nginx.conf.template
docroot=$repo/tests/nginx/root
big_bytes=$((2 * 1024 * 1024))
# The HTTP Basic user of /private. A test fixture, not a secret: only its
# hash is written, at start, into DIR/htpasswd (tests/nginx_edge.rs uses it).
basic_user=vouch
basic_password=nginx-test-password

log() { printf 'nginx.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

usage() {
    printf 'usage: %s start|stop DIR\n' "$0" >&2
    exit 2
}

# A free loopback port. Without python3, a random high port: start() retries
# on "Address already in use".
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
    else
        echo $((20000 + RANDOM % 40000))
    fi
}

# Process checks read /proc: a fresh Debian image has no ps/pgrep (procps).
# State is the field after ")" in /proc/PID/stat; a zombie is not running.
is_running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ -n $stat && ${stat:0:1} != Z ]]
}

is_nginx() {
    [[ $(cat "/proc/$1/comm" 2>/dev/null) == nginx ]]
}

# PIDs whose parent is $1.
children_of() {
    local f stat rest ppid
    for f in /proc/[0-9]*/stat; do
        stat=$(cat "$f" 2>/dev/null) || continue
        rest=${stat##*) }
        read -r _ ppid _ <<<"$rest"
        if [[ $ppid == "$1" ]]; then
            f=${f#/proc/}
            echo "${f%/stat}"
        fi
    done
}

# Escapes a string for the replacement side of `s|…|…|`.
sed_escape() {
    printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'
}

# Waits until our nginx answers on PORT; fails fast if it exits. (Debian 12's
# curl 7.88 rejects a fractional --retry-delay, hence the loop.)
wait_ready() {
    local pid=$1 port=$2 dir=$3 body _
    for _ in $(seq 1 100); do
        is_running "$pid" || return 1
        if body=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/_nginx_sh/ready" 2>/dev/null) &&
            [[ $body == "$dir" ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Stops the master PID ($1) and its workers: its current children plus the
# PIDs in $2 (workers recorded at start, which outlive a SIGKILLed master).
stop_pid() {
    local pid=$1 workers=${2:-} w _
    if is_running "$pid"; then
        if is_nginx "$pid"; then
            workers="$workers $(children_of "$pid")"
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 100); do
                is_running "$pid" || break
                sleep 0.05
            done
            if is_running "$pid"; then
                log "nginx (pid $pid) ignored SIGTERM for 5 s; sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        else
            log "pid $pid is not nginx any more; leaving it alone"
        fi
    fi
    for w in $workers; do
        if is_running "$w" && is_nginx "$w"; then
            log "killing leftover nginx worker $w"
            kill -KILL "$w" 2>/dev/null || true
        fi
    done
}

start() {
    local dir=$1 port pid attempt attempts=5 out
    command -v nginx >/dev/null 2>&1 ||
        die "nginx not found on PATH (apt-get install -y --no-install-recommends nginx)"
    command -v curl >/dev/null 2>&1 ||
        die "curl not found on PATH (apt-get install -y --no-install-recommends curl)"
    command -v openssl >/dev/null 2>&1 ||
        die "openssl not found on PATH (apt-get install -y --no-install-recommends openssl)"
    [[ -f $template ]] || die "missing $template"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f $dir/nginx.pid ]] && is_running "$(<"$dir/nginx.pid")"; then
        die "nginx already running for $dir (pid $(<"$dir/nginx.pid"))"
    fi

    # A root master runs its workers as `nobody`: they must reach DIR's files.
    chmod 755 "$dir"
    rm -rf "$dir/root"
    cp -R "$docroot" "$dir/root"
    chmod -R a+rX "$dir/root"
    head -c "$big_bytes" /dev/zero >"$dir/big.bin"
    chmod 644 "$dir/big.bin"
    printf '%s:%s\n' "$basic_user" "$(openssl passwd -apr1 "$basic_password")" >"$dir/htpasswd"
    chmod 644 "$dir/htpasswd"

    [[ -n ${VOUCH_NGINX_PORT:-} ]] && attempts=1
    out=$dir/nginx.out
    for attempt in $(seq 1 "$attempts"); do
        port=${VOUCH_NGINX_PORT:-$(free_port)}
        if ! [[ $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); then
            die "bad port '$port' (VOUCH_NGINX_PORT?)"
        fi
        sed -e "s|@PORT@|$(sed_escape "$port")|g" \
            -e "s|@DIR@|$(sed_escape "$dir")|g" \
            -e "s|@ROOT@|$(sed_escape "$dir/root")|g" \
            "$template" >"$dir/nginx.conf"
        : >"$out"
        # stdout/stderr go to a file: a caller's $(…) must not wait on nginx.
        nginx -p "$dir/" -c "$dir/nginx.conf" -e stderr </dev/null >"$out" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/nginx.pid"
        if wait_ready "$pid" "$port" "$dir"; then
            children_of "$pid" >"$dir/nginx-workers.pid"
            if ! curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$port/health"; then
                stop "$dir"
                die "nginx started but cannot serve $dir/root/health.json: when root starts" \
                    "nginx, its workers run as nobody, so every parent of $dir must be" \
                    "searchable by others (chmod o+x)"
            fi
            log "nginx (pid $pid) ready on http://127.0.0.1:$port, dir $dir"
            echo "$port"
            return 0
        fi
        stop_pid "$pid"
        rm -f "$dir/nginx.pid"
        if grep -q 'Address already in use' "$out" && ((attempt < attempts)); then
            log "port $port taken, trying another"
            continue
        fi
        log "nginx did not start on port $port; its output:"
        sed 's/^/    /' "$out" >&2
        if [[ -s $dir/error.log ]]; then
            log "$dir/error.log:"
            tail -n 20 "$dir/error.log" | sed 's/^/    /' >&2
        fi
        exit 1
    done
    die "no free port after $attempts attempts"
}

stop() {
    local dir=$1 pid workers=""
    if [[ ! -f $dir/nginx.pid ]]; then
        log "no $dir/nginx.pid; nothing to stop"
        return 0
    fi
    pid=$(<"$dir/nginx.pid")
    [[ $pid =~ ^[0-9]+$ ]] || die "bad pid file $dir/nginx.pid: '$pid'"
    [[ -f $dir/nginx-workers.pid ]] && workers=$(<"$dir/nginx-workers.pid")
    stop_pid "$pid" "$workers"
    rm -f "$dir/nginx.pid" "$dir/nginx-workers.pid"
}

(($# == 2)) || usage
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
