#!/usr/bin/env bash
# The test command (CI's .ci/run runs exactly this): installs what is missing,
# then formatting, lints, docs, and every test against a real nginx on a
# loopback port (its base URL in VOUCH_TEST_NGINX), and the real peers of the
# `tcp` and `health` tests: two Redis (VOUCH_TEST_REDIS, and
# VOUCH_TEST_REDIS_AUTH with a password set), PostgreSQL with TLS and a
# streaming replica (scripts/postgres.sh: VOUCH_TEST_POSTGRES,
# VOUCH_TEST_POSTGRES_REPLICA, VOUCH_TEST_POSTGRES_CA,
# VOUCH_TEST_POSTGRES_PASSWORD; also the `postgres` tests' peer) and etcd
# (VOUCH_TEST_ETCD), each on a free port.
# `tcp`, `redis` and `health` tests: four Redis (VOUCH_TEST_REDIS; VOUCH_TEST_REDIS_AUTH
# with a password set and a read-only ACL user, VOUCH_TEST_REDIS_PASSWORD and
# VOUCH_TEST_REDIS_ACL=user:password; VOUCH_TEST_REDIS_AOF with AOF on and
# CONFIG disabled, and its TLS port VOUCH_TEST_REDIS_TLS; VOUCH_TEST_REDIS_REPLICA, a replica of the first), PostgreSQL with TLS
# (VOUCH_TEST_POSTGRES) and etcd (VOUCH_TEST_ETCD), each on a free port.
# The `tls` tests get a second nginx with one HTTPS port per test certificate
# (scripts/nginx-tls.sh: VOUCH_TEST_NGINX_TLS_*, VOUCH_TEST_TLS_CA,
# VOUCH_TEST_NGINX_HTTP_REDIRECT) and a real blackbox_exporter to compare
# with (VOUCH_TEST_BLACKBOX). The `mcp` tests get real MCP servers
# (scripts/mcp-peers.sh): npm server-everything (VOUCH_TEST_MCP_EVERYTHING) and
# the Python SDK with SSE and JSON answers (VOUCH_TEST_MCP_PYTHON,
# VOUCH_TEST_MCP_PYTHON_JSON). The `metrics` and `prometheus` tests get a real
# Prometheus scraping a real node_exporter and a down target
# (scripts/prometheus.sh: VOUCH_TEST_PROMETHEUS, VOUCH_TEST_NODE_EXPORTER).
# The `oauth2:` tests get a real token endpoint, npm oauth2-mock-server
# (scripts/oauth2.sh: VOUCH_TEST_OAUTH2).
# The `image` tests get real OCI registries (docker-registry: anonymous,
# htpasswd, token auth) holding images built FROM scratch by buildah
# (scripts/registry.sh: VOUCH_TEST_REGISTRY, VOUCH_TEST_REGISTRY_BASIC,
# VOUCH_TEST_REGISTRY_TOKEN, VOUCH_TEST_REGISTRY_PASSWORD_FILE).
# The `alertmanager` tests get a real Alertmanager with the test route tree
# (scripts/alertmanager.sh: VOUCH_TEST_ALERTMANAGER), the `websocket` tests a
# real feed that greets first on PyPI websockets (scripts/ws-greeter.sh:
# VOUCH_TEST_WS_GREETER).
#
# VOUCH_NGINX_PORT=N pins nginx's port (default: a free one).
set -euo pipefail
cd "$(dirname "$0")/.."

# nginx lives in /usr/sbin, which is not on every user's PATH.
case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin ;;
esac

say() { printf '\n==> %s\n' "$*" >&2; }
fail() {
    printf '\n*** FAILED: %s\n' "$*" >&2
    exit 1
}

