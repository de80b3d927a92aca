# shellcheck shell=bash
# Shared by scripts/redis.sh, scripts/postgres.sh and scripts/etcd.sh, which
# start and stop the real peers of vouch's integration tests on loopback
# ports. Sourced, not run.

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# N distinct free loopback ports on one line (default 1), all bound at once so
# that none repeats: ports bound and released one by one can come back the
# same, and two servers on one port would answer for each other. Without
# python3, distinct random high ports: callers retry when one is taken.
free_ports() {
    local n=${1:-1}
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
for s in held:
    s.close()' "$n"
    else
        local -A seen=()
        local ports=() port
        while ((${#ports[@]} < n)); do
            port=$((20000 + RANDOM % 40000))
            [[ -n ${seen[$port]:-} ]] && continue
            seen[$port]=1
            ports+=("$port")
        done
        echo "${ports[*]}"
    fi
}

free_port() { free_ports 1; }

# Process checks read /proc: a fresh Debian image has no ps/pgrep (procps).
# State is the field after ")" in /proc/PID/stat; a zombie is not running.
is_running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ -n $stat && ${stat:0:1} != Z ]]
}

# Stops PID ($1) if it still runs the program named $2 (its /proc comm):
# SIGTERM, up to 5 s, then SIGKILL. A PID reused by another program is left alone.
stop_pid() {
    local pid=$1 name=$2 _
    [[ $pid =~ ^[0-9]+$ ]] || die "bad pid '$pid'"
    is_running "$pid" || return 0
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) != "$name"* ]]; then
        log "pid $pid is not $name any more; leaving it alone"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        is_running "$pid" || return 0
        sleep 0.05
    done
    log "$name (pid $pid) ignored SIGTERM for 5 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

# Checks that $1 is a port number.
check_port() {
    if ! [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] || (($1 > 65535)); then
        die "bad port '$1'"
    fi
}
