//! Decode speed per format, in × real time (audio seconds decoded per wall second), and the
//! one-time resample 44.1 → 48 kHz.
//!
//! ```text
//! cargo bench --bench decode
//! ```
//!
//! Ten seconds of stereo 44.1 kHz audio are encoded in memory (WAV with hound; FLAC, Ogg
//! Vorbis and MP3 with the Debian encoders `flac`, `oggenc`, `lame` when installed; a missing
//! one is skipped with a note), then `decode_audio_data` is timed, median of five runs. The
//! baseline measured in the same run is a raw loop converting the same number of 16-bit
//! samples to planar f32 (the least any decoder must do); `vs raw` is how many such loops a
//! decode is worth.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) each case runs once on 0.1 s of
//! audio and the output is checked to be finite.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use bevy_webaudio::asset::export::{WavFormat, quantize, wav_bytes};
use bevy_webaudio::asset::{AudioBuffer, decode_audio_data};

const RATE: u32 = 44_100;
const REPEATS: usize = 5;

fn signal(seconds: f64) -> Vec<Vec<f32>> {
    let frames = (seconds * f64::from(RATE)) as usize;
    (0..2)
        .map(|c| {
            (0..frames)
                .map(|i| {
                    let t = i as f64 / f64::from(RATE);
                    let f = 220.0 * (1.0 + c as f64);
                    (0.4 * (std::f64::consts::TAU * f * t).sin()
                        + 0.2 * (std::f64::consts::TAU * 3.1 * f * t).sin())
                        as f32
                })
                .collect()
        })
        .collect()
}

/// Encodes the 16-bit WAV `wav` with a command-line encoder; `None` if it is not installed.
fn external(wav: &[u8], program: &str, args: &[&str], extension: &str) -> Option<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("bevy_webaudio_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let (input, output) = (dir.join("in.wav"), dir.join(format!("out.{extension}")));
    std::fs::write(&input, wav).ok()?;
    let (i, o) = (input.to_str()?, output.to_str()?);
    let mut all = args.to_vec();
    if program == "lame" {
        all.extend([i, o]);
    } else {
        all.extend(["-o", o, i]);
    }
    match Command::new(program).args(&all).output() {
        Ok(out) if out.status.success() => std::fs::read(&output).ok(),
        _ => {
            println!("note: {program} not available, {extension} skipped");
            None
        }
    }
}

/// (name, extension, encoded bytes) for every format.
fn cases(audio: &[Vec<f32>]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let wav16 = wav_bytes(audio, RATE, WavFormat::Int16).expect("wav");
    let mut cases = vec![
        ("wav 16-bit", "wav", wav16.clone()),
        (
            "wav 24-bit",
            "wav",
            wav_bytes(audio, RATE, WavFormat::Int24).expect("wav"),
        ),
        (
            "wav float",
            "wav",
            wav_bytes(audio, RATE, WavFormat::Float32).expect("wav"),
        ),
    ];
    let encoders: [(&str, &str, &[&str], &str); 3] = [
        ("flac", "flac", &["--silent", "-5"], "flac"),
        ("ogg vorbis q5", "oggenc", &["-Q", "-q", "5"], "ogg"),
        ("mp3 192k", "lame", &["--quiet", "-b", "192"], "mp3"),
    ];
    for (name, program, args, extension) in encoders {
        if let Some(bytes) = external(&wav16, program, args, extension) {
            cases.push((name, extension, bytes));
        }
    }
    cases
}

/// The baseline: 16-bit interleaved samples to planar f32.
fn raw_convert(samples: &[i16], out: &mut [Vec<f32>]) {
    for (i, &s) in samples.iter().enumerate() {
        out[i % 2][i / 2] = f32::from(s) / 32768.0;
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn time(mut f: impl FnMut()) -> Duration {
    let times = (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    median(times)
}

fn check(buffer: &AudioBuffer) {
    for c in 0..buffer.number_of_channels() {
        let data = buffer.channel_data(c).expect("channel");
        assert!(data.iter().all(|v| v.is_finite()), "non-finite output");
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let seconds = if full { 10.0 } else { 0.1 };
    let audio = signal(seconds);
    let cases = cases(&audio);
    if !full {
        for (name, extension, bytes) in &cases {
            let buffer = decode_audio_data(bytes.clone(), Some(extension)).expect(name);
            check(&buffer);
            check(&buffer.resampled(48_000.0).expect("resample"));
        }
        println!("decode smoke pass: {} formats decoded, finite", cases.len());
        return;
    }
    let samples: Vec<i16> = (0..audio[0].len())
        .flat_map(|i| audio.iter().map(move |c| quantize(c[i], 16) as i16))
        .collect();
    let mut planar = vec![vec![0.0f32; audio[0].len()]; 2];
    let raw = time(|| raw_convert(black_box(&samples), &mut planar));
    let raw_x = seconds / raw.as_secs_f64();
    println!(
        "{:<16} {:>12} {:>14} {:>10}",
        "case", "wall", "× real time", "vs raw"
    );
    println!(
        "{:<16} {:>12.3?} {:>14.0} {:>10}",
        "raw i16→f32", raw, raw_x, "1.0"
    );
    let mut decoded = None;
    for (name, extension, bytes) in &cases {
        let wall = time(|| {
            decoded = Some(decode_audio_data(bytes.clone(), Some(extension)).expect(name));
        });
        let x = seconds / wall.as_secs_f64();
        println!(
            "{name:<16} {wall:>12.3?} {x:>14.0} {:>10.1}",
            wall.as_secs_f64() / raw.as_secs_f64()
        );
    }
    if let Some(buffer) = decoded {
        let wall = time(|| {
            black_box(buffer.resampled(48_000.0).expect("resample"));
        });
        let x = seconds / wall.as_secs_f64();
        println!(
            "{:<16} {wall:>12.3?} {x:>14.0} {:>10.1}",
            "resample→48k",
            wall.as_secs_f64() / raw.as_secs_f64()
        );
    }
}
