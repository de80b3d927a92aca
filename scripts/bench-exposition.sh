#!/usr/bin/env bash
# Parse speed of vouch's exposition parser against `promtool check metrics`
# (Debian's prometheus package) on the same generated exposition: 102,000
# series (12 MB) in 1,000 families of counters, gauges and histograms.
# Prints vouch's median time and MB/s, promtool's median time, and the ratio.
#
#   scripts/bench-exposition.sh [RUNS]     (default 5 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
[[ $runs =~ ^[1-9][0-9]*$ ]] || {
    echo "usage: $0 [RUNS]" >&2
    exit 2
}
command -v promtool >/dev/null 2>&1 ||
    scripts/ensure-packages.sh promtool=prometheus
command -v python3 >/dev/null 2>&1 || scripts/ensure-packages.sh python3=python3

dir=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench-exposition.XXXXXX")
trap 'rm -rf "$dir"' EXIT
file=$dir/exposition.txt

# 1,000 families: 400 counters and 400 gauges of 100 series, 200 histograms of
# 10 series with 8 buckets + +Inf, _sum and _count (11 samples per series).
python3 - "$file" <<'PY'
import sys
out = []
series = 0
for f in range(1000):
    kind = "counter" if f < 400 else "gauge" if f < 800 else "histogram"
    name = f"bench_family_{f:04d}_" + ("requests_total" if kind == "counter" else "size_bytes" if kind == "gauge" else "duration_seconds")
    out.append(f"# HELP {name} Generated family {f} for the parse benchmark.")
    out.append(f"# TYPE {name} {kind}")
    if kind == "histogram":
        for s in range(10):
            labels = f'instance="host-{s:03d}.example.com:9100",job="bench",path="/api/v1/items/{s}"'
            acc = 0
            for le in ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf"]:
                acc += s + 1
                out.append(f'{name}_bucket{{{labels},le="{le}"}} {acc}')
            out.append(f"{name}_sum{{{labels}}} {acc * 0.042:.3f}")
            out.append(f"{name}_count{{{labels}}} {acc}")
            series += 11
    else:
        for s in range(100):
            labels = f'instance="host-{s:03d}.example.com:9100",job="bench",method="GET",code="{200 + s % 5}"'
            out.append(f"{name}{{{labels}}} {s * 12345.678:.3f}")
            series += 1
open(sys.argv[1], "w").write("\n".join(out) + "\n")
print(f"generated {series} series", file=sys.stderr)
PY
bytes=$(wc -c <"$file")
printf 'exposition: %s series lines, %.1f MB\n' "$(grep -vc '^#' "$file")" "$(echo "$bytes / 1000000" | bc -l)"

echo "building the benchmark (release profile)..." >&2
cargo bench --bench exposition --no-run 2>&1 | tail -n 1 >&2
vouch_line=$(cargo bench -q --bench exposition -- "$file" "$runs")
echo "$vouch_line"
vouch_ms=$(sed -E 's/.*median ([0-9.]+) ms.*/\1/' <<<"$vouch_line")

promtool --version 2>&1 | head -n 1
promtool_times=()
for _ in $(seq 1 "$runs"); do
    start=$(date +%s.%N)
    promtool check metrics <"$file" >/dev/null 2>&1 || true # lint findings exit 3
    end=$(date +%s.%N)
    promtool_times+=("$(echo "($end - $start) * 1000" | bc -l)")
done
promtool_ms=$(printf '%s\n' "${promtool_times[@]}" | sort -g | sed -n "$(((runs + 1) / 2))p")
printf 'promtool check metrics: median %.1f ms over %d runs (%.0f MB/s); runs: %s\n' \
    "$promtool_ms" "$runs" "$(echo "$bytes / 1000 / $promtool_ms" | bc -l)" \
    "$(printf '%.1f ' "${promtool_times[@]}")"
printf 'vouch is %.1fx faster than promtool check metrics (target: >= 3x)\n' \
    "$(echo "$promtool_ms / $vouch_ms" | bc -l)"
