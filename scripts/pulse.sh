#!/usr/bin/env bash
# A virtual sound card for machines without one (CI, containers): PulseAudio with a null sink
# whose monitor is the default source, so what is played can be recorded back.
#   scripts/pulse.sh start   start the daemon (no-op if one answers)
#   scripts/pulse.sh stop    kill it
set -euo pipefail
DIR=/tmp/ci-audio
case "${1:-start}" in
start)
    mkdir -p "$DIR"
    cat > "$DIR/loop.pa" <<'PA'
load-module module-native-protocol-unix
load-module module-null-sink sink_name=loop rate=48000 channels=2 format=float32le sink_properties=device.description=Loopback
set-default-sink loop
set-default-source loop.monitor
load-module module-null-source source_name=silence rate=48000 channels=2 format=float32le
load-module module-loopback source=silence sink=loop latency_msec=10 source_dont_move=true sink_dont_move=true
PA
    if ! pactl info >/dev/null 2>&1; then
        pulseaudio --daemonize=yes -n -F "$DIR/loop.pa" --exit-idle-time=-1 \
            --log-target="file:$DIR/pulse.log" </dev/null >/dev/null 2>&1 || true
    fi
    for _ in $(seq 100); do pactl info >/dev/null 2>&1 && exit 0; sleep 0.1; done
    echo "pulse.sh: PulseAudio did not start (see $DIR/pulse.log)" >&2
    exit 1
    ;;
stop)
    pulseaudio --kill >/dev/null 2>&1 || true
    for _ in $(seq 50); do pactl info >/dev/null 2>&1 || exit 0; sleep 0.1; done
    ;;
esac
