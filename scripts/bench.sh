#!/usr/bin/env bash
# The benchmark (prints figures; not a test): `vouch run` over BENCH_PROBES
# http probes (status + JSONPath) against a local nginx, next to oha and wrk
# on the same URL, all in one run.
#
#   BENCH_PROBES=10000  BENCH_CONCURRENCY=64  BENCH_RUNS=3
#   BENCH_OHA_REQUESTS=100000  BENCH_WRK_DURATION=5s
#   BENCH_SKIP_VOUCH=1  skip building and running vouch (tests this script)
#   BENCH_STRICT=1      exit 1 when a target is missed
#   VOUCH_NGINX_PORT=N  pin nginx's port
#
# Targets: >= 20,000 probes/s, >= 0.25x oha's req/s, peak RSS < 100 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."

case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin ;;
esac
# `cargo install` puts oha here, which is not always on PATH.
[[ -d ${CARGO_HOME:-$HOME/.cargo}/bin ]] && PATH=$PATH:${CARGO_HOME:-$HOME/.cargo}/bin

probes=${BENCH_PROBES:-10000}
concurrency=${BENCH_CONCURRENCY:-64}
runs=${BENCH_RUNS:-3}
oha_requests=${BENCH_OHA_REQUESTS:-100000}
wrk_duration=${BENCH_WRK_DURATION:-5s}
# Flags: unset, empty or 0 is off; anything else is on.
skip_vouch=0 strict=0
[[ ${BENCH_SKIP_VOUCH:-0} =~ ^0?$ ]] || skip_vouch=1
[[ ${BENCH_STRICT:-0} =~ ^0?$ ]] || strict=1

target_rate=20000
target_ratio=0.25
target_rss_mib=100

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf '*** bench: %s\n' "$*" >&2
    exit 1
}

for var in probes concurrency runs oha_requests; do
    [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, got '${!var}'"
done

# A number from a `Key: value` line of FILE (first match), or empty.
field() {
    sed -n "s/^[[:space:]]*$2[[:space:]]*\(.*\)$/\1/p" "$1" | head -n 1
}

# Median of the numbers on stdin.
median() {
    sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}

# Writes a probe file with N items of one http probe each.
generate_probes() {
    local n=$1 target=$2
    awk -v n="$n" -v target="$target" 'BEGIN {
        print "version: 1"
        print "name: bench"
        print "target: " target
        print "items:"
        for (i = 0; i < n; i++) {
            printf "  - item: \"probe %d\"\n", i
            print "    probes:"
            print "      - http:"
            print "          get: /api/items"
            print "          expect:"
            print "            status: 200"
            print "            json:"
            print "              $.count: 2"
        }
    }'
}

packages=(nginx=nginx curl=curl)
((skip_vouch)) || packages+=(/usr/bin/time=time)
scripts/ensure-packages.sh "${packages[@]}"

if ((!skip_vouch)); then
    say "cargo build --release --locked"
    cargo build --release --locked
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench.XXXXXX")
# nginx's workers run as nobody under a root master: they must reach $work/nginx.
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

port=$(scripts/nginx.sh start "$work/nginx")
base=http://127.0.0.1:$port
url=$base/api/items

probe_file=$work/bench.yaml
generate_probes "$probes" "$base" >"$probe_file"
say "probe file: $probes probes, $(wc -c <"$probe_file") bytes"

cores=$(nproc 2>/dev/null || echo '?')
say "machine: $cores cores; $(nginx -v 2>&1); load generator and nginx share the cores"

vouch_rate="" vouch_rss_mib="" phase_rate=""
if ((skip_vouch)); then
    say "vouch: skipped (BENCH_SKIP_VOUCH=1)"
