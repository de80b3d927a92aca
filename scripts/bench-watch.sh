#!/usr/bin/env bash
# The soak benchmark of `vouch watch` (prints figures; not a test): a 50-probe
# file against a local nginx at `--every 10ms`, scraped once a second, for
# BENCH_DURATION seconds or BENCH_CYCLES cycles, whichever comes first. Prints
# RSS and open file descriptors after cycle 100 and at the end, CPU per cycle
# and scrape latency.
#
#   BENCH_DURATION=180   seconds at most (the issue's full soak: 600)
#   BENCH_CYCLES=10000   cycles at most
#   BENCH_VOUCH=PATH     use this vouch binary instead of building one
#   BENCH_STRICT=1       exit 1 when a target is missed
#   VOUCH_NGINX_PORT=N   pin nginx's port
#
# Targets: RSS and fds flat (growth < 5% from cycle 100 to the end), RSS < 30 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."

case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin ;;
esac

duration=${BENCH_DURATION:-180}
max_cycles=${BENCH_CYCLES:-10000}
strict=0
[[ ${BENCH_STRICT:-0} =~ ^0?$ ]] || strict=1

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf '*** bench-watch: %s\n' "$*" >&2
    exit 1
}
for var in duration max_cycles; do
    [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, got '${!var}'"
done

scripts/ensure-packages.sh nginx=nginx curl=curl

vouch_bin=${BENCH_VOUCH:-}
if [[ -z $vouch_bin ]]; then
    say "cargo build --release --locked"
    cargo build --release --locked
    vouch_bin=${CARGO_TARGET_DIR:-target}/release/vouch
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench-watch.XXXXXX")
chmod 755 "$work"
watch_pid=
cleanup() {
    local rc=$?
    if [[ -n $watch_pid ]] && kill -0 "$watch_pid" 2>/dev/null; then
        kill -TERM "$watch_pid" 2>/dev/null || true
        wait "$watch_pid" 2>/dev/null || true
    fi
    scripts/nginx.sh stop "$work/nginx" || rc=1
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A copy: a shared CARGO_TARGET_DIR may be rebuilt by someone else meanwhile.
cp "$vouch_bin" "$work/vouch"

mkdir -p "$work/nginx"
port=$(scripts/nginx.sh start "$work/nginx")

{
    printf 'version: 1\nname: watch soak\ntarget: http://127.0.0.1:%s\nitems:\n' "$port"
    for i in $(seq 1 50); do
        printf '  - item: Endpoint %s answers\n    probes:\n' "$i"
        printf '      - http: { get: "/health?n=%s", expect: { status: 200, latency: { max: 1s } } }\n' "$i"
    done
} >"$work/probes.yaml"

"$work/vouch" watch "$work/probes.yaml" --every 10ms --jitter 0% --listen 127.0.0.1:0 \
    --log-format json 2>"$work/watch.log" &
watch_pid=$!

addr=
for _ in $(seq 1 100); do
    addr=$(grep -o 'listening on http://[0-9.:]*' "$work/watch.log" | head -n 1 | sed 's#.*http://##') || true
    [[ -n $addr ]] && break
    kill -0 "$watch_pid" 2>/dev/null || die "vouch watch exited: $(tail -n 5 "$work/watch.log")"
    sleep 0.1
done
[[ -n $addr ]] || die "vouch watch did not say where it listens"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$watch_pid/status"; }
fds() { find "/proc/$watch_pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }
# utime + stime in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$watch_pid/stat"; }
ticks_per_second=$(getconf CLK_TCK)

# One scrape: prints "latency_seconds cycles".
scrape() {
    local latency
    latency=$(curl -fsS --max-time 5 -o "$work/metrics.txt" -w '%{time_total}' "http://$addr/metrics") || return 1
    awk -v l="$latency" '/^vouch_runs_total\{/ { n += $2 } END { printf "%s %d\n", l, n }' "$work/metrics.txt"
}

say "vouch watch on $addr: 50 probes against nginx on :$port, every 10ms; scraping once a second for up to ${duration}s or $max_cycles cycles"
: >"$work/latencies"
: >"$work/samples"
started=$SECONDS
at100_rss= at100_fds= at100_cpu= at100_cycles=
cycles=0
# After cycle 100: the range of fds seen (a run in flight holds its
# connections) and the highest RSS.
fds_min= fds_max=0 rss_max=0
while ((SECONDS - started < duration)); do
    sleep 1
    kill -0 "$watch_pid" 2>/dev/null || die "vouch watch exited: $(tail -n 5 "$work/watch.log")"
    read -r latency cycles < <(scrape) || die "a scrape failed"
    echo "$latency" >>"$work/latencies"
    if [[ -z $at100_rss ]] && ((cycles >= 100)); then
        at100_rss=$(rss_kib) at100_fds=$(fds) at100_cpu=$(cpu_ticks) at100_cycles=$cycles
    fi
    if [[ -n $at100_rss ]]; then
        now_fds=$(fds) now_rss=$(rss_kib)
        echo "$cycles $now_rss $now_fds" >>"$work/samples"
        ((now_fds > fds_max)) && fds_max=$now_fds
        [[ -z $fds_min ]] || ((now_fds < fds_min)) && fds_min=$now_fds
        ((now_rss > rss_max)) && rss_max=$now_rss
    fi
    ((cycles >= max_cycles)) && break
done
[[ -n $at100_rss ]] || die "fewer than 100 cycles in ${duration}s ($cycles)"
end_rss=$(rss_kib) end_fds=$(fds) end_cpu=$(cpu_ticks)
read -r _ end_cycles < <(scrape)
overruns=$(awk '/^vouch_runs_overrun_total / { printf "%d", $2 }' "$work/metrics.txt")

sort -g "$work/latencies" >"$work/sorted"
n=$(wc -l <"$work/sorted")
pct() { awk -v p="$1" -v n="$n" 'NR == int((n - 1) * p) + 1 { printf "%.1f", $1 * 1000 }' "$work/sorted"; }

cycles_run=$((end_cycles - at100_cycles))
cpu_ms=$(awk -v t="$((end_cpu - at100_cpu))" -v hz="$ticks_per_second" -v c="$cycles_run" \
    'BEGIN { if (c > 0) printf "%.2f", t * 1000 / hz / c; else print "n/a" }')
growth() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 100 / a }'; }
# RSS moves with the run in flight when it is sampled: compare the medians
# of the first and the last ten samples after cycle 100.
median_of() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
first_rss=$(head -n 10 "$work/samples" | awk '{ print $2 }' | median_of)
last_rss=$(tail -n 10 "$work/samples" | awk '{ print $2 }' | median_of)
rss_growth=$(growth "$first_rss" "$last_rss")
first_fds=$(head -n 10 "$work/samples" | awk '{ print $3 }' | median_of)
last_fds=$(tail -n 10 "$work/samples" | awk '{ print $3 }' | median_of)
fds_growth=$(growth "$first_fds" "$last_fds")

printf '\nvouch watch soak: %d cycles in %ds (%s overruns of the 10ms interval)\n' "$end_cycles" "$((SECONDS - started))" "${overruns:-?}"
printf '  after cycle %-6d RSS %6.1f MiB   fds %d\n' "$at100_cycles" "$(awk -v k="$at100_rss" 'BEGIN { print k / 1024 }')" "$at100_fds"
printf '  at the end (%-6d) RSS %6.1f MiB   fds %d\n' "$end_cycles" "$(awk -v k="$end_rss" 'BEGIN { print k / 1024 }')" "$end_fds"
printf '  growth             RSS %s%% (%.1f → %.1f MiB)   fds %s%% (%d → %d)   (medians of the first and last 10 samples; target < 5%%)\n' \
    "$rss_growth" "$(awk -v k="$first_rss" 'BEGIN { print k / 1024 }')" "$(awk -v k="$last_rss" 'BEGIN { print k / 1024 }')" \
    "$fds_growth" "$first_fds" "$last_fds"
printf '  RSS trend (MiB)    %s\n' "$(awk 'NR % 10 == 1 { printf "%.1f ", $2 / 1024 }' "$work/samples")"
printf '  from cycle %d on    peak RSS %.1f MiB   fds between %d and %d\n' "$at100_cycles" "$(awk -v k="$rss_max" 'BEGIN { print k / 1024 }')" "$fds_min" "$fds_max"
printf '  CPU per cycle      %s ms (user + system, 50 probes)\n' "$cpu_ms"
printf '  scrape latency     median %s ms   p99 %s ms   max %s ms   (%d scrapes)\n' "$(pct 0.5)" "$(pct 0.99)" "$(pct 1)" "$n"

missed=0
awk -v g="$rss_growth" 'BEGIN { exit !(g >= 5) }' && { say "missed: RSS grew ${rss_growth}%"; missed=1; }
awk -v g="$fds_growth" 'BEGIN { exit !(g >= 5) }' && { say "missed: fds grew ${fds_growth}%"; missed=1; }
((end_rss < 30 * 1024)) || { say "missed: RSS $((end_rss / 1024)) MiB >= 30 MiB"; missed=1; }
((strict && missed)) && exit 1
exit 0
