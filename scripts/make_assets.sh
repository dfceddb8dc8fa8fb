#!/usr/bin/env bash
# Regenerates assets/sounds/ from the repository's own sources: no downloaded files.
#
#   click.wav    2 kHz sine burst, 48 kHz mono 16-bit          (examples/make_assets.rs)
#   blip.flac    square glide 440 -> 880 Hz, 48 kHz mono       (make_assets.rs, then flac -8)
#   chord.ogg    C-major sawtooth chord, 44.1 kHz stereo       (make_assets.rs, then oggenc -q 4)
#   whoosh.mp3   band-pass swept noise, 44.1 kHz mono          (make_assets.rs, then lame -b 96)
#   hello.wav    the word "hello", spoken                      (espeak-ng -v en -s 150)
#
# Needs cargo and the Debian packages flac, vorbis-tools, lame, espeak-ng.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_packages flac vorbis-tools lame espeak-ng
out=assets/sounds
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cargo run --quiet --example make_assets -- "$work"
cp "$work/click.wav" "$out/click.wav"
flac --silent -8 -f -o "$out/blip.flac" "$work/blip.wav"
oggenc -Q -q 4 -o "$out/chord.ogg" "$work/chord.wav"
lame --quiet -b 96 "$work/whoosh.wav" "$out/whoosh.mp3"
espeak-ng -v en -s 150 -w "$out/hello.wav" "hello"
ls -l "$out"
