#!/usr/bin/env bash
# Writes a PNG of the demo's HTML report, for people to look at (never
# committed): runs `vouch demo`, then headless Chromium on the page.
#
#   scripts/screenshot-report.sh [OUT.png]    (default target/screenshots/demo-report.png)
#
# Needs chromium (scripts/ensure-packages.sh chromium=chromium) and a built
# vouch (VOUCH=path/to/vouch, else target/debug/vouch, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/screenshots/demo-report.png}
vouch=${VOUCH:-target/debug/vouch}
[[ -x $vouch ]] || cargo build --quiet --bin vouch
browser=$(command -v chromium || command -v chromium-browser || true)
[[ -n $browser ]] || {
    echo "screenshot-report.sh: chromium not found (scripts/ensure-packages.sh chromium=chromium)" >&2
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/vouch-screenshot.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$vouch" demo --no-progress --quiet -o "html=$work/demo-report.html" >/dev/null
mkdir -p "$(dirname "$out")"
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --no-first-run --hide-scrollbars --user-data-dir="$work/profile" \
    --window-size=1280,2400 --screenshot="$(realpath -m "$out")" \
    "file://$work/demo-report.html" 2>/dev/null
echo "wrote $out"
