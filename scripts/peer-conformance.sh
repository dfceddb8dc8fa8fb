#!/usr/bin/env bash
# Renders every conformance case of tests/conformance (the keys of thresholds.json) through
# web-audio-api-rs 1.7.0 and writes its figures against Chromium's references into
# tests/conformance/web_audio_api_rs.json (read by `webaudio-conformance compare` for the
# CONFORMANCE.md column and pass count). bench-peers is its own workspace (release build).
# Usage: scripts/peer-conformance.sh [--only PREFIX]
set -euo pipefail
cd "$(dirname "$0")/../bench-peers"
CARGO_TARGET_DIR=target cargo build --release --quiet
exec ./target/release/webaudio-bench-peers conformance "$@"
