#!/usr/bin/env bash
# Runs an example in a real window under Xvfb (Mesa's software Vulkan) and takes two
# screenshots of its window a second apart, docs/<name>.png and docs/<name>-2.png, so that moving meters
# can be compared. Without a sound card the context falls back to the null backend, which
# still renders.
#
# Usage: scripts/screenshot.sh <example> <name> [xdotool command ...]
#   Each xdotool command (e.g. "key space", "keydown v") runs, in order, after WAIT seconds
#   (default 25: a debug build on software Vulkan starts slowly), half a second apart.
# Env: FEATURES (default "inspector", a superset of "examples"), CARGO_TARGET_DIR as usual,
#   SKIP_BUILD=1 to use an example binary built already, PROFILE (default dev; e.g. smoke, the
#   profile scripts/examples.sh builds with), SCREEN (default 1600x1000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
example="$1" name="$2"
shift 2
ensure_packages xvfb xauth mesa-vulkan-drivers libvulkan1 imagemagick xdotool libasound2-dev \
    pkg-config libx11-6 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0
profile="${PROFILE:-dev}"
[ "$profile" = dev ] && dir=debug || dir="$profile"
[ -n "${SKIP_BUILD:-}" ] || cargo build --profile "$profile" --example "$example" \
    --features "${FEATURES:-inspector}"
bin="${CARGO_TARGET_DIR:-target}/$dir/examples/$example"
mkdir -p docs
xvfb-run -a -s "-screen 0 ${SCREEN:-1600x1000}x24" bash -c '
    bin="$1" name="$2"
    shift 2
    "$bin" >"/tmp/$name-example.log" 2>&1 &
    app=$!
    sleep "${WAIT:-25}"
    window=$(xdotool search --sync --onlyvisible --pid "$app" | head -1)
    # No window manager under Xvfb: focus the window directly (windowactivate needs one).
    xdotool windowfocus --sync "$window"
    for action in "$@"; do
        # shellcheck disable=SC2086
        xdotool $action
        sleep 0.5
    done
    import -window "$window" "docs/$name.png"
    sleep 1
    import -window "$window" "docs/$name-2.png"
    kill "$app"
' bash "$bin" "$name" "$@"
echo "wrote docs/$name.png and docs/$name-2.png (log: /tmp/$name-example.log)"
