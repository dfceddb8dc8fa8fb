#!/usr/bin/env bash
# Re-renders conformance references with Chromium: every case of tests/conformance/cases (or
# those whose name matches the regular expression given as $1) into tests/conformance/reference
# (NAME.f32, NAME.json, NAME.readback.json). Installs what it needs first: Debian's chromium and
# nodejs/npm (apt-get, when missing) and the runner's npm packages (puppeteer-core only; it
# never downloads a browser).
#
#   scripts/chromium-references.sh                 # every case
#   scripts/chromium-references.sh '^conf_format_' # a filter (regex on the case name)
#   OUT=/tmp/refs scripts/chromium-references.sh   # somewhere else than the reference folder
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-}"
out="${OUT:-tests/conformance/reference}"

source scripts/lib.sh
ensure_chromium_runner
args=()
[ -n "$filter" ] && args+=(--filter "$filter")
status=0
node conformance/chromium/run.js "${args[@]}" tests/conformance/cases "$out" || status=$?
# the run's summary is not a reference
if [ -f "$out/summary.json" ]; then
    mv "$out/summary.json" "${TMPDIR:-/tmp}/chromium-references-summary.json"
fi
exit "$status"
