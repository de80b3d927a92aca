#!/usr/bin/env bash
# Starts and stops real OCI registries (Debian's docker-registry, the CNCF
# distribution registry) for vouch's `image` probe tests, on loopback ports,
# with every file inside DIR/registry, and fills them with small images built
# FROM scratch by buildah:
#
#   scripts/registry.sh start DIR   prints, one per line:
#       VOUCH_TEST_REGISTRY=127.0.0.1:PORT         anonymous pulls
#       VOUCH_TEST_REGISTRY_BASIC=127.0.0.1:PORT   htpasswd (HTTP Basic)
#       VOUCH_TEST_REGISTRY_TOKEN=127.0.0.1:PORT   token auth: a 401 with
#           `WWW-Authenticate: Bearer realm=…`, tokens from a loopback token
#           server (scripts/registry-token-server.py) that wants Basic credentials
#       VOUCH_TEST_REGISTRY_PASSWORD_FILE=FILE     the password of user `vouch`
#           for both (a test fixture, generated per run)
#   scripts/registry.sh stop DIR    stops them by PID
#
# The three registries serve one storage directory. The images (pushed with
# `buildah push --tls-verify=false` into the anonymous one):
#   vouch/app:1.4.2, vouch/app:1.4.1  Docker format, USER 65532:65532, a
#       HEALTHCHECK, label org.opencontainers.image.source
#   vouch/root:1                      OCI format, no USER (root), no health
#       check, `created` 1970-01-01 (--timestamp 0)
#   vouch/multi:1                     an OCI index: linux/amd64 (USER 1000) and
#       linux/arm64 (root)
#
# Needs docker-registry, buildah (as root: its storage is DIR/registry/buildah,
# driver vfs), htpasswd (apache2-utils), openssl, curl and python3.
set -euo pipefail
# shellcheck source=scripts/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"
scripts_dir=$(cd "$(dirname "$0")" && pwd)

usage() {
    printf 'usage: %s start DIR | stop DIR\n' "$0" >&2
    exit 2
}

# Waits until the registry on PORT answers /v2/ (200, or 401 when it wants credentials).
wait_ready() {
    local pid=$1 port=$2 code _
    for _ in $(seq 1 100); do
        is_running "$pid" || return 1
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/v2/" 2>/dev/null) || true
        [[ $code == 200 || $code == 401 ]] && return 0
        sleep 0.1
    done
    return 1
}

# Starts one registry NAME with the `auth:` section AUTH (YAML, may be empty); prints its port.
start_registry() {
    local dir=$1 name=$2 auth=$3 port pid attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        check_port "$port"
        {
            printf 'version: 0.1\nlog:\n  level: warn\n'
            printf 'storage:\n  filesystem:\n    rootdirectory: %s\n' "$dir/data"
            printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
            printf '%s' "$auth"
        } >"$dir/$name.yml"
        docker-registry serve "$dir/$name.yml" </dev/null >"$dir/$name.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/$name.pid"
        if wait_ready "$pid" "$port"; then
            log "registry $name (pid $pid) ready on 127.0.0.1:$port"
            echo "$port"
            return 0
        fi
        stop_pid "$pid" docker-registry
        rm -f "$dir/$name.pid"
        if grep -q 'address already in use' "$dir/$name.log" 2>/dev/null && ((attempt < 5)); then
            log "port $port taken, trying another"
            continue
        fi
        log "registry $name did not start on port $port; its log:"
        sed 's/^/    /' "$dir/$name.log" >&2 || true
        exit 1
    done
    die "no free port after 5 attempts"
}

start_token_server() {
    local dir=$1 pid _
    rm -f "$dir/realm.port"
    python3 "$scripts_dir/registry-token-server.py" "$dir/token.key" "$dir/token.pem" \
        "$dir/realm.port" vouch "$dir/password" vouch-test-issuer </dev/null >"$dir/realm.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/realm.pid"
    for _ in $(seq 1 100); do
        if [[ -s $dir/realm.port ]]; then
            log "token server (pid $pid) ready on 127.0.0.1:$(<"$dir/realm.port")"
            return 0
        fi
        is_running "$pid" || break
        sleep 0.1
    done
    log "the token server did not start; its log:"
    sed 's/^/    /' "$dir/realm.log" >&2 || true
    exit 1
}

