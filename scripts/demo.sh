#!/usr/bin/env bash
# The main demo on a fresh Debian/Ubuntu desktop: installs the system packages a Bevy window
# and ALSA need, then plays the synth example (a display and a sound card, or PulseAudio /
# PipeWire, are expected; without a sound card it runs silently on the null backend).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=""
for p in libasound2-dev pkg-config libudev-dev libx11-dev libxcursor1 libxi6 libxrandr2 \
         libxkbcommon-x11-0 libvulkan1 mesa-vulkan-drivers; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
fi
command -v cargo >/dev/null || { echo "Rust (cargo) is required: https://rustup.rs" >&2; exit 1; }
exec cargo run --release --example synth --features window
