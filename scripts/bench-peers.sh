#!/usr/bin/env bash
# Times every perf_* case of tests/conformance through bevy_webaudio and through
# web-audio-api-rs 1.7.0 in the same run (release build of bench-peers/, a crate with its own
# workspace so `cargo test --workspace` never builds web-audio-api-rs), then writes the table
# into BENCHMARKS.md between the `bench-peers` markers.
# Usage: scripts/bench-peers.sh [--only PREFIX] [--runs N]   (about 3 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
table="$(mktemp)"
(cd bench-peers && cargo run --release --quiet -- --md "$table" "$@")
awk -v table="$table" '
    /<!-- BEGIN bench-peers -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- END bench-peers -->/ { skip = 0 }
    !skip
' BENCHMARKS.md > BENCHMARKS.md.new
mv BENCHMARKS.md.new BENCHMARKS.md
rm -f "$table"
echo "updated BENCHMARKS.md"
