#!/usr/bin/env bash
# Builds vouch's container image from docker/Dockerfile and tests it for real,
# without pulling anything (no registry is reachable here):
#
#   1. a statically linked release binary, built on the host
#      (RUSTFLAGS='-C target-feature=+crt-static', gnu target) in its own
#      CARGO_TARGET_DIR (target/static), so the normal build stays valid;
#   2. `buildah bud --target prebuilt`: the Dockerfile's runtime image, with
#      that binary and the host's CA bundle from target/image/;
#   3. `buildah inspect`: user 65532 (not root), entrypoint /vouch, the OCI
#      labels (version = Cargo.toml's), size under 25 MB;
#   4. the image's own root file system (`buildah from` + `buildah mount` +
#      `chroot`, as user 65532; `podman run` cannot start containers in this
#      sandbox): `vouch --version`, then `vouch run` against loopback servers
#      addressed as `localhost` — plain HTTP and TCP (name resolved through
#      the image's /etc/hosts: a statically linked glibc has `files` and
#      `dns` built in) and HTTPS trusted through the image's CA bundle (a
#      test CA appended to the working container's copy of it). Each is also
#      shown to fail without what makes it pass: HTTPS without the test CA
#      in the bundle, every name without /etc/hosts.
#
#   scripts/image.sh [IMAGE]      # default IMAGE: localhost/vouch:test
#
# Prints the image size. Needs root (chroot, buildah's storage), buildah,
# openssl and python3 (scripts/ensure-packages.sh installs what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:-localhost/vouch:test}
triple=x86_64-unknown-linux-gnu
static_dir=${VOUCH_STATIC_TARGET_DIR:-$PWD/target/static}
limit_bytes=$((25 * 1000 * 1000))

say() { printf '==> image.sh: %s\n' "$*" >&2; }
fail() {
    printf '*** image.sh: FAILED: %s\n' "$*" >&2
    exit 1
}

case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin ;;
esac
scripts/ensure-packages.sh buildah=buildah openssl=openssl python3=python3 chroot=coreutils strip=binutils
((EUID == 0)) || fail "needs root (chroot into the image's root file system)"