else
    walls=()
    phases=()
    max_rss_kb=0
    for run in $(seq 1 "$runs"); do
        timing=$work/time.$run
        rc=0
        start_ns=$(date +%s%N)
        /usr/bin/time -v -o "$timing" \
            target/release/vouch run "$probe_file" --concurrency "$concurrency" \
            --format json --output "$work/report.json" \
            >"$work/vouch.out" 2>"$work/vouch.err" || rc=$?
        end_ns=$(date +%s%N)
        if ((rc != 0)); then
            printf '*** bench: vouch run %d exited %d; its stderr:\n' "$run" "$rc" >&2
            tail -n 50 "$work/vouch.err" >&2
            exit 1
        fi
        wall=$(awk -v a="$start_ns" -v b="$end_ns" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
        rss_kb=$(field "$timing" 'Maximum resident set size (kbytes):')
        [[ $rss_kb =~ ^[0-9]+$ ]] || die "no peak RSS in $timing"
        ((rss_kb > max_rss_kb)) && max_rss_kb=$rss_kb
        walls+=("$wall")
        # The report's own duration covers the probes alone (no load, no report).
        phase_ms=$(grep -m 1 -o '"duration_ms": *[0-9.]*' "$work/report.json" | cut -d: -f2 | tr -d ' ')
        phases+=("$phase_ms")
        say "vouch run $run/$runs: ${wall} s end to end, ${phase_ms} ms probing, peak RSS $((rss_kb / 1024)) MiB"
    done
    median_wall=$(printf '%s\n' "${walls[@]}" | median)
    median_phase=$(printf '%s\n' "${phases[@]}" | median)
    phase_rate=$(awk -v n="$probes" -v ms="$median_phase" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
    vouch_rate=$(awk -v n="$probes" -v w="$median_wall" 'BEGIN { printf "%.0f", n / w }')
    vouch_rss_mib=$(awk -v k="$max_rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')
fi

oha_rate=""
if command -v oha >/dev/null 2>&1; then
    say "$(oha --version): -n $oha_requests -c $concurrency $url"
    if oha -n "$oha_requests" -c "$concurrency" --no-tui --output-format json "$url" \
        >"$work/oha.json" 2>"$work/oha.err"; then
        oha_rate=$(grep -o '"requestsPerSec": *[0-9.eE+-]*' "$work/oha.json" | head -n 1 | cut -d: -f2 || true)
        [[ -n $oha_rate ]] && oha_rate=$(awk -v r="$oha_rate" 'BEGIN { printf "%.0f", r }')
        codes=$(tr -d ' \n' <"$work/oha.json" | grep -o '"statusCodeDistribution":{[^}]*}' || true)
        say "oha: ${oha_rate:-no requestsPerSec in its output} req/s; ${codes:-no status codes}"
    else
        say "oha: failed; its stderr:"
        tail -n 20 "$work/oha.err" >&2
    fi
else
    say "oha: skipped (not installed; install it with: cargo install oha --locked)"
fi

wrk_rate=""
if command -v wrk >/dev/null 2>&1; then
    say "wrk -t2 -c$concurrency -d$wrk_duration $url"
    if wrk -t2 -c"$concurrency" -d"$wrk_duration" "$url" >"$work/wrk.txt" 2>&1; then
        wrk_rate=$(field "$work/wrk.txt" 'Requests\/sec:')
        [[ -n $wrk_rate ]] && wrk_rate=$(awk -v r="$wrk_rate" 'BEGIN { printf "%.0f", r }')
        if grep -q 'Non-2xx' "$work/wrk.txt"; then
            say "wrk: $(grep 'Non-2xx' "$work/wrk.txt")"
        fi
    else
        say "wrk: failed; its output:"
        tail -n 20 "$work/wrk.txt" >&2
    fi
else
    say "wrk: skipped (not installed; apt-get install -y --no-install-recommends wrk)"
fi

ratio=""
if [[ -n $vouch_rate && -n $oha_rate ]]; then
    ratio=$(awk -v v="$vouch_rate" -v o="$oha_rate" 'BEGIN { printf "%.2f", v / o }')
fi

# verdict VALUE OP LIMIT: "ok", "MISSED", or "-" when VALUE is unknown.
verdict() {
    if [[ -z $1 ]]; then
        echo "-"
    elif awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { exit !((op == ">=") ? v >= l : v < l) }'; then
        echo "ok"
    else
        echo "MISSED"
    fi
}

rate_verdict=$(verdict "$vouch_rate" '>=' "$target_rate")
ratio_verdict=$(verdict "$ratio" '>=' "$target_ratio")
rss_verdict=$(verdict "$vouch_rss_mib" '<' "$target_rss_mib")
missed=0
for v in "$rate_verdict" "$ratio_verdict" "$rss_verdict"; do
    [[ $v == MISSED ]] && missed=1
done

rss_shown=-
[[ -n $vouch_rss_mib ]] && rss_shown="$vouch_rss_mib MiB"
ratio_shown=-
[[ -n $ratio ]] && ratio_shown="${ratio}x"
row() { printf '%-26s %14s   %-14s %s\n' "$@"; }
echo
printf 'vouch bench: %s probes, concurrency %s, median of %s runs, %s cores, %s\n' \
    "$probes" "$concurrency" "$runs" "$cores" "$url"
row "metric" "value" "target" ""
row "vouch probes/s" "${vouch_rate:--}" ">= $target_rate" "$rate_verdict"
row "  (probe phase alone)" "${phase_rate:--}" "" ""
row "vouch peak RSS" "$rss_shown" "< $target_rss_mib MiB" "$rss_verdict"
row "oha req/s" "${oha_rate:--}" "" ""
row "wrk req/s" "${wrk_rate:--}" "" ""
row "vouch / oha" "$ratio_shown" ">= ${target_ratio}x" "$ratio_verdict"

if ((missed && strict)); then
    die "a target was missed (BENCH_STRICT=1)"
fi
