#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: system packages, a virtual sound card
# (PulseAudio null sink), then every test including the real-device ones, run serially where
# they share the sound card.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_packages pulseaudio libasound2-dev pkg-config flac vorbis-tools lame
scripts/pulse.sh start
trap 'scripts/pulse.sh stop' EXIT
export WEBAUDIO_DEVICE_TESTS=1
cargo test --workspace --all-targets --features bevy_webaudio/inspector_tests
