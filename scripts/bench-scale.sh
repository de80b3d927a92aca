#!/usr/bin/env bash
# The scale benchmark (prints figures; not a test): `vouch run` over large
# probe files (one http probe per item, status + JSONPath) against a local
# nginx, writing a JSON and a human report. For each size: peak RSS, wall
# time and probes/s of the streamed run (items go to the reports as they
# finish); the peak RSS of loading the probe file alone (`vouch check`), to
# tell the file's share from the outcomes'; and, up to BENCH_COMPARE_MAX
# probes, the same run with its probes kept as text, to be read again when
# each runs, as in a file of 16 MiB or more (VOUCH_TEXT_FROM=0), and with
# VOUCH_STREAM=0 (every outcome kept in memory until the
# reports are written, as before streaming).
#
#   BENCH_SIZES="100000 1000000"  BENCH_CONCURRENCY=64
#   BENCH_COMPARE_MAX=100000      0: no in-memory comparison
#   BENCH_SKIP_BUILD=1            use target/release/vouch as it is
#   BENCH_STRICT=1                exit 1 when a target is missed
#   VOUCH_NGINX_PORT=N            pin nginx's port
#
# Targets: 100,000 probes < 150 MiB, 1,000,000 probes < 500 MiB peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."

case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin ;;
esac

sizes=${BENCH_SIZES:-100000 1000000}
concurrency=${BENCH_CONCURRENCY:-64}
compare_max=${BENCH_COMPARE_MAX:-100000}
skip_build=0 strict=0
[[ ${BENCH_SKIP_BUILD:-0} =~ ^0?$ ]] || skip_build=1
[[ ${BENCH_STRICT:-0} =~ ^0?$ ]] || strict=1

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf '*** bench-scale: %s\n' "$*" >&2
    exit 1
}

for n in $sizes; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZES must hold positive integers, got '$n'"
done
[[ $concurrency =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONCURRENCY must be a positive integer"
[[ $compare_max =~ ^[0-9]+$ ]] || die "BENCH_COMPARE_MAX must be a number"

# The target peak RSS in MiB for N probes (none above a million).
target_mib() {
    if (($1 <= 100000)); then
        echo 150
    elif (($1 <= 1000000)); then
        echo 500
    fi
}

# Writes a probe file with N items of one http probe each (as scripts/bench.sh).
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

scripts/ensure-packages.sh nginx=nginx /usr/bin/time=time

if ((!skip_build)); then
    say "cargo build --release --locked"
    cargo build --release --locked
fi
vouch=target/release/vouch
[[ -x $vouch ]] || die "no $vouch (build it, or unset BENCH_SKIP_BUILD)"

work=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench-scale.XXXXXX")
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

# Peak RSS in KiB from a `/usr/bin/time -v` file.
peak_kb() {
    local kb
    kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes):[[:space:]]*//p' "$1" | head -n 1)
    [[ $kb =~ ^[0-9]+$ ]] || die "no peak RSS in $1"
    echo "$kb"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# run_vouch N STREAM TEXT_FROM: one run; prints "peak_kb wall_s probe_ms".
run_vouch() {
    local n=$1 stream=$2 text_from=$3 rc=0 start_ns end_ns
    start_ns=$(date +%s%N)
    VOUCH_STREAM=$stream VOUCH_TEXT_FROM=$text_from /usr/bin/time -v -o "$work/time" \
        "$vouch" run "$work/bench.yaml" --concurrency "$concurrency" --no-progress --quiet \
        -o "json=$work/report.json" -o "human=$work/report.txt" \
        >"$work/vouch.out" 2>"$work/vouch.err" || rc=$?
    end_ns=$(date +%s%N)
    if ((rc != 0)); then
        printf '*** bench-scale: vouch run over %d probes exited %d; its stderr:\n' "$n" "$rc" >&2
        tail -n 30 "$work/vouch.err" >&2
        exit 1
    fi
    local items
    items=$(grep -m 1 -o '"items": *[0-9]*' "$work/report.json" | grep -o '[0-9]*$')
    [[ $items == "$n" ]] || die "the report counts ${items:-no} items, not $n"
    local probe_ms
    probe_ms=$(grep -m 1 -o '"duration_ms": *[0-9.]*' "$work/report.json" | cut -d: -f2 | tr -d ' ')
    say "  report: $(du -m "$work/report.json" | cut -f1) MiB JSON, $(du -m "$work/report.txt" | cut -f1) MiB human"
    rm -f "$work/report.json" "$work/report.txt"
    printf '%s %s %s\n' "$(peak_kb "$work/time")" \
        "$(awk -v a="$start_ns" -v b="$end_ns" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')" "$probe_ms"
}

say "machine: $(nproc 2>/dev/null || echo '?') cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(nginx -v 2>&1)"
rows=()
missed=0
for n in $sizes; do
    generate_probes "$n" "$base" >"$work/bench.yaml"
    say "$n probes: probe file $(($(wc -c <"$work/bench.yaml") / 1024 / 1024)) MiB"
    # Loading alone: parse and check the file, no run.
    "/usr/bin/time" -v -o "$work/time" "$vouch" check "$work/bench.yaml" >/dev/null 2>"$work/check.err" ||
        die "vouch check failed: $(tail -n 5 "$work/check.err")"
    load_mib=$(mib "$(peak_kb "$work/time")")
    say "  loading the file alone: peak RSS $load_mib MiB"
    for mode in streamed "as text" "in memory"; do
        if [[ $mode != streamed ]] && ((compare_max == 0 || n > compare_max)); then
            continue
        fi
        stream=1 text_from=""
        case $mode in
        "as text") text_from=0 ;;
        "in memory") stream=0 ;;
        esac
        read -r kb wall probe_ms < <(run_vouch "$n" "$stream" "$text_from")
        rate=$(awk -v n="$n" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
        phase_rate=$(awk -v n="$n" -v ms="$probe_ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
        peak=$(mib "$kb")
        target=$(target_mib "$n")
        verdict=-
        if [[ $mode == streamed && -n $target ]]; then
            if awk -v p="$peak" -v t="$target" 'BEGIN { exit !(p < t) }'; then
                verdict=ok
            else
                verdict=MISSED
                missed=1
            fi
        fi
        say "  $mode: peak RSS $peak MiB, $wall s, $rate probes/s ($phase_rate probing alone)"
        rows+=("$(printf '%-10s %-10s %10s %10s %9s %10s %10s %9s  %s' \
            "$n" "$mode" "$peak MiB" "$load_mib MiB" "$wall s" "$rate" "$phase_rate" \
            "${target:+< $target}" "$verdict")")
    done
done

echo
printf 'vouch bench-scale: concurrency %s, %s cores, JSON + human reports, %s\n' \
    "$concurrency" "$(nproc 2>/dev/null || echo '?')" "$base/api/items"
printf '%-10s %-10s %10s %10s %9s %10s %10s %9s  %s\n' \
    probes mode "peak RSS" "file alone" wall "probes/s" "(probing)" target ""
printf '%s\n' "${rows[@]}"

if ((missed && strict)); then
    die "a target was missed (BENCH_STRICT=1)"
fi
