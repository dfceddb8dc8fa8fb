#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: system packages, a virtual sound card
# (PulseAudio null sink), then every test including the real-device ones, run serially where
# they share the sound card.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=""
for p in pulseaudio libasound2-dev pkg-config; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
fi
command -v cargo >/dev/null || { echo "Rust (cargo) is required: https://rustup.rs" >&2; exit 1; }
scripts/pulse.sh start
trap 'scripts/pulse.sh stop' EXIT
export WEBAUDIO_DEVICE_TESTS=1
cargo test --workspace --all-targets
