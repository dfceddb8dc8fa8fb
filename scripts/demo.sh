#!/usr/bin/env bash
# The main demo on a fresh Debian/Ubuntu desktop: installs the system packages a Bevy window
# and ALSA need, then plays the showcase, a voice-controlled game (F2: the inspector; a display
# and a sound card, or PulseAudio /
# PipeWire, are expected; without a sound card it runs silently on the null backend).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_packages libasound2-dev pkg-config libudev-dev libx11-dev libxcursor1 libxi6 libxrandr2 \
    libxkbcommon-x11-0 libvulkan1 mesa-vulkan-drivers
exec cargo run --release --example showcase --features inspector
