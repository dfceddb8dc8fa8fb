#!/usr/bin/env bash
# Times every perf_* case of tests/conformance through all three engines in one run: Chromium
# (Debian's chromium through conformance/chromium/run.js, installed here when missing), then
# bevy_webaudio and web-audio-api-rs 1.7.0 alternating in one process (release build of
# bench-peers/, a crate with its own workspace so `cargo test --workspace` never builds
# web-audio-api-rs), and writes both tables (DSP-bound, memory-bound) into BENCHMARKS.md
# between the `bench-peers` markers.
#
#   scripts/bench-peers.sh [--only PREFIX] [--runs N]
#
# Chromium renders each case 3 times (the 30 s game mix once, with a 10-minute timeout);
# the whole run takes about 15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_chromium_runner
only=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[$i]}" = "--only" ] && only="${args[$((i + 1))]:-}"
done
chromium_out="$(mktemp -d)"
table="$(mktemp)"
trap 'rm -rf "$chromium_out" "$table"' EXIT
# Long cases (the 256-voice game mix takes Chromium about two minutes) are rendered once.
for pass in "^(?!perf_game_mix)${only} 3" "^(?=perf_game_mix)${only} 1"; do
    node conformance/chromium/run.js --kind perf --filter "${pass% *}" --no-audio \
        --repeat "${pass##* }" --timeout 600 tests/conformance/cases "$chromium_out" >&2 || true
done
(cd bench-peers && cargo run --release --quiet -- --chromium "$chromium_out" --md "$table" "$@")
awk -v table="$table" '
    /<!-- BEGIN bench-peers -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- END bench-peers -->/ { skip = 0 }
    !skip
' BENCHMARKS.md > BENCHMARKS.md.new
mv BENCHMARKS.md.new BENCHMARKS.md
echo "updated BENCHMARKS.md"
