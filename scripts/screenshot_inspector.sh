#!/usr/bin/env bash
# Runs examples/inspector.rs under Xvfb (Mesa's software Vulkan), takes two screenshots a
# second apart (docs/inspector.png, docs/inspector-2.png) so moving meters can be compared.
# Without a sound card the context falls back to the null backend, which still renders.
# Env: CARGO_TARGET_DIR as usual; WAIT (seconds before the first shot, default 25);
# SKIP_BUILD=1 to use an example binary built already.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_packages xvfb mesa-vulkan-drivers libvulkan1 imagemagick libasound2-dev pkg-config \
    libx11-6 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0
[ -n "${SKIP_BUILD:-}" ] || cargo build --example inspector --features inspector
bin="${CARGO_TARGET_DIR:-target}/debug/examples/inspector"
mkdir -p docs
xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
    "$0" >/tmp/inspector-example.log 2>&1 &
    app=$!
    sleep "${WAIT:-25}"
    import -window root docs/inspector.png
    sleep 1
    import -window root docs/inspector-2.png
    kill "$app"
' "$bin"
echo "wrote docs/inspector.png and docs/inspector-2.png"
