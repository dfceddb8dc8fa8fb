#!/usr/bin/env bash
# Renders every conformance case of tests/conformance through bevy_webaudio (release build of
# the webaudio-conformance runner) and writes CONFORMANCE.md: per case the metric against
# Chromium's render, the limit, pass/fail and web-audio-api-rs's value, then the pass count
# next to web-audio-api-rs's. Usage: scripts/conformance.sh [OUTDIR]  (renders kept there).
# Exit status 1 if any case fails (CONFORMANCE.md is written either way).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-$(mktemp -d)}"
cargo build --release --quiet -p webaudio-conformance
bin="${CARGO_TARGET_DIR:-target}/release/webaudio-conformance"
status=0
"$bin" render tests/conformance/cases "$out" --only conf_ || status=$?
"$bin" compare "$out" tests/conformance/reference tests/conformance/thresholds.json \
    --md CONFORMANCE.md || status=$?
# The inventory (every public node, attribute, method, option and error → the cases that check
# it) is appended; it exits non-zero while an item has no case.
"${CARGO_TARGET_DIR:-target}/release/webaudio-inventory" --md CONFORMANCE.md || status=$?
echo "wrote CONFORMANCE.md (renders in $out)"
exit "$status"