work=$(mktemp -d "${TMPDIR:-/tmp}/vouch-image.XXXXXX")
container=""
server_pid=""
cleanup() {
    local rc=$?
    set +e
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    if [[ -n $container ]]; then
        buildah umount "$container" >/dev/null 2>&1
        buildah rm "$container" >/dev/null 2>&1
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT

say "static release binary (CARGO_TARGET_DIR=$static_dir)"
CARGO_TARGET_DIR=$static_dir RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --target "$triple"
binary=$static_dir/$triple/release/vouch
file_type=$(od -An -c -N4 "$binary" | tr -d ' ')
[[ $file_type == 177ELF ]] || fail "$binary is not an ELF file"
# A static binary has no program interpreter (PT_INTERP).
if python3 - "$binary" <<'EOF'; then
import struct, sys
data = open(sys.argv[1], "rb").read(1 << 16)
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
sys.exit(0 if any(struct.unpack_from("<I", data, phoff + i * phentsize)[0] == 3 for i in range(phnum)) else 1)
EOF
    fail "$binary has a program interpreter: it is not statically linked"
fi

say "build context: target/image/{vouch,ca-certificates.crt}"
mkdir -p target/image
# Stripped, as in the Dockerfile's builder stage: the release profile keeps
# line tables for backtraces, which an image does not need.
install -s -m 0755 "$binary" target/image/vouch
cp /etc/ssl/certs/ca-certificates.crt target/image/ca-certificates.crt

say "buildah bud --target prebuilt -t $image"
# The previous build of the same name would stay behind, untagged.
buildah rmi "$image" >/dev/null 2>&1 || true
buildah bud --quiet -f docker/Dockerfile --target prebuilt -t "$image" . >/dev/null

say "buildah inspect"
buildah inspect --type image "$image" >"$work/inspect.json"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
# The image's size: its layers, uncompressed, as `docker images` counts it.
size=$(python3 -c 'import json, sys
manifest = json.loads(json.load(open(sys.argv[1]))["Manifest"])
print(sum(layer["size"] for layer in manifest["layers"]))' "$work/inspect.json")
python3 - "$work/inspect.json" "$version" "$size" "$limit_bytes" <<'EOF' || fail "buildah inspect (see above)"
import json, sys
inspect, version, size, limit = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
config = inspect["OCIv1"]["config"]
labels = config.get("Labels") or {}
problems = []
user = config.get("User", "")
if user.split(":")[0] in ("", "0", "root"):
    problems.append(f"runs as root (User {user!r})")
if user != "65532:65532":
    problems.append(f"User is {user!r}, expected '65532:65532'")
if config.get("Entrypoint") != ["/vouch"]:
    problems.append(f"Entrypoint is {config.get('Entrypoint')!r}")
for name, want in [
    ("org.opencontainers.image.version", version),
    ("org.opencontainers.image.licenses", "MIT OR Apache-2.0"),
    ("org.opencontainers.image.source", None),
]:
    got = labels.get(name)
    if not got or (want is not None and got != want):
        problems.append(f"label {name} is {got!r}, expected {want or 'a value'!r}")
if size >= limit:
    problems.append(f"image is {size} bytes, over {limit}")
for p in problems:
    print("image.sh:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
printf 'image %s: %d bytes (%.1f MB), user %s, entrypoint /vouch\n' "$image" "$size" \
    "$(python3 -c "print($size / 1e6)")" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["OCIv1"]["config"]["User"])' "$work/inspect.json")"

say "the image's root file system: buildah from + mount"
container=$(buildah from "$image")
root=$(buildah mount "$container")
[[ -x $root/vouch && -f $root/etc/ssl/certs/ca-certificates.crt && -f $root/etc/hosts ]] ||
    fail "the image lacks /vouch, the CA bundle or /etc/hosts"
in_image() { env -i "$(command -v chroot)" --userspec=65532:65532 "$root" /vouch "$@"; }

reported=$(in_image --version) || fail "vouch --version in the image"
[[ $reported == "vouch $version" ]] || fail "vouch --version in the image said '$reported'"
say "in the image: $reported"

say "loopback servers: HTTP and HTTPS (a test CA) for localhost"
scripts/tls-certs.sh "$work/certs" >/dev/null 2>&1 || fail "scripts/tls-certs.sh"
python3 - "$work/certs/valid.pem" "$work/certs/valid.key" "$work/ports" <<'EOF' &
import http.server, ssl, sys, threading
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status":"up"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tls = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
tls.socket = context.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=tls.serve_forever, daemon=True).start()
with open(sys.argv[3] + ".tmp", "w") as f:
    f.write(f"{plain.server_address[1]} {tls.server_address[1]}\n")
import os
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
plain.serve_forever()
EOF
server_pid=$!
for _ in $(seq 100); do
    [[ -s $work/ports ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "the test servers did not start"
    sleep 0.1
done
read -r http_port tls_port <"$work/ports" || fail "the test servers did not say their ports"

# The probe file lives in the working container's copy of the image.
mkdir -p "$root/run-test"
cat >"$root/run-test/probes.yaml" <<EOF
version: 1
name: image
target: http://localhost:$http_port
items:
  - item: Plain HTTP by host name
    probes:
      - http: { get: /health, expect: { status: 200, json: { \$.status: up } } }
  - item: TCP by host name
    probes:
      - tcp: { address: "localhost:$http_port", expect: { open: true } }
  - item: HTTPS through the image's CA bundle
    probes:
      - http: { get: "https://localhost:$tls_port/health", expect: { status: 200 } }
EOF
# Runs the probe file in the image; prints each item's verdict and reason.
verdicts() {
    local out rc=0
    out=$(in_image run /run-test/probes.yaml --format json --no-progress) || rc=$?
    ((rc <= 1)) || fail "vouch run in the image exited $rc"
    python3 -c "$print_verdicts" <<<"$out"
}
read -r -d '' print_verdicts <<'EOF' || true
import json, sys
for item in json.load(sys.stdin)["items"]:
    print("%s: %s (%s)" % (item["item"], item["verdict"], item.get("reason") or ""))
EOF
expect_verdict() { # OUTPUT ITEM VERDICT
    grep -q "^$2: $3 " <<<"$1" || fail "expected '$2: $3', got:
$1"
}

bundle=$root/etc/ssl/certs/ca-certificates.crt
say "vouch run in the image, the test CA not yet in its bundle"
out=$(verdicts)
printf '%s\n' "$out" >&2
expect_verdict "$out" "Plain HTTP by host name" verified
expect_verdict "$out" "TCP by host name" verified
expect_verdict "$out" "HTTPS through the image's CA bundle" failed

say "vouch run in the image, the test CA appended to its bundle"
cat "$work/certs/ca.pem" >>"$bundle"
out=$(verdicts)
printf '%s\n' "$out" >&2
expect_verdict "$out" "Plain HTTP by host name" verified
expect_verdict "$out" "TCP by host name" verified
expect_verdict "$out" "HTTPS through the image's CA bundle" verified

say "vouch run in the image without its /etc/hosts: no name resolves"
mv "$root/etc/hosts" "$root/etc/hosts.away"
out=$(verdicts)
mv "$root/etc/hosts.away" "$root/etc/hosts"
printf '%s\n' "$out" >&2
expect_verdict "$out" "Plain HTTP by host name" failed
expect_verdict "$out" "TCP by host name" failed

printf 'image.sh: ok: %s, %.1f MB; vouch %s runs in it as 65532, resolves localhost through its /etc/hosts and trusts its CA bundle\n' \
    "$image" "$(python3 -c "print($size / 1e6)")" "$version"
