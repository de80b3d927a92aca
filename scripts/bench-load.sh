#!/usr/bin/env bash
# The load benchmark (prints figures; not a test): a `vouch` `load` probe
# (closed model) against a local nginx, next to oha and wrk with the same
# connections and duration on the same URL, in one run. Prints requests/s,
# p50 and p99 for each (medians of BENCH_RUNS runs) and vouch's ratios to oha.
#
#   BENCH_CONNECTIONS=50  BENCH_DURATION=5s  BENCH_RUNS=3
#   BENCH_VOUCH=PATH    use this vouch binary instead of building one
#   BENCH_SKIP_VOUCH=1  skip building and running vouch (tests this script)
#   BENCH_STRICT=1      exit 1 when a target is missed
#   VOUCH_NGINX_PORT=N  pin nginx's port
#
# Targets: vouch >= 0.9x oha's requests/s; vouch's p99 within 10% of oha's.
# The three tools run one after another, each alone with nginx, rotating
# which goes first; all of them share the machine's cores with nginx.
set -euo pipefail
cd "$(dirname "$0")/.."

case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin ;;
esac
# `cargo install` puts oha here, which is not always on PATH.
[[ -d ${CARGO_HOME:-$HOME/.cargo}/bin ]] && PATH=$PATH:${CARGO_HOME:-$HOME/.cargo}/bin

connections=${BENCH_CONNECTIONS:-50}
duration=${BENCH_DURATION:-5s}
runs=${BENCH_RUNS:-3}
skip_vouch=0 strict=0
[[ ${BENCH_SKIP_VOUCH:-0} =~ ^0?$ ]] || skip_vouch=1
[[ ${BENCH_STRICT:-0} =~ ^0?$ ]] || strict=1

target_ratio=0.9
target_p99=1.10

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf '*** bench-load: %s\n' "$*" >&2
    exit 1
}

