#!/usr/bin/env bash
# Every example, run as a user would, so none of them rots: the windowed ones in a real window
# under Xvfb (Mesa's software Vulkan) playing through the virtual sound card with a 1,024-frame
# device buffer, in smoke mode (WEBAUDIO_SMOKE_SECONDS, see examples/support/mod.rs); the
# offline ones to completion. A windowed example passes when it exits with status 0, the
# device took at least MIN_PLAYED seconds of audio (frames delivered / rate), and that audio
# kept pace with the wall clock (played / wall >= 0.9). Xruns and render load are printed.
#
# Needs the PulseAudio null sink (scripts/pulse.sh start; scripts/test.sh does it).
# Env: SMOKE_SECONDS (default 4), MIN_PLAYED (default 2.0), CARGO_TARGET_DIR as usual,
#      EXAMPLES="synth game" to run only those.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_packages xvfb xauth mesa-vulkan-drivers libvulkan1 libasound2-dev pkg-config libudev-dev \
    libx11-dev libx11-6 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0

features=(--features inspector,bevy_webaudio/inspector_tests)
target="${CARGO_TARGET_DIR:-target}"
smoke="${SMOKE_SECONDS:-4}"
min_played="${MIN_PLAYED:-2.0}"

# Windowed examples are those that need the `examples` or `inspector` feature in Cargo.toml.
windowed=$(awk '/^\[\[example\]\]/{name=""} /^name = /{gsub(/"/,"",$3); name=$3}
    /^required-features = .*(examples|inspector)/{print name}' Cargo.toml)
all=$(ls examples/*.rs | xargs -n1 basename | sed 's/\.rs$//')
selected="${EXAMPLES:-$all}"

cargo build --examples "${features[@]}"

failed=()
run_offline() {
    local name="$1" out
    case "$name" in
        soak) return 0 ;;  # scripts/test.sh runs the soak for a minute on its own
        make_assets) out=$(mktemp -d); "$target/debug/examples/$name" "$out" ;;
        offline_render) out=$(mktemp -d); "$target/debug/examples/$name" "$out/out.wav" ;;
        *) "$target/debug/examples/$name" ;;
    esac
}

run_windowed() {
    local name="$1" log="/tmp/example-$1.log" report
    WEBAUDIO_SMOKE_SECONDS="$smoke" WEBAUDIO_BUFFER_FRAMES=1024 \
        xvfb-run -a -s "-screen 0 1280x800x24" "$target/debug/examples/$name" >"$log" 2>&1 || {
        echo "$name: exit status $?; last lines of $log:"; tail -20 "$log"; return 1; }
    report=$(grep '^audio report:' "$log" | tail -1)
    [ -n "$report" ] || { echo "$name: no audio report"; tail -20 "$log"; return 1; }
    echo "$name: $report"
    python3 - "$name" "$report" "$min_played" <<'EOF'
import sys
name, report, min_played = sys.argv[1], sys.argv[2], float(sys.argv[3])
fields = dict(f.split("=", 1) for f in report.split(":", 1)[1].split())
played, wall = float(fields["played_s"]), float(fields["wall_s"])
problems = []
if fields["backend"] != "Cpal":
    problems.append(f"backend {fields['backend']}, not the sound card")
if played < min_played:
    problems.append(f"played {played:.3} s < {min_played} s")
if wall > 0 and played / wall < 0.9:
    problems.append(f"played {played:.3} s in {wall:.3} s of wall time (< 0.9)")
if problems:
    sys.exit(f"{name}: " + "; ".join(problems))
EOF
}

for name in $selected; do
    if grep -qx "$name" <<<"$windowed"; then
        run_windowed "$name" || failed+=("$name")
    else
        echo "$name: offline"
        run_offline "$name" || failed+=("$name")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "examples failed: ${failed[*]}" >&2
    exit 1
fi
echo "every example passed its smoke run"
