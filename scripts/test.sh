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
# `scene` (Bevy's world serialization) is on for every build here, tests and examples alike, so
# Bevy is built once with its ECS serialization rather than twice.
features=(--features bevy_webaudio/inspector_tests,bevy_webaudio/scene)
# The engine's real-time rules (no locks, printing, threads or wall clock on the render side)
# are its clippy.toml, enforced here; its doc tests include the typed-param compile_fail check.
cargo clippy -p webaudio_engine --all-targets -- -D warnings
# Everything but the sound-card suite, then that suite alone: it counts xruns on a 14 ms
# buffer, which two cores shared with the rest of the tests cannot promise.
cargo test --workspace --all-targets "${features[@]}" -- --skip device_suite
cargo test "${features[@]}" --test all device_suite
cargo run "${features[@]}" --example soak -- --seconds 60  # busy graph, stalls, no loss/leak/growth
# Every example as a user runs it: windowed ones under Xvfb on the virtual card, in smoke mode.
bash scripts/examples.sh
# The showcase played by voice: tones into a second virtual sink that is its microphone.
SKIP_BUILD=1 PROFILE=smoke bash scripts/showcase-voice.sh
# The API docs build without a warning (broken or private intra-doc links, bad HTML).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --features inspector_panels,scene
# Doc examples of both crates (the engine's include the typed-param compile_fail check).
cargo test --workspace --doc "${features[@]}"