for var in connections runs; do
    [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, got '${!var}'"
done
[[ $duration =~ ^[1-9][0-9]*s$ ]] || die "BENCH_DURATION must be whole seconds like 5s, got '$duration'"

# Median of the numbers on stdin.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}

scripts/ensure-packages.sh nginx=nginx curl=curl python3=python3 wrk=wrk

vouch_bin=${BENCH_VOUCH:-}
if ((!skip_vouch)) && [[ -z $vouch_bin ]]; then
    say "cargo build --release --locked"
    cargo build --release --locked
    vouch_bin=${CARGO_TARGET_DIR:-target}/release/vouch
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench-load.XXXXXX")
chmod 755 "$work"
cleanup() {
    local rc=$?
    scripts/nginx.sh stop "$work/nginx" || rc=1
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A copy: a shared CARGO_TARGET_DIR may be rebuilt by someone else meanwhile.
if ((!skip_vouch)); then
    cp "$vouch_bin" "$work/vouch"
fi

port=$(scripts/nginx.sh start "$work/nginx")
base=http://127.0.0.1:$port
url=$base/bench

cat >"$work/load.yaml" <<EOF
version: 1
name: bench-load
target: $base
items:
  - item: load
    probes:
      - load:
          get: /bench
          concurrency: $connections
          duration: $duration
          max_requests: 1000000000
EOF

# Each tool prints one line: "REQ_PER_S P50_MS P99_MS".
run_vouch() {
    "$work/vouch" run "$work/load.yaml" --allow-heavy --cool-down 0s --no-progress \
        --format json --output "$work/vouch.json" 2>"$work/vouch.err" || {
        tail -n 20 "$work/vouch.err" >&2
        return 1
    }
    python3 - "$work/vouch.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["items"][0]["probes"][0]["evidence"]
errors = e["errors"]["count"]
if errors:
    print(f"vouch: {errors} errors: {e['errors']['by_cause']}", file=sys.stderr)
print(e["throughput_per_s"], e["latency_ms"]["p50"], e["latency_ms"]["p99"])
PY
}

run_oha() {
    oha -z "$duration" -c "$connections" --no-tui --output-format json "$url" \
        >"$work/oha.json" 2>"$work/oha.err" || {
        tail -n 20 "$work/oha.err" >&2
        return 1
    }
    python3 - "$work/oha.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
print(d["summary"]["requestsPerSec"], p["p50"] * 1e3, p["p99"] * 1e3)
PY
}

run_wrk() {
    wrk -t2 -c"$connections" -d"$duration" --latency "$url" >"$work/wrk.txt" 2>&1 || {
        tail -n 20 "$work/wrk.txt" >&2
        return 1
    }
    python3 - "$work/wrk.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
rate = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
p50 = ms(re.search(r"^\s*50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s*99%\s+(\S+)", text, re.M).group(1))
if "Non-2xx" in text:
    print(re.search(r"Non-2xx.*", text).group(0), file=sys.stderr)
print(rate, p50, p99)
PY
}

tools=(oha wrk)
((skip_vouch)) || tools=(vouch "${tools[@]}")
command -v oha >/dev/null 2>&1 || {
    say "oha: skipped (not installed; install it with: cargo install oha --locked)"
    tools=("${tools[@]/oha/}")
}

cores=$(nproc 2>/dev/null || echo '?')
say "machine: $cores cores; $(nginx -v 2>&1); $connections connections for $duration each; $url"
for run in $(seq 1 "$runs"); do
    # Rotate the order so no tool always runs first (or last) on a warm nginx.
    n=${#tools[@]}
    for k in $(seq 0 $((n - 1))); do
        tool=${tools[$(((k + run - 1) % n))]}
        [[ -n $tool ]] || continue
        line=$("run_$tool") || die "$tool failed in run $run"
        read -r rate p50 p99 <<<"$line"
        printf '%s %s %s\n' "$rate" "$p50" "$p99" >>"$work/$tool.results"
        say "$tool run $run/$runs: $(printf '%.0f' "$rate") req/s, p50 $(printf '%.3f' "$p50") ms, p99 $(printf '%.3f' "$p99") ms"
    done
done

# median TOOL COLUMN
med() {
    [[ -f $work/$1.results ]] || return 0
    awk -v c="$2" '{ print $c }' "$work/$1.results" | median
}

row() { printf '%-8s %12s %12s %12s\n' "$@"; }
echo
printf 'vouch bench-load: %s connections, %s, median of %s runs, %s cores, %s\n' \
    "$connections" "$duration" "$runs" "$cores" "$url"
row "tool" "req/s" "p50 ms" "p99 ms"
for tool in vouch oha wrk; do
    rate=$(med "$tool" 1)
    [[ -n $rate ]] || continue
    row "$tool" "$(printf '%.0f' "$rate")" "$(printf '%.3f' "$(med "$tool" 2)")" "$(printf '%.3f' "$(med "$tool" 3)")"
done

missed=0
vr=$(med vouch 1) or=$(med oha 1) wr=$(med wrk 1)
if [[ -n $vr && -n $or ]]; then
    ratio=$(awk -v v="$vr" -v o="$or" 'BEGIN { printf "%.2f", v / o }')
    p99_ratio=$(awk -v v="$(med vouch 3)" -v o="$(med oha 3)" 'BEGIN { printf "%.2f", v / o }')
    ok_rate=$(awk -v r="$ratio" -v t="$target_ratio" 'BEGIN { print (r >= t) ? "ok" : "MISSED" }')
    ok_p99=$(awk -v r="$p99_ratio" -v t="$target_p99" 'BEGIN { print (r <= t) ? "ok" : "MISSED" }')
    printf 'vouch / oha req/s: %sx (target >= %sx) %s\n' "$ratio" "$target_ratio" "$ok_rate"
    printf 'vouch / oha p99:   %sx (target <= %sx) %s\n' "$p99_ratio" "$target_p99" "$ok_p99"
    [[ $ok_rate == ok && $ok_p99 == ok ]] || missed=1
fi
if [[ -n $vr && -n $wr ]]; then
    printf 'vouch / wrk req/s: %sx\n' "$(awk -v v="$vr" -v w="$wr" 'BEGIN { printf "%.2f", v / w }')"
fi

if ((missed && strict)); then
    die "a target was missed (BENCH_STRICT=1)"
fi