# Runs one named step; on failure names it and exits non-zero.
step() {
    local name=$1 start rc=0
    shift
    say "$name"
    start=$SECONDS
    "$@" || rc=$?
    if ((rc != 0)); then
        fail "$name (exit $rc, after $((SECONDS - start)) s): $*"
    fi
    printf '==> ok: %s (%d s)\n' "$name" "$((SECONDS - start))" >&2
}

has_lib() {
    [[ -f src/lib.rs ]] || grep -q '^\[lib\]' Cargo.toml
}

run_dir=""
cleanup() {
    local rc=$?
    if [[ -n $run_dir ]]; then
        scripts/nginx.sh stop "$run_dir" || rc=1
        scripts/nginx-tls.sh stop "$run_dir" || rc=1
        scripts/blackbox.sh stop "$run_dir" || rc=1
        scripts/redis.sh stop "$run_dir" redis || rc=1
        scripts/redis.sh stop "$run_dir" redis-auth || rc=1
        scripts/redis.sh stop "$run_dir" redis-aof || rc=1
        scripts/redis.sh stop "$run_dir" redis-replica || rc=1
        scripts/postgres.sh stop "$run_dir" || rc=1
        scripts/etcd.sh stop "$run_dir" || rc=1
        for peer in everything python python-json; do
            scripts/mcp-peers.sh stop "$run_dir" "$peer" || rc=1
        done
        scripts/prometheus.sh stop "$run_dir" || rc=1
        scripts/oauth2.sh stop "$run_dir" || rc=1
        scripts/registry.sh stop "$run_dir" || rc=1
        scripts/alertmanager.sh stop "$run_dir" || rc=1
        scripts/ws-greeter.sh stop "$run_dir" || rc=1
        rm -rf "$run_dir"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v cargo >/dev/null 2>&1 || fail "cargo not found (install Rust: https://rustup.rs)"
# Debian keeps PostgreSQL's server programs in a versioned directory off PATH.
pg_initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
[[ -x $pg_initdb ]] || pg_initdb=/usr/lib/postgresql/15/bin/initdb # Debian 12's
step "install missing packages" scripts/ensure-packages.sh nginx=nginx curl=curl python3=python3 openssl=openssl \
    redis-server=redis-server etcd=etcd-server "$pg_initdb=postgresql" \
    prometheus-blackbox-exporter=prometheus-blackbox-exporter \
    prometheus=prometheus prometheus-node-exporter=prometheus-node-exporter node=nodejs npm=npm \
    prometheus-pushgateway=prometheus-pushgateway amtool=prometheus-alertmanager \
    chromium=chromium docker-registry=docker-registry buildah=buildah htpasswd=apache2-utils
step "install missing MCP peers (npm, PyPI)" scripts/mcp-peers.sh install
step "install the OAuth2 token endpoint (npm)" scripts/oauth2.sh install
# A real JUnit consumer for the JUnit report's test.
python_has() { python3 -c "import $1" >/dev/null 2>&1; }
if ! python_has junitparser; then
    step "pip install junitparser" python3 -m pip install --quiet --disable-pip-version-check junitparser
fi
# The validator of the CI examples' schemas (tests/ci_examples.rs).
if ! command -v check-jsonschema >/dev/null 2>&1; then
    step "pip install check-jsonschema" python3 -m pip install --quiet --disable-pip-version-check check-jsonschema
fi
# The offline validator of docker/k8s/ (tests/deploy_manifests.rs).
if ! command -v kubernetes-validate >/dev/null 2>&1; then
    step "pip install kubernetes-validate" python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate
fi
# A strict HTML5 parser for the HTML report's test.
if ! python_has html5lib; then
    step "pip install html5lib" python3 -m pip install --quiet --disable-pip-version-check html5lib
fi
# The WebSocket server that greets first (scripts/ws-greeter.sh).
if ! python_has websockets; then
    step "pip install websockets" python3 -m pip install --quiet --disable-pip-version-check websockets
fi
# Tests that need a real peer fail instead of skipping when it is missing.
export VOUCH_REQUIRE_PEERS=1
step "cargo fmt --check" cargo fmt --check
step "cargo clippy" cargo clippy --all-targets --locked -- -D warnings
step "cargo doc" env RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps --locked

# Build before nginx starts, so it only runs while tests do.
step "build tests" cargo test --locked --all-targets --no-run

say "start nginx"
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/vouch-test.XXXXXX")
port=$(scripts/nginx.sh start "$run_dir") || fail "start nginx (see above)"
export VOUCH_TEST_NGINX=http://127.0.0.1:$port
printf '==> VOUCH_TEST_NGINX=%s\n' "$VOUCH_TEST_NGINX" >&2

say "start nginx with TLS test certificates, and blackbox_exporter"
tls_env=$(scripts/nginx-tls.sh start "$run_dir") || fail "start nginx with TLS (see above)"
while IFS= read -r line; do
    [[ $line =~ ^VOUCH_TEST_[A-Z_]+=.+$ ]] || fail "nginx-tls.sh printed '$line'"
    export "${line?}"
    printf '==> %s\n' "$line" >&2
done <<<"$tls_env"
port=$(scripts/blackbox.sh start "$run_dir" "$VOUCH_TEST_TLS_CA") || fail "start blackbox_exporter (see above)"
export VOUCH_TEST_BLACKBOX=http://127.0.0.1:$port
printf '==> VOUCH_TEST_BLACKBOX=%s\n' "$VOUCH_TEST_BLACKBOX" >&2

say "start redis, postgres and etcd"
port=$(scripts/redis.sh start "$run_dir" redis) || fail "start redis (see above)"
export VOUCH_TEST_REDIS=127.0.0.1:$port
# Test fixtures, not secrets: a password and a read-only ACL user.
export VOUCH_TEST_REDIS_PASSWORD=vouch-redis-test-password
export VOUCH_TEST_REDIS_ACL=vouch-reader:vouch-reader-test-password
port=$(scripts/redis.sh start "$run_dir" redis-auth "$VOUCH_TEST_REDIS_PASSWORD" \
    --acl-user "${VOUCH_TEST_REDIS_ACL%%:*}" "${VOUCH_TEST_REDIS_ACL#*:}") ||
    fail "start redis with requirepass (see above)"
export VOUCH_TEST_REDIS_AUTH=127.0.0.1:$port
postgres_env=$(scripts/postgres.sh start "$run_dir") || fail "start postgres (see above)"
while IFS= read -r line; do
    [[ $line =~ ^VOUCH_TEST_[A-Z_]+=.+$ ]] || fail "postgres.sh printed '$line'"
    export "${line?}"
done <<<"$postgres_env"
port=$(scripts/etcd.sh start "$run_dir") || fail "start etcd (see above)"
export VOUCH_TEST_ETCD=http://127.0.0.1:$port
printf '==> VOUCH_TEST_REDIS=%s VOUCH_TEST_REDIS_AUTH=%s VOUCH_TEST_POSTGRES=%s VOUCH_TEST_POSTGRES_REPLICA=%s VOUCH_TEST_ETCD=%s\n' \
    "$VOUCH_TEST_REDIS" "$VOUCH_TEST_REDIS_AUTH" "$VOUCH_TEST_POSTGRES" "$VOUCH_TEST_POSTGRES_REPLICA" "$VOUCH_TEST_ETCD" >&2
# Its TLS port serves the `tls` tests' valid certificate (signed by VOUCH_TEST_TLS_CA).
tls_certs=$(dirname "$VOUCH_TEST_TLS_CA")
ports=$(scripts/redis.sh start "$run_dir" redis-aof --aof --no-config-command \
    --tls "$tls_certs/valid.pem" "$tls_certs/valid.key") ||
    fail "start redis with AOF (see above)"
read -r port tls_port <<<"$ports"
export VOUCH_TEST_REDIS_AOF=127.0.0.1:$port VOUCH_TEST_REDIS_TLS=127.0.0.1:$tls_port
port=$(scripts/redis.sh start "$run_dir" redis-replica --replica-of "${VOUCH_TEST_REDIS##*:}") ||
    fail "start a redis replica (see above)"
export VOUCH_TEST_REDIS_REPLICA=127.0.0.1:$port
printf '==> VOUCH_TEST_REDIS=%s VOUCH_TEST_REDIS_AUTH=%s VOUCH_TEST_REDIS_AOF=%s VOUCH_TEST_REDIS_REPLICA=%s VOUCH_TEST_REDIS_TLS=%s VOUCH_TEST_POSTGRES=%s VOUCH_TEST_ETCD=%s\n' \
    "$VOUCH_TEST_REDIS" "$VOUCH_TEST_REDIS_AUTH" "$VOUCH_TEST_REDIS_AOF" "$VOUCH_TEST_REDIS_REPLICA" "$VOUCH_TEST_REDIS_TLS" \
    "$VOUCH_TEST_POSTGRES" "$VOUCH_TEST_ETCD" >&2

say "start the MCP peers"
for peer in everything python python-json; do
    port=$(scripts/mcp-peers.sh start "$run_dir" "$peer") || fail "start MCP peer $peer (see above)"
    var=VOUCH_TEST_MCP_$(tr 'a-z-' 'A-Z_' <<<"$peer")
    export "$var=http://127.0.0.1:$port/mcp"
    printf '==> %s=%s\n' "$var" "${!var}" >&2
done

say "start prometheus and node_exporter"
prometheus_env=$(scripts/prometheus.sh start "$run_dir") || fail "start prometheus (see above)"
while IFS= read -r line; do
    [[ $line =~ ^VOUCH_TEST_[A-Z_]+=.+$ ]] || fail "prometheus.sh printed '$line'"
    export "${line?}"
    printf '==> %s\n' "$line" >&2
done <<<"$prometheus_env"

say "start the OAuth2 token endpoint"
port=$(scripts/oauth2.sh start "$run_dir") || fail "start oauth2-mock-server (see above)"
export VOUCH_TEST_OAUTH2=http://127.0.0.1:$port
printf '==> VOUCH_TEST_OAUTH2=%s\n' "$VOUCH_TEST_OAUTH2" >&2
say "start the OCI registries and push the test images"
registry_env=$(scripts/registry.sh start "$run_dir") || fail "start the registries (see above)"
while IFS= read -r line; do
    [[ $line =~ ^VOUCH_TEST_[A-Z_]+=.+$ ]] || fail "registry.sh printed '$line'"
    export "${line?}"
    printf '==> %s\n' "$line" >&2
done <<<"$registry_env"
say "start alertmanager"
port=$(scripts/alertmanager.sh start "$run_dir") || fail "start alertmanager (see above)"
export VOUCH_TEST_ALERTMANAGER=http://127.0.0.1:$port
printf '==> VOUCH_TEST_ALERTMANAGER=%s\n' "$VOUCH_TEST_ALERTMANAGER" >&2

say "start the WebSocket greeter"
port=$(scripts/ws-greeter.sh start "$run_dir") || fail "start the WebSocket greeter (see above)"
# An http:// target: the `websocket` kind speaks ws:// to it.
export VOUCH_TEST_WS_GREETER=http://127.0.0.1:$port
printf '==> VOUCH_TEST_WS_GREETER=%s\n' "$VOUCH_TEST_WS_GREETER" >&2

step "cargo test" cargo test --locked --all-targets
if has_lib; then
    step "cargo test --doc" cargo test --locked --doc
else
    say "cargo test --doc: skipped (no library target)"
fi

# The container image: docker/Dockerfile built with buildah (installed if
# missing) from a static binary, inspected, and run in its own root file
# system against loopback servers (scripts/image.sh; needs root).
step "container image" scripts/image.sh

say "all steps passed"
