#!/usr/bin/env bash
# Every example, run as a user would, so none of them rots: the windowed ones in a real window
# under Xvfb (Mesa's software Vulkan) playing through the virtual sound card with 1,024-frame
# device callbacks, in smoke mode (WEBAUDIO_SMOKE_SECONDS, see examples/support/mod.rs); the
# offline ones to completion. A windowed example passes when it exits with status 0, the
# device took at least MIN_PLAYED seconds of audio (frames delivered / rate), and that audio
# kept pace with the wall clock (played / wall >= 0.9) in callbacks of at least MIN_CALLBACK
# frames. Xruns and render load are printed.
#
# Needs the PulseAudio null sink (scripts/pulse.sh start; scripts/test.sh does it).
# Env: SMOKE_SECONDS (default 4), MIN_PLAYED (default 2.0), CARGO_TARGET_DIR as usual,
#      EXAMPLES="synth game" to run only those, SKIP_BUILD=1 to use the binaries built already.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_packages xvfb xauth mesa-vulkan-drivers libvulkan1 libasound2-dev pkg-config libudev-dev \
    libx11-dev libx11-6 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0

features=(--features inspector,bevy_webaudio/inspector_tests,bevy_webaudio/scene)
target="${CARGO_TARGET_DIR:-target}"
# The binaries run from the target directory: point Bevy's asset server at assets/ here.
export BEVY_ASSET_ROOT="$PWD"
smoke="${SMOKE_SECONDS:-4}"
min_played="${MIN_PLAYED:-2.0}"
# PulseAudio's ALSA plugin calls back with two thirds of the buffer asked for (1,024 → 682):
# ask for 1,536 to get 1,024-frame callbacks.
buffer_frames="${BUFFER_FRAMES:-1536}"
min_callback="${MIN_CALLBACK:-1024}"

# Windowed examples are those that need the `examples` or `inspector` feature in Cargo.toml.
windowed=$(awk '/^\[\[example\]\]/{name=""} /^name = /{gsub(/"/,"",$3); name=$3}
    /^required-features = .*(examples|inspector)/{print name}' Cargo.toml)
all=$(cd examples && for f in *.rs */main.rs; do if [ -e "$f" ]; then echo "$f"; fi; done | sed 's#/main\.rs$##; s#\.rs$##')
source_of() { [ -f "examples/$1.rs" ] && echo "examples/$1.rs" || echo "examples/$1/main.rs"; }
selected="${EXAMPLES:-$all}"

[ -n "${SKIP_BUILD:-}" ] || cargo build --profile smoke --examples "${features[@]}"

failed=()
run_offline() {
    local name="$1" out
    case "$name" in
        soak) return 0 ;;  # scripts/test.sh runs the soak for a minute on its own
        make_assets) out=$(mktemp -d); "$target/smoke/examples/$name" "$out" ;;
        offline_render) out=$(mktemp -d); "$target/smoke/examples/$name" "$out/out.wav" ;;
        *) "$target/smoke/examples/$name" ;;
    esac
}

run_windowed() {
    local name="$1" log="/tmp/example-$1.log" report
    WEBAUDIO_SMOKE_SECONDS="$smoke" WEBAUDIO_BUFFER_FRAMES="$buffer_frames" \
        xvfb-run -a -s "-screen 0 1280x800x24" "$target/smoke/examples/$name" >"$log" 2>&1 || {
        echo "$name: exit status $?; last lines of $log:"; tail -20 "$log"; return 1; }
    report=$(grep '^audio report:' "$log" | tail -1)
    [ -n "$report" ] || { echo "$name: no audio report"; tail -20 "$log"; return 1; }
    echo "$name: $report"
    python3 - "$name" "$report" "$min_played" "$min_callback" <<'EOF'
import sys
name, report = sys.argv[1], sys.argv[2]
min_played, min_callback = float(sys.argv[3]), int(sys.argv[4])
fields = dict(f.split("=", 1) for f in report.split(":", 1)[1].split())
played, wall = float(fields["played_s"]), float(fields["wall_s"])
problems = []
if fields["backend"] != "Cpal":
    problems.append(f"backend {fields['backend']}, not the sound card")
if played < min_played:
    problems.append(f"played {played:.3} s < {min_played} s")
if int(fields["buffer"]) < min_callback:
    problems.append(f"callbacks of {fields['buffer']} frames < {min_callback}")
if wall > 0 and played / wall < 0.9:
    problems.append(f"played {played:.3} s in {wall:.3} s of wall time (< 0.9)")
if problems:
    sys.exit(f"{name}: " + "; ".join(problems))
EOF
}

# An example without the support plugin (the README's quick start, kept minimal) is stopped
# with Ctrl-C (Bevy exits with status 0) while the sink's monitor is recorded: its sound must
# be heard, at least -40 dBFS RMS over the recording.
run_plain() {
    local name="$1" log="/tmp/example-$1.log" rec="/tmp/example-$1.f32" status=0
    parec -d loop.monitor --raw --format=float32le --channels=1 --rate=48000 >"$rec" &
    local recorder=$!
    xvfb-run -a -s "-screen 0 1280x800x24" timeout --preserve-status -s INT "$((smoke + 6))" \
        "$target/smoke/examples/$name" >"$log" 2>&1 || status=$?
    kill "$recorder"; wait "$recorder" 2>/dev/null || true
    [ "$status" = 0 ] || { echo "$name: exit status $status"; tail -20 "$log"; return 1; }
    python3 - "$name" "$rec" <<'EOF'
import array, math, sys
name, path = sys.argv[1], sys.argv[2]
samples = array.array("f", open(path, "rb").read())
rms = math.sqrt(sum(s * s for s in samples) / max(len(samples), 1))
db = 20 * math.log10(max(rms, 1e-12))
print(f"{name}: heard on the device at {db:.1f} dBFS RMS over {len(samples) / 48000:.1f} s")
if db < -40:
    sys.exit(f"{name}: silent on the device")
EOF
}

for name in $selected; do
    if grep -qx "$name" <<<"$windowed" && ! grep -rq ExampleSupportPlugin "$(source_of "$name")"; then
        run_plain "$name" || failed+=("$name")
    elif grep -qx "$name" <<<"$windowed"; then
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
