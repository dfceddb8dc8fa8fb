#!/usr/bin/env bash
# The showcase played by voice, without a person: a virtual microphone hears tones and the
# game's exit line must show that the player jumped by voice and ran the way the pitch says.
#
# The default PulseAudio source is the monitor of the output (scripts/pulse.sh), so the game
# would hear its own music. This script loads a second null sink, `showcase_voice`, and runs
# the showcase with PULSE_SOURCE set to that sink's monitor (its microphone), under Xvfb, in
# smoke mode, with 1,024-frame output callbacks (1,536 frames asked for: see
# scripts/examples.sh). Once the game says it is listening (it waits for steady frames: a
# software renderer's first ones take seconds), it plays into that sink, at -6 dBFS (a loud
# voice):
#   150 Hz for 1.5 s (below the 220 Hz reference: run left), 1 s of silence,
#   400 Hz for 1.5 s (above it: run right).
# It passes when the exit line reads mic=ok, voice_jumps >= 1 (each tone's onset crosses the
# jump threshold), steer=LR (left first, then right, as the tones say) with at least 0.8 s
# steered each way, and the audio report says the sound card played.
#
# Usage: scripts/showcase-voice.sh [runs]   (default 1; each run must pass)
# Env: SKIP_BUILD=1 to use the binary built already, PROFILE (default dev; the cargo profile
#      it was built with), SMOKE_SECONDS (default 14), CARGO_TARGET_DIR as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_packages pulseaudio xvfb xauth mesa-vulkan-drivers libvulkan1 libasound2-dev pkg-config \
    libudev-dev libx11-dev libx11-6 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0 python3
runs="${1:-1}"
target="${CARGO_TARGET_DIR:-target}"
profile="${PROFILE:-dev}"
[ "$profile" = dev ] && dir=debug || dir="$profile"
bin="$target/$dir/examples/showcase"
# The same features as scripts/examples.sh, so the two can share one build.
[ -n "${SKIP_BUILD:-}" ] || cargo build --profile "$profile" --example showcase \
    --features inspector,bevy_webaudio/inspector_tests,bevy_webaudio/scene
scripts/pulse.sh start

work=$(mktemp -d)
sink="showcase_voice"
module=""
app=""
cleanup() {
    [ -z "$app" ] || kill "$app" 2>/dev/null || true
    [ -z "$module" ] || pactl unload-module "$module" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
module=$(pactl load-module module-null-sink sink_name="$sink" rate=48000 channels=1 \
    sink_properties=device.description=ShowcaseVoice)

# The tones: 48 kHz mono 16-bit, 20 ms fades so the onsets do not click.
python3 - "$work/voice.wav" <<'EOF'
import math, struct, sys, wave
rate, amp, fade = 48000, 0.5, 0.02
def tone(hz, seconds):
    n = int(rate * seconds)
    return [amp * min(1.0, i / (fade * rate), (n - i) / (fade * rate))
            * math.sin(2 * math.pi * hz * i / rate) for i in range(n)]
def silence(seconds):
    return [0.0] * int(rate * seconds)
samples = silence(0.3) + tone(150, 1.5) + silence(1.0) + tone(400, 1.5) + silence(0.5)
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
    w.writeframes(b"".join(struct.pack("<h", int(32767 * s)) for s in samples))
EOF

# Prints a field of the exit line: field <line> <name>.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

one_run() {
    local log="${SHOWCASE_LOG:-$work/showcase.log}" i line report
    : >"$log"
    PULSE_SOURCE="$sink.monitor" SHOWCASE_REFERENCE_HZ=220 \
        WEBAUDIO_SMOKE_SECONDS="${SMOKE_SECONDS:-14}" WEBAUDIO_BUFFER_FRAMES=1536 \
        xvfb-run -a -s "-screen 0 1280x800x24" "$bin" >"$log" 2>&1 &
    app=$!
    for i in $(seq 600); do
        grep -q '^showcase: \(listening\|no microphone\)' "$log" && break
        kill -0 "$app" 2>/dev/null || break
        sleep 0.2
    done
    if ! grep -q '^showcase: listening' "$log"; then
        echo "showcase-voice: the game never listened to the virtual microphone:" >&2
        tail -20 "$log" >&2
        return 1
    fi
    # The game's capture stream must record from our sink's monitor, not the default source.
    local monitor
    monitor=$(pactl list short sources | awk -v s="$sink.monitor" '$2 == s {print $1}')
    if ! pactl list short source-outputs | awk '{print $2}' | grep -qx "$monitor"; then
        echo "showcase-voice: no capture stream on $sink.monitor" >&2
        pactl list short source-outputs >&2
        return 1
    fi
    paplay --device="$sink" "$work/voice.wav"
    if ! kill -0 "$app" 2>/dev/null; then
        echo "showcase-voice: the game exited before the tones ended (raise SMOKE_SECONDS)" >&2
        return 1
    fi
    wait "$app" || { echo "showcase-voice: exit status $?" >&2; tail -20 "$log" >&2; return 1; }
    app=""
    line=$(grep '^showcase: jumps=' "$log" | tail -1)
    report=$(grep '^audio report:' "$log" | tail -1)
    echo "$line"
    echo "$report"
    python3 - "$line" "$report" <<'EOF'
import sys
line, report = sys.argv[1], sys.argv[2]
if not line or not report:
    sys.exit("showcase-voice: no exit line or no audio report")
f = dict(x.split("=", 1) for x in line.split(":", 1)[1].split())
r = dict(x.split("=", 1) for x in report.split(":", 1)[1].split())
problems = []
if f["mic"] != "ok":
    problems.append("mic=" + f["mic"])
if int(f["voice_jumps"]) < 1:
    problems.append("no jump by voice")
if f["steer"] != "LR":
    problems.append(f"steer={f['steer']}, expected LR (150 Hz left, then 400 Hz right)")
for side in ("left", "right"):
    if float(f[f"steer_{side}_s"]) < 0.8:
        problems.append(f"steered {side} only {f[f'steer_{side}_s']} s of 1.5 s")
if r["backend"] != "Cpal":
    problems.append(f"audio backend {r['backend']}, not the sound card")
if problems:
    sys.exit("showcase-voice: " + "; ".join(problems))
EOF
}

for run in $(seq "$runs"); do
    echo "showcase-voice: run $run of $runs"
    one_run
done
echo "showcase-voice: passed $runs run(s)"
