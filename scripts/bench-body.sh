#!/usr/bin/env bash
# Peak memory of one `http` probe reading a huge body, beside the body limit.
# A local server sends 300 MB (with Content-Length, chunked without a length,
# and chunked gzip); vouch reads it with --body-limit 64MiB and 256MiB, and
# `/usr/bin/time -v` gives the process's peak resident set. vouch's own
# footprint (runtime, TLS roots, allocator) is measured with a 1 KiB limit.
# A last run reads four such bodies at once (--concurrency 4): the worst case
# is concurrency × body limit.
#
#   scripts/bench-body.sh            (uses target/release/vouch, else target/debug/vouch;
#                                     VOUCH=path overrides)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-packages.sh python3=python3 /usr/bin/time=time
vouch=${VOUCH:-}
if [[ -z $vouch ]]; then
    for candidate in target/release/vouch target/debug/vouch; do
        [[ -x $candidate ]] && vouch=$candidate && break
    done
fi
[[ -n $vouch ]] || {
    echo "build vouch first (cargo build --release), or set VOUCH" >&2
    exit 2
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench-body.XXXXXX")
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

# One server, three bodies of 300 MB by path: /length, /chunked, /gzip.
cat >"$dir/server.py" <<'PY'
import socket, sys, threading, zlib
SIZE = 300_000_000
BLOCK = bytes(range(256)) * 256  # 64 KiB, not all one byte
def gzip_stream():
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    sent = 0
    while sent < SIZE:
        out = z.compress(BLOCK)
        sent += len(BLOCK)
        if out:
            yield out
    yield z.flush()
def serve(c):
    try:
        path = c.recv(65536).split(b" ")[1]
        if path == b"/length":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Length: %d\r\n\r\n" % SIZE)
            for _ in range(SIZE // len(BLOCK)):
                c.sendall(BLOCK)
            return
        gzip = path == b"/gzip"
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                  + (b"Content-Encoding: gzip\r\n" if gzip else b"")
                  + b"Transfer-Encoding: chunked\r\n\r\n")
        chunks = gzip_stream() if gzip else (BLOCK for _ in range(SIZE // len(BLOCK)))
        for chunk in chunks:
            c.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        c.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    finally:
        c.close()
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
python3 "$dir/server.py" >"$dir/port" &
server_pid=$!
for _ in $(seq 50); do [[ -s $dir/port ]] && break; sleep 0.1; done
port=$(cat "$dir/port")

cat >"$dir/probe.yaml" <<'YAML'
version: 1
name: body memory
items:
  - item: A huge body is read up to the limit
    probes:
      - http:
          get: /${env:BODY_PATH}
YAML

cat >"$dir/four.yaml" <<'YAML'
version: 1
name: body memory, four at once
items:
  - item: Four huge bodies are read at once
    probes:
      - http: {get: /chunked}
      - http: {get: /chunked}
      - http: {get: /chunked}
      - http: {get: /chunked}
YAML

peak_kib() { # path limit [file] [extra args]
    BODY_PATH=$1 /usr/bin/time -v "$vouch" run "${3:-$dir/probe.yaml}" \
        --target "http://127.0.0.1:$port" --body-limit "$2" --timeout 120s \
        --format json -o "$dir/report.json" "${@:4}" 2>"$dir/time" >/dev/null || true
    sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$dir/time"
}

echo "vouch: $vouch ($("$vouch" --version))"
base=$(peak_kib length 1KiB)
printf 'footprint with a 1 KiB limit: %d MB peak RSS\n' $((base / 1024))
printf '%-8s  %-8s  %12s  %14s\n' body limit "peak RSS" "above footprint"
for path in length chunked gzip; do
    for limit in 64MiB 256MiB; do
        kib=$(peak_kib "$path" "$limit")
        bytes=$(( ${limit%MiB} * 1024 * 1024 ))
        printf '%-8s  %-8s  %9d MB  %10.2f x limit\n' "$path" "$limit" $((kib / 1024)) \
            "$(echo "($kib - $base) * 1024 / $bytes" | bc -l)"
    done
done
kib=$(peak_kib chunked 64MiB "$dir/four.yaml" --concurrency 4)
printf '%-8s  %-8s  %9d MB  %10.2f x limit (4 probes at once)\n' chunked 64MiB $((kib / 1024)) \
    "$(echo "($kib - $base) * 1024 / (64 * 1024 * 1024)" | bc -l)"