# Builds the test images FROM scratch and pushes them to 127.0.0.1:PORT.
push_images() {
    local dir=$1 port=$2 ctx=$1/context
    local buildah=(buildah --root "$dir/buildah/root" --runroot "$dir/buildah/run" --storage-driver vfs)
    local to=docker://127.0.0.1:$port
    mkdir -p "$ctx"
    echo "vouch registry test image" >"$ctx/hello.txt"
    cat >"$ctx/App" <<'EOF'
FROM scratch
ARG VERSION
COPY hello.txt /hello.txt
LABEL org.opencontainers.image.source=https://example.invalid/vouch org.opencontainers.image.version=$VERSION
USER 65532:65532
HEALTHCHECK --interval=30s CMD ["/hello"]
EOF
    printf 'FROM scratch\nCOPY hello.txt /hello.txt\n' >"$ctx/Root"
    printf 'FROM scratch\nCOPY hello.txt /hello.txt\nUSER 1000\n' >"$ctx/User1000"
    local version
    for version in 1.4.1 1.4.2; do
        "${buildah[@]}" bud --quiet --format docker --build-arg "VERSION=$version" -f "$ctx/App" \
            -t "localhost/vouch/app:$version" "$ctx" >/dev/null
        "${buildah[@]}" push --quiet --tls-verify=false "localhost/vouch/app:$version" "$to/vouch/app:$version"
    done
    "${buildah[@]}" bud --quiet --format oci --timestamp 0 -f "$ctx/Root" -t localhost/vouch/root:1 "$ctx" >/dev/null
    "${buildah[@]}" push --quiet --tls-verify=false localhost/vouch/root:1 "$to/vouch/root:1"
    "${buildah[@]}" manifest create localhost/vouch/multi:1 >/dev/null
    "${buildah[@]}" bud --quiet --platform linux/amd64 --manifest localhost/vouch/multi:1 -f "$ctx/User1000" "$ctx" >/dev/null
    "${buildah[@]}" bud --quiet --platform linux/arm64 --manifest localhost/vouch/multi:1 -f "$ctx/Root" "$ctx" >/dev/null
    "${buildah[@]}" manifest push --quiet --all --tls-verify=false localhost/vouch/multi:1 "$to/vouch/multi:1"
    log "pushed vouch/app:1.4.1, vouch/app:1.4.2, vouch/root:1, vouch/multi:1 (linux/amd64, linux/arm64)"
}

start() {
    local dir=$1/registry plain basic token
    for tool in docker-registry buildah htpasswd openssl curl python3; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found on PATH (scripts/ensure-packages.sh installs it)"
    done
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local name
    for name in plain basic token realm; do
        if [[ -f $dir/$name.pid ]] && is_running "$(<"$dir/$name.pid")"; then
            die "registry $name already running (pid $(<"$dir/$name.pid"))"
        fi
    done
    mkdir -p "$dir/data"
    # A fresh password per run, readable by root only.
    (umask 077 && openssl rand -hex 16 >"$dir/password")
    htpasswd -B -b -c "$dir/htpasswd" vouch "$(<"$dir/password")" >/dev/null 2>&1 || die "htpasswd"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/token.key" -out "$dir/token.pem" \
        -days 2 -subj /CN=vouch-test-token-issuer >/dev/null 2>&1 || die "openssl: the token signing key"
    start_token_server "$dir"

    plain=$(start_registry "$dir" plain "")
    basic=$(start_registry "$dir" basic "$(printf 'auth:\n  htpasswd:\n    realm: vouch-test\n    path: %s\n' "$dir/htpasswd")")
    token=$(start_registry "$dir" token "$(printf 'auth:\n  token:\n    realm: http://127.0.0.1:%s/token\n    service: vouch-test-registry\n    issuer: vouch-test-issuer\n    rootcertbundle: %s\n' \
        "$(<"$dir/realm.port")" "$dir/token.pem")")
    push_images "$dir" "$plain" || die "building or pushing the test images failed (see above)"
    echo "VOUCH_TEST_REGISTRY=127.0.0.1:$plain"
    echo "VOUCH_TEST_REGISTRY_BASIC=127.0.0.1:$basic"
    echo "VOUCH_TEST_REGISTRY_TOKEN=127.0.0.1:$token"
    echo "VOUCH_TEST_REGISTRY_PASSWORD_FILE=$dir/password"
}

stop() {
    local dir=$1/registry name
    for name in plain basic token; do
        if [[ -f $dir/$name.pid ]]; then
            stop_pid "$(<"$dir/$name.pid")" docker-registry
            rm -f "$dir/$name.pid"
        fi
    done
    if [[ -f $dir/realm.pid ]]; then
        stop_pid "$(<"$dir/realm.pid")" python
        rm -f "$dir/realm.pid"
    fi
}

case ${1:-} in
start) (($# == 2)) || usage; start "$2" ;;
stop) (($# == 2)) || usage; stop "$2" ;;
*) usage ;;
esac
